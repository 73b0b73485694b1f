"""googleapiclient's side of `cargo xtask bench`, case 6 (discovery), timed in the same run.

Builds services from the documents googleapiclient ships (nothing is fetched and nothing is
sent: an HttpMock stands in for the network), then times what a program pays: the build,
the first call on a method of a big API, and one request built with four parameters.
Prints one JSON object per measurement on stdout: {"case", "median_ns", "p90_ns", "note"}.

usage: bench_discovery.py [--quick]
"""

import gc
import json
import os
import sys
import time

import googleapiclient
from googleapiclient import discovery
from googleapiclient.http import HttpMock

QUICK = "--quick" in sys.argv[1:]
DOCS = os.path.join(os.path.dirname(googleapiclient.__file__), "discovery_cache", "documents")


def read(name):
    with open(os.path.join(DOCS, name), encoding="utf-8") as f:
        return f.read()


def stats(samples):
    s = sorted(samples)
    return s[len(s) // 2], s[min(len(s) - 1, (len(s) * 9) // 10)]


def emit(case, samples, note):
    median, p90 = stats(samples)
    print(json.dumps({"case": case, "median_ns": median, "p90_ns": p90, "note": note}), flush=True)


def build(doc):
    return discovery.build_from_document(doc, http=HttpMock(None, {"status": "200"}))


def timed(f, runs):
    out = []
    for _ in range(runs):
        gc.collect()
        t = time.perf_counter_ns()
        f()
        out.append(time.perf_counter_ns() - t)
    return out


def main():
    compute = read("compute.alpha.json")
    drive = read("drive.v3.json")
    runs = 3 if QUICK else 10
    emit("discovery build compute alpha", timed(lambda: build(compute), runs), "build_from_document")
    emit("discovery build drive v3", timed(lambda: build(drive), runs * 5), "build_from_document")

    # The first call on a method of the big API: googleapiclient builds the resource and
    # method objects on first use.
    def first_call():
        svc = build(compute)
        t = time.perf_counter_ns()
        svc.instances().list(project="p", zone="us-central1-a")
        return time.perf_counter_ns() - t

    emit("discovery first call compute instances.list", [first_call() for _ in range(runs)],
         "instances().list(...) on a fresh service")

    svc = build(drive)
    files = svc.files()
    n = 2_000 if QUICK else 10_000

    def one():
        files.list(q="name contains 'x'", pageSize=50, orderBy="modifiedTime desc",
                   fields="files(id,name)")

    for _ in range(200):
        one()
    batches = []
    per = 100
    for _ in range(n // per):
        t = time.perf_counter_ns()
        for _ in range(per):
            one()
        batches.append((time.perf_counter_ns() - t) // per)
    emit("discovery drive files.list request", batches, "four parameters, HttpRequest built")


if __name__ == "__main__":
    main()
