//! The few DER structures gauth reads to hand keys to jsonwebtoken: a certificate's
//! `SubjectPublicKeyInfo` (X.509 v1 as well as v3, as google-auth reads them), an SPKI's key,
//! an RSA public key's modulus and exponent, and the PKCS#1 key inside an RSA PKCS#8 key.
//!
//! Only definite lengths are read, every length is checked against what is left, and
//! nothing here can panic: an input that does not fit is `None`. ring checks every key
//! this returns before using it.

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const OCTET_STRING: u8 = 0x04;
const OID: u8 = 0x06;
/// `[0] EXPLICIT`: the version of a certificate (absent in X.509 v1).
const CONTEXT_0: u8 = 0xa0;

/// 1.2.840.113549.1.1.1
const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
/// 1.2.840.10045.2.1
const EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// 1.2.840.10045.3.1.7
const P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// 1.3.132.0.34
const P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
/// 1.3.101.112
const ED25519: &[u8] = &[0x2b, 0x65, 0x70];

/// A reader over a run of DER elements.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    /// The next element: its tag, its contents and the whole element (header included).
    fn next(&mut self) -> Option<(u8, &'a [u8], &'a [u8])> {
        let input = self.0;
        let (&tag, rest) = input.split_first()?;
        let (&first, mut rest) = rest.split_first()?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return None;
            }
            let (bytes, after) = rest.split_at(n);
            rest = after;
            bytes
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
        };
        if rest.len() < len {
            return None;
        }
        let header = input.len() - rest.len();
        let (contents, after) = rest.split_at(len);
        self.0 = after;
        Some((tag, contents, &input[..header + len]))
    }

    /// The next element's contents when its tag is `tag`.
    fn expect(&mut self, tag: u8) -> Option<&'a [u8]> {
        match self.next()? {
            (t, contents, _) if t == tag => Some(contents),
            _ => None,
        }
    }

    fn peek_tag(&self) -> Option<u8> {
        self.0.first().copied()
    }
}

/// The `SubjectPublicKeyInfo` element (whole) of a DER certificate, of any version.
pub(crate) fn certificate_spki(cert: &[u8]) -> Option<&[u8]> {
    let certificate = Reader(cert).expect(SEQUENCE)?;
    let mut tbs = Reader(Reader(certificate).expect(SEQUENCE)?);
    if tbs.peek_tag() == Some(CONTEXT_0) {
        tbs.next()?;
    }
    tbs.expect(INTEGER)?; // serialNumber
    tbs.expect(SEQUENCE)?; // signature
    tbs.expect(SEQUENCE)?; // issuer
    tbs.expect(SEQUENCE)?; // validity
    tbs.expect(SEQUENCE)?; // subject
    match tbs.next()? {
        (SEQUENCE, _, whole) => Some(whole),
        _ => None,
    }
}

/// A public key as read from an SPKI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SpkiKey<'a> {
    /// PKCS#1 `RSAPublicKey` DER.
    Rsa(&'a [u8]),
    /// An uncompressed P-256 point.
    P256(&'a [u8]),
    /// An uncompressed P-384 point.
    P384(&'a [u8]),
    /// An Ed25519 public key.
    Ed25519(&'a [u8]),
}

/// The key inside a DER `SubjectPublicKeyInfo`, when of a kind gauth verifies with.
pub(crate) fn spki_key(spki: &[u8]) -> Option<SpkiKey<'_>> {
    let mut fields = Reader(Reader(spki).expect(SEQUENCE)?);
    let mut algorithm = Reader(fields.expect(SEQUENCE)?);
    let bits = fields.expect(BIT_STRING)?;
    let key = bits.strip_prefix(&[0])?; // no unused bits
    let oid = algorithm.expect(OID)?;
    if oid == RSA_ENCRYPTION {
        return Some(SpkiKey::Rsa(key));
    }
    if oid == ED25519 {
        return Some(SpkiKey::Ed25519(key));
    }
    if oid != EC_PUBLIC_KEY {
        return None;
    }
    let curve = algorithm.expect(OID)?;
    match (curve, key.len()) {
        (c, 65) if c == P256 && key[0] == 4 => Some(SpkiKey::P256(key)),
        (c, 97) if c == P384 && key[0] == 4 => Some(SpkiKey::P384(key)),
        _ => None,
    }
}

/// Modulus and exponent of a PKCS#1 `RSAPublicKey`, big-endian without the sign byte.
pub(crate) fn rsa_public_components(pkcs1: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut fields = Reader(Reader(pkcs1).expect(SEQUENCE)?);
    let unsigned = |b: &[u8]| {
        let mut b = b;
        while let [0, rest @ ..] = b {
            b = rest;
        }
        b.to_vec()
    };
    let n = unsigned(fields.expect(INTEGER)?);
    let e = unsigned(fields.expect(INTEGER)?);
    (!n.is_empty() && !e.is_empty()).then_some((n, e))
}

/// The PKCS#1 `RSAPrivateKey` inside an RSA PKCS#8 `PrivateKeyInfo`.
pub(crate) fn pkcs8_rsa_private_key(pkcs8: &[u8]) -> Option<&[u8]> {
    let mut fields = Reader(Reader(pkcs8).expect(SEQUENCE)?);
    fields.expect(INTEGER)?; // version
    let mut algorithm = Reader(fields.expect(SEQUENCE)?);
    if algorithm.expect(OID)? != RSA_ENCRYPTION {
        return None;
    }
    fields.expect(OCTET_STRING)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_checked_and_long_forms_read() {
        assert_eq!(
            Reader(&[0x04, 0x01, 0xaa]).expect(OCTET_STRING),
            Some(&[0xaa][..])
        );
        assert_eq!(Reader(&[0x04, 0x02, 0xaa]).next(), None, "short");
        assert_eq!(Reader(&[0x04, 0x80]).next(), None, "indefinite");
        assert_eq!(
            Reader(&[0x04, 0x85, 1, 1, 1, 1, 1]).next(),
            None,
            "too long"
        );
        let mut long = vec![0x04, 0x82, 0x01, 0x00];
        long.extend([7u8; 256]);
        assert_eq!(
            Reader(&long).expect(OCTET_STRING).map(<[u8]>::len),
            Some(256)
        );
        assert_eq!(Reader(&[]).next(), None);
    }

    #[test]
    fn truncated_structures_are_none_never_a_panic() {
        let cert =
            rustls_pki_types::pem::PemObject::from_pem_slice(crate::testutil::RSA_CERT.as_bytes())
                .map(|c: rustls_pki_types::CertificateDer<'_>| c.to_vec())
                .unwrap();
        let spki = certificate_spki(&cert).unwrap();
        assert!(matches!(spki_key(spki), Some(SpkiKey::Rsa(_))));
        for cut in 0..cert.len() {
            let _ = certificate_spki(&cert[..cut]).map(spki_key);
            let mut flipped = cert.clone();
            flipped[cut] ^= 0x80;
            let _ = certificate_spki(&flipped).map(spki_key);
        }
        assert_eq!(rsa_public_components(&[0x30, 0x00]), None);
        assert_eq!(pkcs8_rsa_private_key(&[0x30, 0x03, 0x02, 0x01, 0x00]), None);
    }
}
