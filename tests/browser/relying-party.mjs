// A web application nobody here wrote the sign-in of: Express with Auth0's
// express-openid-connect, configured only with Countersign's issuer URL and
// the app's client credentials. Headless Chromium visits a protected page,
// signs in on Countersign's pages, sees the page with the user's profile,
// then signs out of the app and of Countersign with it.
//
// Usage: node relying-party.mjs ISSUER CLIENT_ID SECRET APP_PORT USERNAME PASSWORD
//
// The client must be registered trusted for the authorization_code grant,
// with the redirect URI http://127.0.0.1:APP_PORT/callback and the
// post-logout redirect URI http://127.0.0.1:APP_PORT (without a final
// slash: the app's base URL, as the library sends it).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import express from 'express';
import openidConnect from 'express-openid-connect';
import { chromium } from 'playwright-core';

// A CommonJS package: its exports come as one object.
const { auth, requiresAuth } = openidConnect;

const [issuer, clientId, secret, appPort, username, password] = process.argv.slice(2);
assert.ok(password, 'usage: node relying-party.mjs ISSUER CLIENT_ID SECRET APP_PORT USERNAME PASSWORD');
const base = `http://127.0.0.1:${appPort}`;

// The app, as its documentation shows it, plus what a code-flow app sets.
const app = express();
app.use(auth({
  issuerBaseURL: issuer,
  baseURL: base,
  clientID: clientId,
  clientSecret: secret,
  secret: randomBytes(32).toString('hex'),
  authRequired: false,
  idpLogout: true,
  authorizationParams: { response_type: 'code', scope: 'openid profile' },
}));
app.get('/', (req, res) => {
  res.send(req.oidc.isAuthenticated() ? `<title>Home</title>Hello ${req.oidc.user.preferred_username}` : '<title>Home</title>Signed out');
});
app.get('/profile', requiresAuth(), async (req, res) => {
  const info = await req.oidc.fetchUserInfo();
  res.send(`<title>Profile</title><pre id="profile">${JSON.stringify({ id: req.oidc.idTokenClaims, info })}</pre>`);
});
const server = await new Promise((resolve) => {
  const listening = app.listen(Number(appPort), '127.0.0.1', () => resolve(listening));
});

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-quic'],
});

try {
  const page = await browser.newPage();
  // The protected page sends the visitor to Countersign to sign in.
  await page.goto(`${base}/profile`);
  await page.waitForURL(`${issuer}/login**`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${base}/profile`);
  const profile = JSON.parse(await page.textContent('#profile'));
  assert.equal(profile.id.iss, issuer);
  assert.equal(profile.id.aud, clientId);
  assert.equal(profile.id.preferred_username, username);
  assert.equal(profile.info.sub, profile.id.sub);
  assert.equal(profile.info.preferred_username, username);
  console.log('express-openid-connect: signed in through Countersign: ok');

  // Signing out of the app signs out of Countersign too, and comes back.
  // Not before the page's own requests (the favicon's) are answered: the
  // app renews its session cookie on every answer, and one arriving after
  // the logout's would sign the browser back into the app.
  await page.waitForLoadState('networkidle');
  await page.goto(`${base}/logout`);
  await page.waitForURL(`${base}/`);
  assert.match(await page.textContent('body'), /Signed out/);
  await page.goto(`${issuer}/account`);
  assert.match(page.url(), /\/login/, 'the Countersign session ended with the app');
  console.log('express-openid-connect: signed out of the app and of Countersign: ok');
} finally {
  await browser.close();
  server.close();
}
