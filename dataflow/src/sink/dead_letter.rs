//! Dead letters in time order: written when the frontier has passed their time, so that the file
//! holds, at each checkpoint barrier, exactly the letters of the messages read before it.

use std::collections::BTreeMap;
use std::io;

use tweet::DeadLetter;

use super::file::{Durable, OutputFile};

pub(crate) struct LetterSink {
    pending: BTreeMap<u64, Vec<DeadLetter>>,
    file: Option<OutputFile>,
    /// Letters written by this run (or counted, without a file).
    pub written: u64,
    pub error: Option<io::Error>,
    /// A write failed: no more are tried (the run is stopping).
    failed: bool,
}

impl LetterSink {
    pub fn new(file: Option<OutputFile>) -> LetterSink {
        LetterSink {
            pending: BTreeMap::new(),
            file,
            written: 0,
            error: None,
            failed: false,
        }
    }

    pub fn push(&mut self, time: u64, letter: DeadLetter) {
        self.pending.entry(time).or_default().push(letter);
    }

    /// Writes the letters before `limit` (`None`: all).
    pub fn advance(&mut self, limit: Option<u64>) {
        while let Some(entry) = self.pending.first_entry() {
            if limit.is_some_and(|l| *entry.key() >= l) {
                break;
            }
            for letter in entry.remove() {
                self.written += 1;
                if let (Some(out), false) = (self.file.as_mut(), self.failed)
                    && let Err(e) = letter.write_jsonl(out)
                {
                    self.failed = true;
                    self.error = Some(e);
                }
            }
        }
    }

    pub fn position(&self) -> u64 {
        self.file.as_ref().map_or(0, Durable::position)
    }

    pub fn sync(&mut self) -> io::Result<()> {
        match self.file.as_mut().filter(|_| !self.failed) {
            Some(file) => file.sync(),
            None => Ok(()),
        }
    }
}
