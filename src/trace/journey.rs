//! Grouping sightings of one packet and ordering them along the path it took.

use std::collections::HashMap;
use std::net::IpAddr;

use serde::Serialize;

use super::topology::Topology;
use crate::capture::{Dir, Frame, Point};
use crate::decode::{DecodeOptions, Layer, NatIdentity, Packet, decode};

/// VXLAN encapsulation seen at a hop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Encap {
    /// VNI.
    pub vni: u32,
    /// Outer source address.
    pub outer_src: IpAddr,
    /// Outer destination address.
    pub outer_dst: IpAddr,
}

/// One sighting of a packet, in path order.
#[derive(Debug, Clone, Serialize)]
pub struct Hop {
    /// Index of the frame in the capture.
    pub frame: usize,
    /// Node.
    pub node: String,
    /// Interface.
    pub iface: String,
    /// Direction.
    pub dir: Dir,
    /// Capture time, ns since the epoch.
    pub ts_ns: u64,
    /// Time since the previous hop, ns; negative when capture stamps are out of path order.
    pub delta_ns: Option<i64>,
    /// The packet as seen here (tcpdump-like).
    pub summary: String,
    /// Encapsulation at this hop.
    pub encap: Option<Encap>,
    /// Inner source address and port.
    pub src: (IpAddr, Option<u16>),
    /// Inner destination address and port.
    pub dst: (IpAddr, Option<u16>),
    /// Inner TTL.
    pub ttl: u8,
    /// What changed since the previous hop.
    pub changes: Vec<String>,
}

/// A packet's path through the lab.
#[derive(Debug, Clone, Serialize)]
pub struct Journey {
    /// The packet as first seen.
    pub summary: String,
    /// Sightings in path order.
    pub hops: Vec<Hop>,
    /// Whether it reached a node owning its (final) destination address.
    pub delivered: bool,
    /// `NODE:IFACE DIR` of the last sighting.
    pub last_seen: String,
    /// One sentence: delivered where, or lost after which hop.
    pub verdict: String,
}

struct Sighting {
    frame: usize,
    point: usize,
    ts_ns: u64,
    summary: String,
    encap: Option<Encap>,
    src: (IpAddr, Option<u16>),
    dst: (IpAddr, Option<u16>),
    ttl: u8,
    inner_mac_src: Option<String>,
}

fn ports(p: &Packet<'_>) -> (Option<u16>, Option<u16>) {
    let inner = p.innermost();
    inner
        .iter()
        .rev()
        .find_map(|l| match l {
            Layer::Tcp(t) => Some((Some(t.src_port), Some(t.dst_port))),
            Layer::Udp(u) => Some((Some(u.src_port), Some(u.dst_port))),
            _ => None,
        })
        .unwrap_or((None, None))
}

fn encap(p: &Packet<'_>) -> Option<Encap> {
    let vni = p.vxlan()?.vni;
    let (outer_src, outer_dst) = p.outer().iter().find_map(|l| match l {
        Layer::Ipv4(h) => Some((IpAddr::V4(h.src), IpAddr::V4(h.dst))),
        Layer::Ipv6(h) => Some((IpAddr::V6(h.src), IpAddr::V6(h.dst))),
        _ => None,
    })?;
    Some(Encap {
        vni,
        outer_src,
        outer_dst,
    })
}

fn sighting(frame: usize, f: &Frame, opts: &DecodeOptions) -> Option<(NatIdentity, Sighting)> {
    let p = decode(&f.data, opts);
    let key = p.inner_key()?;
    let ip = p.ip()?;
    let (sport, dport) = ports(&p);
    let inner_mac_src = p.innermost().iter().find_map(|l| match l {
        Layer::Ethernet(e) => Some(e.src.to_string()),
        _ => None,
    });
    let group = key.nat_identity();
    Some((
        group,
        Sighting {
            frame,
            point: f.point,
            ts_ns: f.ts_ns,
            summary: p.summary(),
            encap: encap(&p),
            src: (ip.src(), sport),
            dst: (ip.dst(), dport),
            ttl: ip.ttl(),
            inner_mac_src,
        },
    ))
}

/// How strongly `next` follows `cur` on a path: lower is better, `None` if unrelated.
fn affinity(cur: &Sighting, next: &Sighting, points: &[Point], topo: &Topology) -> Option<u8> {
    let (c, n) = (&points[cur.point], &points[next.point]);
    let c_if = (c.node.clone(), c.iface.clone());
    let n_if = (n.node.clone(), n.iface.clone());
    match (c.dir, n.dir) {
        (Dir::Out, Dir::In) if topo.peers.get(&c_if) == Some(&n_if) => Some(0),
        (Dir::Out, Dir::Out) if cur.encap.is_none() && next.encap.is_some() => {
            (topo.vxlan_socket.get(&c_if) == Some(&n.node)).then_some(1)
        }
        (Dir::In, Dir::In) if cur.encap.is_some() && next.encap.is_none() => {
            (topo.vxlan_socket.get(&n_if) == Some(&c.node)).then_some(1)
        }
        (Dir::In, Dir::In) if c.node == n.node && topo.masters.get(&c_if) == Some(&n.iface) => {
            Some(2)
        }
        (Dir::In, Dir::Out) if c.node == n.node && c.iface != n.iface => Some(3),
        _ => None,
    }
}

fn order(
    mut rest: Vec<Sighting>,
    points: &[Point],
    topo: &Topology,
    source: Option<&str>,
) -> Vec<Sighting> {
    rest.sort_by_key(|s| (s.ts_ns, points[s.point].dir == Dir::In));
    let start = source.map_or(0, |src| {
        rest.iter()
            .position(|s| points[s.point].dir == Dir::Out && points[s.point].node == src)
            .unwrap_or(0)
    });
    let mut path = vec![rest.remove(start)];
    while !rest.is_empty() {
        let cur = path.last().expect("path is never empty");
        let best = rest
            .iter()
            .enumerate()
            .filter_map(|(i, s)| affinity(cur, s, points, topo).map(|a| (a, s.ts_ns, i)))
            .min()
            .map_or(0, |(_, _, i)| i);
        path.push(rest.remove(best));
    }
    path
}

fn endpoint(addr: (IpAddr, Option<u16>)) -> String {
    match addr.1 {
        Some(p) => format!("{}:{p}", addr.0),
        None => addr.0.to_string(),
    }
}

fn changes(prev: &Sighting, cur: &Sighting) -> Vec<String> {
    let mut out = Vec::new();
    match (prev.encap, cur.encap) {
        (None, Some(e)) => out.push(format!(
            "encapsulated VNI {} {} → {}",
            e.vni, e.outer_src, e.outer_dst
        )),
        (Some(e), None) => out.push(format!("decapsulated VNI {} from {}", e.vni, e.outer_src)),
        _ => {}
    }
    if prev.src != cur.src {
        out.push(format!(
            "SNAT {} → {}",
            endpoint(prev.src),
            endpoint(cur.src)
        ));
    }
    if prev.dst != cur.dst {
        out.push(format!(
            "DNAT {} → {}",
            endpoint(prev.dst),
            endpoint(cur.dst)
        ));
    }
    if prev.ttl != cur.ttl {
        out.push(format!("TTL {} → {}", prev.ttl, cur.ttl));
        if let (Some(a), Some(b)) = (&prev.inner_mac_src, &cur.inner_mac_src)
            && a != b
        {
            out.push(format!("routed: MAC {a} → {b}"));
        }
    }
    out
}

/// What happened between two consecutive sightings: the rewrites of [`changes`], and the
/// forwarding decision inside a node (bridged by which bridge, or routed).
fn hop_changes(prev: &Sighting, cur: &Sighting, points: &[Point], topo: &Topology) -> Vec<String> {
    let mut out = Vec::new();
    let (p, c) = (&points[prev.point], &points[cur.point]);
    if p.dir == Dir::In && c.dir == Dir::Out && p.node == c.node {
        let master = |p: &Point| topo.masters.get(&(p.node.clone(), p.iface.clone()));
        match (master(p), master(c)) {
            (Some(a), Some(b)) if a == b => out.push(format!("bridged by {a}")),
            _ if prev.ttl != cur.ttl || prev.encap == cur.encap => {
                out.push(format!("routed by {}", c.node));
            }
            _ => {}
        }
    }
    out.extend(changes(prev, cur));
    out
}

/// Finds every IP packet seen in `frames`, groups its sightings across capture points
/// (through NAT, encapsulation and routing), and orders each group along its path. Frames
/// that carry no IP packet (ARP) are left out. `source`, if known, is the node that sent the
/// probe: its journeys start there. Journeys come back in order of first sighting.
pub fn correlate(
    points: &[Point],
    frames: &[Frame],
    topo: &Topology,
    opts: &DecodeOptions,
    source: Option<&str>,
) -> Vec<Journey> {
    let mut groups: HashMap<NatIdentity, Vec<Sighting>> = HashMap::new();
    let mut first_seen: Vec<NatIdentity> = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        if let Some((k, s)) = sighting(i, f, opts) {
            let g = groups.entry(k).or_default();
            if g.is_empty() {
                first_seen.push(k);
            }
            g.push(s);
        }
    }
    let mut journeys: Vec<(u64, Journey)> = first_seen
        .into_iter()
        .filter_map(|k| groups.remove(&k))
        .map(|g| {
            let start = g.iter().map(|s| s.ts_ns).min().unwrap_or(0);
            (
                start,
                journey(&order(g, points, topo, source), points, topo),
            )
        })
        .collect();
    journeys.sort_by_key(|(t, _)| *t);
    journeys.into_iter().map(|(_, j)| j).collect()
}

fn journey(path: &[Sighting], points: &[Point], topo: &Topology) -> Journey {
    let mut hops: Vec<Hop> = Vec::with_capacity(path.len());
    for (i, s) in path.iter().enumerate() {
        let p = &points[s.point];
        let prev = i.checked_sub(1).map(|j| &path[j]);
        hops.push(Hop {
            frame: s.frame,
            node: p.node.clone(),
            iface: p.iface.clone(),
            dir: p.dir,
            ts_ns: s.ts_ns,
            delta_ns: prev
                .map(|q| i64::try_from(s.ts_ns).unwrap_or(0) - i64::try_from(q.ts_ns).unwrap_or(0)),
            summary: s.summary.clone(),
            encap: s.encap,
            src: s.src,
            dst: s.dst,
            ttl: s.ttl,
            changes: prev
                .map(|q| hop_changes(q, s, points, topo))
                .unwrap_or_default(),
        });
    }
    let last = hops.last().expect("a group has at least one sighting");
    let last_seen = format!("{}:{} {}", last.node, last.iface, last.dir.as_str());
    let delivered = hops
        .iter()
        .any(|h| h.dir == Dir::In && h.encap.is_none() && topo.owns(&h.node, h.dst.0));
    let verdict = if delivered {
        let h = hops
            .iter()
            .rev()
            .find(|h| h.dir == Dir::In && topo.owns(&h.node, h.dst.0))
            .unwrap_or(last);
        format!("delivered to {} ({}) at {}", h.node, h.dst.0, h.iface)
    } else {
        format!("last seen at {last_seen}; not seen after this hop")
    };
    Journey {
        summary: path[0].summary.clone(),
        hops,
        delivered,
        last_seen,
        verdict,
    }
}
