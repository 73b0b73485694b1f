"""Regenerates the emulator's TEST-ONLY key material (run once; the output is committed).

These keys are published in the repository: they protect nothing and must never be
trusted outside tests. Needs Python `cryptography`.

    python keys/generate.py
"""
import datetime
import json
import pathlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

here = pathlib.Path(__file__).parent


def key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


# The key the emulator signs ID tokens with, and its self-signed certificate for
# /oauth2/v1/certs (google-auth's verify_token reads certificates, not bare keys).
signing = key()
(here / "test-only-signing-key.pk8").write_bytes(
    signing.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
)
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gauth-emulator TEST ONLY")])
now = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
cert = (
    x509.CertificateBuilder()
    .subject_name(name)
    .issuer_name(name)
    .public_key(signing.public_key())
    .serial_number(1)
    .not_valid_before(now)
    .not_valid_after(now + datetime.timedelta(days=365 * 50))
    .sign(signing, hashes.SHA256())
)
(here / "test-only-signing-cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))

# A service-account key the emulator registers by default.
sa = key()
pem = sa.private_bytes(
    serialization.Encoding.PEM,
    serialization.PrivateFormat.PKCS8,
    serialization.NoEncryption(),
).decode()
(here / "test-only-service-account.json").write_text(
    json.dumps(
        {
            "type": "service_account",
            "project_id": "gauth-emulator",
            "private_key_id": "0123456789abcdef0123456789abcdef01234567",
            "private_key": pem,
            "client_email": "emulator-sa@gauth-emulator.iam.gserviceaccount.com",
            "client_id": "100000000000000000042",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": "https://oauth2.googleapis.com/token",
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/emulator-sa%40gauth-emulator.iam.gserviceaccount.com",
            "universe_domain": "googleapis.com",
        },
        indent=2,
    )
    + "\n"
)
