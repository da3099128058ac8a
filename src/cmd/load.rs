//! Finding a lab: a scenario file, a built-in lab's name, or the name of a lab that is up.

use std::path::Path;

use anyhow::{Context, Result, bail};
use vxlab::diag::render;
use vxlab::labs;
use vxlab::lifecycle;
use vxlab::model::Lab;

/// A scenario, where it came from, and its validated lab.
pub struct Loaded {
    /// File path, or `built-in:NAME`.
    pub origin: String,
    /// Scenario text.
    pub text: String,
    /// The lab.
    pub lab: Lab,
}

/// Reads and validates `arg`: a file path, or a built-in lab. Validation errors are
/// printed with `file:line:column` and make this fail.
pub fn load(arg: &str) -> Result<Loaded> {
    let (origin, text) = if Path::new(arg).is_file() {
        (
            arg.to_string(),
            std::fs::read_to_string(arg).with_context(|| format!("cannot read {arg}"))?,
        )
    } else if let Some(text) = labs::builtin(arg) {
        (format!("built-in:{arg}"), text.to_string())
    } else {
        let names: Vec<&str> = labs::BUILTIN.iter().map(|(n, _)| *n).collect();
        bail!(
            "no file or built-in lab named `{arg}`; built-in labs: {}",
            names.join(", ")
        );
    };
    parse(origin, text)
}

/// Validates scenario `text` from `origin`.
pub fn parse(origin: String, text: String) -> Result<Loaded> {
    match Lab::from_source(&text) {
        Ok(lab) => Ok(Loaded { origin, text, lab }),
        Err(diags) => {
            eprint!("{}", render(&origin, &text, &diags));
            bail!(
                "{origin}: {} error{} found; nothing was changed",
                diags.len(),
                if diags.len() == 1 { "" } else { "s" }
            )
        }
    }
}

/// The name of the lab `arg` designates: a file's or built-in's `[lab] name`, or `arg`
/// itself when it names a lab that is up.
pub fn lab_name(arg: &str) -> Result<String> {
    if Path::new(arg).is_file() {
        return Ok(load(arg)?.lab.name);
    }
    Ok(arg.to_string())
}

/// The validated lab of a lab that is up, from its record (or its built-in definition).
pub fn running(name: &str) -> Result<Loaded> {
    if let Ok(text) = lifecycle::recorded_source(name) {
        let mut l = parse(
            format!("{}/scenario.toml", lifecycle::state_dir(name).display()),
            text,
        )?;
        l.lab = l.lab.renamed(name);
        if lifecycle::recorded_ipvs_emulated(name) {
            l.lab = l.lab.emulate_ipvs();
        }
        if let Some(datapath) = lifecycle::recorded_ovs_datapath(name) {
            l.lab = l.lab.with_ovs_datapath(datapath);
        }
        return Ok(l);
    }
    load(name).with_context(|| format!("lab `{name}` has no record in {}", lifecycle::STATE_DIR))
}

/// How the user runs vxlab commands that need namespaces, for the hints vxlab prints.
pub fn invocation() -> &'static str {
    if vxlab::rootless::inside_world() {
        "vxlab --rootless"
    } else {
        "sudo vxlab"
    }
}

/// Fails with advice unless this process may create namespaces.
pub fn require_root(what: &str) -> Result<()> {
    const CAP_NET_ADMIN: u32 = 12;
    const CAP_SYS_ADMIN: u32 = 21;
    let caps = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("CapEff:")
                    .map(|v| u64::from_str_radix(v.trim(), 16))
            })
        })
        .and_then(Result::ok)
        .unwrap_or(0);
    let has = |c: u32| caps & (1 << c) != 0;
    if !(has(CAP_NET_ADMIN) && has(CAP_SYS_ADMIN)) {
        bail!(
            "`vxlab {what}` needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN) to create and enter network \
             namespaces: run it with sudo, or without root as `vxlab --rootless {what} …` (the \
             labs then live in a user namespace of yours; no IPVS there). `vxlab lint`, `vxlab \
             script` and `vxlab read` work without root."
        );
    }
    Ok(())
}
