//! The blocking flavour's media I/O: the source read as [`ResumableUpload`] asks, a
//! download's body written as it arrives. Every protocol decision is in
//! [`crate::upload`] and [`crate::download`].

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use oauth_core::blocking::{Credentials, run_authorized};
use oauth_core::http::{Bytes, StreamedBody};
use oauth_core::transport::HttpClient;

use super::broke_off;
use crate::download::MediaDownload;
use crate::origin::Origin;
use crate::upload::{self, MediaInfo, ResumableUpload, UploadOptions, UploadStep};
use crate::{ApiResponse, CallOptions, Error, Request};

/// Media to upload, read as it is sent (blocking): a file, or any [`Read`].
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let p = dir.path().join("notes.txt");
/// std::fs::write(&p, b"hello").unwrap();
/// let file = discovery_client::blocking::MediaSource::from_file(&p, None)?;
/// assert_eq!(file.info().len, Some(5));
/// let pipe = discovery_client::blocking::MediaSource::from_reader(std::io::stdin(), "text/plain", None);
/// assert_eq!(pipe.info().len, None);
/// # Ok::<(), discovery_client::Error>(())
/// ```
pub struct MediaSource {
    info: MediaInfo,
    kind: Kind,
    /// Bytes read from the media's start.
    pos: u64,
}

enum Kind {
    File { path: PathBuf, file: Option<File> },
    Reader(Box<dyn Read + Send>),
}

impl std::fmt::Debug for MediaSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaSource")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

impl MediaSource {
    /// A file: its size known, its type given or guessed from its extension (and checked
    /// against the method's accept list); reopened when an upload starts over.
    pub fn from_file(path: impl AsRef<Path>, mime_type: Option<&str>) -> Result<Self, Error> {
        let path = path.as_ref();
        Ok(MediaSource {
            info: MediaInfo::of_file(path, mime_type)?,
            kind: Kind::File {
                path: path.to_owned(),
                file: None,
            },
            pos: 0,
        })
    }

    /// Any reader; `len` when known (else the size is learnt at the end, and a resumable
    /// upload says `*` until then). A reader cannot go back: an upload that must start
    /// over from an offset it has passed fails rather than send other bytes.
    pub fn from_reader(
        reader: impl Read + Send + 'static,
        mime_type: &str,
        len: Option<u64>,
    ) -> Self {
        MediaSource {
            info: MediaInfo::new(mime_type, len),
            kind: Kind::Reader(Box::new(reader)),
            pos: 0,
        }
    }

    /// The media's type and size.
    pub fn info(&self) -> &MediaInfo {
        &self.info
    }

    fn name(&self) -> String {
        match &self.kind {
            Kind::File { path, .. } => path.display().to_string(),
            Kind::Reader(_) => "(upload source)".into(),
        }
    }

    fn fail(&self, e: &std::io::Error) -> Error {
        Error::Io {
            path: self.name(),
            reason: e.to_string(),
        }
    }

    fn reader(&mut self) -> Result<&mut (dyn Read + Send), Error> {
        if let Kind::File { path, file: None } = &self.kind {
            let f = File::open(path).map_err(|e| Error::io(path, &e))?;
            self.kind = Kind::File {
                path: path.clone(),
                file: Some(f),
            };
            self.pos = 0;
        }
        Ok(match &mut self.kind {
            Kind::File { file: Some(f), .. } => f,
            Kind::File { file: None, .. } => unreachable!("opened above"),
            Kind::Reader(r) => r.as_mut(),
        })
    }

    /// The whole media as a body read while it is sent (simple and multipart uploads),
    /// between `head` and `tail`.
    fn into_body(mut self, head: &[u8], tail: &[u8]) -> Result<StreamedBody, Error> {
        self.reader()?;
        let len = self.info.len;
        let reader: Box<dyn Read + Send> = match self.kind {
            Kind::File { file: Some(f), .. } => Box::new(f),
            Kind::File { file: None, .. } => unreachable!("opened above"),
            Kind::Reader(r) => r,
        };
        // Exactly the announced length, when there is one.
        let media: Box<dyn Read + Send> = match len {
            Some(n) => Box::new(reader.take(n)),
            None => reader,
        };
        let body = std::io::Cursor::new(head.to_vec())
            .chain(media)
            .chain(std::io::Cursor::new(tail.to_vec()));
        let total = len.map(|n| n + (head.len() + tail.len()) as u64);
        Ok(StreamedBody::from_reader(body, total))
    }

    /// The next `want` bytes (fewer only at the source's end), read into a buffer that
    /// becomes the chunk's body as it is.
    fn read_chunk(&mut self, want: usize) -> Result<Bytes, Error> {
        let mut bytes = Vec::with_capacity(want);
        let read = self.reader()?.take(want as u64).read_to_end(&mut bytes);
        read.map_err(|e| self.fail(&e))?;
        self.pos += bytes.len() as u64;
        Ok(Bytes::from(bytes))
    }

    /// Puts the source at `offset`: a file seeks, a reader skips forward (it cannot go
    /// back).
    fn seek(&mut self, offset: u64) -> Result<(), Error> {
        if let Kind::File { .. } = self.kind {
            self.reader()?;
            if let Kind::File { file: Some(f), .. } = &mut self.kind {
                f.seek(SeekFrom::Start(offset))
                    .map_err(|e| Error::io(Path::new("(upload source)"), &e))?;
            }
            self.pos = offset;
            return Ok(());
        }
        if offset < self.pos {
            return Err(Error::Io {
                path: self.name(),
                reason: format!(
                    "the upload must go on from byte {offset}, but the reader has passed it (byte {}) and cannot go back",
                    self.pos
                ),
            });
        }
        let skip = offset - self.pos;
        let skipped = std::io::copy(&mut self.reader()?.take(skip), &mut std::io::sink())
            .map_err(|e| Error::io(Path::new("(upload source)"), &e))?;
        self.pos += skipped;
        if skipped < skip {
            return Err(Error::Io {
                path: self.name(),
                reason: format!("the source ended at byte {} before {offset}", self.pos),
            });
        }
        Ok(())
    }
}

/// Where a transfer runs: the transport, the credentials and the API's origin.
pub(crate) struct Link<'a> {
    pub client: &'a dyn HttpClient,
    pub credentials: Option<&'a Credentials>,
    pub origin: &'a Origin,
}

/// Uploads `source` through `request` (see [`crate::upload`]).
pub(crate) fn upload(
    link: &Link<'_>,
    request: &Request,
    call: CallOptions,
    mut source: MediaSource,
    options: UploadOptions,
) -> Result<ApiResponse, Error> {
    if !options.is_resumable() {
        let prepared = upload::prepare(request, &source.info, &options)?;
        let (head, tail) = upload::frame(&prepared);
        let len = source.info.len;
        let body = source.into_body(&head, &tail)?;
        let kind = request.model_kind();
        let mut c = upload::simple_call(prepared, body, call, kind, request.api.model.data_wrapper)
            .on_origin(link.origin);
        let answer = run_authorized(link.client, &mut c, link.credentials)??;
        options.report(len.unwrap_or(0), len);
        return Ok(answer);
    }
    let mut up = ResumableUpload::new(request, &source.info, call, options, link.origin)?;
    loop {
        match up.next_step() {
            UploadStep::Initiate(mut c) => {
                let answer = run_authorized(link.client, &mut c, link.credentials)??;
                up.on_initiated(answer)?;
            }
            UploadStep::Read(want) => {
                let bytes = source.read_chunk(want)?;
                up.filled(bytes)?;
            }
            UploadStep::Seek(offset) => {
                source.seek(offset)?;
                up.seeked(offset);
            }
            UploadStep::Chunk(mut c) => {
                let outcome = run_authorized(link.client, &mut c, link.credentials)??;
                if let Some(answer) = up.on_chunk(outcome)? {
                    return Ok(answer);
                }
            }
            UploadStep::Done(answer) => return Ok(answer),
        }
    }
}

/// Streams a download into `out`, each chunk's body written as it arrives; a body that
/// breaks off is continued with `Range` from the last byte written.
pub(crate) fn download<W: Write + ?Sized>(
    link: &Link<'_>,
    mut download: MediaDownload,
    out: &mut W,
    progress: &(dyn Fn(u64, Option<u64>) + Sync),
) -> Result<u64, Error> {
    let write_err = |e: std::io::Error| Error::Io {
        path: "(download writer)".into(),
        reason: e.to_string(),
    };
    let mut buf = vec![0u8; 256 * 1024];
    while let Some(mut chunk) = download.next_chunk() {
        let mut answer = run_authorized(link.client, &mut chunk, link.credentials)??;
        if answer.stream.is_none() {
            let bytes = download.on_chunk(answer)?;
            out.write_all(&bytes).map_err(write_err)?;
            progress(download.progress(), download.total_size());
            continue;
        }
        let incoming = download.on_head(&answer, None)?;
        let Some(mut stream) = answer.stream.take() else {
            continue;
        };
        let before = download.progress();
        let mut skip = incoming.skip;
        let broke = loop {
            match stream.read(&mut buf) {
                Ok(0) => break None,
                Ok(n) => {
                    let drop = usize::try_from(skip).unwrap_or(usize::MAX).min(n);
                    skip -= drop as u64;
                    out.write_all(&buf[drop..n]).map_err(write_err)?;
                    download.on_bytes((n - drop) as u64);
                    progress(download.progress(), download.total_size());
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => break Some(e),
            }
        };
        match broke {
            None => download.on_end(&incoming)?,
            Some(e) => {
                let error = broke_off(&answer.endpoint, &e.to_string());
                download.on_interrupted(error, before)?;
            }
        }
    }
    out.flush().map_err(write_err)?;
    Ok(download.progress())
}
