//! Applying NAT rules to a namespace: `nft -j -f -` (JSON on stdin), or `iptables` for the
//! rules only an xt match can express, each run as a child of a thread that entered the
//! namespace, so the rules land there.

use std::io::{self, Write};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::netns;

/// Why applying NAT rules failed.
#[derive(Debug, thiserror::Error)]
pub enum NatError {
    /// The program could not be started.
    #[error("cannot run {program} in namespace {netns}: {source}")]
    Spawn {
        /// `nft` or `iptables`.
        program: &'static str,
        /// Namespace.
        netns: String,
        /// Cause.
        source: io::Error,
    },
    /// The program ran and refused the rules.
    #[error("{program} refused the rules for namespace {netns}: {stderr}")]
    Refused {
        /// `nft` or `iptables`.
        program: &'static str,
        /// Namespace.
        netns: String,
        /// What it printed.
        stderr: String,
    },
}

fn run(ns: &str, program: &'static str, args: Vec<String>, stdin: String) -> Result<(), NatError> {
    let spawn = |source| NatError::Spawn {
        program,
        netns: ns.to_string(),
        source,
    };
    let out = netns::run_in(ns, move || {
        let mut child = Command::new(program)
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        if let Some(mut i) = child.stdin.take() {
            i.write_all(stdin.as_bytes())?;
        }
        child.wait_with_output()
    })
    .map_err(spawn)?;
    if out.status.success() {
        Ok(())
    } else {
        Err(NatError::Refused {
            program,
            netns: ns.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

/// Runs nft JSON commands (`[{"add": …}, …]`) in namespace `ns`, as one transaction:
/// `nft -j -f -`, reading stdin through `/proc/self/fd/0` (nft opens `-` as
/// `/dev/stdin`, which minimal systems such as the test VM lack).
pub fn nft(ns: &str, commands: &[Value]) -> Result<(), NatError> {
    let doc = json!({ "nftables": commands }).to_string();
    let args = ["-j", "-f", "/proc/self/fd/0"].map(String::from).to_vec();
    run(ns, "nft", args, doc)
}

/// Runs `iptables -w ARGS` in namespace `ns` (whichever backend the system's `iptables`
/// is; with iptables-nft the rule lands in the namespace's `ip nat` table, its xt matches
/// through nft's compat expressions).
pub fn iptables(ns: &str, args: &[String]) -> Result<(), NatError> {
    let mut a = vec!["-w".to_string()];
    a.extend_from_slice(args);
    run(ns, "iptables", a, String::new())
}

/// The nft ruleset of namespace `ns`, as `nft -j list ruleset` prints it.
pub fn ruleset(ns: &str) -> Result<Value, NatError> {
    let out = netns::run_in(ns, || {
        Command::new("nft")
            .args(["-j", "list", "ruleset"])
            .stderr(Stdio::piped())
            .output()
    })
    .map_err(|source| NatError::Spawn {
        program: "nft",
        netns: ns.to_string(),
        source,
    })?;
    if !out.status.success() {
        return Err(NatError::Refused {
            program: "nft",
            netns: ns.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    serde_json::from_slice(&out.stdout).map_err(|e| NatError::Refused {
        program: "nft",
        netns: ns.to_string(),
        stderr: format!("unreadable JSON: {e}"),
    })
}

/// Whether `program` is an executable file in `$PATH`.
pub fn in_path(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|d| {
            std::fs::metadata(d.join(program))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}
