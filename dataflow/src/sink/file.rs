//! Output files that know how much they hold: window records and dead letters are appended, their
//! length goes into each checkpoint, and a resumed run cuts them back to it (never truncated
//! blindly, never appended twice).

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::Path;

/// Where records are written, and how they are made durable.
pub(crate) trait Durable: Write {
    /// Bytes written so far (0 where nothing can be cut back, e.g. standard output).
    fn position(&self) -> u64 {
        0
    }

    /// Makes everything written so far durable.
    fn sync(&mut self) -> io::Result<()> {
        self.flush()
    }

    /// Whether the reader at the other end went away (a pipe whose reader closed it): a run
    /// with nothing more to write for a while must still notice that it can stop.
    fn closed(&self) -> bool {
        false
    }
}

/// Standard output (or the descriptor results go to in a cluster).
pub(crate) struct Stdout {
    out: io::BufWriter<Box<dyn Write + Send>>,
    fd: std::os::fd::OwnedFd,
}

impl Stdout {
    /// `out` writes to the descriptor `fd` (a duplicate is kept to watch it).
    pub fn new(out: Box<dyn Write + Send>, fd: std::os::fd::BorrowedFd<'_>) -> io::Result<Stdout> {
        Ok(Stdout {
            out: io::BufWriter::new(out),
            fd: fd.try_clone_to_owned()?,
        })
    }
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl Durable for Stdout {
    fn closed(&self) -> bool {
        use rustix::event::{PollFd, PollFlags, Timespec, poll};
        let mut fds = [PollFd::new(&self.fd, PollFlags::OUT)];
        let now = Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        poll(&mut fds, Some(&now)).is_ok()
            && fds[0].revents().intersects(PollFlags::ERR | PollFlags::HUP)
    }
}

pub(crate) struct OutputFile {
    out: BufWriter<File>,
    len: u64,
}

impl OutputFile {
    /// A new, empty file (an existing one is truncated).
    pub fn create(path: &Path) -> io::Result<OutputFile> {
        let file = File::create(path)?;
        Ok(OutputFile {
            out: BufWriter::with_capacity(1 << 16, file),
            len: 0,
        })
    }

    /// The file cut back to `len` bytes (what the checkpoint says was written), for appending.
    /// A file shorter than that was changed by someone else: an error, not silently refilled.
    pub fn resume(path: &Path, len: u64) -> io::Result<OutputFile> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(len == 0)
            .open(path)?;
        let found = file.metadata()?.len();
        if found < len {
            return Err(io::Error::other(format!(
                "{} holds {found} bytes but the checkpoint says {len} were written: was it \
                 changed or replaced?",
                path.display()
            )));
        }
        file.set_len(len)?;
        file.seek(SeekFrom::End(0))?;
        Ok(OutputFile {
            out: BufWriter::with_capacity(1 << 16, file),
            len,
        })
    }
}

impl Write for OutputFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.out.write(buf)?;
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl Durable for OutputFile {
    fn position(&self) -> u64 {
        self.len
    }

    fn sync(&mut self) -> io::Result<()> {
        self.out.flush()?;
        self.out.get_ref().sync_data()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pipe_whose_reader_left_is_seen_as_closed() {
        let (reader, writer) = io::pipe().unwrap();
        let fd = std::os::fd::AsFd::as_fd(&writer)
            .try_clone_to_owned()
            .unwrap();
        let out = Stdout::new(Box::new(writer), std::os::fd::AsFd::as_fd(&fd)).unwrap();
        assert!(!out.closed());
        drop(reader);
        assert!(out.closed());
    }

    #[test]
    fn a_resumed_file_is_cut_back_to_what_was_committed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        let mut f = OutputFile::create(&path).unwrap();
        f.write_all(b"one\ntwo\n").unwrap();
        f.sync().unwrap();
        assert_eq!(f.position(), 8);
        drop(f);
        std::fs::write(&path, b"one\ntwo\nthr").unwrap(); // a torn write after the checkpoint
        let mut f = OutputFile::resume(&path, 4).unwrap();
        f.write_all(b"2\n").unwrap();
        f.sync().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"one\n2\n");
        let err = OutputFile::resume(&path, 100).err().unwrap();
        assert!(err.to_string().contains("was it changed"), "{err}");
    }
}
