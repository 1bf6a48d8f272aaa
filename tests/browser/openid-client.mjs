// An application signs a user in with openid-client v6 through discovery,
// the user's side played by headless Chromium: the login form and the
// consent page by keyboard and by their accessible names, the code
// exchange with PKCE, nonce and state (openid-client validates the ID
// token strictly), UserInfo, refresh, consent remembered, withdrawn and
// refused, and RP-initiated logout.
//
// Usage: node openid-client.mjs ISSUER CLIENT_ID SECRET APP_PORT USERNAME PASSWORD
//
// The application listens on 127.0.0.1:APP_PORT; the client must be
// registered for the authorization_code and refresh_token grants with the
// redirect URI http://127.0.0.1:APP_PORT/callback and the post-logout
// redirect URI http://127.0.0.1:APP_PORT/bye, and not trusted (consent is
// asked).
import assert from 'node:assert/strict';
import http from 'node:http';
import * as oidc from 'openid-client';
import { chromium } from 'playwright-core';

const [issuer, clientId, secret, appPort, username, password] = process.argv.slice(2);
assert.ok(password, 'usage: node openid-client.mjs ISSUER CLIENT_ID SECRET APP_PORT USERNAME PASSWORD');
const redirectUri = `http://127.0.0.1:${appPort}/callback`;
const postLogoutUri = `http://127.0.0.1:${appPort}/bye`;
const ok = (step) => console.log(`openid-client: ${step}: ok`);

// Plain HTTP is refused unless allowed: the test server listens on loopback.
const config = await oidc.discovery(new URL(issuer), clientId, secret, undefined, {
  execute: [oidc.allowInsecureRequests],
});
assert.equal(config.serverMetadata().issuer, issuer);
ok('discovery');

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-quic'],
});

// The application's own pages: the browser arrives there, the test reads
// the URL it arrived at.
const app = http.createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/html' });
  res.end('<!doctype html><title>The app</title>');
});
await new Promise((resolve) => app.listen(Number(appPort), '127.0.0.1', resolve));

// One authorization request: what the app keeps, and the URL to send the
// browser to.
async function request(extra = {}) {
  const verifier = oidc.randomPKCECodeVerifier();
  const checks = {
    pkceCodeVerifier: verifier,
    expectedNonce: oidc.randomNonce(),
    expectedState: oidc.randomState(),
    idTokenExpected: true,
  };
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid profile',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    nonce: checks.expectedNonce,
    state: checks.expectedState,
    ...extra,
  });
  return { url, checks };
}

async function focused(page) {
  return page.evaluate(() => document.activeElement?.id || document.activeElement?.textContent.trim());
}

try {
  const context = await browser.newContext();
  const page = await context.newPage();

  // Not signed in: the login page, reached by its accessible names.
  let { url, checks } = await request();
  await page.goto(url.href);
  assert.equal(await page.title(), 'Sign in · Countersign');
  const user = page.getByLabel('Username');
  const pass = page.getByLabel('Password');
  await user.fill(username);
  await pass.fill('not-the-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  // The error is announced and tied to both fields; the focus is back in
  // the password field, which is the one to fix.
  const alert = page.getByRole('alert');
  assert.equal((await alert.textContent()).trim(), 'The username or password is incorrect.');
  const alertId = await alert.getAttribute('id');
  for (const field of [user, pass]) {
    assert.equal(await field.getAttribute('aria-describedby'), alertId);
    assert.equal(await field.getAttribute('aria-invalid'), 'true');
  }
  assert.equal(await focused(page), 'password');
  await page.keyboard.type(password);
  await page.keyboard.press('Enter');

  // Consent, in plain words, by keyboard: Allow has the focus, Tab reaches
  // Deny, Shift+Tab comes back.
  await page.waitForURL(/\/oauth2\/authorize/);
  assert.equal(await page.title(), 'Allow access · Countersign');
  const asks = await page.getByRole('list').first().innerText();
  assert.match(asks, /Know who you are/);
  assert.match(asks, /See your username/);
  assert.equal(await focused(page), 'Allow');
  await page.keyboard.press('Tab');
  assert.equal(await focused(page), 'Deny');
  await page.keyboard.press('Shift+Tab');
  await page.keyboard.press('Enter');
  await page.waitForURL(`${redirectUri}**`);

  let tokens = await oidc.authorizationCodeGrant(config, new URL(page.url()), checks);
  const claims = tokens.claims();
  assert.equal(claims.preferred_username, username);
  assert.deepEqual(claims.amr, ['pwd']);
  ok('sign in with the login form and consent, code exchanged, ID token validated');

  const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
  assert.equal(info.preferred_username, username);
  const renewed = await oidc.refreshTokenGrant(config, tokens.refresh_token);
  assert.notEqual(renewed.refresh_token, tokens.refresh_token);
  ok('userinfo and refresh');

  // The decision is remembered: the next request comes straight back.
  ({ url, checks } = await request());
  await page.goto(url.href);
  await page.waitForURL(`${redirectUri}**`);
  tokens = await oidc.authorizationCodeGrant(config, new URL(page.url()), checks);
  ok('consent remembered: no page the second time');

  // Withdrawn on the account page: the app's refresh tokens stop working,
  // and the next request asks again; denied, the app hears access_denied.
  await page.goto(`${issuer}/account`);
  await page.getByRole('button', { name: /^Withdraw the access of / }).click();
  await page.waitForURL(`${issuer}/account`);
  assert.match(await page.locator('main').innerText(), /Applications you allowed\s+None yet\./);
  await assert.rejects(oidc.refreshTokenGrant(config, tokens.refresh_token), (e) => e.error === 'invalid_grant');
  await assert.rejects(oidc.refreshTokenGrant(config, renewed.refresh_token), (e) => e.error === 'invalid_grant');
  ({ url, checks } = await request());
  await page.goto(url.href);
  await page.getByRole('button', { name: 'Deny' }).click();
  await page.waitForURL(`${redirectUri}**`);
  await assert.rejects(oidc.authorizationCodeGrant(config, new URL(page.url()), checks),
    (e) => e.error === 'access_denied');
  ok('consent withdrawn revokes refresh tokens; refused, the app hears access_denied');

  // Allowed again, then signed out by the app with the ID token as hint.
  ({ url, checks } = await request());
  await page.goto(url.href);
  await page.getByRole('button', { name: 'Allow' }).click();
  await page.waitForURL(`${redirectUri}**`);
  tokens = await oidc.authorizationCodeGrant(config, new URL(page.url()), checks);
  const state = oidc.randomState();
  const end = oidc.buildEndSessionUrl(config, {
    id_token_hint: tokens.id_token,
    post_logout_redirect_uri: postLogoutUri,
    state,
  });
  await page.goto(end.href);
  await page.waitForURL(`${postLogoutUri}**`);
  assert.equal(new URL(page.url()).searchParams.get('state'), state);
  await page.goto(`${issuer}/account`);
  assert.match(page.url(), /\/login/, 'the browser session ended with the logout');
  ({ url, checks } = await request({ prompt: 'none' }));
  await page.goto(url.href);
  await page.waitForURL(`${redirectUri}**`);
  await assert.rejects(oidc.authorizationCodeGrant(config, new URL(page.url()), checks),
    (e) => e.error === 'login_required');
  ok('RP-initiated logout ends the session; prompt=none then answers login_required');
} finally {
  await browser.close();
  app.close();
}
