"""The oracle for gauth's discovery requests: googleapiclient itself.

For every discovery document google-api-python-client ships, a seeded sample of calls
(valid ones with path, query, repeated and global parameters, bodies, media and awkward
values; and invalid ones) is built by googleapiclient over an HttpMock (nothing is sent:
a method call returns the HttpRequest it would execute). Each call and what
googleapiclient made of it (the request, or the error it raised) is written as one JSON
line; the Rust test builds the same calls and compares.

usage: discovery_requests.py OUT.jsonl WORKDIR [SEED] [METHODS_PER_DOC]
"""

import base64
import copy
import glob
import json
import keyword
import os
import random
import re
import sys

try:
    import re._parser as sre_parse
    import re._constants as sre_c
except ImportError:  # Python < 3.11
    import sre_parse
    import sre_constants as sre_c

import googleapiclient
from googleapiclient import discovery, errors
from googleapiclient.http import HttpMock, MediaFileUpload

OUT, WORK = sys.argv[1], sys.argv[2]
SEED = int(sys.argv[3]) if len(sys.argv) > 3 else 5
PER_DOC = int(sys.argv[4]) if len(sys.argv) > 4 else 25
rng = random.Random(SEED)

DOCS = os.path.join(os.path.dirname(googleapiclient.__file__), "discovery_cache", "documents")

AWKWARD = [
    "plain", "a/b", "hello world", "a+b", "x&y=z", "ünïcødé", "日本語", "50%", "a%2Fb",
    "q?x#y", "~tilde_.-", "quote'\"", "semi;colon,comma", "", "*star*", "name = 'x y'",
    "emoji 😀", "@at:colon", "[brackets]", "$dollar!", "tab\there",
]
SEGMENT_CHARS = list("abcXYZ019 +&=?#%ü~_.-@:!$'()*,;[]") + ["日", "😀"]


def key2param(key):
    out = []
    if not key[0].isalpha():
        out.append("x")
    for c in key:
        out.append(c if c.isalnum() else "_")
    return "".join(out)


def gen_from_regex(pattern):
    """A random string matching `pattern` (re.match semantics), or None."""
    try:
        tree = sre_parse.parse(pattern)
    except Exception:
        return None

    def gen(items, depth=0):
        out = []
        for op, av in items:
            if op == sre_c.LITERAL:
                out.append(chr(av))
            elif op == sre_c.NOT_LITERAL:
                choices = [c for c in SEGMENT_CHARS if c != chr(av)]
                out.append(rng.choice(choices))
            elif op == sre_c.ANY:
                out.append(rng.choice(SEGMENT_CHARS))
            elif op == sre_c.IN:
                out.append(gen_in(av))
            elif op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT):
                lo, hi, sub = av
                hi = min(hi, lo + 4)
                n = rng.randint(lo, max(lo, hi)) if lo != hi else lo
                if lo == 0 and hi >= 1:
                    n = rng.randint(1, hi) if rng.random() < 0.8 else 0
                for _ in range(n):
                    out.append(gen(sub, depth + 1))
            elif op == sre_c.SUBPATTERN:
                out.append(gen(av[-1], depth + 1))
            elif op == sre_c.BRANCH:
                out.append(gen(rng.choice(av[1]), depth + 1))
            elif op == sre_c.AT:
                pass
            elif op == sre_c.CATEGORY:
                out.append({"category_digit": "7", "category_word": "w", "category_space": " "}.get(str(av).lower().replace("category_", "category_"), "x"))
            else:
                raise ValueError(op)
        return "".join(out)

    def gen_in(av):
        negate = any(op == sre_c.NEGATE for op, _ in av)
        if negate:
            excluded = set()
            for op, a in av:
                if op == sre_c.LITERAL:
                    excluded.add(chr(a))
            pool = [c for c in SEGMENT_CHARS if c not in excluded and c not in "/,"]
            return rng.choice(pool) if pool else "x"
        opts = []
        for op, a in av:
            if op == sre_c.LITERAL:
                opts.append(chr(a))
            elif op == sre_c.RANGE:
                opts.append(chr(rng.randint(a[0], a[1])))
            elif op == sre_c.CATEGORY:
                opts.append("7" if "DIGIT" in str(a).upper() else "w")
        return rng.choice(opts) if opts else "x"

    for _ in range(6):
        try:
            s = gen(tree)
        except Exception:
            return None
        if re.match(pattern, s):
            return s
    return None


def scalar(desc):
    t = desc.get("type", "string")
    if desc.get("enum"):
        return rng.choice(desc["enum"])
    if desc.get("pattern"):
        return gen_from_regex(desc["pattern"])
    if t == "boolean":
        return rng.choice([True, False])
    if t == "integer":
        return rng.choice([0, 7, 100, -3, 123456789, rng.randint(1, 5000)])
    if t == "number":
        return rng.choice([1.5, 10, 0.25, -3, 1e-07, 2.0])
    if desc.get("format") in ("int64", "uint64", "int32") and rng.random() < 0.3:
        return rng.randint(1, 10**12)
    return rng.choice(AWKWARD)


def value_for(desc):
    if desc.get("repeated") and rng.random() < 0.6:
        vals = [scalar(desc) for _ in range(rng.randint(1, 3))]
        if any(v is None for v in vals):
            return None
        return vals
    return scalar(desc)


def random_body():
    body = {"name": rng.choice(AWKWARD), "count": rng.randint(0, 99)}
    if rng.random() < 0.5:
        body["nested"] = {"ü": [1, "a b", None, True], "f": 1.5}
    return body


def walk(res, prefix, pyprefix):
    for name, m in sorted(res.get("methods", {}).items()):
        yield (prefix + [name], pyprefix + [discovery.fix_method_name(name)], m)
    for name, r in sorted(res.get("resources", {}).items()):
        yield from walk(r, prefix + [name], pyprefix + [discovery.fix_method_name(name)])


def classify(exc, names):
    msg = str(exc)
    if isinstance(exc, errors.UnacceptableMimeTypeError):
        return {"error": "mime", "param": None}
    if isinstance(exc, errors.MediaUploadSizeError):
        return {"error": "size", "param": None}
    if isinstance(exc, TypeError):
        m = re.match(r"Got an unexpected keyword argument (\S+)", msg)
        if m:
            return {"error": "unknown", "param": names.get(m.group(1), m.group(1))}
        m = re.match(r'Missing required parameter "([^"]+)"', msg)
        if m:
            return {"error": "missing", "param": names.get(m.group(1), m.group(1))}
        m = re.match(r'Parameter "([^"]+)" value .* does not match the pattern', msg, re.S)
        if m:
            return {"error": "pattern", "param": names.get(m.group(1), m.group(1))}
        m = re.match(r'Parameter "([^"]+)" value .* is not an allowed value', msg, re.S)
        if m:
            return {"error": "enum", "param": names.get(m.group(1), m.group(1))}
    if isinstance(exc, ValueError):
        return {"error": "value", "param": None}
    return {"error": "other", "param": None, "message": "%s: %s" % (type(exc).__name__, msg[:200])}


def main():
    os.makedirs(WORK, exist_ok=True)
    media_file = os.path.join(WORK, "media.bin")
    with open(media_file, "wb") as f:
        f.write(bytes(rng.randrange(256) for _ in range(300)) + b"\r\n--not-a-boundary\r\n")
    # message/* parts go through Python's email package, which cannot carry arbitrary
    # bytes there: those get a mail as media, 7-bit or UTF-8 (which googleapiclient
    # fails to encode in a multipart upload: UnicodeEncodeError).
    mail_files = [os.path.join(WORK, "mail-7bit.eml"), os.path.join(WORK, "mail-8bit.eml")]
    with open(mail_files[0], "wb") as f:
        f.write(b"Subject: gauth\r\nTo: a@example.com\r\n\r\nhello\r\n")
    with open(mail_files[1], "wb") as f:
        f.write(b"Subject: gauth \xc3\xbc\r\nTo: a@example.com\r\n\r\nhello\r\n")
    files = sorted(glob.glob(os.path.join(DOCS, "*.json")))
    out = open(OUT, "w")
    counts = {"docs": 0, "calls": 0, "docs_dir": DOCS}
    for path in files:
        raw = open(path, "rb").read()
        doc = json.loads(raw)
        pristine = copy.deepcopy(doc)
        if "rootUrl" not in doc:
            continue
        service = discovery.build_from_document(doc, http=HttpMock())
        counts["docs"] += 1
        globals_ = pristine.get("parameters", {})
        methods = list(walk(pristine, [], []))
        sample = methods if len(methods) <= PER_DOC else rng.sample(methods, PER_DOC)
        # Media methods are rare: take every one of them.
        sample += [x for x in methods if x not in sample and (x[2].get("mediaUpload") or x[2].get("supportsMediaDownload"))]
        for dotted, pyname, m in sample:
            params = dict(m.get("parameters", {}))
            all_params = dict(params)
            all_params.update(globals_)
            takes_body = m.get("httpMethod") in ("PUT", "POST", "PATCH") and "request" in m
            variants = ["valid"]
            if rng.random() < 0.4:
                variants.append("valid")
            if rng.random() < 0.5:
                variants.append(rng.choice(["unknown", "missing", "enum", "pattern", "badint", "body_on_get"]))
            if m.get("supportsMediaDownload"):
                variants.append("download")
            if m.get("mediaUpload"):
                variants += ["media", rng.choice(["media", "media_badmime", "resumable"])]
            for variant in variants:
                call = []  # [(discovery name, value)]
                for n, d in sorted(all_params.items()):
                    want = d.get("required") or (rng.random() < 0.25)
                    if variant == "missing" and d.get("required"):
                        continue
                    if not want:
                        continue
                    v = value_for(d)
                    if v is None:
                        if d.get("required"):
                            v = "unmatched value"
                        else:
                            continue
                    call.append((n, v))
                rng.shuffle(call)
                missing_target = [n for n, d in sorted(params.items()) if d.get("required")]
                if variant == "missing" and not missing_target:
                    continue
                if variant == "unknown":
                    call.insert(rng.randrange(len(call) + 1), ("notAParameter", "x"))
                if variant == "enum":
                    enums = [n for n, d in all_params.items() if d.get("enum")]
                    if not enums:
                        continue
                    n = rng.choice(enums)
                    call = [(k, v) for k, v in call if k != n] + [(n, "NOT_IN_ENUM")]
                if variant == "pattern":
                    pats = [n for n, d in all_params.items() if d.get("pattern")]
                    if not pats:
                        continue
                    n = rng.choice(pats)
                    call = [(k, v) for k, v in call if k != n] + [(n, "!! no match \u00e9")]
                if variant == "badint":
                    ints = [n for n, d in all_params.items() if d.get("type") == "integer" and not d.get("enum") and not d.get("pattern")]
                    if not ints:
                        continue
                    n = rng.choice(ints)
                    call = [(k, v) for k, v in call if k != n] + [(n, "twelve")]
                body = None
                if takes_body and (variant != "media" or rng.random() < 0.5):
                    body = random_body()
                if variant == "body_on_get" and not takes_body:
                    body = random_body()
                media = None
                if variant in ("media", "media_badmime", "resumable"):
                    accept = m["mediaUpload"].get("accept", [])
                    mime = "application/octet-stream"
                    if accept:
                        a = rng.choice(accept)
                        mime = a.replace("/*", "/x-gauth") if a != "*/*" else "application/octet-stream"
                    if variant == "media_badmime":
                        mime = "x-gauth/unlisted"
                    mf = rng.choice(mail_files) if mime.startswith("message/") else media_file
                    media = {"file": mf, "mime": mime, "resumable": variant == "resumable"}
                    # googleapiclient re-parses the query of upload URLs and refuses
                    # repeated keys and drops empty values; gauth keeps both: sample
                    # neither.
                    call = [(k, v) for k, v in call if not isinstance(v, list) and v != ""]
                names = {}
                kwargs = {}
                for n, v in call:
                    pn = key2param(n) if n != "notAParameter" else "notAParameter"
                    names[pn] = n
                    kwargs[pn] = v
                if body is not None:
                    kwargs["body"] = body
                    names["body"] = "body"
                if media is not None:
                    if media["resumable"]:
                        kwargs["media_body"] = MediaFileUpload(mf, mimetype=media["mime"], resumable=True)
                    else:
                        kwargs["media_body"] = mf
                        kwargs["media_mime_type"] = media["mime"]
                    names["media_body"] = "media_body"
                target = service
                try:
                    for r in pyname[:-1]:
                        target = getattr(target, r)()
                    fn_name = pyname[-1] + ("_media" if variant == "download" else "")
                    fn = getattr(target, fn_name)
                except AttributeError as e:
                    continue
                try:
                    req = fn(**kwargs)
                    b = req.body
                    if isinstance(b, str):
                        b = b.encode("utf-8")
                    expect = {
                        "method": req.method,
                        "url": req.uri,
                        "content_type": req.headers.get("content-type"),
                        "body_b64": base64.b64encode(b).decode() if b is not None else None,
                    }
                except Exception as exc:  # googleapiclient's verdict
                    expect = classify(exc, names)
                rec = {
                    "doc": os.path.basename(path),
                    "method": ".".join(dotted),
                    "variant": variant,
                    "params": [[n, v] for n, v in call],
                    "body": body,
                    "media": media,
                    "download": variant == "download",
                    "expect": expect,
                }
                out.write(json.dumps(rec, ensure_ascii=False) + "\n")
                counts["calls"] += 1
    out.close()
    print(json.dumps(counts))


main()
