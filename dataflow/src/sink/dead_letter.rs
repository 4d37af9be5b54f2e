//! Dead letters in time order: written when the frontier has passed their time, so that the file
//! holds, at each checkpoint barrier, exactly the letters of the messages read before it.

use std::collections::BTreeMap;
use std::io;

use tweet::DeadLetter;

use super::file::{Durable, OutputFile};
use super::kafka::KafkaLetters;

pub(crate) struct LetterSink {
    pending: BTreeMap<u64, Vec<DeadLetter>>,
    file: Option<OutputFile>,
    /// `--dead-letter-topic`.
    topic: Option<KafkaLetters>,
    /// Letters written to the file that go to a transactional topic at the next barrier: so the
    /// topic holds, at each checkpoint, exactly the letters before its cut (see
    /// `LetterTopicState`).
    held: BTreeMap<u64, Vec<DeadLetter>>,
    /// Letters written by this run (or counted, without a file).
    pub written: u64,
    pub error: Option<io::Error>,
    /// A write failed: no more are tried (the run is stopping).
    failed: bool,
}

impl LetterSink {
    pub fn new(file: Option<OutputFile>, topic: Option<KafkaLetters>) -> LetterSink {
        LetterSink {
            pending: BTreeMap::new(),
            file,
            topic,
            held: BTreeMap::new(),
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
            let (time, letters) = entry.remove_entry();
            for letter in letters {
                self.written += 1;
                if self.failed {
                    continue;
                }
                let mut written = match self.file.as_mut() {
                    Some(out) => letter.write_jsonl(out),
                    None => Ok(()),
                };
                if written.is_ok()
                    && let Some(topic) = self.topic.as_mut()
                {
                    if topic.is_transactional() {
                        self.held.entry(time).or_default().push(letter);
                        continue;
                    }
                    written = topic.write(time, &letter);
                }
                if let Err(e) = written {
                    self.failed = true;
                    self.error = Some(e);
                }
            }
        }
    }

    /// Sends the held letters before `barrier` (`None`: all) to the transactional topic.
    pub fn release(&mut self, barrier: Option<u64>) {
        let Some(topic) = self.topic.as_mut() else {
            return;
        };
        while let Some(entry) = self.held.first_entry() {
            if barrier.is_some_and(|b| *entry.key() >= b) {
                break;
            }
            let (time, letters) = entry.remove_entry();
            for letter in letters {
                if self.failed {
                    continue;
                }
                if let Err(e) = topic.write(time, &letter) {
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

    /// Commits the dead-letter topic's transaction (with a checkpoint).
    pub fn commit(&mut self) -> io::Result<()> {
        match self.topic.as_mut().filter(|_| !self.failed) {
            Some(topic) => topic.commit(),
            None => Ok(()),
        }
    }

    /// The dead-letter topic's state after the last commit (for the checkpoint).
    pub fn topic_state(&self) -> io::Result<Option<crate::checkpoint::LetterTopicState>> {
        match &self.topic {
            Some(topic) => topic.state(),
            None => Ok(None),
        }
    }

    /// Commits an old transaction of the dead-letter topic (see the window topic's).
    pub fn tick(&mut self) -> io::Result<()> {
        match self.topic.as_mut().filter(|_| !self.failed) {
            Some(topic) => topic.tick(),
            None => Ok(()),
        }
    }

    /// Flushes (or commits) the dead-letter topic at the end, also after a failure.
    pub fn finish(&mut self) -> io::Result<()> {
        match self.topic.as_mut() {
            Some(topic) => topic.finish(),
            None => Ok(()),
        }
    }
}
