"""Python google-auth as the oracle for gauth's keyless credentials: external_account
(file, url, executable and aws sources, impersonation, workforce pools),
external_account_authorized_user, impersonated_service_account and downscoped tokens.

Subcommands (each prints one JSON object on stdout):
  refresh FILE SCOPES [SOURCE_TOKEN_URI]
      loads FILE as google.auth.default() would (without its Cloud Resource Manager
      project lookup), refreshes once; SCOPES is comma-separated (may be empty);
      SOURCE_TOKEN_URI replaces the token endpoint of an authorized-user source (google-auth
      always uses Google's). Prints {"token", "expiry"}.
  downscope SOURCE_FILE BOUNDARY_FILE STS_URL SCOPES [SOURCE_TOKEN_URI]
      downscoped.Credentials over SOURCE_FILE with the boundary (as google-auth serializes
      it), STS at STS_URL; refreshes once. Prints {"token", "expiry", "options"}.
  aws-sign FILE EPOCH
      the AWS subject token google-auth's signer makes at that instant (region and
      credentials from the environment or the file's metadata URLs). Prints {"token"}.
"""

import datetime
import json
import sys
import urllib.parse

from google.auth import (
    _helpers,
    aws,
    downscoped,
    external_account_authorized_user,
    identity_pool,
    impersonated_credentials,
    pluggable,
)
from google.auth.transport.requests import Request
from google.oauth2 import credentials as user_credentials
from google.oauth2 import service_account, sts

AWS_TYPE = "urn:ietf:params:aws:token-type:aws4_request"


def scopes_of(text):
    return [s for s in text.split(",") if s] or None


def load(path, scopes, source_token_uri=None):
    with open(path) as f:
        info = json.load(f)
    kind = info.get("type")
    if kind == "external_account":
        if info.get("subject_token_type") == AWS_TYPE:
            cls = aws.Credentials
        elif (info.get("credential_source") or {}).get("executable") is not None:
            cls = pluggable.Credentials
        else:
            cls = identity_pool.Credentials
        return cls.from_info(info, scopes=scopes)
    if kind == "external_account_authorized_user":
        return external_account_authorized_user.Credentials.from_info(info)
    if kind == "impersonated_service_account":
        creds = impersonated_credentials.Credentials.from_impersonated_service_account_info(
            info, scopes=scopes
        )
        # google-auth sends impersonation to iamcredentials.googleapis.com whatever the
        # file's URL says; gauth uses the URL (checked by its endpoint policy).
        creds._iam_endpoint_override = info["service_account_impersonation_url"]
        if source_token_uri and hasattr(creds._source_credentials, "_token_uri"):
            creds._source_credentials._token_uri = source_token_uri
        return creds
    if kind == "authorized_user":
        creds = user_credentials.Credentials.from_authorized_user_info(info, scopes=scopes)
        if source_token_uri:
            creds._token_uri = source_token_uri
        return creds
    if kind == "service_account":
        return service_account.Credentials.from_service_account_info(info, scopes=scopes)
    raise SystemExit("unsupported type {}".format(kind))


def show(creds, **extra):
    out = {
        "token": creds.token,
        "expiry": creds.expiry.isoformat() + "Z" if creds.expiry else None,
    }
    out.update(extra)
    print(json.dumps(out))


def refresh(path, scopes, source_token_uri=None):
    creds = load(path, scopes_of(scopes), source_token_uri)
    creds.refresh(Request())
    show(creds)


def downscope(source_path, boundary_path, sts_url, scopes, source_token_uri=None):
    source = load(source_path, scopes_of(scopes), source_token_uri)
    with open(boundary_path) as f:
        boundary = json.load(f)
    rules = []
    for r in boundary["accessBoundary"]["accessBoundaryRules"]:
        c = r.get("availabilityCondition")
        condition = (
            downscoped.AvailabilityCondition(
                c["expression"], c.get("title"), c.get("description")
            )
            if c
            else None
        )
        rules.append(
            downscoped.AccessBoundaryRule(
                r["availableResource"], r["availablePermissions"], condition
            )
        )
    cab = downscoped.CredentialAccessBoundary(rules)
    creds = downscoped.Credentials(source, cab)
    creds._sts_client = sts.Client(sts_url)
    creds.refresh(Request())
    show(creds, options=urllib.parse.quote(json.dumps(cab.to_json())))


def aws_sign(path, epoch):
    fixed = datetime.datetime.fromtimestamp(int(epoch), tz=datetime.timezone.utc).replace(
        tzinfo=None
    )
    _helpers.utcnow = lambda: fixed
    creds = load(path, None)
    print(json.dumps({"token": creds.retrieve_subject_token(Request())}))


if __name__ == "__main__":
    import os

    if os.environ.get("FIXED_EPOCH"):
        # Both sides sign AWS requests at the same instant.
        _fixed = datetime.datetime.fromtimestamp(
            int(os.environ["FIXED_EPOCH"]), tz=datetime.timezone.utc
        ).replace(tzinfo=None)
        _helpers.utcnow = lambda: _fixed
    command, args = sys.argv[1], sys.argv[2:]
    {"refresh": refresh, "downscope": downscope, "aws-sign": aws_sign}[command](*args)
