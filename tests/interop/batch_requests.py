"""The oracle for gauth's batch bodies: googleapiclient's BatchHttpRequest itself.

For a seeded sample of the discovery documents google-api-python-client ships, a batch of
calls (required path parameters with awkward values, a query parameter, JSON bodies,
auto and caller ids) is built by googleapiclient with credentials (so every part carries
an Authorization header) and its body captured instead of sent. Each batch is written as
one JSON line: the document file, the calls, the Content-ID base and boundary
googleapiclient chose, the batch URL and the exact body.

usage: batch_requests.py OUT.jsonl [SEED] [DOCS]
"""

import glob
import json
import os
import random
import sys

import google.oauth2.credentials
import googleapiclient
from googleapiclient import discovery

OUT = sys.argv[1]
SEED = int(sys.argv[2]) if len(sys.argv) > 2 else 11
NDOCS = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
rng = random.Random(SEED)

DOCS = os.path.join(os.path.dirname(googleapiclient.__file__), "discovery_cache", "documents")
AWKWARD = ["plain", "a/b", "hello world", "a+b", "x&y=z", "ünïcødé", "50%", "~tilde_.-", "日本語"]
IDS = ["my id", "a+b", "ü/1", "x%y", "<>"]


class Captured(Exception):
    pass


class Capture:
    """An http object that records the batch request instead of sending it."""

    def request(self, uri, method="GET", body=None, headers=None, **kw):
        raise Captured(uri, method, body, headers)


def methods(resource, prefix=""):
    for name, m in sorted(resource.get("methods", {}).items()):
        yield prefix + name, m
    for name, r in sorted(resource.get("resources", {}).items()):
        yield from methods(r, prefix + name + ".")


def simple_string(p):
    return p.get("type", "string") == "string" and "pattern" not in p and "enum" not in p \
        and not p.get("repeated")


def call_for(doc, path, m):
    params = {}
    for name, p in sorted(m.get("parameters", {}).items()):
        if p.get("required"):
            if not simple_string(p):
                return None
            params[name] = rng.choice(AWKWARD)
    optional = [n for n, p in sorted(m.get("parameters", {}).items())
                if not p.get("required") and p.get("location") == "query" and simple_string(p)]
    if optional and rng.random() < 0.5:
        params[rng.choice(optional)] = rng.choice(AWKWARD)
    call = {"method": path, "params": params}
    if "request" in m:
        call["body"] = rng.choice([{}, {"name": "ü x", "n": 1, "tags": ["a", "b"]}])
    return call


def python_request(service, call):
    target = service
    parts = call["method"].split(".")
    for r in parts[:-1]:
        target = getattr(target, r)()
    kwargs = dict(call["params"])
    if "body" in call:
        kwargs["body"] = call["body"]
    return getattr(target, parts[-1])(**kwargs)


def main():
    files = sorted(glob.glob(os.path.join(DOCS, "*.json")))
    rng.shuffle(files)
    creds = google.oauth2.credentials.Credentials(token="batch-token")
    n = 0
    with open(OUT, "w") as out:
        for f in files[:NDOCS]:
            with open(f) as fh:
                text = fh.read()
            doc = json.loads(text)
            try:
                service = discovery.build_from_document(text, credentials=creds)
            except Exception:
                continue  # a document googleapiclient cannot build from
            candidates = [(p, m) for p, m in methods(doc) if "mediaUpload" not in m]
            rng.shuffle(candidates)
            batch = service.new_batch_http_request()
            calls = []
            for path, m in candidates[:8]:
                call = call_for(doc, path, m)
                if call is None:
                    continue
                try:
                    req = python_request(service, call)
                except Exception:
                    continue  # googleapiclient refuses it (keyword clash): not a batch matter
                if rng.random() < 0.3:
                    call["id"] = rng.choice(IDS) + str(len(calls))
                    batch.add(req, request_id=call["id"])
                else:
                    batch.add(req)
                call["params"] = list(call["params"].items())  # keeps the order
                calls.append(call)
            if not calls:
                continue
            try:
                batch.execute(http=Capture())
            except Captured as c:
                uri, method, body, headers = c.args
            else:
                raise SystemExit("the batch was not sent")
            boundary = headers["content-type"].split('boundary="', 1)[1].rstrip('"')
            out.write(json.dumps({
                "doc": f,
                "calls": calls,
                "base_id": str(batch._base_id),
                "boundary": boundary,
                "url": uri,
                "method": method,
                "content_type": headers["content-type"],
                "body": body,
            }) + "\n")
            n += 1
    print(n)


main()
