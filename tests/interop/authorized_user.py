"""google-auth's side of the authorized-user round trip.

write PATH TOKEN_URI REFRESH_TOKEN: writes Credentials.to_json() of an expired user credential.
read PATH: loads the file with Credentials.from_authorized_user_file and prints what it holds.
"""
import datetime
import json
import sys

from google.oauth2.credentials import Credentials


def write(path, token_uri, refresh_token):
    creds = Credentials(
        token="ya29.stale-token-from-python",
        refresh_token=refresh_token,
        token_uri=token_uri,
        client_id="test-client.apps.googleusercontent.com",
        client_secret="test-client-secret",
        scopes=["openid", "https://www.googleapis.com/auth/userinfo.email"],
        expiry=datetime.datetime.utcnow() - datetime.timedelta(minutes=5),
    )
    with open(path, "w") as f:
        f.write(creds.to_json())


def read(path):
    creds = Credentials.from_authorized_user_file(path)
    print(json.dumps({
        "token": creds.token,
        "refresh_token": creds.refresh_token,
        "client_id": creds.client_id,
        "scopes": creds.scopes,
        "expiry": creds.expiry.isoformat() if creds.expiry else None,
        "expired": creds.expired,
        "valid": creds.valid,
    }))


if __name__ == "__main__":
    if sys.argv[1] == "write":
        write(sys.argv[2], sys.argv[3], sys.argv[4])
    elif sys.argv[1] == "read":
        read(sys.argv[2])
    else:
        raise SystemExit("usage: authorized_user.py write PATH TOKEN_URI REFRESH_TOKEN | read PATH")
