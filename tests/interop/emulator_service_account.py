"""google-auth's service-account credentials, unmodified, against the gauth emulator: the
JWT-bearer grant for an access token and for an ID token, the ID token verified with the
emulator's certificates, impersonation through IAM Credentials, and a forged key refused.

usage: emulator_service_account.py BASE_URL KEY_FILE
"""
import json
import sys

import requests
import google.auth.exceptions
import google.oauth2.id_token
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import impersonated_credentials
from google.auth.transport.requests import Request
from google.oauth2 import service_account

base, key_file = sys.argv[1], sys.argv[2]
info = json.load(open(key_file))
CLOUD = "https://www.googleapis.com/auth/cloud-platform"

# 1. Access token through the JWT-bearer grant.
creds = service_account.Credentials.from_service_account_file(key_file, scopes=[CLOUD])
creds.refresh(Request())
assert creds.token.startswith("ya29.") and creds.valid, creds.token
ti = requests.get(base + "/tokeninfo", params={"access_token": creds.token}, timeout=10).json()
assert ti["email"] == info["client_email"] and ti["scope"] == CLOUD, ti
assert ti["sub"] == info["client_id"] and ti["azp"] == info["client_id"], ti

# 2. ID token for a target audience, verified with the emulator's PEM certificates.
audience = "https://service.example.test"
idc = service_account.IDTokenCredentials.from_service_account_file(
    key_file, target_audience=audience
)
idc.refresh(Request())
claims = google.oauth2.id_token.verify_token(
    idc.token, Request(), audience=audience, certs_url=base + "/oauth2/v1/certs"
)
assert claims["email"] == info["client_email"] and claims["email_verified"] is True, claims
assert claims["sub"] == info["client_id"] and claims["iss"] == "https://accounts.google.com"

# 3. Impersonation through IAM Credentials generateAccessToken / generateIdToken.
target = impersonated_credentials.Credentials(
    source_credentials=creds,
    target_principal=info["client_email"],
    target_scopes=[CLOUD],
    lifetime=600,
    iam_endpoint_override=base
    + "/v1/projects/-/serviceAccounts/{}:generateAccessToken".format(info["client_email"]),
)
target.refresh(Request())
assert target.token.startswith("ya29.") and target.expiry is not None, target.token
r = requests.post(
    base + "/v1/projects/-/serviceAccounts/{}:generateIdToken".format(info["client_email"]),
    headers={"Authorization": "Bearer " + creds.token},
    json={"audience": audience, "includeEmail": True},
    timeout=10,
)
assert r.status_code == 200, r.text
claims = google.oauth2.id_token.verify_token(
    r.json()["token"], Request(), audience=audience, certs_url=base + "/oauth2/v1/certs"
)
assert claims["email"] == info["client_email"], claims
r = requests.post(
    base + "/v1/projects/-/serviceAccounts/nobody@x.iam.gserviceaccount.com:generateAccessToken",
    headers={"Authorization": "Bearer " + creds.token},
    json={"scope": [CLOUD]},
    timeout=10,
)
assert r.status_code == 404 and r.json()["error"]["status"] == "NOT_FOUND", r.text
r = requests.post(
    base + "/v1/projects/-/serviceAccounts/{}:generateAccessToken".format(info["client_email"]),
    json={"scope": [CLOUD]},
    timeout=10,
)
assert r.status_code == 401, r.text

# 4. An assertion signed with another key is refused: google-auth raises RefreshError.
other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
forged = dict(info)
forged["private_key"] = other.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
).decode()
bad = service_account.Credentials.from_service_account_info(forged, scopes=[CLOUD])
try:
    bad.refresh(Request())
    raise SystemExit("a forged assertion was accepted")
except google.auth.exceptions.RefreshError as e:
    assert "invalid_grant" in str(e) and "Signature" in str(e), e

# 5. No scope and no target audience: Google's invalid_scope.
noscope = service_account.Credentials.from_service_account_file(key_file)
try:
    noscope.refresh(Request())
    raise SystemExit("an assertion without scope was accepted")
except google.auth.exceptions.RefreshError as e:
    assert "invalid_scope" in str(e), e

print("ok: service account")
