// Passkeys in headless Chromium, with a virtual authenticator (CTAP2,
// resident keys, user verification) through the DevTools protocol: adds one
// on /account/mfa, signs in with it after the password, then with it alone,
// follows AUTHORIZE_URL (an authorization request of a trusted app) and
// prints the code it answers with, shows that a clone of the authenticator
// (its counter behind) signs in nobody, then removes the passkey.
// Usage: node passkey.mjs BASE_URL USERNAME PASSWORD AUTHORIZE_URL (BASE_URL
// on a host name: browsers refuse WebAuthn on an IP address)
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const [base, username, password, authorizeUrl] = process.argv.slice(2);
assert.ok(base && username && password && authorizeUrl,
  'usage: node passkey.mjs BASE_URL USERNAME PASSWORD AUTHORIZE_URL');

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-quic'],
});

// A platform authenticator that keeps discoverable credentials and
// verifies its user.
const AUTHENTICATOR = {
  options: {
    protocol: 'ctap2',
    transport: 'internal',
    hasResidentKey: true,
    hasUserVerification: true,
    isUserVerified: true,
    automaticPresenceSimulation: true,
  },
};

async function signIn(page) {
  await page.goto(`${base}/login?return_to=/account`);
  await page.fill('#username', username);
  await page.fill('#password', password);
  await page.click('button[type=submit]');
}

try {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  // Uncaught script errors (the refusals the test provokes are answers,
  // not errors).
  page.on('pageerror', (error) => errors.push(error.message));
  const devtools = await context.newCDPSession(page);
  await devtools.send('WebAuthn.enable');
  const { authenticatorId } = await devtools.send('WebAuthn.addVirtualAuthenticator', AUTHENTICATOR);

  await signIn(page);
  await page.waitForURL(`${base}/account`);
  await page.goto(`${base}/account/mfa`);
  // The script shows the form; its field is labelled.
  await page.waitForSelector('form[data-passkey-register]:not([hidden])');
  assert.equal(await page.locator('label[for="passkey-name"]').count(), 1);
  // A session alone adds no passkey: the password is asked again.
  await page.fill('#passkey-name', 'Test laptop');
  await page.fill('#passkey-password', 'not the password');
  await page.click('form[data-passkey-register] button');
  await page.waitForSelector('#passkey-status:not([hidden])');
  assert.match(await page.textContent('#passkey-status'), /password is wrong/);
  await page.fill('#passkey-password', password);
  await page.click('form[data-passkey-register] button');
  await page.waitForSelector('td:text-is("Test laptop")');
  const { credentials } = await devtools.send('WebAuthn.getCredentials', { authenticatorId });
  assert.equal(credentials.length, 1, 'one credential on the authenticator');
  assert.ok(credentials[0].isResidentCredential, 'a discoverable credential');
  const lastUsed = async () => (await page.locator('tbody tr td').nth(2).textContent()).trim();
  assert.equal(await lastUsed(), 'Never');

  // Signed out, the password leads to the passkey, which signs in.
  await page.goto(`${base}/account`);
  await page.click('form[action="/account/logout"] button');
  await page.waitForURL(`${base}/login`);
  await signIn(page);
  await page.waitForSelector('form[data-passkey-sign-in]:not([hidden]) button');
  assert.equal(await page.title(), 'Enter your code · Countersign');
  await page.waitForFunction(() => document.activeElement?.textContent === 'Use a passkey');
  await page.keyboard.press('Enter');
  await page.waitForURL(`${base}/account`);
  const after = await devtools.send('WebAuthn.getCredentials', { authenticatorId });
  assert.ok(after.credentials[0].signCount > credentials[0].signCount, 'the authenticator signed');

  // Signed out, the passkey alone signs in: no username, no password.
  await page.click('form[action="/account/logout"] button');
  await page.waitForURL(`${base}/login`);
  await page.click('form[data-passkey-discover]:not([hidden]) button');
  await page.waitForURL(`${base}/account`);

  // An application signing the person in gets a code at once; the test
  // exchanges it and reads the ID token's amr.
  // (Asked with the browser's cookies, not followed: the app's redirect
  // URI is on a host that does not exist.)
  const answer = await page.request.get(authorizeUrl, { maxRedirects: 0 });
  assert.equal(answer.status(), 303);
  const code = new URL(answer.headers().location).searchParams.get('code');
  assert.ok(code, 'the app got a code');
  console.log(`code: ${code}`);

  // A clone of the authenticator (the same key, its counter behind the
  // one last seen) signs in nobody.
  const [used] = (await devtools.send('WebAuthn.getCredentials', { authenticatorId })).credentials;
  const clone = await (await browser.newContext()).newPage();
  const cloneTools = await clone.context().newCDPSession(clone);
  await cloneTools.send('WebAuthn.enable');
  const { authenticatorId: cloneId } = await cloneTools.send('WebAuthn.addVirtualAuthenticator', AUTHENTICATOR);
  await cloneTools.send('WebAuthn.addCredential', {
    authenticatorId: cloneId,
    credential: { ...used, signCount: 0 },
  });
  await clone.goto(`${base}/login`);
  await clone.click('form[data-passkey-discover]:not([hidden]) button');
  await clone.waitForSelector('#passkey-status:not([hidden])');
  assert.match(await clone.textContent('#passkey-status'), /did not work/);
  assert.equal(new URL(clone.url()).pathname, '/login', 'the clone is not signed in');

  await page.goto(`${base}/account/mfa`);
  assert.notEqual(await lastUsed(), 'Never');
  await page.fill('#remove-passkey-password', password);
  await page.click('form[action="/account/mfa/passkeys/remove"] button');
  await page.waitForURL(`${base}/account/mfa`);
  assert.match(await page.textContent('main'), /None yet/);

  // With the passkey gone, the password alone signs in again (in another
  // browser: this one's session is the one the app's code is bound to).
  const other = await (await browser.newContext()).newPage();
  await signIn(other);
  await other.waitForURL(`${base}/account`);
  assert.deepEqual(errors, [], 'no script errors');

  console.log('browser: add a passkey, sign in with it after the password and alone, remove it: ok');
} finally {
  await browser.close();
}
