//! File input: JSON Lines files (plain or `.gz`) split across all workers of the cluster.
//!
//! Plain files are cut into byte ranges so that every worker reads a share of the same file; a
//! split owns the lines that *start* inside its range (the Hadoop rule), so a line cut by a range
//! boundary is read whole by one split and skipped by the next. Gzip streams cannot be cut and are
//! dealt out whole. Every process computes the same plan from the same file sizes.

use std::fs::File;
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use flate2::read::MultiGzDecoder;
use memmap2::{Advice, Mmap, UncheckedAdvice};
use thiserror::Error;

use tweet::input::{
    MAX_MESSAGE_BYTES, OVERSIZED_HEAD_BYTES, is_gzip, read_line_bounded, strip_bom,
};

use super::{Broken, Next, Partition};

#[derive(Debug, Error)]
pub enum InputError {
    #[error("cannot read input {path}: {source}")]
    Open { path: PathBuf, source: io::Error },
    #[error(
        "input {path} is not a regular file (pipes and directories cannot be split; write to a file first)"
    )]
    NotAFile { path: PathBuf },
}

/// A piece of one input file that one worker reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split {
    pub path: Arc<Path>,
    /// Byte range for plain files (lines starting inside it); the whole file for gzip.
    pub start: u64,
    pub end: u64,
    pub gzip: bool,
}

/// Assigns the splits of `paths` to `workers` workers: plain bytes evenly, gzip files whole to the
/// least-loaded worker.
pub fn plan_splits(paths: &[PathBuf], workers: usize) -> Result<Vec<Vec<Split>>, InputError> {
    let mut files = Vec::with_capacity(paths.len());
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|source| InputError::Open {
            path: path.clone(),
            source,
        })?;
        if !meta.is_file() {
            // Splits need a length known up front: pipes and directories have none.
            return Err(InputError::NotAFile { path: path.clone() });
        }
        File::open(path).map_err(|source| InputError::Open {
            path: path.clone(),
            source,
        })?;
        files.push((Arc::<Path>::from(path.as_path()), meta.len()));
    }
    let mut plan: Vec<Vec<Split>> = vec![Vec::new(); workers];
    let mut load = vec![0u64; workers];

    let plain_total: u64 = files
        .iter()
        .filter(|(p, _)| !is_gzip(p))
        .map(|(_, len)| len)
        .sum();
    let mut offset = 0u64; // position of the current file in the concatenation of plain files
    for (path, len) in files.iter().filter(|(p, _)| !is_gzip(p)) {
        for (worker, share) in plan.iter_mut().enumerate() {
            let from = (plain_total as u128 * worker as u128 / workers as u128) as u64;
            let to = (plain_total as u128 * (worker as u128 + 1) / workers as u128) as u64;
            let start = from.max(offset) - offset;
            let end = to.min(offset + len).saturating_sub(offset);
            if start < end {
                share.push(Split {
                    path: path.clone(),
                    start,
                    end,
                    gzip: false,
                });
                load[worker] += end - start;
            }
        }
        offset += len;
    }

    let mut gzipped: Vec<_> = files.iter().filter(|(p, _)| is_gzip(p)).collect();
    gzipped.sort_by_key(|(_, len)| std::cmp::Reverse(*len));
    for (path, len) in gzipped {
        let worker = (0..workers)
            .min_by_key(|&w| load[w])
            .expect("at least one worker");
        plan[worker].push(Split {
            path: path.clone(),
            start: 0,
            end: *len,
            gzip: true,
        });
        load[worker] += len * 4; // decompression costs about as much as reading the inflated bytes
    }
    Ok(plan)
}

/// Opens a split for reading; failure to open becomes a failed partition, not a crash.
pub(crate) fn open(split: &Split) -> Box<dyn Partition> {
    let result = if split.gzip {
        GzipLines::open(split).map(boxed)
    } else {
        MappedLines::open(split).map(boxed)
    };
    result.unwrap_or_else(|e| {
        boxed(Broken {
            source: display(split),
            error: Some(e.to_string()),
        })
    })
}

fn boxed<P: Partition + 'static>(p: P) -> Box<dyn Partition> {
    Box::new(p)
}

fn display(split: &Split) -> String {
    split.path.display().to_string()
}

/// A split of a plain file, read from a memory map without copying lines.
struct MappedLines {
    source: String,
    map: Option<Mmap>,
    /// First byte of the split's first owned line.
    first: usize,
    pos: usize,
    end: usize,
    /// Lines returned so far; the line number of the last one is `base + returned`.
    returned: u64,
    base: Option<u64>,
    /// Start of the mapped bytes not yet released back to the page cache.
    kept: usize,
}

/// Read pages are dropped from the mapping in steps of this size, so that resident memory reflects
/// the job's state rather than the bytes read.
const RELEASE_STEP: usize = 32 << 20;

impl MappedLines {
    fn open(split: &Split) -> io::Result<MappedLines> {
        let file = File::open(&split.path)?;
        // SAFETY: the map is only read; a file truncated while we read it is the user's race, as
        // with any reader of a file being rewritten.
        let map = if split.end > split.start {
            Some(unsafe { Mmap::map(&file)? })
        } else {
            None
        };
        if let Some(map) = &map {
            map.advise(Advice::Sequential)?;
        }
        let bytes: &[u8] = map.as_deref().unwrap_or(&[]);
        let start = (split.start as usize).min(bytes.len());
        let first = if start == 0 || bytes[start - 1] == b'\n' {
            start
        } else {
            memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |i| start + i + 1)
        };
        let end = (split.end as usize).min(bytes.len());
        Ok(MappedLines {
            source: display(split),
            first,
            pos: first,
            end,
            returned: 0,
            base: (first == 0).then_some(0),
            kept: first,
            map,
        })
    }
}

impl Partition for MappedLines {
    fn next(&mut self) -> Next<'_> {
        let Some(mapping) = self.map.as_ref() else {
            return Next::Done;
        };
        if self.pos >= self.end {
            return Next::Done;
        }
        if self.pos - self.kept >= RELEASE_STEP {
            let page = page_floor(self.pos);
            // SAFETY: no slice into `kept..page` outlives the previous call to `next`, and a
            // read-only file mapping refaults from the file if it is touched again.
            let released = unsafe {
                mapping.unchecked_advise_range(
                    UncheckedAdvice::DontNeed,
                    self.kept,
                    page - self.kept,
                )
            };
            if released.is_ok() {
                self.kept = page;
            }
        }
        let map: &[u8] = mapping;
        let at_start = self.pos == 0;
        let rest = &map[self.pos..];
        let len = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
        self.pos += len + 1;
        self.returned += 1;
        if len > MAX_MESSAGE_BYTES {
            return Next::Oversized {
                head: &rest[..OVERSIZED_HEAD_BYTES],
                len: len as u64,
            };
        }
        let line = &rest[..len];
        // The first line of the file owns its byte-order mark; it is not part of the message.
        Next::Message(if at_start { strip_bom(line) } else { line })
    }

    fn position(&mut self) -> String {
        // Counting the lines before a split is only worth it when something needs reporting.
        let map = self.map.as_deref().unwrap_or(&[]);
        let first = self.first;
        let base = *self
            .base
            .get_or_insert_with(|| memchr::memchr_iter(b'\n', &map[..first]).count() as u64);
        format!("{}:{}", self.source, base + self.returned)
    }

    fn source(&self) -> &str {
        &self.source
    }

    fn label(&self) -> String {
        match self.first {
            0 => self.source.clone(),
            first => format!("{}@{first}", self.source),
        }
    }
}

fn page_floor(offset: usize) -> usize {
    offset & !(4096 - 1)
}

/// A whole gzip file (concatenated members allowed), read line by line into a reused buffer.
struct GzipLines {
    source: String,
    reader: BufReader<MultiGzDecoder<BufReader<File>>>,
    line: Vec<u8>,
    returned: u64,
    done: bool,
}

impl GzipLines {
    fn open(split: &Split) -> io::Result<GzipLines> {
        let file = BufReader::with_capacity(1 << 16, File::open(&split.path)?);
        Ok(GzipLines {
            source: display(split),
            reader: BufReader::with_capacity(1 << 18, MultiGzDecoder::new(file)),
            line: Vec::with_capacity(1 << 14),
            returned: 0,
            done: false,
        })
    }
}

impl Partition for GzipLines {
    fn next(&mut self) -> Next<'_> {
        if self.done {
            return Next::Done;
        }
        match read_line_bounded(&mut self.reader, &mut self.line) {
            Ok(None) => {
                self.done = true;
                Next::Done
            }
            Ok(Some(len)) => {
                self.returned += 1;
                if len > MAX_MESSAGE_BYTES as u64 {
                    Next::Oversized {
                        head: &self.line[..OVERSIZED_HEAD_BYTES],
                        len,
                    }
                } else if self.returned == 1 {
                    Next::Message(strip_bom(&self.line))
                } else {
                    Next::Message(&self.line)
                }
            }
            Err(e) => {
                self.done = true;
                Next::Failed(format!(
                    "reading gzip stream after line {}: {e}",
                    self.returned
                ))
            }
        }
    }

    fn position(&mut self) -> String {
        format!("{}:{}", self.source, self.returned)
    }

    fn source(&self) -> &str {
        &self.source
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn read_all(split: &Split) -> Vec<(String, String)> {
        let mut p = open(split);
        let mut out = Vec::new();
        loop {
            let line = match p.next() {
                Next::Message(m) => String::from_utf8_lossy(m).into_owned(),
                Next::Done => break,
                Next::Failed(e) => panic!("{e}"),
                Next::Oversized { len, .. } => panic!("oversized line of {len} bytes"),
                Next::Idle => panic!("files are never idle"),
            };
            out.push((line, p.position()));
        }
        out
    }

    #[test]
    fn splits_cover_every_line_once_whatever_the_cut() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.jsonl");
        let lines: Vec<String> = (0..50)
            .map(|i| "x".repeat(i % 7) + &i.to_string())
            .collect();
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        for workers in 1..=9 {
            let plan = plan_splits(std::slice::from_ref(&path), workers).unwrap();
            let read: Vec<(String, String)> = plan.iter().flatten().flat_map(read_all).collect();
            let expect: Vec<(String, String)> = lines
                .iter()
                .enumerate()
                .map(|(i, l)| (l.clone(), format!("{}:{}", path.display(), i + 1)))
                .collect();
            assert_eq!(read, expect, "{workers} workers");
        }
    }

    #[test]
    fn last_line_without_newline_and_empty_files() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.jsonl");
        let b = dir.path().join("b.jsonl");
        std::fs::write(&a, "one\n\nthree").unwrap();
        std::fs::write(&b, "").unwrap();
        let plan = plan_splits(&[a, b], 2).unwrap();
        let read: Vec<String> = plan
            .iter()
            .flatten()
            .flat_map(read_all)
            .map(|(l, _)| l)
            .collect();
        assert_eq!(read, ["one", "", "three"]);
    }

    #[test]
    fn gzip_files_are_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.jsonl.gz");
        let mut gz = flate2::write::GzEncoder::new(
            File::create(&path).unwrap(),
            flate2::Compression::fast(),
        );
        gz.write_all(b"a\nb\n").unwrap();
        gz.finish().unwrap();
        let plan = plan_splits(std::slice::from_ref(&path), 3).unwrap();
        assert_eq!(plan.iter().map(Vec::len).sum::<usize>(), 1);
        let read: Vec<String> = plan
            .iter()
            .flatten()
            .flat_map(read_all)
            .map(|(l, _)| l)
            .collect();
        assert_eq!(read, ["a", "b"]);
    }

    #[test]
    fn corrupt_gzip_fails_the_partition_without_panicking() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.gz");
        std::fs::write(&path, b"\x1f\x8b\x08\x00garbage").unwrap();
        let plan = plan_splits(std::slice::from_ref(&path), 1).unwrap();
        let mut p = open(&plan[0][0]);
        assert!(matches!(p.next(), Next::Failed(_)));
        assert!(matches!(p.next(), Next::Done));
    }

    #[test]
    fn oversized_lines_are_cut_to_their_head_in_plain_and_gzip_files() {
        let dir = tempfile::tempdir().unwrap();
        let long = "x".repeat(MAX_MESSAGE_BYTES + 10);
        let text = format!("a\n{long}\nb\n");
        let plain = dir.path().join("long.jsonl");
        std::fs::write(&plain, &text).unwrap();
        let gz = dir.path().join("long.jsonl.gz");
        let mut enc =
            flate2::write::GzEncoder::new(File::create(&gz).unwrap(), flate2::Compression::fast());
        enc.write_all(text.as_bytes()).unwrap();
        enc.finish().unwrap();
        for path in [plain, gz] {
            let plan = plan_splits(std::slice::from_ref(&path), 1).unwrap();
            let mut p = open(&plan[0][0]);
            assert!(matches!(p.next(), Next::Message(b"a")));
            match p.next() {
                Next::Oversized { head, len } => {
                    assert_eq!((head.len(), len), (OVERSIZED_HEAD_BYTES, long.len() as u64));
                }
                _ => panic!("{} long line not cut", path.display()),
            }
            assert!(matches!(p.next(), Next::Message(b"b")));
            assert!(matches!(p.next(), Next::Done));
        }
    }

    #[test]
    fn a_byte_order_mark_at_the_start_of_a_file_is_not_part_of_its_first_message() {
        let dir = tempfile::tempdir().unwrap();
        let text = "\u{feff}{\"a\":1}\n\u{feff}second\n";
        let plain = dir.path().join("bom.jsonl");
        std::fs::write(&plain, text).unwrap();
        let gz = dir.path().join("bom.jsonl.GZ");
        let mut enc =
            flate2::write::GzEncoder::new(File::create(&gz).unwrap(), flate2::Compression::fast());
        enc.write_all(text.as_bytes()).unwrap();
        enc.finish().unwrap();
        for (path, workers) in [(&plain, 1), (&plain, 4), (&gz, 1)] {
            let plan = plan_splits(std::slice::from_ref(path), workers).unwrap();
            let read: Vec<String> = plan
                .iter()
                .flatten()
                .flat_map(read_all)
                .map(|(l, _)| l)
                .collect();
            assert_eq!(read, ["{\"a\":1}", "\u{feff}second"], "{}", path.display());
        }
    }

    #[test]
    fn directories_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = plan_splits(&[dir.path().to_path_buf()], 1).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }

    #[test]
    fn missing_file_is_an_error() {
        let err = plan_splits(&[PathBuf::from("/nonexistent/x.jsonl")], 1).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/x.jsonl"));
    }
}
