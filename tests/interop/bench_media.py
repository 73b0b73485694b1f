"""googleapiclient's side of `cargo xtask bench`, case 8 (media): one upload
(MediaFileUpload, resumable, googleapiclient's default 100 MiB chunks) or one download
(MediaIoBaseDownload, default chunks, into a file) against the emulator's Drive, as a
program would write it. Run as a child process: it prints `ok BYTES NANOS` (the transfer
alone, after imports and build) and then waits for stdin to close, so that the bench reads
its peak RSS from /proc before it exits.

usage: bench_media.py BASE_URL TOKEN upload FILE
       bench_media.py BASE_URL TOKEN download FILE_ID OUT
"""
import os
import sys
import time

import google.oauth2.credentials
from googleapiclient.discovery import build
from googleapiclient.http import MediaFileUpload, MediaIoBaseDownload

base, token, op = sys.argv[1], sys.argv[2], sys.argv[3]
creds = google.oauth2.credentials.Credentials(token=token)
drive = build(
    "drive",
    "v3",
    credentials=creds,
    discoveryServiceUrl=base + "/discovery/v1/apis/{api}/{apiVersion}/rest",
    static_discovery=False,
)

start = time.perf_counter_ns()
if op == "upload":
    path = sys.argv[4]
    media = MediaFileUpload(path, mimetype="application/octet-stream", resumable=True)
    request = drive.files().create(body={"name": "bench.bin"}, media_body=media, fields="id,size")
    response = None
    while response is None:
        _, response = request.next_chunk()
    moved = int(response["size"])
else:
    file_id, out = sys.argv[4], sys.argv[5]
    with open(out, "wb") as f:
        downloader = MediaIoBaseDownload(f, drive.files().get_media(fileId=file_id))
        done = False
        while not done:
            _, done = downloader.next_chunk()
    moved = os.path.getsize(out)
took = time.perf_counter_ns() - start
print("ok %d %d" % (moved, took), flush=True)
sys.stdin.read()
