//! What VXLANs need to reach the other side of an overlay without flooding: static ARP on
//! proxy VXLANs, a neighbour entry for the gateway of every route through a VTEP that
//! cannot send an ARP request anywhere (Flannel's way), and an FDB entry for every remote
//! MAC when there is no default destination.

use std::collections::BTreeSet;
use std::net::IpAddr;

use ipnet::Ipv4Net;

use super::l2::{Vtep, ZERO_MAC, domain, has_default_dst, subnets, vteps};
use super::snapshot::{Snapshot, host_of};
use super::{Finding, Report};

/// Proxy VXLANs without a neighbour entry for a remote address whose MAC they know.
pub(super) fn proxy_arp(snap: &Snapshot, r: &mut Report) {
    for v in vteps(snap)
        .iter()
        .filter(|v| v.link.vxlan.as_ref().is_some_and(|x| x.proxy))
    {
        let dom = domain(snap, v.node, v.link);
        let nets = subnets(&dom);
        let ns = &v.node.netns;
        for f in v
            .node
            .fdb
            .iter()
            .filter(|f| f.dev == v.link.name && f.self_ && f.mac != ZERO_MAC)
        {
            let Some((owner, oif)) = snap.mac_owner(&f.mac) else {
                continue;
            };
            if host_of(&owner.node) == host_of(&v.node.node) {
                continue;
            }
            for (_, net) in owner.ipv4().into_iter().filter(|(a, _)| a.dev == oif.name) {
                let ip = IpAddr::V4(net.addr());
                if !nets.iter().any(|s| s.contains(&net.addr())) {
                    continue;
                }
                let answered = v.node.neighbours.iter().any(|n| {
                    n.dev == v.link.name
                        && n.to == ip
                        && n.lladdr
                            .as_deref()
                            .is_some_and(|m| m.eq_ignore_ascii_case(&f.mac))
                });
                if answered {
                    continue;
                }
                let mut fd = Finding::new(
                    "proxy-arp-missing",
                    &v.node.node,
                    ip.to_string(),
                    format!(
                        "{} in {} is in proxy mode and has no neighbour entry for {ip} ({}:{}): ARP requests for {ip} are answered by no one and never leave the machine, so senders' ARP ends FAILED",
                        v.link.name, v.node.node, owner.node, oif.name
                    ),
                )
                .evidence(format!("ip -n {ns} neigh show dev {}: no entry for {ip}", v.link.name))
                .evidence(format!(
                    "bridge -n {ns} fdb show dev {}: {} dst {} (the MAC is known, its IP is not)",
                    v.link.name,
                    f.mac,
                    f.dst.map_or_else(|| "?".into(), |d| d.to_string())
                ));
                for (n, _) in &dom {
                    for x in n.neighbours.iter().filter(|x| {
                        x.to == ip && matches!(x.state.as_str(), "FAILED" | "INCOMPLETE")
                    }) {
                        fd = fd.evidence(format!(
                            "{}: ip neigh: {ip} dev {} {}",
                            n.node, x.dev, x.state
                        ));
                    }
                }
                r.findings.push(fd.fix(format!(
                    "ip -n {ns} neigh add {ip} lladdr {} dev {} nud permanent",
                    f.mac, v.link.name
                )));
            }
        }
    }
}

/// The underlay address that reaches host `host`'s VTEP from VTEP `v`: a destination
/// `v` already uses for that host, or else an address of the remote VTEP's socket node
/// in a subnet `v`'s socket node is on, that nothing on `v`'s own host has (private
/// subnets repeat from machine to machine).
fn remote_vtep(snap: &Snapshot, host: &str, v: &Vtep<'_>) -> Option<IpAddr> {
    let on_host = |ip: IpAddr| {
        snap.owners(ip)
            .iter()
            .any(|(n, _)| host_of(&n.node) == host)
    };
    if let Some(d) = v
        .node
        .fdb
        .iter()
        .filter(|f| f.dev == v.link.name && f.self_)
        .filter_map(|f| f.dst)
        .find(|d| on_host(*d))
    {
        return Some(d);
    }
    let vni = v.link.vxlan.as_ref().map_or(0, |x| x.vni);
    let local: Vec<Ipv4Net> = v
        .socket
        .ipv4()
        .into_iter()
        .map(|(_, n)| n.trunc())
        .collect();
    let mine = |ip: IpAddr| {
        snap.owners(ip)
            .iter()
            .any(|(n, _)| host_of(&n.node) == host_of(&v.node.node))
    };
    vteps(snap)
        .into_iter()
        .filter(|r| {
            host_of(&r.node.node) == host && r.link.vxlan.as_ref().is_some_and(|x| x.vni == vni)
        })
        .find_map(|r| {
            r.socket
                .ipv4()
                .into_iter()
                .map(|(_, n)| n.addr())
                .find(|ip| local.iter().any(|l| l.contains(ip)) && !mine(IpAddr::V4(*ip)))
                .map(IpAddr::V4)
        })
}

/// VXLANs without a default destination and without an FDB entry for a remote MAC their
/// side of the overlay already resolved.
pub(super) fn fdb_missing(snap: &Snapshot, r: &mut Report) {
    for v in vteps(snap) {
        if has_default_dst(&v) {
            continue;
        }
        let mut seen = BTreeSet::new();
        let dom = domain(snap, v.node, v.link);
        let ns = &v.node.netns;
        for (n, _) in &dom {
            for x in &n.neighbours {
                let Some(mac) = x.lladdr.as_deref() else {
                    continue;
                };
                if x.dev != v.link.name && n.node == v.node.node {
                    continue;
                }
                let Some((owner, oif)) = snap.mac_owner(mac) else {
                    continue;
                };
                if host_of(&owner.node) == host_of(&v.node.node)
                    || !seen.insert(mac.to_ascii_lowercase())
                {
                    continue;
                }
                if v.node
                    .fdb
                    .iter()
                    .any(|f| f.dev == v.link.name && f.self_ && f.mac.eq_ignore_ascii_case(mac))
                {
                    continue;
                }
                let dst = remote_vtep(snap, host_of(&owner.node), &v)
                    .map_or_else(|| "REMOTE_VTEP_IP".to_string(), |d| d.to_string());
                r.findings.push(
                    Finding::new(
                        "fdb-missing",
                        &v.node.node,
                        mac,
                        format!(
                            "{} in {} has no FDB entry for {mac} ({}:{}, {}) and no default destination: frames to that MAC have no VTEP to go to and the VXLAN driver drops them (drop reason NO_TX_TARGET)",
                            v.link.name, v.node.node, owner.node, oif.name, x.to
                        ),
                    )
                    .evidence(format!("{}: ip neigh: {} lladdr {mac} dev {} {}", n.node, x.to, x.dev, x.state))
                    .evidence(format!("bridge -n {ns} fdb show dev {}: no entry for {mac}", v.link.name))
                    .fix(format!("bridge -n {ns} fdb add {mac} dev {} dst {dst} self permanent", v.link.name)),
                );
            }
        }
    }
}

/// VTEPs that route through a gateway they cannot resolve: no neighbour entry for it, and
/// nowhere to send an ARP request (no remote, group or all-zero FDB entry), as Flannel's
/// VTEPs are, with every neighbour programmed by the agent.
pub(super) fn vtep_arp(snap: &Snapshot, r: &mut Report) {
    for v in vteps(snap) {
        if has_default_dst(&v) || v.link.vxlan.as_ref().is_some_and(|x| x.proxy) {
            continue;
        }
        let ns = &v.node.netns;
        for rt in v
            .node
            .routes
            .iter()
            .filter(|rt| rt.dev.as_deref() == Some(v.link.name.as_str()))
        {
            let Some(g) = rt.via else { continue };
            let known = v
                .node
                .neighbours
                .iter()
                .find(|n| n.dev == v.link.name && n.to == g);
            if known.is_some_and(|n| {
                n.lladdr.is_some() && !matches!(n.state.as_str(), "FAILED" | "INCOMPLETE")
            }) {
                continue;
            }
            let state =
                known.map_or_else(|| "no entry".to_string(), |n| format!("{g} {}", n.state));
            let mac = snap
                .owners(g)
                .iter()
                .find_map(|(n, a)| n.link(&a.dev).map(|l| l.mac.clone()));
            let mut f = Finding::new(
                "vtep-arp-missing",
                &v.node.node,
                g.to_string(),
                format!(
                    "{} in {} routes {} via {g} but has no neighbour entry for {g}, and no remote, group or all-zero FDB entry to send an ARP request to: nothing resolves {g}, so everything routed that way is lost (Destination Host Unreachable)",
                    v.link.name, v.node.node, rt.to
                ),
            )
            .evidence(format!("ip -n {ns} neigh show dev {}: {state}", v.link.name))
            .evidence(format!("bridge -n {ns} fdb show dev {}: no 00:00:00:00:00:00 entry, no remote", v.link.name));
            if let Some(m) = mac {
                f = f.fix(format!(
                    "ip -n {ns} neigh replace {g} lladdr {m} dev {} nud permanent",
                    v.link.name
                ));
            }
            r.findings.push(f);
        }
    }
}
