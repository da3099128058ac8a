//! `vxlab ovs-host`: one emulated machine's Open vSwitch, for labs that model OVS with its
//! own CLI (labs/ovs-vxlan.toml). Run inside the host's namespace as a lab `[[process]]`,
//! it creates the OVS database in a directory of the lab's state, starts `ovsdb-server`
//! and `ovs-vswitchd` (detached, their sockets, pid files and logs in that directory), runs
//! one `ovs-vsctl` transaction against that database with every bridge it adds on the
//! lab's datapath, and then does what the datapath needs around it: on the userspace
//! datapath, moves the underlay address onto an OVS bridge; flows (`ovs-ofctl add-flow`).
//! It exits when all that is done, leaving the daemons running (`vxlab down` stops every
//! process of the lab's namespaces) and a `ready` file in the directory.

use std::ffi::OsStr;
use std::fs;
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};
use clap::Args;
use futures::TryStreamExt;
use rtnetlink::packet_route::AddressFamily;
use rtnetlink::packet_route::address::AddressAttribute;
use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute, RouteMessage, RouteProtocol};
use rtnetlink::{Handle, LinkUnspec, RouteMessageBuilder};
use vxlab::model::OvsDatapath;

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
    /// The datapath of every bridge the transaction adds (`add-br NAME`): `system` (the
    /// kernel's, module openvswitch) or `netdev` (userspace, inside ovs-vswitchd).
    #[arg(long, value_name = "DATAPATH", default_value = "system")]
    datapath: OvsDatapath,
    /// On the userspace datapath only: add bridge BRIDGE with DEV as its port, and move
    /// DEV's IPv4 addresses (and its routes) to BRIDGE's internal port, since that
    /// datapath's tunnels leave through an OVS bridge. The kernel datapath's tunnels leave
    /// through the kernel's routing: DEV is left alone. Repeatable.
    #[arg(long, value_name = "DEV=BRIDGE")]
    userspace_underlay: Vec<String>,
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
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let ready = dir.join("ready");
    let _ = fs::remove_file(&ready);
    let underlays = a
        .userspace_underlay
        .iter()
        .map(|u| {
            u.split_once('=')
                .with_context(|| format!("--userspace-underlay {u}: expected DEV=BRIDGE"))
        })
        .collect::<Result<Vec<_>>>()?;
    let underlays = match a.datapath {
        OvsDatapath::Netdev => underlays,
        OvsDatapath::System => Vec::new(),
    };
    println!(
        "ovs-host: {} (datapath_type={})",
        a.datapath.describe(),
        a.datapath
    );
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
    let commands = transaction(&a.vsctl, a.datapath, &underlays);
    if !commands.is_empty() {
        // Without --no-wait, ovs-vsctl returns once ovs-vswitchd has applied the change,
        // so the bridges' internal ports exist below.
        let mut args = vec![format!("--db={sock}"), "--timeout=30".into()];
        args.extend(commands);
        ovs.run("ovs-vsctl", args)?;
    }
    if !underlays.is_empty() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        rt.block_on(async {
            let (conn, handle, _) =
                rtnetlink::new_connection().context("cannot open an rtnetlink socket")?;
            tokio::spawn(conn);
            for (dev, bridge) in &underlays {
                move_addresses(&handle, dev, bridge)
                    .await
                    .with_context(|| format!("cannot move {dev}'s addresses to {bridge}"))?;
            }
            anyhow::Ok(())
        })?;
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

/// The `ovs-vsctl` transaction: the lab's commands, each bridge they add put on
/// `datapath`, then the userspace underlay bridges (`(DEV, BRIDGE)`) with their ports.
fn transaction(vsctl: &[String], datapath: OvsDatapath, underlays: &[(&str, &str)]) -> Vec<String> {
    let mut out = vsctl.to_vec();
    let mut cmd = |words: &[&str]| {
        if !out.is_empty() {
            out.push("--".into());
        }
        out.extend(words.iter().map(ToString::to_string));
    };
    let datapath_type = format!("datapath_type={datapath}");
    for bridge in added_bridges(vsctl) {
        cmd(&["set", "bridge", bridge, &datapath_type]);
    }
    for (dev, bridge) in underlays {
        cmd(&["add-br", bridge]);
        cmd(&["set", "bridge", bridge, &datapath_type]);
        cmd(&["add-port", bridge, dev]);
    }
    out
}

/// The bridges `ovs-vsctl` commands add: the argument of each `add-br` (whose options,
/// such as `--may-exist`, come before it).
fn added_bridges(vsctl: &[String]) -> Vec<&str> {
    vsctl
        .split(|w| w == "--")
        .filter_map(|command| {
            let mut words = command
                .iter()
                .map(String::as_str)
                .skip_while(|w| w.starts_with("--"));
            (words.next()? == "add-br").then(|| words.next())?
        })
        .collect()
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

/// The index of link `name` in the namespace of `handle`.
async fn index(handle: &Handle, name: &str) -> Result<u32> {
    let link = handle
        .link()
        .get()
        .match_name(name.to_string())
        .execute()
        .try_next()
        .await
        .with_context(|| format!("no link {name}"))?
        .with_context(|| format!("no link {name}"))?;
    Ok(link.header.index)
}

/// Moves `dev`'s IPv4 addresses, and the routes through it that the kernel did not make
/// itself, to `bridge`, and brings `bridge` up (`ip addr del/add`, `ip route replace`).
async fn move_addresses(handle: &Handle, dev: &str, bridge: &str) -> Result<()> {
    let from = index(handle, dev).await?;
    let to = index(handle, bridge).await?;
    let addresses: Vec<_> = handle
        .address()
        .get()
        .set_link_index_filter(from)
        .execute()
        .try_filter(|a| futures::future::ready(a.header.family == AddressFamily::Inet))
        .try_collect()
        .await?;
    // Read before the addresses go: removing them takes their gateways' routes along.
    let routes: Vec<RouteMessage> = handle
        .route()
        .get(RouteMessageBuilder::<Ipv4Addr>::new().build())
        .execute()
        .try_filter(|r| {
            futures::future::ready(
                r.header.protocol != RouteProtocol::Kernel
                    && r.attributes.contains(&RouteAttribute::Oif(from)),
            )
        })
        .try_collect()
        .await?;
    handle
        .link()
        .set(LinkUnspec::new_with_index(to).up().build())
        .execute()
        .await?;
    for a in addresses {
        let local = a.attributes.iter().find_map(|x| match x {
            AddressAttribute::Local(ip) | AddressAttribute::Address(ip) => Some(*ip),
            _ => None,
        });
        let Some(ip @ IpAddr::V4(_)) = local else {
            continue;
        };
        let prefix = a.header.prefix_len;
        println!("ovs-host: ip addr del {ip}/{prefix} dev {dev}");
        println!("ovs-host: ip addr add {ip}/{prefix} dev {bridge}");
        handle.address().del(a).execute().await?;
        handle.address().add(to, ip, prefix).execute().await?;
    }
    for r in routes {
        let mut moved = RouteMessage::default();
        moved.header = r.header.clone();
        moved.attributes = r
            .attributes
            .into_iter()
            .filter(|x| {
                matches!(
                    x,
                    RouteAttribute::Destination(_)
                        | RouteAttribute::Gateway(_)
                        | RouteAttribute::PrefSource(_)
                        | RouteAttribute::Priority(_)
                        | RouteAttribute::Table(_)
                )
            })
            .chain([RouteAttribute::Oif(to)])
            .collect();
        println!("ovs-host: ip route replace {} dev {bridge}", shown(&moved));
        handle.route().add(moved).replace().execute().await?;
    }
    Ok(())
}

/// A route's destination and gateway, as `ip route` writes them.
fn shown(r: &RouteMessage) -> String {
    let mut to = "default".to_string();
    let mut via = String::new();
    for a in &r.attributes {
        match a {
            RouteAttribute::Destination(RouteAddress::Inet(d)) => {
                to = format!("{d}/{}", r.header.destination_prefix_length);
            }
            RouteAttribute::Gateway(RouteAddress::Inet(g)) => via = format!(" via {g}"),
            _ => {}
        }
    }
    format!("{to}{via}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn every_added_bridge_goes_on_the_datapath() {
        let lab = words(
            "add-br br1 -- add-port br1 veth-c1 -- --may-exist add-br br2 -- set interface vxlan1 type=vxlan",
        );
        assert_eq!(added_bridges(&lab), ["br1", "br2"]);
        assert_eq!(
            transaction(&lab, OvsDatapath::System, &[]).join(" "),
            "add-br br1 -- add-port br1 veth-c1 -- --may-exist add-br br2 -- set interface vxlan1 type=vxlan \
             -- set bridge br1 datapath_type=system -- set bridge br2 datapath_type=system"
        );
    }

    #[test]
    fn the_userspace_underlay_bridge_takes_the_device() {
        let lab = words("add-br br1");
        assert_eq!(
            transaction(&lab, OvsDatapath::Netdev, &[("eth0", "br-phy")]).join(" "),
            "add-br br1 -- set bridge br1 datapath_type=netdev \
             -- add-br br-phy -- set bridge br-phy datapath_type=netdev -- add-port br-phy eth0"
        );
        assert_eq!(
            transaction(&[], OvsDatapath::Netdev, &[("eth0", "br-phy")]).join(" "),
            "add-br br-phy -- set bridge br-phy datapath_type=netdev -- add-port br-phy eth0"
        );
    }
}
