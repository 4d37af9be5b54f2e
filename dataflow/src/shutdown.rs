//! One stop request, handed to every part of a run that must hear it (as mini-redis hands one
//! shutdown signal to every task): signals set it, a closed standard output sets it, tests set it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Clone, Debug, Default)]
pub struct Shutdown(Arc<AtomicBool>);

impl Shutdown {
    pub fn new() -> Shutdown {
        Shutdown::default()
    }

    /// Asks the run to stop: it reads no more, and every worker of every process hears of it.
    pub fn request(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn requested(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// The flag itself, for signal handlers that set it.
    pub fn flag(&self) -> Arc<AtomicBool> {
        self.0.clone()
    }
}
