// Signs in through /login, looks at /account, ends a session, logs out, in
// headless Chromium. Usage: node login.mjs BASE_URL USERNAME PASSWORD
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const [base, username, password] = process.argv.slice(2);
assert.ok(base && username && password, 'usage: node login.mjs BASE_URL USERNAME PASSWORD');

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  headless: true,
  // Playwright gives every launch a fresh, empty user-data-dir.
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-quic'],
});

async function signIn(page, user, pass) {
  await page.fill('#username', user);
  await page.fill('#password', pass);
  await page.click('button[type=submit]');
}

try {
  // A visitor without a session is sent to the sign-in page and back.
  const laptop = await browser.newContext();
  const page = await laptop.newPage();
  await page.goto(`${base}/account`);
  assert.match(page.url(), /\/login\?return_to=\/account$/);
  assert.equal(await page.title(), 'Sign in · Countersign');

  // A wrong password: a generic message, the username kept.
  await signIn(page, username, 'definitely-wrong');
  assert.equal((await page.textContent('[role=alert]')).trim(), 'The username or password is incorrect.');
  assert.equal(await page.inputValue('#username'), username);

  await page.fill('#password', password);
  await page.click('button[type=submit]');
  await page.waitForURL(`${base}/account`);
  assert.match(await page.textContent('main'), new RegExp(`Signed in as ${username}`));

  // Keyboard only, on a phone-sized screen: focus starts in the username
  // field, Tab moves to the password, Enter submits.
  const phone = await browser.newContext({ viewport: { width: 375, height: 740 } });
  const phonePage = await phone.newPage();
  await phonePage.goto(`${base}/login`);
  await phonePage.waitForFunction(() => document.activeElement?.id === 'username');
  await phonePage.keyboard.type(username);
  await phonePage.keyboard.press('Tab');
  await phonePage.keyboard.type(password);
  await phonePage.keyboard.press('Enter');
  await phonePage.waitForURL(`${base}/account`);
  const overflow = await phonePage.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the account page scrolls sideways by ${overflow}px on a phone`);

  // The laptop sees both sessions and ends the phone's.
  await page.reload();
  assert.equal(await page.locator('tbody tr').count(), 2);
  await page.click('form[action$="/end"] button');
  await page.waitForURL(`${base}/account`);
  assert.equal(await page.locator('tbody tr').count(), 1);
  await phonePage.goto(`${base}/account`);
  assert.match(phonePage.url(), /\/login/, 'the ended session is signed out');

  // Logging out ends the laptop's session and its cookie.
  await page.click('form[action="/account/logout"] button');
  await page.waitForURL(`${base}/login`);
  await page.goto(`${base}/account`);
  assert.match(page.url(), /\/login/);
  const cookies = await laptop.cookies();
  assert.ok(!cookies.some((c) => c.name.endsWith('cs_session')), 'the session cookie is gone');

  console.log('browser: sign in, account, end a session, log out: ok');
} finally {
  await browser.close();
}
