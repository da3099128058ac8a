//! `vxlab read`: decode pcap/pcapng files offline (no root) and, when they hold several
//! capture points, follow each packet across them.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use serde::Serialize;
use vxlab::capture::{Dir, Frame, Point};
use vxlab::decode::{DecodeOptions, decode_linktype, linktype};
use vxlab::pcapfile::{Direction, read_file};
use vxlab::trace::{Topology, correlate, journeys_text};

/// `vxlab read FILE...`
#[derive(Args)]
pub struct ReadArgs {
    /// pcap or pcapng files (tcpdump's, tshark's, or `vxlab trace --pcapng`'s).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Also decode UDP to this port as VXLAN (4789 and 8472 always are).
    #[arg(long = "vxlan-port", value_name = "PORT")]
    vxlan_ports: Vec<u16>,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Row {
    file: String,
    interface: String,
    ts_ns: u64,
    len: u32,
    summary: String,
    complete: bool,
    error: Option<String>,
    comment: Option<String>,
}

/// Where an interface of a file sits: `NODE:IFACE` as vxlab names its interfaces, or the
/// file's own interface name on a node named after the file.
fn place(file: &Path, name: &str) -> (String, String) {
    match name.rsplit_once(':') {
        Some((n, i)) => (n.to_string(), i.to_string()),
        None => (
            file.file_stem()
                .map_or_else(String::new, |s| s.to_string_lossy().into_owned()),
            name.to_string(),
        ),
    }
}

/// The capture point of a record: its interface and, when the file says, its direction
/// (otherwise taken as received).
fn point_index(points: &mut Vec<Point>, node: &str, iface: &str, dir: Dir) -> usize {
    if let Some(i) = points
        .iter()
        .position(|p| p.node == node && p.iface == iface && p.dir == dir)
    {
        return i;
    }
    points.push(Point {
        node: node.to_string(),
        netns: String::new(),
        iface: iface.to_string(),
        dir,
    });
    points.len() - 1
}

/// `vxlab read`
pub fn read(a: &ReadArgs) -> Result<ExitCode> {
    let mut opts = DecodeOptions::default();
    opts.vxlan_ports.extend(&a.vxlan_ports);
    let mut rows = Vec::new();
    let mut points: Vec<Point> = Vec::new();
    let mut frames: Vec<Frame> = Vec::new();
    for path in &a.files {
        let cap = read_file(path).with_context(|| format!("cannot read {}", path.display()))?;
        let places: Vec<(String, String)> = cap
            .interfaces
            .iter()
            .map(|i| place(path, &i.name))
            .collect();
        for r in &cap.records {
            let Some(iface) = cap.interfaces.get(r.interface) else {
                continue;
            };
            let p = decode_linktype(iface.linktype, &r.data, &opts);
            rows.push(Row {
                file: path.display().to_string(),
                interface: match r.direction {
                    Some(Direction::Inbound) => format!("{} in", iface.name),
                    Some(Direction::Outbound) => format!("{} out", iface.name),
                    None => iface.name.clone(),
                },
                ts_ns: r.ts_ns,
                len: r.orig_len,
                summary: p.summary(),
                complete: p.is_complete(),
                error: p.error.as_ref().map(ToString::to_string),
                comment: r.comment.clone(),
            });
            if iface.linktype == linktype::ETHERNET {
                let dir = if r.direction == Some(Direction::Outbound) {
                    Dir::Out
                } else {
                    Dir::In
                };
                let (node, name) = &places[r.interface];
                let point = point_index(&mut points, node, name, dir);
                frames.push(Frame {
                    point,
                    ts_ns: r.ts_ns,
                    len: r.orig_len,
                    data: r.data.clone(),
                });
            }
        }
    }
    let journeys = if points.len() > 1 {
        let mut order: Vec<usize> = (0..frames.len()).collect();
        order.sort_by_key(|&i| frames[i].ts_ns);
        let sorted: Vec<Frame> = order.into_iter().map(|i| frames[i].clone()).collect();
        correlate(&points, &sorted, &Topology::default(), &opts, None)
    } else {
        Vec::new()
    };
    if a.json {
        let v = serde_json::json!({ "packets": rows, "journeys": journeys });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    let t0 = rows.iter().map(|r| r.ts_ns).min().unwrap_or(0);
    for r in &rows {
        let t = r.ts_ns.saturating_sub(t0);
        let trunc = r
            .error
            .as_ref()
            .map(|e| format!("  [{e}]"))
            .unwrap_or_default();
        println!(
            "{:>4}.{:06} {:<28} {}{trunc}",
            t / 1_000_000_000,
            (t / 1000) % 1_000_000,
            r.interface,
            r.summary
        );
    }
    if journeys.iter().any(|j| j.hops.len() > 1) {
        println!();
        print!(
            "{}",
            journeys_text(
                &journeys
                    .into_iter()
                    .filter(|j| j.hops.len() > 1)
                    .collect::<Vec<_>>()
            )
        );
    }
    Ok(ExitCode::SUCCESS)
}
