//! Where media lives: a private directory (created on first use, removed with the emulator)
//! holding one file per stored object and one per open upload session, so a large object
//! is never held in memory. Bytes are written in blocks of [`BLOCK`] on tokio's blocking pool
//! and hashed (SHA-256) as they pass; a session keeps the hash of the bytes it has committed,
//! and the hash at every 256 KiB boundary of a chunk in flight, so a chunk cut mid-way
//! commits its aligned prefix with the right hash.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use axum::body::Bytes;
use ring::digest::{Context, SHA256};
use serde_json::{Map, Value};
use tokio::sync::mpsc;

/// Google's chunk granularity: every chunk but the last is a multiple of it.
pub(crate) const CHUNK_ALIGN: u64 = 256 * 1024;
/// Bytes gathered before one write to disk.
const BLOCK: usize = 1024 * 1024;
/// Bytes per message of a download.
const READ_BLOCK: usize = 256 * 1024;

/// A stored object: a Drive file with content.
#[derive(Debug, Clone)]
pub(crate) struct Object {
    pub id: String,
    pub owner: String,
    /// The writable metadata (name, mimeType, description, parents, properties, ...).
    pub meta: Map<String, Value>,
    pub size: u64,
    /// Lowercase hex SHA-256 of the content.
    pub sha256: String,
    pub created: String,
    /// Creation order, for listing.
    pub seq: u64,
}

/// An open resumable upload.
pub(crate) struct Session {
    pub id: String,
    pub owner: String,
    pub meta: Map<String, Value>,
    /// `X-Upload-Content-Type`, or the metadata's `mimeType`.
    pub content_type: String,
    /// The total size, once announced (`X-Upload-Content-Length` or a `.../TOTAL` range).
    pub total: Option<u64>,
    /// Bytes committed, from offset 0.
    pub committed: u64,
    /// SHA-256 of the committed bytes.
    pub hash: Context,
    /// The initiation request's query (for `fields` on the final answer).
    pub query: String,
    /// Emulator clock (seconds) at initiation.
    pub created_at: u64,
    /// The object made when the upload completed.
    pub done: Option<String>,
}

/// Objects and sessions, behind one lock (never held across an await).
#[derive(Default)]
struct Inner {
    objects: HashMap<String, Object>,
    sessions: HashMap<String, Arc<tokio::sync::Mutex<Session>>>,
    /// Sessions forgotten on purpose (a fault), with the status their requests get.
    forgotten: HashMap<String, u16>,
    /// Bytes held: objects plus sessions' committed bytes.
    used: u64,
    seq: u64,
}

/// The media store.
pub(crate) struct MediaStore {
    parent: Option<PathBuf>,
    limit: u64,
    dir: OnceLock<Result<tempfile::TempDir, String>>,
    inner: Mutex<Inner>,
}

/// Open upload sessions kept at most.
pub(crate) const MAX_SESSIONS: usize = 10_000;

/// Why a write stopped.
#[derive(Debug)]
pub(crate) enum StoreError {
    /// The store would grow past its limit.
    Full,
    /// Too many upload sessions are open.
    TooMany,
    /// The disk failed.
    Io(io::Error),
}

impl From<io::Error> for StoreError {
    fn from(e: io::Error) -> Self {
        StoreError::Io(e)
    }
}

impl MediaStore {
    /// A store under `parent` (the system's temp directory by default) holding at most
    /// `limit` bytes; nothing is created until the first upload.
    pub(crate) fn new(parent: Option<PathBuf>, limit: u64) -> MediaStore {
        MediaStore {
            parent,
            limit,
            dir: OnceLock::new(),
            inner: Mutex::new(Inner::default()),
        }
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The private directory (mode 0700), made on first use.
    pub(crate) fn dir(&self) -> io::Result<&Path> {
        let made = self.dir.get_or_init(|| {
            let mut b = tempfile::Builder::new();
            b.prefix("gauth-emulator-media-");
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                b.permissions(std::fs::Permissions::from_mode(0o700));
            }
            match &self.parent {
                Some(p) => b.tempdir_in(p),
                None => b.tempdir(),
            }
            .map_err(|e| e.to_string())
        });
        match made {
            Ok(d) => Ok(d.path()),
            Err(e) => Err(io::Error::other(format!("media directory: {e}"))),
        }
    }

    /// The file of object `id`.
    pub(crate) fn object_path(&self, id: &str) -> io::Result<PathBuf> {
        Ok(self.dir()?.join(format!("object-{id}")))
    }

    /// The file of session `id`.
    pub(crate) fn session_path(&self, id: &str) -> io::Result<PathBuf> {
        Ok(self.dir()?.join(format!("upload-{id}")))
    }

    /// A scratch file for a one-request upload.
    pub(crate) fn scratch_path(&self, id: &str) -> io::Result<PathBuf> {
        Ok(self.dir()?.join(format!("scratch-{id}")))
    }

    /// Bytes still free.
    pub(crate) fn free(&self) -> u64 {
        self.limit.saturating_sub(self.inner().used)
    }

    /// Accounts `n` more (or, negative, fewer) bytes held.
    fn account(&self, grow: u64, shrink: u64) {
        let mut inner = self.inner();
        inner.used = inner.used.saturating_add(grow).saturating_sub(shrink);
    }

    /// Registers `object` (its file already in place) and returns it with its order.
    pub(crate) fn insert_object(&self, mut object: Object, new_bytes: u64) -> Object {
        let mut inner = self.inner();
        inner.seq += 1;
        object.seq = inner.seq;
        inner.used = inner.used.saturating_add(new_bytes);
        inner.objects.insert(object.id.clone(), object.clone());
        object
    }

    /// Object `id` if `owner` owns it.
    pub(crate) fn object(&self, id: &str, owner: Option<&str>) -> Option<Object> {
        let inner = self.inner();
        let o = inner.objects.get(id)?;
        owner.is_none_or(|w| w == o.owner).then(|| o.clone())
    }

    /// Every object `owner` owns (all objects for `None`), in creation order.
    pub(crate) fn objects(&self, owner: Option<&str>) -> Vec<Object> {
        let inner = self.inner();
        let mut v: Vec<Object> = inner
            .objects
            .values()
            .filter(|o| owner.is_none_or(|w| w == o.owner))
            .cloned()
            .collect();
        v.sort_by_key(|o| o.seq);
        v
    }

    /// Removes object `id` and its file.
    pub(crate) fn remove_object(&self, id: &str) -> bool {
        let removed = {
            let mut inner = self.inner();
            let o = inner.objects.remove(id);
            if let Some(o) = &o {
                inner.used = inner.used.saturating_sub(o.size);
            }
            o
        };
        if removed.is_some()
            && let Ok(p) = self.object_path(id)
        {
            let _ = std::fs::remove_file(p);
        }
        removed.is_some()
    }

    /// Opens a session (its empty file is created) and returns it.
    /// At most [`MAX_SESSIONS`] are open: completed ones are dropped first, then new ones
    /// are refused.
    pub(crate) fn open_session(&self, session: Session) -> Result<(), StoreError> {
        {
            let mut inner = self.inner();
            if inner.sessions.len() >= MAX_SESSIONS {
                inner
                    .sessions
                    .retain(|_, s| s.try_lock().map_or(true, |s| s.done.is_none()));
            }
            if inner.sessions.len() >= MAX_SESSIONS {
                return Err(StoreError::TooMany);
            }
        }
        let path = self.session_path(&session.id)?;
        File::create(&path)?;
        let id = session.id.clone();
        self.inner()
            .sessions
            .insert(id, Arc::new(tokio::sync::Mutex::new(session)));
        Ok(())
    }

    /// Session `id`, or the status a forgotten one answers with (404 when unknown).
    pub(crate) fn session(&self, id: &str) -> Result<Arc<tokio::sync::Mutex<Session>>, u16> {
        let inner = self.inner();
        if let Some(s) = inner.sessions.get(id) {
            return Ok(Arc::clone(s));
        }
        Err(inner.forgotten.get(id).copied().unwrap_or(404))
    }

    /// Drops session `id` and its file; later requests to it get `status` (404 or 410).
    pub(crate) fn forget_session(&self, id: &str, status: u16, committed: u64) {
        {
            let mut inner = self.inner();
            if inner.sessions.remove(id).is_some() {
                inner.used = inner.used.saturating_sub(committed);
            }
            if status != 404 {
                inner.forgotten.insert(id.to_owned(), status);
            }
        }
        if let Ok(p) = self.session_path(id) {
            let _ = std::fs::remove_file(p);
        }
    }

    /// Number of sessions open (completed ones included until they expire).
    pub(crate) fn session_count(&self) -> usize {
        self.inner().sessions.len()
    }

    /// Accounts bytes a session committed.
    pub(crate) fn committed(&self, n: u64) {
        self.account(n, 0);
    }
}

/// Writes a request's bytes at a file offset, hashing them and remembering the hash at each
/// 256 KiB boundary.
pub(crate) struct ChunkWriter {
    file: Option<File>,
    /// Absolute offset of the first byte of this request.
    start: u64,
    /// Bytes taken so far.
    taken: u64,
    hash: Context,
    /// The last commit point: an absolute 256 KiB-aligned offset (or `start`) and its hash.
    aligned: (u64, Context),
    buf: Vec<u8>,
    /// Bytes this writer may still take before the store is full.
    room: u64,
}

impl ChunkWriter {
    /// A writer appending to `path` at `start`, continuing `hash` (the hash of bytes
    /// `0..start`), allowed `room` more bytes.
    pub(crate) async fn open(
        path: PathBuf,
        start: u64,
        hash: Context,
        room: u64,
    ) -> io::Result<ChunkWriter> {
        let file = blocking(move || {
            let mut f = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)?;
            f.seek(SeekFrom::Start(start))?;
            Ok(f)
        })
        .await?;
        Ok(ChunkWriter {
            file: Some(file),
            start,
            taken: 0,
            aligned: (start, hash.clone()),
            hash,
            buf: Vec::with_capacity(BLOCK),
            room,
        })
    }

    /// The absolute offset after the bytes taken.
    pub(crate) fn end(&self) -> u64 {
        self.start + self.taken
    }

    /// Takes `data`, writing to disk when a block is full.
    pub(crate) async fn push(&mut self, mut data: &[u8]) -> Result<(), StoreError> {
        if data.len() as u64 > self.room {
            return Err(StoreError::Full);
        }
        self.room -= data.len() as u64;
        while !data.is_empty() {
            let at = self.end();
            let to_boundary = CHUNK_ALIGN - at % CHUNK_ALIGN;
            let n = usize::try_from(to_boundary)
                .unwrap_or(usize::MAX)
                .min(data.len());
            self.hash.update(&data[..n]);
            self.buf.extend_from_slice(&data[..n]);
            self.taken += n as u64;
            data = &data[n..];
            if self.end().is_multiple_of(CHUNK_ALIGN) {
                self.aligned = (self.end(), self.hash.clone());
            }
            if self.buf.len() >= BLOCK {
                self.flush().await?;
            }
        }
        Ok(())
    }

    async fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let Some(mut file) = self.file.take() else {
            return Err(io::Error::other("media file lost after a failed write"));
        };
        let buf = std::mem::take(&mut self.buf);
        let (file, mut buf) = blocking(move || {
            file.write_all(&buf)?;
            Ok((file, buf))
        })
        .await?;
        buf.clear();
        self.buf = buf;
        self.file = Some(file);
        Ok(())
    }

    /// Writes what is buffered and truncates the file at the end: every byte taken is
    /// committed. Returns the end offset and the hash of bytes `0..end`.
    pub(crate) async fn finish(mut self) -> io::Result<(u64, Context)> {
        self.flush().await?;
        let end = self.end();
        self.truncate(end).await?;
        Ok((end, self.hash))
    }

    /// Keeps only up to the last commit point (a 256 KiB boundary, or where this request
    /// started): returns that offset and its hash.
    pub(crate) async fn finish_aligned(mut self) -> io::Result<(u64, Context)> {
        self.flush().await?;
        let (end, hash) = self.aligned.clone();
        self.truncate(end).await?;
        Ok((end, hash))
    }

    async fn truncate(&mut self, len: u64) -> io::Result<()> {
        if let Some(file) = self.file.take() {
            let file = blocking(move || {
                file.set_len(len)?;
                Ok(file)
            })
            .await?;
            self.file = Some(file);
        }
        Ok(())
    }
}

/// Runs blocking file work on tokio's blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| io::Error::other(format!("blocking task: {e}")))?
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The SHA-256 of nothing, for a fresh session.
pub(crate) fn new_hash() -> Context {
    Context::new(&SHA256)
}

/// What a download reader does part-way: stall, or cut the connection.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ReadFault {
    None,
    /// Sends this many bytes, then fails (the caller cuts the connection).
    CutAfter(u64),
    /// Sends this many bytes, then waits.
    StallAfter(u64, std::time::Duration),
}

/// Streams `len` bytes of `path` from `start` into a bounded channel (a few blocks deep),
/// from a blocking thread; `on_cut` runs when a `CutAfter` fault ends the stream.
pub(crate) fn read_range(
    path: PathBuf,
    start: u64,
    len: u64,
    fault: ReadFault,
    on_cut: impl FnOnce() + Send + 'static,
) -> mpsc::Receiver<io::Result<Bytes>> {
    let (tx, rx) = mpsc::channel(4);
    tokio::task::spawn_blocking(move || {
        let run = || -> io::Result<()> {
            let mut f = File::open(&path)?;
            f.seek(SeekFrom::Start(start))?;
            let mut sent = 0u64;
            let mut stalled = false;
            while sent < len {
                let mut want = (len - sent).min(READ_BLOCK as u64);
                match fault {
                    ReadFault::CutAfter(k) if sent >= k => {
                        // Let what was sent leave before the cut.
                        std::thread::sleep(std::time::Duration::from_millis(50));
                        on_cut();
                        let _ = tx.blocking_send(Err(io::Error::new(
                            io::ErrorKind::ConnectionReset,
                            "download cut by an injected fault",
                        )));
                        return Ok(());
                    }
                    ReadFault::CutAfter(k) => want = want.min(k - sent),
                    ReadFault::StallAfter(k, d) if sent >= k && !stalled => {
                        stalled = true;
                        std::thread::sleep(d);
                    }
                    ReadFault::StallAfter(k, _) if !stalled => want = want.min(k - sent),
                    _ => {}
                }
                let mut buf = vec![0u8; usize::try_from(want).unwrap_or(READ_BLOCK)];
                f.read_exact(&mut buf)?;
                sent += want;
                if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                    // The client went away.
                    return Ok(());
                }
            }
            Ok(())
        };
        if let Err(e) = run() {
            let _ = tx.blocking_send(Err(e));
        }
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(data: &[u8]) -> String {
        hex(ring::digest::digest(&SHA256, data).as_ref())
    }

    fn data(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_finished_writer_commits_every_byte_with_its_hash() {
        let store = MediaStore::new(None, u64::MAX);
        let path = store.scratch_path("a").unwrap();
        let bytes = data(3 * BLOCK + 1234);
        let mut w = ChunkWriter::open(path.clone(), 0, new_hash(), u64::MAX)
            .await
            .unwrap();
        for piece in bytes.chunks(70_001) {
            w.push(piece).await.unwrap();
        }
        let (end, hash) = w.finish().await.unwrap();
        assert_eq!(end, bytes.len() as u64);
        assert_eq!(hex(hash.finish().as_ref()), sha(&bytes));
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_cut_writer_keeps_the_aligned_prefix_and_its_hash() {
        let store = MediaStore::new(None, u64::MAX);
        let path = store.scratch_path("b").unwrap();
        let bytes = data(3 * CHUNK_ALIGN as usize + 5000);
        // A first chunk of 256 KiB, committed.
        let mut w = ChunkWriter::open(path.clone(), 0, new_hash(), u64::MAX)
            .await
            .unwrap();
        w.push(&bytes[..CHUNK_ALIGN as usize]).await.unwrap();
        let (c, h) = w.finish().await.unwrap();
        // The second request breaks off 1.5 chunks further on.
        let mut w = ChunkWriter::open(path.clone(), c, h, u64::MAX)
            .await
            .unwrap();
        let cut = CHUNK_ALIGN as usize * 5 / 2;
        w.push(&bytes[c as usize..cut]).await.unwrap();
        let (c, h) = w.finish_aligned().await.unwrap();
        assert_eq!(c, 2 * CHUNK_ALIGN);
        assert_eq!(hex(h.clone().finish().as_ref()), sha(&bytes[..c as usize]));
        assert_eq!(std::fs::metadata(&path).unwrap().len(), c);
        // A request that breaks off before a boundary keeps nothing of its own.
        let mut w = ChunkWriter::open(path.clone(), c, h.clone(), u64::MAX)
            .await
            .unwrap();
        w.push(&bytes[c as usize..c as usize + 10]).await.unwrap();
        let (c2, h2) = w.finish_aligned().await.unwrap();
        assert_eq!(c2, c);
        assert_eq!(h2.finish().as_ref(), h.finish().as_ref());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_writer_refuses_bytes_past_its_room() {
        let store = MediaStore::new(None, u64::MAX);
        let path = store.scratch_path("c").unwrap();
        let mut w = ChunkWriter::open(path, 0, new_hash(), 10).await.unwrap();
        w.push(b"0123456789").await.unwrap();
        assert!(matches!(w.push(b"x").await, Err(StoreError::Full)));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_range_reader_sends_the_range_and_stops_at_a_cut() {
        let store = MediaStore::new(None, u64::MAX);
        let path = store.object_path("d").unwrap();
        let bytes = data(READ_BLOCK * 2 + 77);
        std::fs::write(&path, &bytes).unwrap();
        let mut rx = read_range(path.clone(), 100, 300_000, ReadFault::None, || {});
        let mut got = Vec::new();
        while let Some(b) = rx.recv().await {
            got.extend_from_slice(&b.unwrap());
        }
        assert_eq!(got, &bytes[100..300_100]);

        let cut = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let c = Arc::clone(&cut);
        let mut rx = read_range(
            path,
            0,
            bytes.len() as u64,
            ReadFault::CutAfter(1000),
            move || c.store(true, std::sync::atomic::Ordering::SeqCst),
        );
        let mut got = Vec::new();
        let mut failed = false;
        while let Some(b) = rx.recv().await {
            match b {
                Ok(b) => got.extend_from_slice(&b),
                Err(_) => failed = true,
            }
        }
        assert_eq!(got, &bytes[..1000]);
        assert!(failed && cut.load(std::sync::atomic::Ordering::SeqCst));
    }

    #[test]
    fn the_directory_is_private_and_removed_with_the_store() {
        let store = MediaStore::new(None, 100);
        let dir = store.dir().unwrap().to_path_buf();
        assert!(dir.is_dir());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "{mode:o}");
        }
        assert_eq!(store.free(), 100);
        drop(store);
        assert!(!dir.exists());
    }
}
