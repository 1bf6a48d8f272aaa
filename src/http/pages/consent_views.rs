//! The markup of the pages of the authorization flow: asking for consent,
//! the refusals that cannot go back to an application, and signing out.

use maud::{Markup, html};

use super::views::page;

/// An authorization request, carried through a form unchanged.
pub struct Carried<'a> {
    pub fields: &'a [(&'static str, String)],
}

impl Carried<'_> {
    fn hidden(&self) -> Markup {
        html! {
            @for (name, value) in self.fields {
                input type="hidden" name=(name) value=(value);
            }
        }
    }
}

/// What a scope lets an application do, in plain words.
fn describe(scope: &str) -> String {
    match scope {
        "openid" => "Know who you are: your account's identifier".into(),
        "profile" => "See your username".into(),
        "offline_access" => "Stay signed in while you are away".into(),
        "admin" => "Administer this server: users, applications and keys".into(),
        other => format!("Use the permission “{other}”"),
    }
}

/// Asks the signed-in person whether `client_name` may have `scopes`, for
/// the services `audiences` (none: this server).
pub fn consent(
    client_name: &str,
    username: &str,
    scopes: &[&str],
    audiences: &[&str],
    refresh: bool,
    csrf: &str,
    carried: &Carried<'_>,
) -> Markup {
    page(
        "Allow access",
        true,
        html! {
            h1 { "Allow " (client_name) "?" }
            p { "You are signed in as " strong { (username) } "." }
            p id="asks" { strong { (client_name) } " asks to:" }
            ul aria-labelledby="asks" {
                @for scope in scopes {
                    li { (describe(scope)) }
                }
                @if refresh {
                    li { "Keep access until you withdraw it (on your account page)" }
                }
                @if scopes.is_empty() && !refresh {
                    li { "Know that you signed in" }
                }
            }
            @if !audiences.is_empty() {
                p id="services" { "It will use this access at:" }
                ul aria-labelledby="services" {
                    @for audience in audiences {
                        li { code { (audience) } }
                    }
                }
            }
            form method="post" action="/oauth2/authorize/consent" {
                input type="hidden" name="csrf" value=(csrf);
                (carried.hidden())
                div class="actions" {
                    button type="submit" name="decision" value="allow" autofocus { "Allow" }
                    button type="submit" name="decision" value="deny" class="quiet" { "Deny" }
                }
            }
        },
    )
}

/// A request that cannot be answered at the application's address.
pub fn refused(why: &str) -> Markup {
    page(
        "Cannot sign in",
        true,
        html! {
            h1 { "This sign-in request cannot be used" }
            p role="alert" { (why) }
            p { "Go back to the application and try again; if this keeps happening, its \
                 administrator needs to check how it is registered." }
        },
    )
}

/// Asks whether to sign out, when the request to do so cannot be trusted
/// by itself (it names no ID token of the signed-in user).
pub fn confirm_logout(csrf: &str, carried: &Carried<'_>) -> Markup {
    page(
        "Sign out",
        true,
        html! {
            h1 { "Sign out?" }
            p { "An application asks to sign you out of this server." }
            form method="post" action="/oauth2/logout" {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="confirm" value="yes";
                (carried.hidden())
                div class="actions" {
                    button type="submit" autofocus { "Sign out" }
                    a href="/account" { "Stay signed in" }
                }
            }
        },
    )
}

/// After signing out, when there is nowhere to return to.
pub fn signed_out() -> Markup {
    page(
        "Signed out",
        true,
        html! {
            h1 { "You are signed out" }
            p { "You can close this window." }
            p { a href="/login" { "Sign in again" } }
        },
    )
}
