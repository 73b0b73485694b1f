//! The async flavour's media I/O: the twin of [`super::blocking`], on tokio's `AsyncRead`
//! and `AsyncWrite` (files through `tokio::fs`, so no blocking call runs on the executor).

use std::path::{Path, PathBuf};
use std::pin::Pin;

use oauth_core::http::{Bytes, StreamedBody};
use oauth_core::transport::AsyncHttpClient;
use oauth_core::{Credentials, run_authorized};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt, AsyncWrite, AsyncWriteExt};

use super::broke_off;
use crate::download::MediaDownload;
use crate::origin::Origin;
use crate::upload::{self, MediaInfo, ResumableUpload, UploadOptions, UploadStep};
use crate::{ApiResponse, CallOptions, Error, Request};

type BoxRead = Pin<Box<dyn AsyncRead + Send>>;

/// Media to upload, read as it is sent (async): a file, or any [`AsyncRead`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), discovery_client::Error> {
/// let dir = tempfile::tempdir().unwrap();
/// let p = dir.path().join("notes.txt");
/// std::fs::write(&p, b"hello").unwrap();
/// let file = discovery_client::MediaSource::from_file(&p, None).await?;
/// assert_eq!(file.info().len, Some(5));
/// let mem = discovery_client::MediaSource::from_reader(&b"abc"[..], "text/plain", Some(3));
/// assert_eq!(mem.info().len, Some(3));
/// # Ok(()) }
/// ```
pub struct MediaSource {
    info: MediaInfo,
    kind: Kind,
    pos: u64,
}

enum Kind {
    File {
        path: PathBuf,
        file: Option<tokio::fs::File>,
    },
    Reader(BoxRead),
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
    pub async fn from_file(path: impl AsRef<Path>, mime_type: Option<&str>) -> Result<Self, Error> {
        let path = path.as_ref().to_owned();
        let len = tokio::fs::metadata(&path)
            .await
            .map_err(|e| Error::io(&path, &e))?
            .len();
        let mime = crate::media::mime_of(&path, mime_type)?;
        let mut info = MediaInfo::new(mime, Some(len));
        info.check_type = true;
        Ok(MediaSource {
            info,
            kind: Kind::File { path, file: None },
            pos: 0,
        })
    }

    /// Any reader; `len` when known. A reader cannot go back: an upload that must start
    /// over from an offset it has passed fails rather than send other bytes.
    pub fn from_reader(
        reader: impl AsyncRead + Send + 'static,
        mime_type: &str,
        len: Option<u64>,
    ) -> Self {
        MediaSource {
            info: MediaInfo::new(mime_type, len),
            kind: Kind::Reader(Box::pin(reader)),
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

    async fn open(&mut self) -> Result<(), Error> {
        if let Kind::File { path, file: None } = &self.kind {
            let f = tokio::fs::File::open(path)
                .await
                .map_err(|e| Error::io(path, &e))?;
            self.kind = Kind::File {
                path: path.clone(),
                file: Some(f),
            };
            self.pos = 0;
        }
        Ok(())
    }

    async fn into_body(mut self, head: &[u8], tail: &[u8]) -> Result<StreamedBody, Error> {
        self.open().await?;
        let len = self.info.len;
        let reader: BoxRead = match self.kind {
            Kind::File { file: Some(f), .. } => Box::pin(f),
            Kind::File { file: None, .. } => unreachable!("opened above"),
            Kind::Reader(r) => r,
        };
        let media: BoxRead = match len {
            Some(n) => Box::pin(reader.take(n)),
            None => reader,
        };
        let body = std::io::Cursor::new(head.to_vec())
            .chain(media)
            .chain(std::io::Cursor::new(tail.to_vec()));
        let total = len.map(|n| n + (head.len() + tail.len()) as u64);
        Ok(StreamedBody::from_async_reader(body, total))
    }

    /// The next `want` bytes (fewer only at the source's end), read into a buffer that
    /// becomes the chunk's body as it is.
    async fn read_chunk(&mut self, want: usize) -> Result<Bytes, Error> {
        self.open().await?;
        let mut bytes = Vec::with_capacity(want);
        let limit = want as u64;
        let read = match &mut self.kind {
            Kind::File { file, .. } => match file.take() {
                // One read of the whole chunk on the blocking pool: no staging buffer.
                Some(f) => {
                    let mut std_file = f.into_std().await;
                    let task = tokio::task::spawn_blocking(move || {
                        let mut bytes = Vec::with_capacity(want);
                        let r = std::io::Read::read_to_end(
                            &mut std::io::Read::take(&mut std_file, limit),
                            &mut bytes,
                        );
                        (std_file, bytes, r)
                    });
                    match task.await {
                        Ok((std_file, read, r)) => {
                            *file = Some(tokio::fs::File::from_std(std_file));
                            bytes = read;
                            r
                        }
                        Err(e) => Err(std::io::Error::other(e.to_string())),
                    }
                }
                None => unreachable!("opened above"),
            },
            Kind::Reader(r) => r.take(limit).read_to_end(&mut bytes).await,
        };
        read.map_err(|e| self.fail(&e))?;
        self.pos += bytes.len() as u64;
        Ok(Bytes::from(bytes))
    }

    async fn seek(&mut self, offset: u64) -> Result<(), Error> {
        self.open().await?;
        if let Kind::File { file: Some(f), .. } = &mut self.kind {
            let r = f.seek(std::io::SeekFrom::Start(offset)).await;
            r.map_err(|e| self.fail(&e))?;
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
        while self.pos < offset {
            let want = usize::try_from(offset - self.pos).map_or(1 << 20, |n| n.min(1 << 20));
            if self.read_chunk(want).await?.is_empty() {
                return Err(Error::Io {
                    path: self.name(),
                    reason: format!("the source ended at byte {} before {offset}", self.pos),
                });
            }
        }
        Ok(())
    }
}

/// Where a transfer runs: the transport, the credentials and the API's origin.
pub(crate) struct Link<'a> {
    pub client: &'a dyn AsyncHttpClient,
    pub credentials: Option<&'a Credentials>,
    pub origin: &'a Origin,
}

/// Uploads `source` through `request` (see [`crate::upload`]).
pub(crate) async fn upload(
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
        let body = source.into_body(&head, &tail).await?;
        let kind = request.model_kind();
        let mut c = upload::simple_call(prepared, body, call, kind, request.api.model.data_wrapper)
            .on_origin(link.origin);
        let answer = run_authorized(link.client, &mut c, link.credentials).await??;
        options.report(len.unwrap_or(0), len);
        return Ok(answer);
    }
    let mut up = ResumableUpload::new(request, &source.info, call, options, link.origin)?;
    loop {
        match up.next_step() {
            UploadStep::Initiate(mut c) => {
                let answer = run_authorized(link.client, &mut c, link.credentials).await??;
                up.on_initiated(answer)?;
            }
            UploadStep::Read(want) => {
                let bytes = source.read_chunk(want).await?;
                up.filled(bytes)?;
            }
            UploadStep::Seek(offset) => {
                source.seek(offset).await?;
                up.seeked(offset);
            }
            UploadStep::Chunk(mut c) => {
                let outcome = run_authorized(link.client, &mut c, link.credentials).await??;
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
pub(crate) async fn download<W: AsyncWrite + Unpin + ?Sized>(
    link: &Link<'_>,
    mut download: MediaDownload,
    out: &mut W,
    progress: &(dyn Fn(u64, Option<u64>) + Sync),
) -> Result<u64, Error> {
    let write_err = |e: std::io::Error| Error::Io {
        path: "(download writer)".into(),
        reason: e.to_string(),
    };
    while let Some(mut chunk) = download.next_chunk() {
        let mut answer = run_authorized(link.client, &mut chunk, link.credentials).await??;
        if answer.stream.is_none() {
            let bytes = download.on_chunk(answer)?;
            out.write_all(&bytes).await.map_err(write_err)?;
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
            match stream.chunk().await {
                Ok(None) => break None,
                Ok(Some(mut bytes)) => {
                    let drop = usize::try_from(skip).unwrap_or(usize::MAX).min(bytes.len());
                    skip -= drop as u64;
                    let fresh = bytes.split_off(drop);
                    out.write_all(&fresh).await.map_err(write_err)?;
                    download.on_bytes(fresh.len() as u64);
                    progress(download.progress(), download.total_size());
                }
                Err(e) => break Some(e),
            }
        };
        match broke {
            None => download.on_end(&incoming)?,
            Some(e) => {
                download.on_interrupted(broke_off(&answer.endpoint, &e.to_string()), before)?;
            }
        }
    }
    out.flush().await.map_err(write_err)?;
    Ok(download.progress())
}
