//! Media: the bytes to upload, the checks googleapiclient makes (size against `maxSize`,
//! type against the accept list), the multipart/related body, and the resumable upload
//! protocol as a sans-IO exchange.

use oauth_core::http::Bytes;
use std::path::Path;

use crate::Error;

/// Media to upload: bytes and their MIME type.
///
/// ```
/// use discovery_client::Media;
/// let m = Media::new(b"hello".to_vec(), "text/plain");
/// assert_eq!(m.len(), 5);
/// assert_eq!(m.mime_type(), "text/plain");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Media {
    bytes: Bytes,
    mime_type: String,
    /// Whether the type is checked against the method's accept list: for media read from a
    /// file, as googleapiclient checks a `media_body` given as a file name; not for media
    /// from memory, as googleapiclient does not check its `MediaUpload` objects.
    check_type: bool,
    /// For a streamed upload: the media is not held here, only its length (when known).
    streamed: Option<Option<u64>>,
}

impl std::fmt::Debug for Media {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Media")
            .field("len", &self.bytes.len())
            .field("mime_type", &self.mime_type)
            .finish()
    }
}

impl Media {
    /// Media from memory (googleapiclient's `MediaInMemoryUpload` / `MediaIoBaseUpload`):
    /// checked against the method's `maxSize`, not its accept list, as googleapiclient checks
    /// its `MediaUpload` objects. The bytes (a `Vec<u8>`, a `String`, a [`Bytes`]) are never
    /// copied again, however many requests and retries send them.
    pub fn new(bytes: impl Into<Bytes>, mime_type: impl Into<String>) -> Media {
        Media {
            bytes: bytes.into(),
            mime_type: mime_type.into(),
            check_type: false,
            streamed: None,
        }
    }

    /// Media from a file (googleapiclient's `media_body` given as a file name); the MIME
    /// type, when not given, is guessed from the extension (as googleapiclient does with
    /// `mimetypes`) and an unknown extension is an error naming `media_mime_type`. Checked
    /// against the method's accept list and `maxSize`, as googleapiclient checks a file name.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let p = dir.path().join("photo.png");
    /// std::fs::write(&p, b"\x89PNG").unwrap();
    /// let m = discovery_client::Media::from_file(&p, None)?;
    /// assert_eq!(m.mime_type(), "image/png");
    /// # Ok::<(), discovery_client::Error>(())
    /// ```
    pub fn from_file(path: &Path, mime_type: Option<&str>) -> Result<Media, Error> {
        let mime = mime_of(path, mime_type)?;
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, &e))?;
        Ok(Media {
            check_type: true,
            ..Media::new(bytes, mime)
        })
    }

    /// What stands for streamed media while its request is prepared: the type and the
    /// length (when known), checked as media from a file (`check_type`) or from memory.
    pub(crate) fn streamed(mime_type: &str, len: Option<u64>, check_type: bool) -> Media {
        Media {
            check_type,
            streamed: Some(len),
            ..Media::new(Bytes::new(), mime_type)
        }
    }

    /// The length announced for an upload (`X-Upload-Content-Length`): the bytes held, or
    /// a streamed media's known length; `None` when a stream's length is unknown.
    pub(crate) fn announced_len(&self) -> Option<u64> {
        match self.streamed {
            Some(len) => len,
            None => Some(self.bytes.len() as u64),
        }
    }

    /// Whether this stands for streamed media.
    pub(crate) fn is_streamed(&self) -> bool {
        self.streamed.is_some()
    }

    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The bytes as a shared buffer (or a part of it): no copy is made.
    pub(crate) fn shared(&self, range: std::ops::Range<usize>) -> Bytes {
        let end = range.end.min(self.bytes.len());
        self.bytes.slice(range.start.min(end)..end)
    }

    /// The size in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The MIME type.
    pub fn mime_type(&self) -> &str {
        &self.mime_type
    }

    /// googleapiclient's checks: the type against the accept list (mimeparse's
    /// `best_match`; an empty list accepts nothing) for media from a file, then the size
    /// against `max_size` (0 = no limit) for all media.
    pub(crate) fn check(
        &self,
        method: &str,
        accept: &[Box<str>],
        max_size: u64,
    ) -> Result<(), Error> {
        if self.check_type && !acceptable(&self.mime_type, accept) {
            return Err(Error::UnacceptableMimeType {
                method: method.to_owned(),
                mime_type: self.mime_type.clone(),
                accept: accept.iter().map(|a| a.to_string()).collect(),
            });
        }
        let size = self.announced_len().unwrap_or(0);
        if max_size > 0 && size > max_size {
            return Err(Error::MediaTooLarge {
                method: method.to_owned(),
                size,
                max: max_size,
            });
        }
        Ok(())
    }
}

/// The media type given, or guessed from the file's extension (as googleapiclient does
/// with `mimetypes`); an unknown extension is an error naming `media_mime_type`.
pub(crate) fn mime_of(path: &Path, mime_type: Option<&str>) -> Result<String, Error> {
    Ok(match mime_type {
        Some(m) => m.to_owned(),
        None => guess_mime(path)
            .ok_or_else(|| Error::InvalidValue {
                method: "media".into(),
                param: "media_mime_type".into(),
                reason: format!(
                    "cannot tell the media type of {}; give it explicitly",
                    path.display()
                ),
            })?
            .to_owned(),
    })
}

fn split_mime(s: &str) -> (String, String, Vec<(String, String)>) {
    let mut parts = s.split(';');
    let full = parts.next().unwrap_or("").trim();
    let full = if full == "*" { "*/*" } else { full };
    let (t, st) = full.split_once('/').unwrap_or((full, ""));
    let params = parts
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.trim().to_owned(), v.trim().to_owned())
        })
        .collect();
    (t.trim().to_owned(), st.trim().to_owned(), params)
}

/// mimeparse's `best_match([mime], ",".join(accept)) != ""`.
fn acceptable(mime: &str, accept: &[Box<str>]) -> bool {
    let (tt, ts, tparams) = split_mime(mime);
    let mut best_fitness = -1i32;
    let mut best_q = 0.0f64;
    for range in accept.iter().flat_map(|a| a.split(',')) {
        if range.trim().is_empty() {
            continue;
        }
        let (rt, rs, rparams) = split_mime(range);
        let type_match = rt == tt || rt == "*" || tt == "*";
        let sub_match = rs == ts || rs == "*" || ts == "*";
        if !(type_match && sub_match) {
            continue;
        }
        let param_matches = tparams
            .iter()
            .filter(|(k, v)| k != "q" && rparams.iter().any(|(rk, rv)| rk == k && rv == v))
            .count() as i32;
        let fitness =
            if rt == tt { 100 } else { 0 } + if rs == ts { 10 } else { 0 } + param_matches;
        if fitness > best_fitness {
            best_fitness = fitness;
            best_q = rparams
                .iter()
                .find(|(k, _)| k == "q")
                .and_then(|(_, v)| v.parse::<f64>().ok())
                .filter(|q| *q > 0.0 && *q <= 1.0)
                .unwrap_or(1.0);
        }
    }
    best_q > 0.0
}

fn guess_mime(path: &Path) -> Option<&'static str> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    Some(match ext.as_str() {
        "txt" => "text/plain",
        "html" | "htm" => "text/html",
        "csv" => "text/csv",
        "css" => "text/css",
        "js" => "text/javascript",
        "json" => "application/json",
        "xml" => "application/xml",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "tar" => "application/x-tar",
        "bin" => "application/octet-stream",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "mp3" => "audio/mpeg",
        "wav" => "audio/x-wav",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "mov" => "video/quicktime",
        _ => return None,
    })
}

/// A boundary that does not occur in the parts: random, checked.
fn boundary_for(parts: &[&[u8]]) -> String {
    use ring::rand::SecureRandom;
    let rng = ring::rand::SystemRandom::new();
    loop {
        let mut b = [0u8; 12];
        if rng.fill(&mut b).is_err() {
            b = [7; 12];
        }
        let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
        let boundary = format!("==============={hex}==");
        if !parts
            .iter()
            .any(|p| p.windows(boundary.len()).any(|w| w == boundary.as_bytes()))
        {
            return boundary;
        }
    }
}

/// The multipart/related body googleapiclient sends for metadata plus media: the JSON
/// part, then the media part with `Content-Transfer-Encoding: binary`.
pub(crate) fn multipart_related(json: &[u8], media: &Media) -> (String, Vec<u8>) {
    let boundary = boundary_for(&[json, media.bytes()]);
    let (head, tail) = multipart_frame(&boundary, json, media.mime_type());
    let mut out = Vec::with_capacity(head.len() + media.len() + tail.len());
    out.extend_from_slice(&head);
    out.extend_from_slice(media.bytes());
    out.extend_from_slice(&tail);
    (boundary, out)
}

/// A multipart/related body around media streamed between its two halves: the boundary
/// (random: the media is not at hand to check), what goes before the media, what after.
pub(crate) fn multipart_around(json: &[u8], mime_type: &str) -> (String, Bytes, Bytes) {
    let boundary = boundary_for(&[json]);
    let (head, tail) = multipart_frame(&boundary, json, mime_type);
    (boundary, head.into(), tail.into())
}

fn multipart_frame(boundary: &str, json: &[u8], mime_type: &str) -> (Vec<u8>, Vec<u8>) {
    let mut head = Vec::with_capacity(json.len() + 256);
    head.extend_from_slice(
        format!("--{boundary}\r\nContent-Type: application/json\r\nMIME-Version: 1.0\r\n\r\n")
            .as_bytes(),
    );
    head.extend_from_slice(json);
    head.extend_from_slice(
        format!(
            "\r\n--{boundary}\r\nContent-Type: {mime_type}\r\nMIME-Version: 1.0\r\nContent-Transfer-Encoding: binary\r\n\r\n"
        )
        .as_bytes(),
    );
    let tail = format!("\r\n--{boundary}--\r\n").into_bytes();
    (head, tail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acc(list: &[&str]) -> Vec<Box<str>> {
        list.iter().map(|s| Box::from(*s)).collect()
    }

    #[test]
    fn accept_lists_match_like_mimeparse() {
        assert!(acceptable("image/png", &acc(&["image/*"])));
        assert!(acceptable("text/plain", &acc(&["*/*"])));
        assert!(!acceptable("text/plain", &acc(&["image/*", "video/*"])));
        assert!(!acceptable("text/plain", &acc(&[])));
        // mimeparse reads q=0 as "no q" (falsy), so it still accepts.
        assert!(acceptable("image/png", &acc(&["image/*;q=0"])));
        assert!(acceptable(
            "image/png",
            &acc(&["text/*", "image/png;q=0.5"])
        ));
        assert!(acceptable("message/rfc822", &acc(&["message/rfc822"])));
    }

    #[test]
    fn size_and_type_are_checked_with_the_method_named() {
        let m = Media::new(vec![0u8; 11], "image/png");
        let e = m.check("x.upload", &acc(&["image/*"]), 10).unwrap_err();
        assert_eq!(
            e.to_string(),
            "x.upload: media of 11 bytes is larger than the maximum of 10 bytes"
        );
        // From memory, the type is not checked (googleapiclient's MediaUpload objects).
        assert!(m.check("x.upload", &acc(&["text/*"]), 0).is_ok());
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.png");
        std::fs::write(&p, [0u8; 11]).unwrap();
        let f = Media::from_file(&p, None).unwrap();
        let e = f.check("x.upload", &acc(&["text/*"]), 0).unwrap_err();
        assert!(matches!(e, Error::UnacceptableMimeType { .. }));
        assert!(f.check("x.upload", &acc(&["image/png"]), 11).is_ok());
        assert!(matches!(
            f.check("x.upload", &acc(&["image/png"]), 10),
            Err(Error::MediaTooLarge { .. })
        ));
    }

    #[test]
    fn multipart_bodies_hold_both_parts() {
        let m = Media::new(b"BYTES".to_vec(), "text/plain");
        let (b, body) = multipart_related(br#"{"name":"a"}"#, &m);
        let text = String::from_utf8(body).unwrap();
        assert!(text.starts_with(&format!("--{b}\r\nContent-Type: application/json\r\n")));
        assert!(text.contains("\r\n\r\n{\"name\":\"a\"}\r\n"));
        assert!(text.contains("Content-Type: text/plain\r\nMIME-Version: 1.0\r\nContent-Transfer-Encoding: binary\r\n\r\nBYTES\r\n"));
        assert!(text.ends_with(&format!("--{b}--\r\n")));
    }
}
