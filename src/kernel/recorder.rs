//! A fake kernel that records operations, for testing the lifecycle without root.

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
