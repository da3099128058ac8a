//! `lint`, `up`, `down`, `exec`, `script`, `labs` and `serve-http`.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;
use vxlab::kernel::{FailAt, Netlink};
use vxlab::model::{Lab, NodeKind, OvsDatapath, netns_name};
use vxlab::plan::script::{down_script, up_script};
use vxlab::plan::{Op, plan};
use vxlab::{httpd, labs, lifecycle, netns};

use super::load::{invocation, load, require_root};

/// `vxlab lint FILE...`
#[derive(Args)]
pub struct LintArgs {
    /// Scenario files (or built-in lab names).
    #[arg(required = true)]
    files: Vec<String>,
}

/// `vxlab up LAB`
#[derive(Args)]
pub struct UpArgs {
    /// Scenario file, or built-in lab name.
    lab: String,
    /// Bring it up under another name, so several copies can run at once.
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// Print nothing but errors.
    #[arg(short, long)]
    quiet: bool,
    /// Build the lab's IPVS services with an nftables emulation instead of the kernel's
    /// IPVS (for kernels without `ip_vs`); `status` and `script` mark them emulated.
    #[arg(long)]
    emulate_ipvs: bool,
    /// The datapath of the lab's Open vSwitch bridges, for labs that run OVS.
    #[arg(long, value_enum, value_name = "DATAPATH", default_value_t = DatapathChoice::Auto)]
    ovs_datapath: DatapathChoice,
}

/// Which datapath a lab's Open vSwitch bridges use (`--ovs-datapath`).
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum DatapathChoice {
    /// The kernel's if module openvswitch is loaded, else OVS's userspace datapath.
    Auto,
    /// The kernel's: `datapath_type=system` (needs module openvswitch).
    System,
    /// OVS's userspace datapath, inside ovs-vswitchd: `datapath_type=netdev`.
    Netdev,
}

impl DatapathChoice {
    /// The datapath chosen, on this machine.
    fn resolve(self) -> OvsDatapath {
        match self {
            Self::Auto => vxlab::ovs::preferred_datapath(),
            Self::System => OvsDatapath::System,
            Self::Netdev => OvsDatapath::Netdev,
        }
    }
}

/// `vxlab down LAB`
#[derive(Args)]
pub struct DownArgs {
    /// Lab name, or the scenario file it was built from.
    lab: String,
}

/// `vxlab exec LAB NODE -- CMD...`
#[derive(Args)]
pub struct ExecArgs {
    /// Lab name.
    lab: String,
    /// Node: HOST or HOST/NAME, e.g. hostA/container.
    node: String,
    /// The command and its arguments (after `--`).
    #[arg(last = true, required = true)]
    command: Vec<String>,
}

/// `vxlab script LAB`
#[derive(Args)]
pub struct ScriptArgs {
    /// Scenario file, or built-in lab name.
    lab: String,
    /// Print the teardown script instead.
    #[arg(long)]
    down: bool,
    /// Print the IPVS services as their nftables emulation (what `up --emulate-ipvs`
    /// builds) instead of ipvsadm commands.
    #[arg(long)]
    emulate_ipvs: bool,
    /// The datapath of the lab's Open vSwitch bridges (`auto`: what `up` would choose on
    /// this machine).
    #[arg(long, value_enum, value_name = "DATAPATH", default_value_t = DatapathChoice::System)]
    ovs_datapath: DatapathChoice,
}

/// `vxlab serve-http`
#[derive(Args)]
pub struct ServeHttpArgs {
    /// TCP port.
    #[arg(long)]
    port: u16,
    /// Text of every answer.
    #[arg(long)]
    text: String,
}

pub(super) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// `vxlab lint`
#[expect(
    clippy::unnecessary_wraps,
    reason = "every subcommand returns Result<ExitCode>"
)]
pub fn lint(a: &LintArgs) -> Result<ExitCode> {
    use std::fmt::Write as _;
    let mut failed = 0;
    for f in &a.files {
        match load(f) {
            Ok(l) => {
                let lab = &l.lab;
                let mut extra = String::new();
                for (n, what) in [
                    (lab.nat.len(), "NAT rule"),
                    (lab.services.len(), "service"),
                    (lab.ipvs.len(), "IPVS service"),
                ] {
                    if n > 0 {
                        let s = if n == 1 { "" } else { "s" };
                        let _ = write!(extra, ", {n} {what}{s}");
                    }
                }
                println!(
                    "{}: ok — lab `{}`: {} namespaces, {} veth pairs, {} bridges, {} vxlan{extra}, {} steps",
                    l.origin,
                    lab.name,
                    lab.nodes.len(),
                    lab.veths.len(),
                    lab.bridges.len(),
                    lab.vxlans.len(),
                    plan(lab).len()
                );
            }
            Err(e) => {
                eprintln!("{e:#}");
                failed += 1;
            }
        }
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `vxlab up`
pub fn up(a: &UpArgs) -> Result<ExitCode> {
    let mut l = load(&a.lab)?;
    if let Some(name) = &a.name {
        l.lab = l.lab.renamed(&vxlab::model::LabName::new(name)?);
    }
    if a.emulate_ipvs {
        l.lab = l.lab.emulate_ipvs();
    } else if l.lab.needs_kernel_ipvs()
        && let Some(why) = vxlab::ipvs::unavailable()
    {
        let s = l
            .lab
            .ipvs
            .iter()
            .find(|s| !s.emulated)
            .map(ToString::to_string);
        bail!(
            "{why}, and lab `{}` has IPVS service {}; nothing was changed.\n  Build it with an \
             nftables emulation of IPVS instead:  {} up --emulate-ipvs {}{}",
            l.lab.name,
            s.unwrap_or_default(),
            invocation(),
            a.name
                .as_ref()
                .map(|n| format!("--name {n} "))
                .unwrap_or_default(),
            a.lab
        );
    }
    if l.lab.uses_ovs() {
        l.lab = l.lab.with_ovs_datapath(a.ovs_datapath.resolve());
    }
    require_root("up")?;
    build(&l.lab, &l.text, a.quiet)?;
    if !a.quiet {
        hints(&l.lab);
    }
    Ok(ExitCode::SUCCESS)
}

/// `lab` as this kernel can build it, saying so: IPVS emulated if it needs IPVS and the
/// kernel has none; its Open vSwitch on the kernel's datapath if there is one, else on
/// the userspace datapath.
pub(crate) fn for_this_kernel(lab: Lab) -> Lab {
    let lab = emulate_ipvs_if_missing(lab);
    if !lab.uses_ovs() {
        return lab;
    }
    let lab = lab.with_ovs_datapath(vxlab::ovs::preferred_datapath());
    eprintln!(
        "vxlab: Open vSwitch of lab `{}`: {}",
        lab.name,
        ovs_statement(lab.ovs_datapath)
    );
    lab
}

/// What a lab's Open vSwitch runs on, and why, in one line.
pub(crate) fn ovs_statement(datapath: OvsDatapath) -> String {
    let why = match datapath {
        OvsDatapath::System => "module openvswitch",
        OvsDatapath::Netdev if vxlab::ovs::kernel_has_datapath() => "chosen with --ovs-datapath",
        OvsDatapath::Netdev => "module openvswitch is not loaded",
    };
    format!("{} (datapath_type={datapath}; {why})", datapath.describe())
}

/// `lab` with IPVS emulated if it needs IPVS and this kernel has none, saying so.
pub(crate) fn emulate_ipvs_if_missing(lab: Lab) -> Lab {
    if lab.needs_kernel_ipvs()
        && let Some(why) = vxlab::ipvs::unavailable()
    {
        eprintln!(
            "vxlab: {why}: the IPVS services of lab `{}` are EMULATED with nftables (as with \
             `vxlab up --emulate-ipvs`; see `vxlab status`)",
            lab.name
        );
        return lab.emulate_ipvs();
    }
    lab
}

pub(super) fn build(lab: &Lab, text: &str, quiet: bool) -> Result<()> {
    let rt = runtime()?;
    let mut kernel = Netlink::new();
    kernel.log_dir = Some(lifecycle::state_dir(&lab.name));
    let tty = std::io::stderr().is_terminal();
    let started = std::time::Instant::now();
    let progress = |i: usize, n: usize, op: &Op| {
        if quiet {
            return;
        }
        let mut err = std::io::stderr().lock();
        if tty {
            let cmd: String = op.command().chars().take(100).collect();
            let _ = write!(err, "\r\x1b[2K[{i:>3}/{n}] {cmd}");
        } else {
            let _ = writeln!(err, "[{i:>3}/{n}] {}", op.command());
        }
    };
    let fail_at = std::env::var(lifecycle::FAIL_AT_STEP_ENV)
        .ok()
        .and_then(|v| v.parse().ok());
    let result = match fail_at {
        Some(at) => rt.block_on(lifecycle::up(
            lab,
            text,
            &mut FailAt::new(kernel, at),
            progress,
        )),
        None => rt.block_on(lifecycle::up(lab, text, &mut kernel, progress)),
    };
    if tty && !quiet {
        eprint!("\r\x1b[2K");
    }
    result?;
    if !quiet {
        eprintln!(
            "lab `{}` is up: {} namespaces, {} steps in {:.2?}",
            lab.name,
            lab.nodes.len(),
            plan(lab).len(),
            started.elapsed()
        );
    }
    Ok(())
}

fn hints(lab: &Lab) {
    let first = lab
        .nodes
        .iter()
        .find(|n| n.kind == NodeKind::Namespace)
        .or(lab.nodes.first());
    if lab.ipvs_emulated() {
        println!("IPVS:         EMULATED with nftables (no usable ip_vs here)");
    }
    if lab.uses_ovs() {
        println!("Open vSwitch: {}", ovs_statement(lab.ovs_datapath));
    }
    let vxlab = invocation();
    println!("Look inside:  {vxlab} status {}", lab.name);
    if let Some(n) = first {
        println!(
            "Run in a node: {vxlab} exec {} {} -- ip addr",
            lab.name, n.id
        );
    }
    println!("Remove it:    {vxlab} down {}", lab.name);
}

/// `vxlab down`
pub fn down(a: &DownArgs) -> Result<ExitCode> {
    let name = super::load::lab_name(&a.lab)?;
    require_root("down")?;
    let rt = runtime()?;
    let t = rt.block_on(lifecycle::down(&name, &mut Netlink::new()))?;
    if t.namespaces.is_empty() {
        if t.errors.is_empty() {
            println!("lab `{name}` is not up; nothing to remove");
        }
    } else {
        println!(
            "lab `{name}` removed: {} namespaces, {} processes stopped",
            t.namespaces.len(),
            t.processes
        );
    }
    for e in &t.errors {
        eprintln!("vxlab: {e}");
    }
    Ok(if t.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `vxlab exec`
pub fn exec(a: &ExecArgs) -> Result<ExitCode> {
    require_root("exec")?;
    let lab = super::load::checked_name(&a.lab)?;
    let ns = netns_name(&lab, &a.node);
    if super::load::check_node(&a.node).is_err() || !netns::exists(&ns) {
        let nodes: Vec<String> = lifecycle::namespaces_of(&lab)
            .iter()
            .map(|n| node_of(&lab, n))
            .collect();
        if nodes.is_empty() {
            bail!(
                "lab `{lab}` is not up; start it with `vxlab up {lab}`; {}",
                super::load::labs_up_note()
            );
        }
        super::load::check_node(&a.node)?;
        bail!(
            "lab `{}` has no node `{}`; its nodes: {}",
            a.lab,
            a.node,
            nodes.join(", ")
        );
    }
    let status = netns::exec(&ns, &a.command)
        .with_context(|| format!("cannot run `{}` in {}", a.command[0], a.node))?;
    Ok(ExitCode::from(
        status
            .code()
            .and_then(|c| u8::try_from(c).ok())
            .unwrap_or(1),
    ))
}

/// The node id of namespace `ns` of lab `lab`.
pub fn node_of(lab: &str, ns: &str) -> String {
    let rest = ns
        .strip_prefix(&vxlab::model::netns_prefix(lab))
        .unwrap_or(ns);
    rest.replacen('.', "/", 1)
}

/// `vxlab script`
pub fn script(a: &ScriptArgs) -> Result<ExitCode> {
    let mut l = load(&a.lab)?;
    if a.emulate_ipvs {
        l.lab = l.lab.emulate_ipvs();
    }
    if l.lab.uses_ovs() {
        l.lab = l.lab.with_ovs_datapath(a.ovs_datapath.resolve());
    }
    let text = if a.down {
        down_script(&l.lab)
    } else {
        up_script(&l.lab, &plan(&l.lab))
    };
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}

/// `vxlab labs`
#[expect(
    clippy::unnecessary_wraps,
    reason = "every subcommand returns Result<ExitCode>"
)]
pub fn labs() -> Result<ExitCode> {
    for (name, text) in labs::BUILTIN {
        let title = vxlab::model::Lab::from_source(text)
            .ok()
            .and_then(|l| l.title)
            .unwrap_or_default();
        let up = if vxlab::model::LabName::new(name)
            .map(|n| lifecycle::namespaces_of(&n))
            .unwrap_or_default()
            .is_empty()
        {
            ""
        } else {
            "  [up]"
        };
        println!("{name:<18} {title}{up}");
    }
    Ok(ExitCode::SUCCESS)
}

/// `vxlab serve-http`
pub fn serve_http(a: &ServeHttpArgs) -> Result<ExitCode> {
    httpd::serve(a.port, &a.text)
        .with_context(|| format!("cannot serve HTTP on port {}", a.port))?;
    Ok(ExitCode::SUCCESS)
}

/// `vxlab gc`
pub fn gc() -> Result<ExitCode> {
    require_root("gc")?;
    let found = runtime()?.block_on(lifecycle::gc(&mut Netlink::new()))?;
    if found.is_empty() {
        println!("nothing to collect: every lab on this machine finished building");
    }
    let mut errors = 0;
    for c in &found {
        println!(
            "removed lab `{}` ({}): {} namespaces, {} processes",
            c.lab,
            c.reason,
            c.teardown.namespaces.len(),
            c.teardown.processes
        );
        for e in &c.teardown.errors {
            eprintln!("vxlab: {e}");
            errors += 1;
        }
    }
    Ok(if errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
