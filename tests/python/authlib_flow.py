"""Signs a user in to a Python app through Countersign with the libraries
such an app would use: Authlib for discovery, the authorization request
with PKCE, the code exchange and refresh; PyJWT for the ID token; requests
as the user's browser (cookies kept, each redirect seen).

Usage: python authlib_flow.py ISSUER CLIENT_ID SECRET REDIRECT_URI POST_LOGOUT_URI USERNAME PASSWORD

SECRET is "-" for a public client (token_endpoint_auth_method "none").
The client must be registered trusted, for the authorization_code and
refresh_token grants, with both URIs. Exits non-zero on the first
assertion that fails; prints one line per step that passed.
"""

import base64
import hashlib
import secrets
import sys
from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlsplit

import jwt
import requests
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from authlib.oidc.discovery import OpenIDProviderMetadata

issuer, client_id, secret, redirect_uri, post_logout_uri, username, password = sys.argv[1:8]
public = secret == "-"


def ok(step):
    print(f"authlib: {step}: ok", flush=True)


class Inputs(HTMLParser):
    """The named inputs of a page's forms, as a browser would submit them."""

    def __init__(self):
        super().__init__()
        self.fields = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and attrs.get("name"):
            self.fields.setdefault(attrs["name"], attrs.get("value") or "")


def hidden_fields(html):
    parser = Inputs()
    parser.feed(html)
    return parser.fields


def browse(browser, url, leaving_for):
    """Follows `url` as a browser would, signing in when the login page
    shows, until a redirect leaves for `leaving_for`; returns that URL."""
    for _ in range(10):
        response = browser.get(url, allow_redirects=False)
        if response.status_code in (302, 303):
            url = urljoin(url, response.headers["location"])
            if url.startswith(leaving_for):
                return url
            continue
        assert response.status_code == 200, (response.status_code, response.text)
        fields = hidden_fields(response.text)
        assert "password" in fields, f"expected the login page at {url}: {response.text[:300]}"
        fields.update(username=username, password=password)
        signed_in = browser.post(
            urljoin(url, "/login"),
            data=fields,
            headers={"origin": issuer},
            allow_redirects=False,
        )
        assert signed_in.status_code == 303, (signed_in.status_code, signed_in.text)
        url = urljoin(url, signed_in.headers["location"])
    raise AssertionError(f"too many redirects, last at {url}")


def query(url):
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


# Discovery: both documents pass Authlib's validators.
openid = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()
OpenIDProviderMetadata(openid).validate()
oauth = requests.get(f"{issuer}/.well-known/oauth-authorization-server", timeout=10).json()
AuthorizationServerMetadata(oauth).validate()
assert openid["issuer"] == oauth["issuer"] == issuer
assert "S256" in openid["code_challenge_methods_supported"]
assert openid["authorization_response_iss_parameter_supported"] is True
ok("discovery documents validate")


def session():
    return OAuth2Session(
        client_id,
        None if public else secret,
        token_endpoint_auth_method="none" if public else "client_secret_basic",
        scope="openid profile",
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
    )


def sign_in(browser, extra=None):
    """One authorization request through the browser: the app, its PKCE
    verifier, its nonce and the URL the browser came back to."""
    app = session()
    verifier = secrets.token_urlsafe(48)
    nonce = secrets.token_urlsafe(16)
    url, state = app.create_authorization_url(
        openid["authorization_endpoint"], code_verifier=verifier, nonce=nonce, **(extra or {})
    )
    back = browse(browser, url, redirect_uri)
    answer = query(back)
    assert answer["state"] == state, answer
    # RFC 9207: the response names who answered it.
    assert answer["iss"] == issuer, answer
    return app, verifier, nonce, back


def refused(call, error):
    try:
        call()
    except OAuthError as e:
        assert e.error == error, (e.error, e.description)
        return e.description
    raise AssertionError(f"expected {error}")


jwks = jwt.PyJWKClient(openid["jwks_uri"])


def check_id_token(token, nonce, access_token):
    key = jwks.get_signing_key_from_jwt(token)
    claims = jwt.decode(
        token,
        key.key,
        algorithms=openid["id_token_signing_alg_values_supported"],
        audience=client_id,
        issuer=issuer,
        options={"require": ["exp", "iat", "sub", "auth_time", "nonce", "at_hash", "sid"]},
    )
    assert claims["nonce"] == nonce
    digest = hashlib.sha256(access_token.encode()).digest()
    assert claims["at_hash"] == base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()
    assert claims["preferred_username"] == username
    assert claims["amr"] == ["pwd"]
    return claims


browser = requests.Session()

# The first sign-in shows the login form; the code is exchanged with the
# verifier, and the ID token verifies against the JWKS.
app, verifier, nonce, back = sign_in(browser)
token = app.fetch_token(openid["token_endpoint"], authorization_response=back, code_verifier=verifier)
assert token["token_type"] == "Bearer" and token["scope"] == "openid profile"
claims = check_id_token(token["id_token"], nonce, token["access_token"])
ok("code exchanged with PKCE, ID token verified by PyJWT")

# UserInfo, by GET and by POST, with the access token.
for method in ("GET", "POST"):
    info = app.request(method, openid["userinfo_endpoint"])
    assert info.status_code == 200, info.text
    assert info.json()["sub"] == claims["sub"]
    assert info.json()["preferred_username"] == username
ok("userinfo by GET and POST")

# Refresh rotates the refresh token; the old one is then refused.
first_refresh = token["refresh_token"]
renewed = app.refresh_token(openid["token_endpoint"])
assert renewed["refresh_token"] != first_refresh
stale = session()
stale.token = {"access_token": "unused", "token_type": "Bearer", "refresh_token": first_refresh}
refused(lambda: stale.refresh_token(openid["token_endpoint"]), "invalid_grant")
ok("refresh rotates, a reused refresh token is refused")

# Single sign-on: the browser session answers a second request without the
# form. The code exchanged with another verifier is refused, and spent.
app, verifier, nonce, back = sign_in(browser)
refused(
    lambda: app.fetch_token(
        openid["token_endpoint"], authorization_response=back, code_verifier=secrets.token_urlsafe(48)
    ),
    "invalid_grant",
)
refused(
    lambda: app.fetch_token(openid["token_endpoint"], authorization_response=back, code_verifier=verifier),
    "invalid_grant",
)
ok("a wrong PKCE verifier is refused")

# A replayed code is refused, and what its first redemption issued is
# revoked (RFC 6749 §4.1.2).
app, verifier, nonce, back = sign_in(browser)
token = app.fetch_token(openid["token_endpoint"], authorization_response=back, code_verifier=verifier)
assert app.get(openid["userinfo_endpoint"]).status_code == 200
replay = session()
replay.state = query(back)["state"]
refused(
    lambda: replay.fetch_token(openid["token_endpoint"], authorization_response=back, code_verifier=verifier),
    "invalid_grant",
)
assert app.get(openid["userinfo_endpoint"]).status_code == 401
refused(lambda: app.refresh_token(openid["token_endpoint"]), "invalid_grant")
ok("a replayed code is refused and its tokens revoked")

# RP-initiated logout with the ID token as the hint: back to the app with
# its state, and the browser session is over (prompt=none now fails).
logout_state = secrets.token_urlsafe(8)
end = requests.Request(
    "GET",
    openid["end_session_endpoint"],
    params={
        "id_token_hint": token["id_token"],
        "post_logout_redirect_uri": post_logout_uri,
        "state": logout_state,
    },
).prepare().url
back = browse(browser, end, post_logout_uri)
assert query(back) == {"state": logout_state}, back
app = session()
url, state = app.create_authorization_url(
    openid["authorization_endpoint"], code_verifier=secrets.token_urlsafe(48), prompt="none"
)
silent = browser.get(url, allow_redirects=False)
assert silent.status_code == 303, silent.text
answer = query(silent.headers["location"])
assert answer["error"] == "login_required" and answer["state"] == state, answer
ok("logout returns to the app and ends the browser session")
