//! Skipping a test for a missing privilege, tool or kernel feature: the reason is printed
//! and, when `VXLAB_SKIP_LOG` names a file (tests/run-all sets it), appended to it, so the
//! run ends with a tally of skips by reason instead of counting them as passes.

use std::io::Write as _;

/// Environment variable naming the file skips are appended to.
pub const SKIP_LOG_ENV: &str = "VXLAB_SKIP_LOG";

/// Records that the running test is skipped for `reason`; the caller returns.
pub fn skip(reason: impl std::fmt::Display) {
    let reason = reason.to_string();
    eprintln!("skipped: {reason}");
    let Some(path) = std::env::var_os(SKIP_LOG_ENV) else {
        return;
    };
    let binary = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .map(|n| n.rsplit_once('-').map_or(n.clone(), |(b, _)| b.to_string()))
        .unwrap_or_default();
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("?");
    let reason = reason.replace(['\t', '\n'], " ");
    // One write of one short line with O_APPEND: lines of concurrent tests do not interleave.
    let line = format!("{reason}\t{binary}::{test}\n");
    if let Ok(mut f) = std::fs::OpenOptions::new().append(true).open(&path) {
        let _ = f.write_all(line.as_bytes());
    }
}
