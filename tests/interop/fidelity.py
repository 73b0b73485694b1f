"""Python google-auth, google-auth-oauthlib and googleapiclient as the oracle for the places
where gauth follows them closely (issue 15). Every subcommand reads its input from a JSON
file and prints JSON on stdout.

  idtokens IN      certificates of every form google-auth reads (X.509 v1 and v3, SPKI and
                   PKCS#1 public keys, P-256 and P-384), tokens signed by google-auth, and
                   google.auth.jwt.decode's verdict on each at a fixed clock and skew
  impersonation IN impersonated_credentials' generateAccessToken and generateIdToken requests,
                   sent to the recording server IN names
  adc IN           google.auth.default() in the environment IN gives (a fake `gcloud` on PATH
                   answers `gcloud config get project`): the project id and the
                   x-goog-user-project header its credentials apply
  authurls IN      google_auth_oauthlib.flow.Flow.authorization_url for each case of IN
  media IN         googleapiclient's verdict (ok, UnacceptableMimeTypeError,
                   MediaUploadSizeError) on uploads from a file name and from memory
  compressed IN    googleapiclient building from a discovery URL and calling methods whose
                   answers the server compresses; the answers as it decoded them
"""

import datetime
import json
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

import google.auth._helpers
from google.auth import crypt, jwt
from google.auth.crypt import es


# --- DER, just enough to turn a v3 certificate into a v1 one -------------------------------


def der_len(n):
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def tlv(tag, content):
    return bytes([tag]) + der_len(len(content)) + content


def elements(content):
    """The (tag, whole element) pairs of a run of DER elements."""
    out = []
    i = 0
    while i < len(content):
        tag = content[i]
        first = content[i + 1]
        if first < 0x80:
            length, header = first, 2
        else:
            n = first & 0x7F
            length = int.from_bytes(content[i + 2 : i + 2 + n], "big")
            header = 2 + n
        out.append((tag, content[i : i + header + length]))
        i += header + length
    return out


def _inner(element):
    first = element[1]
    header = 2 if first < 0x80 else 2 + (first & 0x7F)
    return element[header:]


def self_signed(key, name, hash_alg):
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .sign(key, hash_alg)
    )


def v1_certificate(key, name):
    """A self-signed X.509 v1 certificate: a v3 one without its version field, re-signed."""
    v3 = self_signed(key, name, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
    tbs, sig_alg, _ = [e for _, e in elements(_inner(v3))]
    fields = [e for tag, e in elements(_inner(tbs)) if tag != 0xA0]
    tbs_v1 = tlv(0x30, b"".join(fields))
    if isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(tbs_v1, padding.PKCS1v15(), hashes.SHA256())
    else:
        signature = key.sign(tbs_v1, ec.ECDSA(hashes.SHA256()))
    der = tlv(0x30, tbs_v1 + sig_alg + tlv(0x03, b"\x00" + signature))
    cert = x509.load_der_x509_certificate(der)
    assert cert.version == x509.Version.v1, cert.version
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def pem_private(key):
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def at(now):
    """google-auth's clock, fixed at `now` (seconds since the epoch, fractions allowed)."""
    fixed = datetime.datetime.fromtimestamp(now, datetime.timezone.utc).replace(tzinfo=None)
    google.auth._helpers.utcnow = lambda: fixed


def verdict(call):
    try:
        call()
        return "ok"
    except Exception as e:  # every refusal counts, whatever its class
        return "{}: {}".format(type(e).__name__, e)


# --- subcommands ------------------------------------------------------------------------


def idtokens(spec):
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    p256 = ec.generate_private_key(ec.SECP256R1())
    p384 = ec.generate_private_key(ec.SECP384R1())
    public = rsa_key.public_key()
    certs = {
        "rsa-v3": self_signed(rsa_key, "rsa-v3", hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
        .decode(),
        "rsa-v1": v1_certificate(rsa_key, "rsa-v1"),
        "rsa-spki": public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode(),
        "rsa-pkcs1": public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.PKCS1
        ).decode(),
        "p256-v3": self_signed(p256, "p256", hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
        .decode(),
        "p256-v1": v1_certificate(p256, "p256-v1"),
        "p384-v3": self_signed(p384, "p384", hashes.SHA384())
        .public_bytes(serialization.Encoding.PEM)
        .decode(),
        "p384-spki": p384.public_key()
        .public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        .decode(),
    }
    certs.update(spec.get("extra_certs", {}))
    signers = {
        "rsa": crypt.RSASigner.from_string(pem_private(rsa_key)),
        "p256": es.EsSigner.from_string(pem_private(p256)),
        "p384": es.EsSigner.from_string(pem_private(p384)),
    }
    out = []
    for case in spec["cases"]:
        header = dict(case.get("header", {}))
        token = jwt.encode(
            signers[case["signer"]], case["claims"], header=header, key_id=case.get("kid")
        ).decode()
        at(case["now"])
        got = verdict(
            lambda: jwt.decode(
                token,
                certs=certs,
                audience=case["audience"],
                clock_skew_in_seconds=case["skew"],
            )
        )
        out.append({"token": token, "verdict": got})
    print(json.dumps({"certs": certs, "results": out}))


def impersonation(spec):
    import google.auth.transport.requests
    import google.oauth2.credentials
    from google.auth import iam, impersonated_credentials

    base = spec["base"]
    iam._IAM_IDTOKEN_ENDPOINT = base + "/v1/projects/-/serviceAccounts/{}:generateIdToken"
    source = google.oauth2.credentials.Credentials(token="ya29.source")
    target = impersonated_credentials.Credentials(
        source_credentials=source,
        target_principal=spec["target"],
        target_scopes=spec["scopes"],
        delegates=spec["delegates"],
        lifetime=spec["lifetime"],
        iam_endpoint_override=base
        + "/v1/projects/-/serviceAccounts/{}:generateAccessToken".format(spec["target"]),
    )
    request = google.auth.transport.requests.Request()
    target.refresh(request)
    ids = impersonated_credentials.IDTokenCredentials(
        target, target_audience=spec["audience"], include_email=spec["include_email"]
    )
    ids.refresh(request)
    print(json.dumps({"access_token": target.token, "id_token": ids.token}))


ADC_VARIABLES = [
    "GOOGLE_APPLICATION_CREDENTIALS",
    "CLOUDSDK_CONFIG",
    "CLOUDSDK_ACTIVE_CONFIG_NAME",
    "CLOUDSDK_CORE_PROJECT",
    "GOOGLE_CLOUD_PROJECT",
    "GCLOUD_PROJECT",
    "GOOGLE_CLOUD_QUOTA_PROJECT",
    "GCE_METADATA_HOST",
    "GCE_METADATA_IP",
    "NO_GCE_CHECK",
    "GOOGLE_API_USE_CLIENT_CERTIFICATE",
]


def adc(spec):
    import os
    import stat
    import warnings

    import google.auth

    for name in ADC_VARIABLES:
        os.environ.pop(name, None)
    os.environ.update(spec["env"])
    # gcloud, as google-auth runs it: `gcloud config get project`.
    bin_dir = spec["bin_dir"]
    gcloud = os.path.join(bin_dir, "gcloud")
    with open(gcloud, "w") as f:
        if spec.get("gcloud_project"):
            f.write("#!/bin/sh\necho '{}'\n".format(spec["gcloud_project"]))
        else:
            f.write("#!/bin/sh\nexit 1\n")
    os.chmod(gcloud, stat.S_IRWXU)
    os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        credentials, project = google.auth.default(scopes=spec.get("scopes"))
    headers = {}
    credentials.apply(headers, token="t")
    print(
        json.dumps(
            {
                "project": project,
                "quota_header": headers.get("x-goog-user-project"),
                "kind": type(credentials).__module__ + "." + type(credentials).__name__,
            }
        )
    )


def authurls(spec):
    from google_auth_oauthlib.flow import Flow

    urls = []
    for case in spec["cases"]:
        flow = Flow.from_client_config(
            case["config"],
            scopes=case["scopes"],
            state=case["state"],
            code_verifier=case["code_verifier"],
            autogenerate_code_verifier=False,
        )
        flow.redirect_uri = case["redirect_uri"]
        kwargs = dict((k, v) for k, v in case["kwargs"])
        url, state = flow.authorization_url(**kwargs)
        assert state == case["state"]
        urls.append(url)
    print(json.dumps(urls))


def media(spec):
    import os

    import httplib2
    from googleapiclient.discovery import build_from_document
    from googleapiclient.http import MediaInMemoryUpload

    service = build_from_document(spec["document"], http=httplib2.Http())
    out = []
    for case in spec["cases"]:
        method = getattr(service.things(), case["method"])
        data = b"\0" * case["size"]
        if case["from"] == "file":
            path = os.path.join(spec["dir"], "media.bin")
            with open(path, "wb") as f:
                f.write(data)
            call = lambda: method(media_body=path, media_mime_type=case["mime"])
        else:
            upload = MediaInMemoryUpload(data, mimetype=case["mime"])
            call = lambda: method(media_body=upload)
        try:
            call()
            out.append("ok")
        except Exception as e:
            out.append(type(e).__name__)
    print(json.dumps(out))


def compressed(spec):
    import httplib2
    from googleapiclient.discovery import build

    service = build(
        "demo",
        "v1",
        http=httplib2.Http(),
        discoveryServiceUrl=spec["discovery_url"],
        static_discovery=False,
        cache_discovery=False,
    )
    answers = [getattr(service.items(), m)().execute() for m in spec["methods"]]
    print(json.dumps(answers))


def main():
    command, path = sys.argv[1], sys.argv[2]
    with open(path) as f:
        spec = json.load(f)
    {
        "idtokens": idtokens,
        "impersonation": impersonation,
        "adc": adc,
        "authurls": authurls,
        "media": media,
        "compressed": compressed,
    }[command](spec)


if __name__ == "__main__":
    main()
