//! Compressed answers, as googleapiclient's transport (httplib2) asks for and reads them:
//! `accept-encoding: gzip, deflate` on every request without a `Range`, and a body with
//! `content-encoding` `gzip`, `deflate` or `zlib` inflated (gzip or zlib framing, else raw
//! deflate). Written once, in the sans-IO exchanges, for both flavours; the inflated size is
//! bounded by the request's response limit, so a small bomb cannot fill memory.

use std::io::Read;

use flate2::read::{DeflateDecoder, GzDecoder, ZlibDecoder};
use http::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_LENGTH, RANGE};
use http::{HeaderValue, Request, Response};
use oauth_core::Error as CoreError;
use oauth_core::http::{Bytes, HttpResponse};

/// What httplib2 sends.
pub(crate) const ACCEPT: &str = "gzip, deflate";

/// Asks for a compressed answer, as httplib2 does: unless the request names a byte range
/// (a compressed range would not be the bytes asked for) or its own encodings.
pub(crate) fn offer<B>(req: &mut Request<B>) {
    let headers = req.headers_mut();
    if !headers.contains_key(RANGE) && !headers.contains_key(ACCEPT_ENCODING) {
        headers.insert(ACCEPT_ENCODING, HeaderValue::from_static(ACCEPT));
    }
}

/// The response with its body inflated when its `content-encoding` says so (then without
/// that header, and with the inflated length); other responses as they are.
///
/// An inflated body larger than `limit` is [`CoreError::ResponseTooLarge`]; a body that does
/// not inflate is [`CoreError::MalformedResponse`].
pub(crate) fn decode(
    response: HttpResponse,
    limit: usize,
    endpoint: &str,
) -> Result<HttpResponse, CoreError> {
    let encoding = response
        .headers()
        .get(CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase());
    match encoding.as_deref() {
        Some("gzip" | "x-gzip" | "deflate" | "zlib") => {}
        _ => return Ok(response),
    }
    let (mut parts, body) = response.into_parts();
    let inflated = inflate(&body, limit).map_err(|e| match e {
        Inflate::TooLarge => CoreError::ResponseTooLarge {
            endpoint: endpoint.to_owned(),
            limit,
        },
        Inflate::Corrupt => CoreError::MalformedResponse {
            endpoint: endpoint.to_owned(),
            reason: format!(
                "the body is marked `content-encoding: {}` but does not inflate",
                encoding.as_deref().unwrap_or("")
            ),
        },
    })?;
    parts.headers.remove(CONTENT_ENCODING);
    parts
        .headers
        .insert(CONTENT_LENGTH, HeaderValue::from(inflated.len()));
    Ok(Response::from_parts(parts, Bytes::from(inflated)))
}

#[derive(Debug, PartialEq, Eq)]
enum Inflate {
    TooLarge,
    Corrupt,
}

/// httplib2's reading: gzip or zlib framing (zlib's automatic detection), and when that
/// fails, raw deflate. An empty body stays empty.
fn inflate(body: &[u8], limit: usize) -> Result<Vec<u8>, Inflate> {
    if body.is_empty() {
        return Ok(Vec::new());
    }
    let framed = if body.starts_with(&[0x1f, 0x8b]) {
        read_bounded(GzDecoder::new(body), limit)
    } else {
        read_bounded(ZlibDecoder::new(body), limit)
    };
    match framed {
        Err(Inflate::Corrupt) => read_bounded(DeflateDecoder::new(body), limit),
        other => other,
    }
}

fn read_bounded(reader: impl Read, limit: usize) -> Result<Vec<u8>, Inflate> {
    let mut out = Vec::new();
    let bound = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    reader
        .take(bound)
        .read_to_end(&mut out)
        .map_err(|_| Inflate::Corrupt)?;
    if out.len() > limit {
        return Err(Inflate::TooLarge);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn answer(encoding: &str, body: Vec<u8>) -> HttpResponse {
        Response::builder()
            .header("content-encoding", encoding)
            .header("content-length", body.len())
            .body(Bytes::from(body))
            .unwrap()
    }

    #[test]
    fn gzip_zlib_and_raw_deflate_inflate_as_httplib2_reads_them() {
        let data = br#"{"kind": "discovery#restDescription"}"#.repeat(50);
        let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
        z.write_all(&data).unwrap();
        let mut d = DeflateEncoder::new(Vec::new(), Compression::default());
        d.write_all(&data).unwrap();
        for (encoding, body) in [
            ("gzip", gzip(&data)),
            ("GZIP", gzip(&data)),
            ("x-gzip", gzip(&data)),
            ("deflate", z.finish().unwrap()),
            ("deflate", d.finish().unwrap()),
            ("zlib", gzip(&data)),
        ] {
            let r = decode(answer(encoding, body), 1 << 20, "e").unwrap();
            assert_eq!(&r.body()[..], &data[..], "{encoding}");
            assert!(r.headers().get(CONTENT_ENCODING).is_none());
            assert_eq!(r.headers()[CONTENT_LENGTH], data.len().to_string().as_str());
        }
        // Not compressed, or an encoding httplib2 leaves alone: untouched.
        let plain = decode(answer("br", b"abc".to_vec()), 10, "e").unwrap();
        assert_eq!(&plain.body()[..], b"abc");
        let none = Response::new(Bytes::from_static(b"abc"));
        assert_eq!(&decode(none, 10, "e").unwrap().body()[..], b"abc");
        assert!(
            decode(answer("gzip", Vec::new()), 10, "e")
                .unwrap()
                .body()
                .is_empty()
        );
    }

    #[test]
    fn a_gzip_bomb_is_a_typed_error_not_a_full_memory() {
        // 1 GiB of zeros would compress to about 1 MiB; 64 MiB is enough to show the bound.
        let mut e = GzEncoder::new(Vec::new(), Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..64 {
            e.write_all(&zeros).unwrap();
        }
        let bomb = e.finish().unwrap();
        assert!(bomb.len() < 1 << 20);
        let err = decode(answer("gzip", bomb), 1 << 20, "https://x/api").unwrap_err();
        assert!(
            matches!(err, CoreError::ResponseTooLarge { limit, .. } if limit == 1 << 20),
            "{err}"
        );
        // Exactly at the limit is fine.
        let at = decode(answer("gzip", gzip(&[7u8; 1000])), 1000, "e").unwrap();
        assert_eq!(at.body().len(), 1000);
    }

    #[test]
    fn corrupt_bodies_are_malformed_responses() {
        let e = decode(
            answer("gzip", b"\x1f\x8bnot gzip at all".to_vec()),
            100,
            "e",
        )
        .unwrap_err();
        assert!(matches!(e, CoreError::MalformedResponse { .. }), "{e}");
        let mut truncated = gzip(&[1u8; 5000]);
        truncated.truncate(truncated.len() / 2);
        assert!(decode(answer("gzip", truncated), 10_000, "e").is_err());
    }

    #[test]
    fn compression_is_offered_except_for_ranges() {
        let mut req = Request::new(());
        offer(&mut req);
        assert_eq!(req.headers()[ACCEPT_ENCODING], "gzip, deflate");
        let mut ranged = Request::builder()
            .header("range", "bytes=0-9")
            .body(())
            .unwrap();
        offer(&mut ranged);
        assert!(ranged.headers().get(ACCEPT_ENCODING).is_none());
        let mut own = Request::builder()
            .header("accept-encoding", "identity")
            .body(())
            .unwrap();
        offer(&mut own);
        assert_eq!(own.headers()[ACCEPT_ENCODING], "identity");
    }
}
