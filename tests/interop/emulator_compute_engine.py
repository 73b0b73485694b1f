"""google-auth's compute_engine credentials, unmodified, against the gauth emulator's
metadata server (GCE_METADATA_HOST / GCE_METADATA_IP pointed at it).

usage: emulator_compute_engine.py BASE_URL HOST:PORT
"""
import os
import sys

base, host = sys.argv[1], sys.argv[2]
os.environ["GCE_METADATA_HOST"] = host
os.environ["GCE_METADATA_IP"] = host
os.environ["NO_GCE_CHECK"] = "False"

import requests
import google.auth
import google.oauth2.id_token
from google.auth import compute_engine
from google.auth.compute_engine import _metadata
from google.auth.transport.requests import Request

request = Request()
assert _metadata.ping(request), "the metadata server did not answer ping"
assert _metadata.get_project_id(request) == "gauth-emulator"

creds = compute_engine.Credentials()
creds.refresh(request)
assert creds.token.startswith("ya29.") and creds.valid, creds.token
assert creds.service_account_email.endswith(".iam.gserviceaccount.com")

# Application Default Credentials find the metadata server too.
os.environ.pop("GOOGLE_APPLICATION_CREDENTIALS", None)
os.environ["CLOUDSDK_CONFIG"] = "/nonexistent-gauth-emulator-test"
adc, project = google.auth.default()
assert project == "gauth-emulator", project
adc.refresh(request)
assert adc.token.startswith("ya29.")

audience = "https://run.example.test"
idc = compute_engine.IDTokenCredentials(
    request, target_audience=audience, use_metadata_identity_endpoint=True
)
idc.refresh(request)
claims = google.oauth2.id_token.verify_token(
    idc.token, request, audience=audience, certs_url=base + "/oauth2/v1/certs"
)
assert claims["email"] == creds.service_account_email, claims

# Without the Metadata-Flavor header the server refuses, as Google's does.
r = requests.get(base + "/computeMetadata/v1/project/project-id", timeout=10)
assert r.status_code == 403 and r.headers["Metadata-Flavor"] == "Google", r.status_code

print("ok: compute engine")
