//! Test doubles: a fake kernel that records operations, and a wrapper that makes a real
//! one fail at a chosen step (failure injection).

use super::{Kernel, KernelError, Teardown};
use crate::plan::Op;

/// Records every operation applied; can be told to fail at one step.
#[derive(Debug, Default)]
pub struct Recorder {
    /// Operations applied, in order.
    pub applied: Vec<Op>,
    /// Labs torn down, in order.
    pub torn_down: Vec<String>,
    /// Fail the operation with this 0-based index.
    pub fail_at: Option<usize>,
}

impl Kernel for Recorder {
    async fn apply(&mut self, op: &Op) -> Result<(), KernelError> {
        if self.fail_at == Some(self.applied.len()) {
            return Err(KernelError::Injected);
        }
        self.applied.push(op.clone());
        Ok(())
    }

    async fn teardown(&mut self, lab: &str) -> Teardown {
        self.torn_down.push(lab.to_string());
        Teardown::default()
    }
}

/// Wraps a kernel and fails its `at`-th operation (1-based), to test rollback.
#[derive(Debug)]
pub struct FailAt<K> {
    /// The kernel doing the work.
    pub inner: K,
    /// Operation number that fails.
    pub at: usize,
    seen: usize,
}

impl<K> FailAt<K> {
    /// Fails operation `at` (1-based) of `inner`.
    pub fn new(inner: K, at: usize) -> Self {
        Self { inner, at, seen: 0 }
    }
}

impl<K: Kernel> Kernel for FailAt<K> {
    async fn apply(&mut self, op: &Op) -> Result<(), KernelError> {
        self.seen += 1;
        if self.seen == self.at {
            return Err(KernelError::Injected);
        }
        self.inner.apply(op).await
    }

    async fn teardown(&mut self, lab: &str) -> Teardown {
        self.inner.teardown(lab).await
    }
}
