"""google-auth refreshing an authorized-user file for requested scopes, for comparison.

refresh PATH SCOPE...: the file's credentials as from_authorized_user_file(PATH, scopes=[SCOPE...])
builds them, but with the file's token_uri (which google-auth otherwise ignores, so that the
request reaches the local test server); then refresh(); prints the token, the scopes and the
granted scopes. The file is not written.
"""
import json
import sys

from google.auth.transport.requests import Request
from google.oauth2.credentials import Credentials


def refresh(path, scopes):
    with open(path) as f:
        info = json.load(f)
    loaded = Credentials.from_authorized_user_info(info, scopes=scopes)
    creds = Credentials(
        token=loaded.token,
        refresh_token=loaded.refresh_token,
        token_uri=info["token_uri"],
        client_id=loaded.client_id,
        client_secret=loaded.client_secret,
        scopes=loaded.scopes,
        expiry=loaded.expiry,
        rapt_token=loaded.rapt_token,
    )
    creds.refresh(Request())
    print(json.dumps({
        "token": creds.token,
        "scopes": creds.scopes,
        "granted_scopes": creds.granted_scopes,
    }))


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "refresh":
        refresh(sys.argv[2], sys.argv[3:])
    else:
        raise SystemExit("usage: scoped_refresh.py refresh PATH SCOPE...")
