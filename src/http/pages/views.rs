//! The markup of the hosted pages: plain server-rendered HTML with labels,
//! autocomplete hints and a viewport, no assets from elsewhere, and no
//! script but this server's own for passkeys (`passkeys.js`).
//! maud escapes every interpolated value.

use maud::{DOCTYPE, Markup, html};

use crate::domain::Session;
use crate::service::consents::Consent;

/// The stylesheet, served from this server at `/assets/countersign.css`.
pub const STYLESHEET: &str = r#"
:root { color-scheme: light dark; font-family: system-ui, sans-serif; line-height: 1.5; }
body { margin: 0; display: flex; justify-content: center; padding: 2rem 1rem; }
main { width: 100%; max-width: 40rem; }
main.narrow { max-width: 24rem; }
h1 { font-size: 1.5rem; margin: 0 0 1rem; }
label { display: block; font-weight: 600; margin: 1rem 0 0.25rem; }
input[type=text], input[type=password] { width: 100%; box-sizing: border-box; padding: 0.6rem; font: inherit; border: 1px solid #888; border-radius: 0.4rem; }
button { font: inherit; padding: 0.55rem 1.1rem; border-radius: 0.4rem; border: 1px solid #2458b3; background: #2f6fdb; color: #fff; cursor: pointer; }
button.quiet { background: transparent; color: inherit; border-color: #888; }
button:focus-visible, input:focus-visible { outline: 3px solid #f3a712; outline-offset: 2px; }
form.stack button { margin-top: 1.25rem; width: 100%; }
.alert { border: 1px solid #c0392b; background: #c0392b22; padding: 0.6rem 0.8rem; border-radius: 0.4rem; }
table { width: 100%; border-collapse: collapse; margin: 1rem 0; }
th, td { text-align: left; padding: 0.5rem 0.4rem; border-bottom: 1px solid #8884; vertical-align: top; }
td.agent { word-break: break-word; font-size: 0.9rem; }
.actions { display: flex; gap: 0.75rem; flex-wrap: wrap; margin-top: 1rem; }
div.qr svg { display: block; width: 12rem; height: 12rem; }
code.secret { font-size: 1.1rem; word-spacing: 0.4rem; }
ul.codes { columns: 2; font-size: 1.1rem; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
@media (max-width: 36rem) { th.optional, td.optional { display: none; } }
"#;

pub(super) fn page(title: &str, narrow: bool, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Countersign" }
                link rel="stylesheet" href="/assets/countersign.css";
            }
            body {
                main class=[narrow.then_some("narrow")] { (body) }
            }
        }
    }
}

/// The sign-in form. `error` is shown above it and tied to the fields it
/// is about (for screen readers); `username` is kept, and when it is
/// known the focus goes to the password.
/// With `passkeys`, a button (shown by the page's script) signs in with a
/// passkey and no password.
pub fn login(
    csrf: &str,
    return_to: &str,
    username: &str,
    error: Option<&str>,
    passkeys: bool,
) -> Markup {
    let described = error.map(|_| "login-error");
    let invalid = error.map(|_| "true");
    page(
        "Sign in",
        true,
        html! {
            h1 { "Sign in" }
            @if let Some(error) = error {
                p class="alert" role="alert" id="login-error" { (error) }
            }
            form class="stack" method="post" action="/login" {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="return_to" value=(return_to);
                label for="username" { "Username" }
                input type="text" id="username" name="username" value=(username)
                    autocomplete="username" autocapitalize="none" spellcheck="false"
                    required maxlength="64" autofocus[username.is_empty()]
                    aria-describedby=[described] aria-invalid=[invalid];
                label for="password" { "Password" }
                input type="password" id="password" name="password"
                    autocomplete="current-password" required maxlength="1024"
                    autofocus[!username.is_empty()]
                    aria-describedby=[described] aria-invalid=[invalid];
                button type="submit" { "Sign in" }
            }
            @if passkeys {
                p class="alert" role="alert" id="passkey-status" hidden {}
                form class="stack" method="post" action="/login/passkey" data-passkey-discover hidden {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="return_to" value=(return_to);
                    button type="submit" class="quiet" { "Sign in with a passkey" }
                }
                script src="/assets/passkeys.js" defer {}
            }
        },
    )
}

/// The second step of signing in: a code from the authenticator app, or
/// one of the recovery codes, in one field. `error` is shown above it and
/// tied to the field.
pub fn second_factor(
    csrf: &str,
    return_to: &str,
    mfa_token: &str,
    methods: &[&str],
    error: Option<&str>,
) -> Markup {
    let passkey = methods.contains(&"passkey");
    let codes = methods.contains(&"totp");
    let described = match error {
        Some(_) => "code-error code-help",
        None => "code-help",
    };
    page(
        "Enter your code",
        true,
        html! {
            h1 { "Enter your code" }
            @if let Some(error) = error {
                p class="alert" role="alert" id="code-error" { (error) }
            }
            @if passkey {
                p class="alert" role="alert" id="passkey-status" hidden {}
                form class="stack" method="post" action="/login/mfa/passkey" data-passkey-sign-in hidden {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="return_to" value=(return_to);
                    input type="hidden" name="mfa_token" value=(mfa_token);
                    button type="submit" autofocus[!codes] { "Use a passkey" }
                }
                noscript { p { "Signing in with a passkey needs JavaScript." } }
            }
            @if codes {
                form class="stack" method="post" action="/login/mfa" {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="return_to" value=(return_to);
                    input type="hidden" name="mfa_token" value=(mfa_token);
                    label for="code" { "Code" }
                    p id="code-help" {
                        "The six-digit code your authenticator app shows for this account, "
                        "or one of your recovery codes."
                    }
                    input type="text" id="code" name="code" autocomplete="one-time-code"
                        autocapitalize="none" spellcheck="false" required maxlength="32" autofocus
                        aria-describedby=(described) aria-invalid=[error.map(|_| "true")];
                    button type="submit" { "Continue" }
                }
            }
            @if passkey {
                script src="/assets/passkeys.js" defer {}
            }
        },
    )
}

/// The account page: who is signed in, their sessions, the applications
/// they allowed, and the ways out.
pub fn account(
    username: &str,
    csrf: &str,
    sessions: &[Session],
    current: uuid::Uuid,
    consents: &[Consent],
) -> Markup {
    page(
        "Your account",
        false,
        html! {
            h1 { "Your account" }
            p { "Signed in as " strong { (username) } "." }
            h2 { "Sessions" }
            table {
                thead {
                    tr {
                        th scope="col" { "Device" }
                        th scope="col" class="optional" { "Address" }
                        th scope="col" { "Last active (UTC)" }
                        th scope="col" { span class="visually-hidden" { "Action" } }
                    }
                }
                tbody {
                    @for session in sessions {
                        tr {
                            td class="agent" {
                                @if session.user_agent.is_empty() { "Unknown device" } @else { (session.user_agent) }
                                @if session.id == current { br; em { "This session" } }
                            }
                            td class="optional" { (session.client_addr) }
                            td { (session.last_seen_at.format("%Y-%m-%d %H:%M")) }
                            td {
                                @if session.id != current {
                                    form method="post" action={ "/account/sessions/" (session.id) "/end" } {
                                        input type="hidden" name="csrf" value=(csrf);
                                        button type="submit" class="quiet"
                                            aria-label={ "End the session on " (session.user_agent) } { "End" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            h2 { "Two-step sign-in" }
            p { a href="/account/mfa" { "Set up or change your authenticator app and recovery codes" } }
            h2 { "Applications you allowed" }
            @if consents.is_empty() {
                p { "None yet." }
            } @else {
                table {
                    thead {
                        tr {
                            th scope="col" { "Application" }
                            th scope="col" { "Allowed to" }
                            th scope="col" class="optional" { "Since (UTC)" }
                            th scope="col" { span class="visually-hidden" { "Action" } }
                        }
                    }
                    tbody {
                        @for consent in consents {
                            @let name = consent.client_name.as_deref().unwrap_or(&consent.client_id);
                            tr {
                                td { (name) }
                                td { (consent.scope.to_string()) }
                                td class="optional" { (consent.granted_at.format("%Y-%m-%d %H:%M")) }
                                td {
                                    form method="post" action={ "/account/consents/" (consent.client_id) "/withdraw" } {
                                        input type="hidden" name="csrf" value=(csrf);
                                        button type="submit" class="quiet"
                                            aria-label={ "Withdraw the access of " (name) } { "Withdraw" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            div class="actions" {
                form method="post" action="/account/logout" {
                    input type="hidden" name="csrf" value=(csrf);
                    button type="submit" { "Log out" }
                }
                @if sessions.len() > 1 {
                    form method="post" action="/account/sessions/end-others" {
                        input type="hidden" name="csrf" value=(csrf);
                        button type="submit" class="quiet" { "Log out everywhere else" }
                    }
                }
            }
        },
    )
}

/// A short page for refusals that have no better place (a stale form).
pub fn message(title: &str, text: &str) -> Markup {
    page(
        title,
        true,
        html! {
            h1 { (title) }
            p { (text) }
            p { a href="/login" { "Back to sign in" } }
        },
    )
}
