"""google-api-python-client, unmodified, moves media through the gauth emulator's Drive v3:
MediaFileUpload (simple, multipart, resumable with next_chunk) and MediaIoBaseDownload, as
a program would write them, surviving what the emulator injects the way googleapiclient's
users must: `num_retries` for statuses, calling `next_chunk` again after a transport error
(googleapiclient then asks the session where it stands), and starting over when a session
is gone (404/410).

usage: media_googleapiclient.py BASE_URL SPEC_JSON

SPEC_JSON: {"op": "simple" | "multipart" | "resumable" | "download", "token": access token,
            "file": path (uploads), "file_id": id and "out": path (downloads),
            "name", "mimetype", "fields", "chunksize" (default: googleapiclient's),
            "num_retries",
            "catch" (transport errors survived), "restarts" (sessions restarted),
            "timeout" (socket timeout, seconds)}
Prints one JSON line: {"id", "size", "sha256Checksum", "progress", "errors", "restarts"}.
"""
import hashlib
import http.client
import json
import socket
import sys

import google.oauth2.credentials
import google_auth_httplib2
import httplib2
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from googleapiclient.http import (
    DEFAULT_CHUNK_SIZE,
    MediaFileUpload,
    MediaIoBaseDownload,
    build_http,
)

base, spec = sys.argv[1], json.loads(sys.argv[2])
op = spec["op"]
chunksize = spec.get("chunksize") or DEFAULT_CHUNK_SIZE
num_retries = spec.get("num_retries", 0)
catch = spec.get("catch", 0)
restarts_allowed = spec.get("restarts", 0)
fields = spec.get("fields", "id,name,mimeType,size,sha256Checksum")

if spec.get("timeout"):
    # build_http() takes the default socket timeout.
    socket.setdefaulttimeout(spec["timeout"])
creds = google.oauth2.credentials.Credentials(token=spec["token"])
authed = google_auth_httplib2.AuthorizedHttp(creds, http=build_http())
drive = build(
    "drive",
    "v3",
    http=authed,
    discoveryServiceUrl=base + "/discovery/v1/apis/{api}/{apiVersion}/rest",
    static_discovery=False,
)

# What a caller sees when a connection breaks: socket errors, http.client's, httplib2's.
TRANSPORT = (OSError, http.client.HTTPException, httplib2.HttpLib2Error)
errors = []
progress = []


def survive(e):
    errors.append(type(e).__name__)
    if len(errors) > catch:
        raise e


def upload():
    resumable = op == "resumable"
    media = MediaFileUpload(
        spec["file"],
        mimetype=spec.get("mimetype", "application/octet-stream"),
        chunksize=chunksize,
        resumable=resumable,
    )
    body = None if op == "simple" else {"name": spec.get("name", "media.bin")}
    request = drive.files().create(body=body, media_body=media, fields=fields)
    if not resumable:
        while True:
            try:
                return request.execute(num_retries=num_retries), 0
            except TRANSPORT as e:
                survive(e)
    restarts = 0
    response = None
    while response is None:
        try:
            status, response = request.next_chunk(num_retries=num_retries)
            if status:
                progress.append(status.resumable_progress)
        except HttpError as e:
            # A session that is gone cannot resume: start over (googleapiclient's advice).
            if e.resp.status in (404, 410) and restarts < restarts_allowed:
                restarts += 1
                media = MediaFileUpload(
                    spec["file"],
                    mimetype=spec.get("mimetype", "application/octet-stream"),
                    chunksize=chunksize,
                    resumable=True,
                )
                request = drive.files().create(body=body, media_body=media, fields=fields)
                continue
            raise
        except TRANSPORT as e:
            survive(e)
    return response, restarts


def download():
    request = drive.files().get_media(fileId=spec["file_id"])
    digest = hashlib.sha256()
    size = 0
    with open(spec["out"], "wb") as out:
        downloader = MediaIoBaseDownload(out, request, chunksize=chunksize)
        done = False
        while not done:
            try:
                status, done = downloader.next_chunk(num_retries=num_retries)
                progress.append(status.resumable_progress)
            except TRANSPORT as e:
                survive(e)
    with open(spec["out"], "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    return {"id": spec["file_id"], "size": str(size), "sha256Checksum": digest.hexdigest()}, 0


result, restarts = download() if op == "download" else upload()
result.update({"progress": progress, "errors": errors, "restarts": restarts})
print(json.dumps(result), flush=True)
