// Passkeys on the hosted pages: adding one on /account/mfa, using one to
// finish signing in after the password, or to sign in without one. Served from this server (/assets/passkeys.js); the
// forms it drives stay hidden without it, and everything else on the pages
// works without it.
'use strict';
(() => {
  const supported = window.PublicKeyCredential
    && typeof PublicKeyCredential.parseCreationOptionsFromJSON === 'function';

  async function post(url, body) {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      credentials: 'same-origin',
    });
    const answer = response.status === 204 ? {} : await response.json();
    if (!response.ok) {
      throw new Error(answer.detail || answer.error_description || 'the server refused it');
    }
    return answer;
  }

  function say(status, text) {
    status.textContent = text;
    status.hidden = !text;
  }

  const register = document.querySelector('form[data-passkey-register]');
  if (register && supported) {
    const status = document.getElementById('passkey-status');
    register.hidden = false;
    register.addEventListener('submit', async (event) => {
      event.preventDefault();
      const csrf = register.elements.csrf.value;
      const name = register.elements.name.value;
      const password = register.elements.password.value;
      say(status, '');
      try {
        const options = await post('/account/mfa/passkeys/begin', { csrf, password });
        const credential = await navigator.credentials.create({
          publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options.publicKey),
        });
        await post('/account/mfa/passkeys/finish', { csrf, name, credential: credential.toJSON() });
        window.location.assign('/account/mfa');
      } catch (error) {
        say(status, `The passkey was not added: ${error.message}`);
        register.elements.name.focus();
      }
    });
  }

  const discover = document.querySelector('form[data-passkey-discover]');
  if (discover && supported) {
    const status = document.getElementById('passkey-status');
    discover.hidden = false;
    discover.addEventListener('submit', async (event) => {
      event.preventDefault();
      const csrf = discover.elements.csrf.value;
      say(status, '');
      try {
        const options = await post('/login/passkey/begin', { csrf });
        const credential = await navigator.credentials.get({
          publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options.publicKey),
        });
        const done = await post('/login/passkey', {
          csrf,
          return_to: discover.elements.return_to.value,
          credential: credential.toJSON(),
        });
        window.location.assign(done.location);
      } catch (error) {
        say(status, `Signing in with a passkey did not work: ${error.message}`);
        discover.querySelector('button').focus();
      }
    });
  }

  const signIn = document.querySelector('form[data-passkey-sign-in]');
  if (signIn && supported) {
    const status = document.getElementById('passkey-status');
    signIn.hidden = false;
    // The button was hidden when the page loaded, so its autofocus did
    // not take: give it the focus now that it shows.
    const button = signIn.querySelector('button');
    if (button.hasAttribute('autofocus') && document.activeElement === document.body) {
      button.focus();
    }
    signIn.addEventListener('submit', async (event) => {
      event.preventDefault();
      const fields = signIn.elements;
      const login = { csrf: fields.csrf.value, mfa_token: fields.mfa_token.value };
      say(status, '');
      try {
        const options = await post('/login/mfa/passkey/begin', login);
        const credential = await navigator.credentials.get({
          publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options.publicKey),
        });
        const done = await post('/login/mfa/passkey', {
          ...login,
          return_to: fields.return_to.value,
          credential: credential.toJSON(),
        });
        window.location.assign(done.location);
      } catch (error) {
        say(status, `Signing in with a passkey did not work: ${error.message}`);
        signIn.querySelector('button').focus();
      }
    });
  }
})();
