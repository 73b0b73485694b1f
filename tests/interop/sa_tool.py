"""Python google-auth as the oracle for gauth's service accounts, JWTs and ID tokens.

Subcommands (all print JSON or a token on stdout):
  gen DIR TOKEN_URI          test-only RSA and EC keys, a service-account file, certificates
                             (PEM map and JWKS) written to DIR
  assertion KEYFILE SCOPES SUBJECT
                             google-auth's own JWT-bearer assertion for comparison
  decode CERTS_PEM_JSON TOKEN AUDIENCE
                             google.auth.jwt.decode with the certificates: the payload
  sign RSA|ES256 DIR CLAIMS_JSON
                             a JWT signed by google-auth (kid rsa-1 or ec-1)
"""

import base64
import datetime
import json
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from google.auth import crypt, jwt
from google.auth.crypt import es256
from google.oauth2 import service_account


def b64(n, length=None):
    raw = n.to_bytes(length or (n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def cert_for(key, name):
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
        .sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
        .decode()
    )


def gen(out, token_uri):
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    pkcs8 = rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    ec_pem = ec_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    key_file = {
        "type": "service_account",
        "project_id": "interop-project",
        "private_key_id": "rsa-1",
        "private_key": pkcs8,
        "client_email": "interop@interop-project.iam.gserviceaccount.com",
        "client_id": "1000",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "universe_domain": "googleapis.com",
    }
    with open(os.path.join(out, "key.json"), "w") as f:
        json.dump(key_file, f)
    with open(os.path.join(out, "ec.pem"), "w") as f:
        f.write(ec_pem)
    certs = {"rsa-1": cert_for(rsa_key, "rsa-1"), "ec-1": cert_for(ec_key, "ec-1")}
    with open(os.path.join(out, "certs_pem.json"), "w") as f:
        json.dump(certs, f)
    pub = rsa_key.public_key().public_numbers()
    ecp = ec_key.public_key().public_numbers()
    jwks = {
        "keys": [
            {"kty": "RSA", "kid": "rsa-1", "alg": "RS256", "use": "sig", "n": b64(pub.n), "e": b64(pub.e)},
            {"kty": "EC", "kid": "ec-1", "crv": "P-256", "alg": "ES256", "use": "sig",
             "x": b64(ecp.x, 32), "y": b64(ecp.y, 32)},
        ]
    }
    with open(os.path.join(out, "jwks.json"), "w") as f:
        json.dump(jwks, f)
    print(json.dumps({"ok": True}))


def assertion(key_file, scopes, subject):
    creds = service_account.Credentials.from_service_account_file(
        key_file, scopes=scopes.split() if scopes else None, subject=subject or None
    )
    token = creds._make_authorization_grant_assertion()
    header = jwt._decode_jwt_segment(token.split(b".")[0])
    payload = jwt.decode(token, verify=False)
    print(json.dumps({"header": header, "payload": payload}))


def decode(certs_file, token, audience):
    with open(certs_file) as f:
        certs = json.load(f)
    header = jwt._decode_jwt_segment(token.split(".")[0])
    payload = jwt.decode(token, certs=certs, audience=audience or None)
    print(json.dumps({"header": header, "payload": payload}))


def sign(kind, out, claims):
    payload = json.loads(claims)
    if kind == "RSA":
        signer = crypt.RSASigner.from_service_account_file(os.path.join(out, "key.json"))
    else:
        with open(os.path.join(out, "ec.pem")) as f:
            signer = es256.ES256Signer.from_string(f.read(), key_id="ec-1")
    print(jwt.encode(signer, payload).decode())


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    {"gen": gen, "assertion": assertion, "decode": decode, "sign": sign}[cmd](*args)


if __name__ == "__main__":
    main()
