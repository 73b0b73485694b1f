"""The retry rules of googleapiclient and google-auth, asked directly.

retry_rules.py CASES_JSON: CASES_JSON is a list of [status, body]; prints a JSON list of
[googleapiclient_retries, google_auth_retries], one pair per case.
"""
import json
import logging
import sys

from googleapiclient import http as api_http
from google.oauth2 import _client

logging.disable(logging.CRITICAL)


def google_auth(status, body):
    # google-auth decodes the body as JSON when it can, and passes the text otherwise.
    try:
        data = json.loads(body)
    except ValueError:
        data = body
    return _client._can_retry(status, data)


def main():
    cases = json.loads(sys.argv[1])
    out = []
    for status, body in cases:
        out.append([
            bool(api_http._should_retry_response(status, body.encode("utf-8"))),
            bool(google_auth(status, body)),
        ])
    print(json.dumps(out))


if __name__ == "__main__":
    main()
