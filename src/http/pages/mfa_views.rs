//! The markup of the second-factor pages under `/account/mfa`: what the
//! person has, setting up an authenticator app (a QR code drawn here, as
//! inline SVG, and the secret to type), the recovery codes shown once, and
//! the forms that need a code. Errors are tied to the field they are about.

use maud::{Markup, PreEscaped, html};

use super::views::page;
use crate::service::mfa::Factors;

/// The one form field for a code, its error (if any) tied to it.
fn code_field(id: &str, label: &str, help: &str, error: Option<&str>) -> Markup {
    let help_id = format!("{id}-help");
    let error_id = format!("{id}-error");
    let described = match error {
        Some(_) => format!("{error_id} {help_id}"),
        None => help_id.clone(),
    };
    html! {
        label for=(id) { (label) }
        p id=(help_id) { (help) }
        @if let Some(error) = error {
            p class="alert" role="alert" id=(error_id) { (error) }
        }
        input type="text" id=(id) name="code" autocomplete="one-time-code"
            autocapitalize="none" spellcheck="false" required maxlength="32"
            autofocus[error.is_some()]
            aria-describedby=(described) aria-invalid=[error.map(|_| "true")];
    }
}

/// Where a form error goes.
pub enum Trouble<'a> {
    None,
    /// Under the form that turns TOTP off.
    Remove(&'a str),
    /// Under the form that replaces the recovery codes.
    Replace(&'a str),
    /// Under the form that removes a passkey.
    RemovePasskey(&'a str),
}

/// `/account/mfa`: the second factors, and what can be done about them.
pub fn overview(csrf: &str, factors: &Factors, passkeys_on: bool, trouble: &Trouble<'_>) -> Markup {
    let (totp, codes_left) = (factors.totp, factors.recovery_codes_left);
    page(
        "Two-step sign-in",
        true,
        html! {
            h1 { "Two-step sign-in" }
            @if totp {
                p { "On: signing in asks for a code from your authenticator app after your password." }
                p { "Recovery codes left: " strong { (codes_left) } "." }
                h2 { "New recovery codes" }
                form class="stack" method="post" action="/account/mfa/recovery-codes" {
                    input type="hidden" name="csrf" value=(csrf);
                    (code_field("replace-code", "Code from your app",
                        "The six-digit code your app shows now. Your old recovery codes stop working.",
                        match trouble { Trouble::Replace(e) => Some(*e), _ => None }))
                    button type="submit" { "Make new recovery codes" }
                }
                h2 { "Turn it off" }
                form class="stack" method="post" action="/account/mfa/totp/remove" {
                    input type="hidden" name="csrf" value=(csrf);
                    (code_field("remove-code", "Code from your app, or a recovery code",
                        "Your password alone will sign you in again.",
                        match trouble { Trouble::Remove(e) => Some(*e), _ => None }))
                    button type="submit" class="quiet" { "Turn off two-step sign-in" }
                }
            } @else {
                @if factors.passkeys.is_empty() {
                    p { "Off: your password alone signs you in. Add an authenticator app or a passkey so that a stolen password is not enough." }
                } @else {
                    p { "On: signing in asks for one of your passkeys after your password. You can add an authenticator app as well." }
                }
                form class="stack" method="post" action="/account/mfa/totp" {
                    input type="hidden" name="csrf" value=(csrf);
                    button type="submit" { "Set up an authenticator app" }
                }
            }
            @if passkeys_on {
                h2 { "Passkeys" }
                @if factors.passkeys.is_empty() {
                    p { "None yet. A passkey on this device (or your phone, or a security key) signs you in after your password, or without one." }
                } @else {
                    table {
                        thead {
                            tr {
                                th scope="col" { "Name" }
                                th scope="col" class="optional" { "Added (UTC)" }
                                th scope="col" { "Last used (UTC)" }
                            }
                        }
                        tbody {
                            @for passkey in &factors.passkeys {
                                tr {
                                    td { (passkey.name) }
                                    td class="optional" { (passkey.created_at.format("%Y-%m-%d %H:%M")) }
                                    td {
                                        @match passkey.last_used_at {
                                            Some(at) => { (at.format("%Y-%m-%d %H:%M")) }
                                            None => { "Never" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    @let error = match trouble { Trouble::RemovePasskey(e) => Some(*e), _ => None };
                    form class="stack" method="post" action="/account/mfa/passkeys/remove" {
                        input type="hidden" name="csrf" value=(csrf);
                        label for="remove-passkey" { "Passkey to remove" }
                        select id="remove-passkey" name="id" {
                            @for passkey in &factors.passkeys {
                                option value=(passkey.id) { (passkey.name) }
                            }
                        }
                        label for="remove-passkey-password" { "Your password" }
                        @if let Some(error) = error {
                            p class="alert" role="alert" id="remove-passkey-error" { (error) }
                        }
                        input type="password" id="remove-passkey-password" name="password"
                            autocomplete="current-password" required maxlength="1024"
                            autofocus[error.is_some()]
                            aria-describedby=[error.map(|_| "remove-passkey-error")]
                            aria-invalid=[error.map(|_| "true")];
                        button type="submit" class="quiet" { "Remove the passkey" }
                    }
                }
                p class="alert" role="alert" id="passkey-status" hidden {}
                form class="stack" method="post" action="/account/mfa/passkeys/finish" data-passkey-register hidden {
                    input type="hidden" name="csrf" value=(csrf);
                    label for="passkey-name" { "Name for a new passkey" }
                    p id="passkey-name-help" { "So that you can tell your passkeys apart, such as “Work laptop”." }
                    input type="text" id="passkey-name" name="name" required maxlength="64"
                        aria-describedby="passkey-name-help";
                    label for="passkey-password" { "Your password" }
                    input type="password" id="passkey-password" name="password"
                        autocomplete="current-password" required maxlength="1024";
                    button type="submit" { "Add a passkey" }
                }
                noscript { p { "Adding a passkey needs JavaScript." } }
                script src="/assets/passkeys.js" defer {}
            }
            p { a href="/account" { "Back to your account" } }
        },
    )
}

/// Where the enrolment form posts, with what.
pub struct EnrolForm<'a> {
    pub action: &'a str,
    /// Hidden fields: the CSRF token, and at sign-in the login's token and
    /// where to go next.
    pub hidden: &'a [(&'a str, &'a str)],
    /// Where *Cancel* leads.
    pub cancel: &'a str,
    /// Said first: why the page is shown (at sign-in, that it must be).
    pub reason: Option<&'a str>,
}

/// Setting up an app: the QR code, the secret to type instead, and the
/// form that confirms with the app's first code.
pub fn enrolment(form: &EnrolForm<'_>, qr_svg: &str, secret: &str, error: Option<&str>) -> Markup {
    // Groups of four, as apps show typed secrets; spaces are ignored.
    let grouped: Vec<String> = secret
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    page(
        "Set up your authenticator app",
        true,
        html! {
            h1 { "Set up your authenticator app" }
            @if let Some(reason) = form.reason {
                p { (reason) }
            }
            p { "Scan this code with your authenticator app (such as Google Authenticator, Aegis or 1Password)." }
            div class="qr" role="img" aria-label="QR code holding the key for your authenticator app" {
                (PreEscaped(qr_svg))
            }
            p { "Or type this key into the app:" }
            p { code class="secret" { (grouped.join(" ")) } }
            form class="stack" method="post" action=(form.action) {
                @for (name, value) in form.hidden {
                    input type="hidden" name=(name) value=(value);
                }
                (code_field("confirm-code", "Code from your app",
                    "The six-digit code the app now shows for this account.", error))
                button type="submit" { "Turn on two-step sign-in" }
            }
            p { a href=(form.cancel) { "Cancel" } }
        },
    )
}

/// The recovery codes, shown this once; `next` is where *Continue* leads.
pub fn recovery_codes(codes: &[String], next: &str) -> Markup {
    page(
        "Your recovery codes",
        true,
        html! {
            h1 { "Your recovery codes" }
            p { "Keep these somewhere safe, apart from your phone. Each one signs you in once if you lose your authenticator app. They are shown only now." }
            ul class="codes" {
                @for code in codes {
                    li { code { (code) } }
                }
            }
            p { a href=(next) { "Continue" } }
        },
    )
}
