// Two-step sign-in in headless Chromium: sets up an authenticator app on
// /account/mfa (its codes computed by otplib, an implementation nobody
// here wrote, from the key the page shows), then signs in again with a
// recovery code, checking on the way that each page's field has its label,
// takes the focus, and has its errors tied to it.
// Usage: node totp.mjs BASE_URL USERNAME PASSWORD (a user without a second factor)
import assert from 'node:assert/strict';
import { generateSync } from 'otplib';
import { chromium } from 'playwright-core';

const [base, username, password] = process.argv.slice(2);
assert.ok(base && username && password, 'usage: node totp.mjs BASE_URL USERNAME PASSWORD');

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-quic'],
});

// The field `id`: labelled, described by `errorId` as well as its help,
// marked invalid, and holding the focus.
async function errorTiedTo(page, id, errorId) {
  assert.equal(await page.locator(`label[for="${id}"]`).count(), 1, `a label for #${id}`);
  assert.ok((await page.textContent(`#${errorId}`)).trim().length > 0, 'the error is said');
  assert.equal(await page.getAttribute(`#${errorId}`, 'role'), 'alert');
  const described = (await page.getAttribute(`#${id}`, 'aria-describedby')).split(' ');
  assert.ok(described.includes(errorId), `#${id} is described by the error: ${described}`);
  assert.equal(await page.getAttribute(`#${id}`, 'aria-invalid'), 'true');
  await page.waitForFunction((field) => document.activeElement?.id === field, id);
}

// A code that is not `right` (nor, but for a one-in-a-million chance, the
// codes either side of it).
const wrongFor = (right) => String((Number(right) + 500000) % 1000000).padStart(6, '0');

try {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${base}/login?return_to=/account`);
  await page.fill('#username', username);
  await page.fill('#password', password);
  await page.click('button[type=submit]');
  await page.waitForURL(`${base}/account`);

  await page.click('a[href="/account/mfa"]');
  await page.waitForURL(`${base}/account/mfa`);
  assert.equal(await page.title(), 'Two-step sign-in · Countersign');
  await page.click('form[action="/account/mfa/totp"] button');
  await page.waitForURL(`${base}/account/mfa/totp`);

  // The QR code is drawn and named; the key is there to type instead.
  const qr = page.locator('[role=img]');
  assert.match(await qr.getAttribute('aria-label'), /QR code/);
  const box = await qr.locator('svg').boundingBox();
  assert.ok(box && box.width >= 100 && box.height >= 100, `the QR code is visible: ${JSON.stringify(box)}`);
  const secret = (await page.textContent('code.secret')).replace(/\s+/g, '');
  assert.match(secret, /^[A-Z2-7]{32}$/);

  const right = generateSync({ secret });
  await page.fill('#confirm-code', wrongFor(right));
  await page.click('form[action="/account/mfa/totp/confirm"] button');
  await page.waitForURL(`${base}/account/mfa/totp/confirm`);
  await errorTiedTo(page, 'confirm-code', 'confirm-code-error');
  // The same key is shown again, to try once more.
  assert.equal((await page.textContent('code.secret')).replace(/\s+/g, ''), secret);

  await page.fill('#confirm-code', generateSync({ secret }));
  await page.click('form[action="/account/mfa/totp/confirm"] button');
  await page.waitForSelector('ul.codes');
  const codes = (await page.locator('ul.codes li').allTextContents()).map((c) => c.trim());
  assert.equal(codes.length, 10);
  assert.ok(codes.every((c) => /^[a-z2-7]{5}-[a-z2-7]{5}$/.test(c)), codes.join(' '));

  // Signed out, signing in asks for a code after the password.
  await page.goto(`${base}/account`);
  await page.click('form[action="/account/logout"] button');
  await page.waitForURL(`${base}/login`);
  await page.fill('#username', username);
  await page.fill('#password', password);
  await page.click('button[type=submit]');
  await page.waitForSelector('#code');
  assert.equal(await page.title(), 'Enter your code · Countersign');
  await page.waitForFunction(() => document.activeElement?.id === 'code');
  assert.equal(await page.getAttribute('#code', 'autocomplete'), 'one-time-code');

  await page.keyboard.type(wrongFor(generateSync({ secret })));
  await page.keyboard.press('Enter');
  await page.waitForSelector('#code-error');
  await errorTiedTo(page, 'code', 'code-error');

  // Keyboard only: a recovery code, then Enter.
  await page.keyboard.type(codes[0]);
  await page.keyboard.press('Enter');
  await page.waitForURL(`${base}/account`);

  // The second-factor page on a phone-sized screen: nothing scrolls sideways.
  const phone = await browser.newContext({ viewport: { width: 375, height: 740 } });
  await phone.addCookies(await context.cookies());
  const phonePage = await phone.newPage();
  await phonePage.goto(`${base}/account/mfa`);
  assert.match(await phonePage.textContent('main'), /Recovery codes left: 9/);
  const overflow = await phonePage.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow}px on a phone`);

  console.log('browser: set up an authenticator app, sign in with a recovery code: ok');
} finally {
  await browser.close();
}
