//! Where results go: window records (JSON Lines or a table) and dead letters, written once, by
//! worker 0 of process 0.

pub(crate) mod dead_letter;
pub(crate) mod kafka;
pub(crate) mod record;
pub(crate) mod windows;
