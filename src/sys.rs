//! The one place with `unsafe`: process-wide settings that only a raw syscall can make.

/// Restores the default action of SIGPIPE, so `vxlab status | head` ends quietly like any
/// Unix tool instead of panicking on a closed pipe (Rust ignores SIGPIPE by default).
#[expect(
    unsafe_code,
    reason = "signal(2) has no safe wrapper; called once at start-up"
)]
pub fn default_sigpipe() {
    // SAFETY: SIG_DFL is a valid disposition for SIGPIPE, set before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
