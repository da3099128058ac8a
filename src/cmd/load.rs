//! Finding a lab: a scenario file, a built-in lab's name, or the name of a lab that is up.

use std::path::Path;

use anyhow::{Context, Result, bail};
use vxlab::diag::render;
use vxlab::labs;
use vxlab::lifecycle;
use vxlab::model::{Lab, LabName};

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
    if Path::new(arg).is_dir() {
        bail!("{}", directory_given(arg));
    }
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

/// What to say when a directory is given where a scenario file or a lab is expected.
fn directory_given(arg: &str) -> String {
    let mut tomls: Vec<String> = std::fs::read_dir(arg)
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| {
                    Path::new(n)
                        .extension()
                        .is_some_and(|e| e.eq_ignore_ascii_case("toml"))
                })
                .collect()
        })
        .unwrap_or_default();
    tomls.sort();
    let hint = match tomls.first() {
        Some(first) => format!(
            "; name one of its scenario files, e.g. {}",
            Path::new(arg).join(first).display()
        ),
        None => String::new(),
    };
    format!("`{arg}` is a directory, not a scenario file or a lab name{hint}")
}

/// The labs that are up on this machine, for error messages.
pub fn labs_up_note() -> String {
    let up = lifecycle::labs_up();
    if up.is_empty() {
        "no lab is up".to_string()
    } else {
        let names: Vec<&str> = up.iter().map(LabName::as_str).collect();
        format!("labs up: {}", names.join(", "))
    }
}

/// `arg` as a lab name, or an error saying what a lab name is and which labs are up. A
/// directory (`vxlab down /some/dir`) is refused as such.
pub fn checked_name(arg: &str) -> Result<LabName> {
    if Path::new(arg).is_dir() && LabName::new(arg).is_err() {
        bail!("{}; {}", directory_given(arg), labs_up_note());
    }
    LabName::new(arg).map_err(|e| anyhow::anyhow!("{e}; {}", labs_up_note()))
}

/// The name of the lab `arg` designates: a file's `[lab] name`, or `arg` itself, checked
/// as a lab name, when it is not a file. Nothing is touched before the check.
pub fn lab_name(arg: &str) -> Result<LabName> {
    if Path::new(arg).is_file() {
        return Ok(load(arg)?.lab.name);
    }
    checked_name(arg)
}

/// Fails, saying what a node id is, unless `node` could name a node (`HOST` or
/// `HOST/NAME`).
pub fn check_node(node: &str) -> Result<()> {
    vxlab::model::check_node_id(node).map_err(|why| {
        let why = why.split(';').next().unwrap_or_default();
        anyhow::anyhow!(
            "`{}` is not a valid node: {why}; a node is HOST or HOST/NAME, each of letters, \
             digits, `_` and `-` (`vxlab status LAB` lists them)",
            node.escape_debug()
        )
    })
}

/// The validated lab of a lab that is up, from its record (or, for a scenario file or a
/// built-in lab's name, its definition).
pub fn running(arg: &str) -> Result<Loaded> {
    let file = Path::new(arg).is_file();
    match LabName::new(arg) {
        Ok(name) if !file || lifecycle::recorded_source(&name).is_ok() => running_lab(&name),
        _ if file => load(arg),
        _ => running_lab(&checked_name(arg)?),
    }
}

/// The validated lab of lab `name`, from its record (or its built-in definition).
pub fn running_lab(name: &LabName) -> Result<Loaded> {
    let recorded = match lifecycle::recorded_source(name) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => bail!(
            "cannot read the record of lab `{name}`: {e}; remove the lab with `vxlab down {name}`"
        ),
    };
    if let Some(text) = recorded {
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
    if labs::builtin(name).is_none() {
        bail!(
            "lab `{name}` is not up (no record in {}), and it is neither a scenario file nor a \
             built-in lab; {}",
            lifecycle::STATE_DIR,
            labs_up_note()
        );
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
