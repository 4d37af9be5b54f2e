//! Where results go: window records (JSON Lines or a table), dead letters and checkpoints, written
//! once, by worker 0 of process 0 (`commit`).

pub(crate) mod commit;
pub(crate) mod dead_letter;
pub(crate) mod file;
pub(crate) mod kafka;
pub(crate) mod record;
pub(crate) mod windows;
