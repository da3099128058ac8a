//! The kernel behind a small trait, so the lifecycle runs against the real kernel
//! ([`Netlink`]) or a recording fake ([`Recorder`]) alike.

mod conn;
mod netlink;
mod recorder;

pub use conn::{Notifications, connect, monitor};
pub use netlink::{Attr, Netlink, NlSocket, decode_attrs, encode_attrs, teardown};
pub use recorder::{FailAt, Recorder};

use std::future::Future;

use crate::plan::Op;

/// Why an operation failed.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    /// The kernel refused a netlink request.
    #[error("netlink: {0}")]
    Netlink(Box<rtnetlink::Error>),
    /// A system call or file operation failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A device the operation needs does not exist.
    #[error("no device `{dev}` in namespace {netns}")]
    NoDevice {
        /// Namespace searched.
        netns: String,
        /// Device name.
        dev: String,
    },
    /// Applying NAT rules (nft, iptables) failed.
    #[error(transparent)]
    Nat(#[from] crate::nat::NatError),
    /// Programming IPVS failed.
    #[error(transparent)]
    Ipvs(#[from] crate::ipvs::IpvsError),
    /// Injected by [`FailAt`] (the `VXLAB_FAIL_AT_STEP` test hook).
    #[error("failure injected at this step (test hook)")]
    Injected,
}

impl From<rtnetlink::Error> for KernelError {
    fn from(e: rtnetlink::Error) -> Self {
        Self::Netlink(Box::new(e))
    }
}

/// What tearing a lab down did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Teardown {
    /// Namespaces deleted.
    pub namespaces: Vec<String>,
    /// Processes stopped.
    pub processes: usize,
    /// Errors met on the way; teardown carries on past each.
    pub errors: Vec<String>,
}

/// Applies plan operations to a kernel, and removes everything a lab owns.
pub trait Kernel {
    /// Applies one operation.
    fn apply(&mut self, op: &Op) -> impl Future<Output = Result<(), KernelError>>;

    /// Removes every object of lab `lab`: its processes and namespaces. Keeps going past
    /// errors and reports them.
    fn teardown(&mut self, lab: &str) -> impl Future<Output = Teardown>;
}
