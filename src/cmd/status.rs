//! `vxlab status`: what is up, read back from the kernel.

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use serde::Serialize;
use vxlab::kernel::connect;
use vxlab::lifecycle;
use vxlab::observe::{Tables, dump};

use super::lab_cmds::{node_of, runtime};

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
}

#[derive(Serialize)]
struct LabStatus {
    name: String,
    nodes: Vec<NodeStatus>,
}

fn read_lab(name: &str) -> Result<LabStatus> {
    let rt = runtime()?;
    let mut nodes = Vec::new();
    for ns in lifecycle::namespaces_of(name) {
        let tables = rt
            .block_on(async {
                let h = connect(&ns)?;
                dump(&h).await.map_err(std::io::Error::other)
            })
            .with_context(|| format!("cannot read namespace {ns}"))?;
        nodes.push(NodeStatus {
            node: node_of(name, &ns),
            netns: ns,
            tables,
        });
    }
    Ok(LabStatus {
        name: name.to_string(),
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
        let labs = names
            .iter()
            .map(|n| read_lab(n))
            .collect::<Result<Vec<_>>>()?;
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "labs": labs }))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    if names.is_empty() {
        println!("no lab is up; start one with `vxlab up LAB` (see `vxlab labs`)");
    }
    for n in &names {
        print_lab(n, true)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints lab `name`'s nodes with their links and addresses (and, if `full`, routes,
/// neighbours and FDB).
pub fn print_lab(name: &str, full: bool) -> Result<()> {
    let s = read_lab(name)?;
    if s.nodes.is_empty() {
        println!("lab `{name}` is not up");
        return Ok(());
    }
    println!("lab {name}: {} namespaces", s.nodes.len());
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
        }
    }
    Ok(())
}
