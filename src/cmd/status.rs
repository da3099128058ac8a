//! `vxlab status`: what is up, read back from the kernel.

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use serde::Serialize;
use vxlab::conntrack::CtRow;
use vxlab::ipvs::ServiceRow;
use vxlab::kernel::connect;
use vxlab::lifecycle;
use vxlab::model::{Lab, OvsDatapath};
use vxlab::observe::{Tables, dump};

use super::lab_cmds::{node_of, ovs_statement, runtime};

/// `vxlab status [LAB] [--json]`
#[derive(Args)]
pub struct StatusArgs {
    /// Only this lab.
    lab: Option<String>,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

/// One node of a running lab, as the kernel reports it.
#[derive(Serialize)]
struct NodeStatus {
    node: String,
    netns: String,
    #[serde(flatten)]
    tables: Tables,
    /// IPVS virtual services (emulated ones from the lab, marked `emulated`).
    ipvs: Vec<ServiceRow>,
    /// The conntrack table.
    conntrack: Vec<CtRow>,
    /// Why the conntrack table could not be read, if it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    conntrack_error: Option<String>,
}

#[derive(Serialize)]
struct LabStatus {
    name: String,
    /// Its IPVS services are emulated with nftables (`up --emulate-ipvs`).
    ipvs_emulated: bool,
    /// The datapath of its Open vSwitch bridges, if it runs OVS.
    #[serde(skip_serializing_if = "Option::is_none")]
    ovs_datapath: Option<OvsDatapath>,
    nodes: Vec<NodeStatus>,
}

/// The IPVS services of node `node`: emulated ones as the lab defines them, the others
/// as the kernel reports them.
fn ipvs_of(lab: Option<&Lab>, node: &str, ns: &str) -> Result<Vec<ServiceRow>> {
    let Some(lab) = lab else {
        return Ok(Vec::new());
    };
    let mine: Vec<_> = lab.ipvs.iter().filter(|s| s.node == node).collect();
    let mut rows: Vec<ServiceRow> = mine
        .iter()
        .filter(|s| s.emulated)
        .map(|s| ServiceRow::emulated(s))
        .collect();
    if mine.iter().any(|s| !s.emulated) {
        rows.extend(vxlab::ipvs::list(ns).with_context(|| format!("cannot read IPVS of {node}"))?);
    }
    Ok(rows)
}

fn read_lab(name: &vxlab::model::LabName) -> Result<LabStatus> {
    let rt = runtime()?;
    let lab = super::load::running_lab(name).ok().map(|l| l.lab);
    let mut nodes = Vec::new();
    for ns in lifecycle::namespaces_of(name) {
        let tables = rt
            .block_on(async {
                let h = connect(&ns)?;
                dump(&h).await.map_err(std::io::Error::other)
            })
            .with_context(|| format!("cannot read namespace {ns}"))?;
        let node = node_of(name, &ns);
        let (conntrack, conntrack_error) = match vxlab::conntrack::dump(&ns) {
            Ok(rows) => (rows, None),
            Err(e) => (Vec::new(), Some(e.to_string())),
        };
        nodes.push(NodeStatus {
            ipvs: ipvs_of(lab.as_ref(), &node, &ns)?,
            node,
            netns: ns,
            tables,
            conntrack,
            conntrack_error,
        });
    }
    Ok(LabStatus {
        name: name.to_string(),
        ipvs_emulated: lab.as_ref().is_some_and(Lab::ipvs_emulated),
        ovs_datapath: lab
            .as_ref()
            .filter(|l| l.uses_ovs())
            .map(|l| l.ovs_datapath),
        nodes,
    })
}

/// `vxlab status`
pub fn status(a: &StatusArgs) -> Result<ExitCode> {
    super::load::require_root("status")?;
    let names = match &a.lab {
        Some(l) => vec![super::load::lab_name(l)?],
        None => lifecycle::labs_up(),
    };
    if a.json {
        let labs = names.iter().map(read_lab).collect::<Result<Vec<_>>>()?;
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "labs": labs }))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    if names.is_empty() {
        println!(
            "no lab is up; start one with `{} up LAB` (see `vxlab labs`)",
            super::load::invocation()
        );
    }
    for n in &names {
        print_lab(n, true)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints lab `name`'s nodes with their links and addresses (and, if `full`, routes,
/// neighbours and FDB).
pub fn print_lab(name: &vxlab::model::LabName, full: bool) -> Result<()> {
    let s = read_lab(name)?;
    if s.nodes.is_empty() {
        println!("lab `{name}` is not up");
        return Ok(());
    }
    println!("lab {name}: {} namespaces", s.nodes.len());
    if let Some(datapath) = s.ovs_datapath {
        println!("  Open vSwitch: {}", ovs_statement(datapath));
    }
    for n in &s.nodes {
        println!("\n  {}  ({})", n.node, n.netns);
        for l in &n.tables.links {
            let addrs: Vec<&str> = n
                .tables
                .addresses
                .iter()
                .filter(|a| a.dev == l.name && !a.address.starts_with("fe80"))
                .map(|a| a.address.as_str())
                .collect();
            let master = l
                .master
                .as_ref()
                .map(|m| format!(" master {m}"))
                .unwrap_or_default();
            let vx = l
                .vxlan
                .as_ref()
                .map(|v| {
                    format!(
                        " vni {} dstport {}{}{}",
                        v.vni,
                        v.dstport,
                        if v.proxy { " proxy" } else { "" },
                        v.remote
                            .map(|r| format!(" remote/group {r}"))
                            .unwrap_or_default()
                    )
                })
                .unwrap_or_default();
            println!(
                "    {:<15} {:<7} {:<6} mtu {:<5} {}{master}{vx}  {}",
                l.name,
                if l.kind.is_empty() { "-" } else { &l.kind },
                l.state,
                l.mtu,
                l.mac,
                addrs.join(" ")
            );
        }
        for v in &n.ipvs {
            print_ipvs(v);
        }
        if !full && !n.conntrack.is_empty() {
            println!("    conntrack: {} entries", n.conntrack.len());
        }
        if full {
            for r in &n.tables.routes {
                let via = r.via.map(|v| format!(" via {v}")).unwrap_or_default();
                let dev = r
                    .dev
                    .as_ref()
                    .map(|d| format!(" dev {d}"))
                    .unwrap_or_default();
                println!("    route {}{via}{dev} proto {}", r.to, r.proto);
            }
            for x in &n.tables.neighbours {
                println!(
                    "    neigh {} dev {} lladdr {} {}",
                    x.to,
                    x.dev,
                    x.lladdr.as_deref().unwrap_or("-"),
                    x.state
                );
            }
            for f in n.tables.fdb.iter().filter(|f| {
                f.dst.is_some() || f.state == "permanent" && f.self_ && f.dev.starts_with("vx")
            }) {
                let dst = f.dst.map(|d| format!(" dst {d}")).unwrap_or_default();
                println!(
                    "    fdb {} dev {}{dst} {} {}",
                    f.mac,
                    f.dev,
                    if f.self_ { "self" } else { "master" },
                    f.state
                );
            }
            for c in &n.conntrack {
                println!("    ct {}", ct_line(c));
            }
            if let Some(e) = &n.conntrack_error {
                println!("    conntrack: {e}");
            }
        }
    }
    Ok(())
}

/// An IPVS service and its real servers, as `ipvsadm -Ln` lays them out.
fn print_ipvs(v: &ServiceRow) {
    println!(
        "    ipvs {} {}:{} {}{}",
        v.proto,
        v.addr,
        v.port,
        v.scheduler,
        if v.emulated {
            "  [EMULATED with nftables: no ip_vs in this kernel]"
        } else {
            ""
        }
    );
    for r in &v.reals {
        let conns = if v.emulated {
            String::new()
        } else {
            format!(" active {} inactive {}", r.active, r.inactive)
        };
        println!(
            "      -> {}:{} {:?} weight {}{conns}",
            r.addr, r.port, r.forward, r.weight
        );
    }
}

/// A conntrack entry, as `conntrack -L` prints it (plus its NAT flags).
fn ct_line(c: &CtRow) -> String {
    use std::fmt::Write as _;
    let tuple = |s: &mut String, t: &vxlab::conntrack::Tuple| {
        let _ = write!(s, " src={} dst={}", t.src, t.dst);
        if let (Some(sp), Some(dp)) = (t.sport, t.dport) {
            let _ = write!(s, " sport={sp} dport={dp}");
        }
        if let (Some(ty), Some(code)) = (t.icmp_type, t.icmp_code) {
            let _ = write!(s, " type={ty} code={code} id={}", t.icmp_id.unwrap_or(0));
        }
    };
    let mut s = format!("{} {}", c.proto, c.proto_num);
    if let Some(t) = c.timeout {
        let _ = write!(s, " {t}");
    }
    if let Some(st) = &c.state {
        let _ = write!(s, " {st}");
    }
    tuple(&mut s, &c.original);
    if !c.status.contains(&"SEEN_REPLY") {
        s += " [UNREPLIED]";
    }
    tuple(&mut s, &c.reply);
    if c.status.contains(&"ASSURED") {
        s += " [ASSURED]";
    }
    let _ = write!(s, " mark={}", c.mark);
    if c.dst_nat {
        s += " [DNAT]";
    }
    if c.src_nat {
        s += " [SNAT]";
    }
    s
}
