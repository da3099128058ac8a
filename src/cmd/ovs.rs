//! `vxlab ovs-host`: one emulated machine's Open vSwitch, for labs that model OVS with its
//! own CLI (labs/ovs-vxlan.toml). Run inside the host's namespace as a lab `[[process]]`,
//! it creates the OVS database in a directory of the lab's state, starts `ovsdb-server`
//! and `ovs-vswitchd` (detached, their sockets, pid files and logs in that directory), runs
//! one `ovs-vsctl` transaction against that database, and then does what the userspace
//! datapath needs around it: moves the underlay address onto an OVS bridge, adds flows
//! (`ovs-ofctl add-flow`). It exits when all that is done, leaving the daemons running
//! (`vxlab down` stops every process of the lab's namespaces) and a `ready` file in the
//! directory.

use std::ffi::OsStr;
use std::fs;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};
use clap::Args;

/// Arguments of `vxlab ovs-host`.
#[derive(Args)]
pub struct OvsHostArgs {
    /// Directory of this host's OVS: conf.db, db.sock, pid files, control sockets, logs.
    /// Created if missing.
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,
    /// The OVS database schema.
    #[arg(
        long,
        value_name = "FILE",
        default_value = "/usr/share/openvswitch/vswitch.ovsschema"
    )]
    schema: PathBuf,
    /// After the transaction: move every IPv4 address of DEV (and its non-connected
    /// routes) to BRIDGE's internal port and bring it up, as the userspace datapath's
    /// tunnels need (their underlay must be reached through an OVS bridge). Repeatable.
    #[arg(long, value_name = "DEV=BRIDGE")]
    move_address: Vec<String>,
    /// After the transaction: `ovs-ofctl add-flow BRIDGE FLOW`. Repeatable.
    #[arg(long, value_name = "BRIDGE=FLOW")]
    flow: Vec<String>,
    /// The `ovs-vsctl` commands, run as one transaction (separate commands with `--`).
    #[arg(last = true, value_name = "OVS-VSCTL-ARGS")]
    vsctl: Vec<String>,
}

/// `vxlab ovs-host`
pub fn ovs_host(a: &OvsHostArgs) -> Result<ExitCode> {
    let dir = std::path::absolute(&a.dir)
        .with_context(|| format!("bad directory {}", a.dir.display()))?;
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let ready = dir.join("ready");
    let _ = fs::remove_file(&ready);
    let ovs = Ovs { dir: dir.clone() };
    let db = dir.join("conf.db");
    if !db.exists() {
        ovs.run(
            "ovsdb-tool",
            [OsStr::new("create"), db.as_os_str(), a.schema.as_os_str()],
        )?;
    }
    let sock = format!("unix:{}", dir.join("db.sock").display());
    ovs.run(
        "ovsdb-server",
        [
            db.to_string_lossy().into_owned(),
            format!("--remote=p{sock}"),
            ovs.flag("pidfile", "ovsdb-server.pid"),
            ovs.flag("unixctl", "ovsdb-server.ctl"),
            ovs.flag("log-file", "ovsdb-server.log"),
            "--detach".into(),
        ],
    )?;
    ovs.run(
        "ovs-vsctl",
        [format!("--db={sock}"), "--no-wait".into(), "init".into()],
    )?;
    ovs.run(
        "ovs-vswitchd",
        [
            sock.clone(),
            ovs.flag("pidfile", "ovs-vswitchd.pid"),
            ovs.flag("unixctl", "ovs-vswitchd.ctl"),
            ovs.flag("log-file", "ovs-vswitchd.log"),
            "--detach".into(),
        ],
    )?;
    if !a.vsctl.is_empty() {
        // Without --no-wait, ovs-vsctl returns once ovs-vswitchd has applied the change,
        // so the bridges' internal ports exist below.
        let mut args = vec![format!("--db={sock}"), "--timeout=30".into()];
        args.extend(a.vsctl.iter().cloned());
        ovs.run("ovs-vsctl", args)?;
    }
    for m in &a.move_address {
        let (dev, bridge) = m
            .split_once('=')
            .with_context(|| format!("--move-address {m}: expected DEV=BRIDGE"))?;
        move_addresses(&ovs, dev, bridge)?;
    }
    for f in &a.flow {
        let (bridge, flow) = f
            .split_once('=')
            .with_context(|| format!("--flow {f}: expected BRIDGE=FLOW"))?;
        let target = format!("unix:{}", dir.join(format!("{bridge}.mgmt")).display());
        ovs.run("ovs-ofctl", ["add-flow", &target, flow])?;
    }
    fs::write(&ready, "").with_context(|| format!("cannot write {}", ready.display()))?;
    println!("ovs-host: ready ({})", dir.display());
    Ok(ExitCode::SUCCESS)
}

/// The OVS programs of one host, all pointed at its directory.
struct Ovs {
    dir: PathBuf,
}

impl Ovs {
    /// `--NAME=DIR/FILE`.
    fn flag(&self, name: &str, file: &str) -> String {
        format!("--{name}={}", self.dir.join(file).display())
    }

    /// Runs `program` with `args` and the OVS directories set to this host's, failing
    /// with its output if it fails; returns its stdout.
    fn run<I, S>(&self, program: &str, args: I) -> Result<String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<_> = args.into_iter().map(|s| s.as_ref().to_owned()).collect();
        let shown = args
            .iter()
            .map(|s| s.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ");
        println!("ovs-host: {program} {shown}");
        let out = Command::new(program)
            .args(&args)
            .envs(["OVS_RUNDIR", "OVS_DBDIR", "OVS_LOGDIR"].map(|k| (k, &self.dir)))
            .output()
            .with_context(|| format!("cannot run {program} (is Open vSwitch installed?)"))?;
        if !out.status.success() {
            bail!(
                "`{program} {shown}` failed ({}): {}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout).trim(),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// Moves `dev`'s IPv4 addresses, and the routes through it that the kernel did not make
/// itself, to `bridge`, and brings `bridge` up.
fn move_addresses(ovs: &Ovs, dev: &str, bridge: &str) -> Result<()> {
    let ip = |args: &[&str]| ovs.run("ip", args);
    let addrs = ip(&["-4", "-o", "addr", "show", "dev", dev])?;
    let addrs: Vec<&str> = addrs
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            words.find(|w| *w == "inet")?;
            words.next()
        })
        .collect();
    let routes = ip(&["-4", "-o", "route", "show", "dev", dev])?;
    let routes: Vec<&str> = routes
        .lines()
        .filter(|l| !l.contains("proto kernel"))
        .collect();
    ip(&["link", "set", bridge, "up"])?;
    for a in &addrs {
        ip(&["addr", "del", a, "dev", dev])?;
        ip(&["addr", "add", a, "dev", bridge])?;
    }
    for r in &routes {
        let mut args = vec!["route", "replace"];
        args.extend(r.split_whitespace());
        args.extend(["dev", bridge]);
        ip(&args)?;
    }
    Ok(())
}
