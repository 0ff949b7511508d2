//! Chunk files read and written in [`proto::PIECE_SIZE`] pieces on a
//! blocking thread of their own, hashed (BLAKE3) there on the way.
//!
//! The disk and the hash then overlap the network instead of taking turns
//! with it in one loop on an async worker: on loopback that loop ran at
//! about 400 MB/s (`cli/benches/transfer.rs`). Used on both ends of an
//! encode stream: the node's input and output, dffmpeg's upload and download.

use std::io::{Read as _, Write as _};
use std::path::Path;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How many pieces wait between the disk and the network, each way.
const QUEUE: usize = 4;

/// What a whole file came to: its size and, when asked for, its BLAKE3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Totals {
    /// Bytes read or written.
    pub size: u64,
    /// Hex BLAKE3 of those bytes; empty when not asked for.
    pub blake3: String,
}

/// A file being read piece by piece.
#[derive(Debug)]
pub struct Reader {
    pieces: mpsc::Receiver<std::io::Result<Vec<u8>>>,
    done: JoinHandle<Totals>,
}

impl Reader {
    /// Opens `path` (failing here if it cannot) and starts reading it.
    pub fn open(path: &Path, hash: bool) -> std::io::Result<Self> {
        let mut file = std::fs::File::open(path)?;
        let (tx, pieces) = mpsc::channel(QUEUE);
        let done = tokio::task::spawn_blocking(move || {
            let mut hasher = hash.then(blake3::Hasher::new);
            let mut size = 0u64;
            loop {
                let piece = match fill(&mut file) {
                    Ok(piece) if piece.is_empty() => break,
                    Ok(piece) => piece,
                    Err(error) => {
                        let _ = tx.blocking_send(Err(error));
                        break;
                    }
                };
                if let Some(hasher) = &mut hasher {
                    hasher.update(&piece);
                }
                size += piece.len() as u64;
                if tx.blocking_send(Ok(piece)).is_err() {
                    break; // the reader was dropped: nobody wants the rest
                }
            }
            Totals {
                size,
                blake3: hasher.map(|h| h.finalize().to_hex().to_string()).unwrap_or_default(),
            }
        });
        Ok(Self { pieces, done })
    }

    /// The next piece; `None` at the end of the file.
    pub async fn next(&mut self) -> Option<std::io::Result<Vec<u8>>> {
        self.pieces.recv().await
    }

    /// The totals, once every piece has been taken.
    pub async fn finish(self) -> std::io::Result<Totals> {
        drop(self.pieces);
        self.done.await.map_err(std::io::Error::other)
    }
}

/// One piece, as full as the file allows; empty at its end.
///
/// Read into the vector's spare capacity: zeroing each piece first cost
/// 1.5% of the transfer bench's samples for bytes that are overwritten.
fn fill(file: &mut std::fs::File) -> std::io::Result<Vec<u8>> {
    let mut piece = Vec::with_capacity(proto::PIECE_SIZE);
    std::io::Read::take(file, proto::PIECE_SIZE as u64).read_to_end(&mut piece)?;
    Ok(piece)
}

/// A file being written piece by piece.
#[derive(Debug)]
pub struct Writer {
    pieces: Option<mpsc::Sender<proto::Bytes>>,
    /// The writing thread; taken once it has been waited for.
    done: Option<JoinHandle<std::io::Result<Totals>>>,
}

impl Writer {
    /// Creates `path` (failing here if it cannot) and starts a writer.
    pub fn create(path: &Path, hash: bool) -> std::io::Result<Self> {
        let mut file = std::fs::File::create(path)?;
        let (pieces, mut rx) = mpsc::channel::<proto::Bytes>(QUEUE);
        let done = tokio::task::spawn_blocking(move || {
            let mut hasher = hash.then(blake3::Hasher::new);
            let mut size = 0u64;
            while let Some(piece) = rx.blocking_recv() {
                if let Some(hasher) = &mut hasher {
                    hasher.update(&piece);
                }
                size += piece.len() as u64;
                file.write_all(&piece)?;
            }
            file.flush()?;
            Ok(Totals {
                size,
                blake3: hasher.map(|h| h.finalize().to_hex().to_string()).unwrap_or_default(),
            })
        });
        Ok(Self { pieces: Some(pieces), done: Some(done) })
    }

    /// Queues `piece` (a `Vec` becomes `Bytes` without a copy); fails with
    /// the write error if an earlier piece failed.
    pub async fn write(&mut self, piece: impl Into<proto::Bytes>) -> std::io::Result<()> {
        let sent = match &self.pieces {
            Some(pieces) => pieces.send(piece.into()).await.is_ok(),
            None => false,
        };
        if sent {
            return Ok(());
        }
        // The writer stopped: only an error stops it early.
        match self.finish_writing().await {
            Ok(_) => Err(std::io::Error::other("the writer stopped")),
            Err(error) => Err(error),
        }
    }

    /// Writes what is queued, flushes, and returns the totals.
    pub async fn finish(mut self) -> std::io::Result<Totals> {
        self.finish_writing().await
    }

    /// Closes the queue and waits for the thread, once; later calls fail.
    async fn finish_writing(&mut self) -> std::io::Result<Totals> {
        self.pieces = None;
        match self.done.take() {
            Some(done) => done.await.map_err(std::io::Error::other)?,
            None => Err(std::io::Error::other("the writer failed earlier")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_file_goes_through_in_pieces_and_hashes_as_blake3() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("in");
        let data: Vec<u8> = (0..(2 * proto::PIECE_SIZE + 12345)).map(|i| (i * 7) as u8).collect();
        std::fs::write(&source, &data).unwrap();
        let mut reader = Reader::open(&source, true).unwrap();
        let copy = dir.path().join("out");
        let mut writer = Writer::create(&copy, true).unwrap();
        let mut sizes = Vec::new();
        while let Some(piece) = reader.next().await {
            let piece = piece.unwrap();
            sizes.push(piece.len());
            writer.write(piece).await.unwrap();
        }
        let (read, written) = (reader.finish().await.unwrap(), writer.finish().await.unwrap());
        assert_eq!(sizes, vec![proto::PIECE_SIZE, proto::PIECE_SIZE, 12345]);
        assert_eq!(read, written);
        assert_eq!(read.blake3, blake3::hash(&data).to_hex().to_string());
        assert_eq!(std::fs::read(&copy).unwrap(), data);
    }

    #[tokio::test]
    async fn a_failed_write_is_reported() {
        // /dev/full accepts the open and fails every write with ENOSPC.
        let mut writer = Writer::create(Path::new("/dev/full"), false).unwrap();
        let mut failed = None;
        for _ in 0..QUEUE + 2 {
            if let Err(error) = writer.write(vec![1; proto::PIECE_SIZE]).await {
                failed = Some(error);
                break;
            }
        }
        let error = match failed {
            Some(error) => {
                assert!(writer.finish().await.is_err(), "a failed writer does not finish");
                error
            }
            None => writer.finish().await.unwrap_err(),
        };
        assert_eq!(error.raw_os_error(), Some(libc::ENOSPC), "{error}");
    }

    #[test]
    fn a_missing_file_fails_at_once() {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let _guard = runtime.enter();
        assert!(Reader::open(Path::new("/nonexistent/x"), false).is_err());
    }
}
