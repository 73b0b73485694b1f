"""google-auth-oauthlib's Flow and google-auth's user Credentials, unmodified, against the
gauth emulator (consent page mode): authorization URL with PKCE S256, the consent page's
Allow and Deny, fetch_token, the ID token verified with the emulator's PEM certificates,
refresh, userinfo, tokeninfo, revocation.

usage: emulator_user_flow.py BASE_URL CLIENT_SECRETS_FILE
"""
import os
import re
import sys
import urllib.parse

# The emulator speaks plain http on loopback; oauthlib insists on https otherwise.
os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"

import requests
import google.auth.exceptions
import google.oauth2.credentials
import google.oauth2.id_token
from google.auth.transport.requests import AuthorizedSession, Request
from google_auth_oauthlib.flow import Flow
from oauthlib.oauth2.rfc6749.errors import AccessDeniedError

base, secrets = sys.argv[1], sys.argv[2]
SCOPES = [
    "openid",
    "https://www.googleapis.com/auth/userinfo.email",
    "https://www.googleapis.com/auth/userinfo.profile",
]
REDIRECT = "http://127.0.0.1:45678/callback"


def consent(auth_url, decision):
    """Answers the consent page as a browser would; returns the redirect Location."""
    page = requests.get(auth_url, allow_redirects=False, timeout=10)
    assert page.status_code == 200, (page.status_code, page.text[:300])
    assert "text/html" in page.headers["content-type"]
    assert 'id="allow"' in page.text and 'id="deny"' in page.text
    action = re.search(r'<form method="post" action="([^"]+)"', page.text).group(1)
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]+)"', page.text))
    user = re.search(r'<option value="([^"]+)" selected', page.text).group(1)
    answer = requests.post(
        base + action,
        data={**hidden, "user": user, "decision": decision},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302, (answer.status_code, answer.text[:300])
    return answer.headers["location"]


# 1. Allow: the whole authorization-code flow with PKCE.
flow = Flow.from_client_secrets_file(secrets, scopes=SCOPES, redirect_uri=REDIRECT)
auth_url, state = flow.authorization_url(prompt="consent", login_hint="alice@example.com")
query = urllib.parse.parse_qs(urllib.parse.urlparse(auth_url).query)
assert query["code_challenge_method"] == ["S256"] and query["access_type"] == ["offline"]
location = consent(auth_url, "allow")
assert location.startswith(REDIRECT + "?"), location
back = urllib.parse.parse_qs(urllib.parse.urlparse(location).query)
assert back["state"] == [state], back
flow.fetch_token(authorization_response=location)
creds = flow.credentials
assert creds.token.startswith("ya29."), creds.token
assert creds.refresh_token, "access_type=offline must yield a refresh token"
assert set(creds.granted_scopes or SCOPES) == set(SCOPES)

# The ID token: signed by the emulator, checked by google-auth against its PEM certificates.
claims = google.oauth2.id_token.verify_token(
    creds.id_token,
    Request(),
    audience=creds.client_id,
    certs_url=base + "/oauth2/v1/certs",
)
assert claims["iss"] == "https://accounts.google.com"
assert claims["email"] == "alice@example.com" and claims["email_verified"] is True
assert claims["azp"] == creds.client_id and claims["sub"].isdigit()
assert claims["name"] == "Alice Example"
# A wrong audience is refused by google-auth.
try:
    google.oauth2.id_token.verify_token(
        creds.id_token, Request(), audience="someone-else", certs_url=base + "/oauth2/v1/certs"
    )
    raise SystemExit("a wrong audience was accepted")
except ValueError:
    pass

# 2. userinfo (oauth2 v2 and OpenID Connect) with the access token.
session = AuthorizedSession(creds)
info = session.get(base + "/oauth2/v2/userinfo").json()
assert info["email"] == "alice@example.com" and info["verified_email"] is True, info
assert info["id"] == claims["sub"], info
oidc = session.get(base + "/v1/userinfo").json()
assert oidc["sub"] == claims["sub"] and oidc["email_verified"] is True, oidc
bad = requests.get(base + "/oauth2/v2/userinfo", headers={"Authorization": "Bearer nope"}, timeout=10)
assert bad.status_code == 401 and bad.json()["error"]["status"] == "UNAUTHENTICATED", bad.text

# 3. tokeninfo, Google's string-valued fields.
ti = requests.get(base + "/tokeninfo", params={"access_token": creds.token}, timeout=10).json()
assert ti["aud"] == creds.client_id and ti["azp"] == creds.client_id, ti
assert ti["email"] == "alice@example.com" and ti["email_verified"] == "true", ti
assert ti["access_type"] == "offline" and int(ti["expires_in"]) > 3000, ti
assert set(ti["scope"].split()) == set(SCOPES), ti
idi = requests.get(base + "/tokeninfo", params={"id_token": creds.id_token}, timeout=10).json()
assert idi["aud"] == creds.client_id and idi["email_verified"] == "true", idi
junk = requests.get(base + "/tokeninfo", params={"access_token": "junk"}, timeout=10)
assert junk.status_code == 400 and junk.json()["error"] == "invalid_token", junk.text

# 4. Refresh with google-auth's user Credentials, built as a program would from its store.
stored = google.oauth2.credentials.Credentials(
    token=None,
    refresh_token=creds.refresh_token,
    token_uri=creds.token_uri,
    client_id=creds.client_id,
    client_secret=creds.client_secret,
    scopes=SCOPES,
)
stored.refresh(Request())
assert stored.token.startswith("ya29.") and stored.token != creds.token
assert stored.expiry is not None and stored.valid
assert stored.id_token, "a refresh of an openid grant carries an ID token"

# 5. Revoke: the refresh token stops working, as google-auth reports it.
stored2 = google.oauth2.credentials.Credentials(
    token=None,
    refresh_token=creds.refresh_token,
    token_uri=creds.token_uri,
    client_id=creds.client_id,
    client_secret=creds.client_secret,
)
revoked = requests.post(base + "/revoke", data={"token": creds.refresh_token}, timeout=10)
assert revoked.status_code == 200, revoked.text
try:
    stored2.refresh(Request())
    raise SystemExit("a revoked refresh token still worked")
except google.auth.exceptions.RefreshError as e:
    assert "invalid_grant" in str(e), e
twice = requests.post(base + "/revoke", data={"token": creds.refresh_token}, timeout=10)
assert twice.status_code == 400 and twice.json()["error"] == "invalid_token", twice.text

# A code is single use; its replay also revokes the grant it bought (RFC 6749 4.1.2).
flow = Flow.from_client_secrets_file(secrets, scopes=SCOPES, redirect_uri=REDIRECT)
auth_url, _ = flow.authorization_url()
location = consent(auth_url, "allow")
flow.fetch_token(authorization_response=location)
replayed = flow.credentials
code = urllib.parse.parse_qs(urllib.parse.urlparse(location).query)["code"][0]
again = requests.post(
    replayed.token_uri,
    data={
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "client_id": replayed.client_id,
        "client_secret": replayed.client_secret,
        "code_verifier": flow.code_verifier,
    },
    timeout=10,
)
assert again.status_code == 400 and again.json()["error"] == "invalid_grant", again.text
try:
    replayed.refresh(Request())
    raise SystemExit("a grant whose code was replayed still refreshed")
except google.auth.exceptions.RefreshError as e:
    assert "invalid_grant" in str(e), e

# 6. Deny: error=access_denied comes back with the state, and oauthlib raises.
flow = Flow.from_client_secrets_file(secrets, scopes=SCOPES, redirect_uri=REDIRECT)
auth_url, state = flow.authorization_url()
location = consent(auth_url, "deny")
back = urllib.parse.parse_qs(urllib.parse.urlparse(location).query)
assert back["error"] == ["access_denied"] and back["state"] == [state], back
try:
    flow.fetch_token(authorization_response=location)
    raise SystemExit("a denied authorization yielded a token")
except AccessDeniedError:
    pass

# 7. A redirect URI that is not loopback is refused with Google's error page, not followed.
flow = Flow.from_client_secrets_file(secrets, scopes=SCOPES, redirect_uri="https://evil.example/cb")
auth_url, _ = flow.authorization_url()
page = requests.get(auth_url, allow_redirects=False, timeout=10)
assert page.status_code == 400 and "redirect_uri_mismatch" in page.text, page.status_code

print("ok: user flow")
