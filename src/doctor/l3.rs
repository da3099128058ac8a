//! Layer-3 rules: `lo` down, missing default or return routes, a router that does not
//! forward, and strict reverse-path filtering that drops legitimate packets.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net};

use super::snapshot::{NodeState, Snapshot, route_dst};
use super::{Finding, Report};
use crate::model::Lab;

/// `lo` down.
pub(super) fn lo_down(snap: &Snapshot, r: &mut Report) {
    for n in &snap.nodes {
        if let Some(lo) = n.link("lo").filter(|l| !l.up) {
            let own: Vec<String> = n.ipv4().iter().map(|(_, a)| a.addr().to_string()).collect();
            let own = if own.is_empty() {
                "127.0.0.1".to_string()
            } else {
                own.join(", ")
            };
            r.findings.push(
                Finding::new(
                    "lo-down",
                    &n.node,
                    "lo",
                    format!("lo in {} is down: the kernel delivers packets for the node's own addresses ({own}) through lo, so they are dropped; pinging itself gets no answer", n.node),
                )
                .evidence(format!("ip -n {} link show lo: state {} (not UP)", n.netns, lo.state))
                .fix(format!("ip -n {} link set lo up", n.netns)),
            );
        }
    }
}

fn routes_text(n: &NodeState) -> String {
    let rows: Vec<String> = n
        .routes
        .iter()
        .map(|r| {
            let via = r.via.map(|v| format!(" via {v}")).unwrap_or_default();
            let dev = r
                .dev
                .as_ref()
                .map(|d| format!(" dev {d}"))
                .unwrap_or_default();
            format!("{}{via}{dev}", r.to)
        })
        .collect();
    if rows.is_empty() {
        "(empty)".into()
    } else {
        rows.join("; ")
    }
}

fn shown(to: IpNet) -> String {
    if to.prefix_len() == 0 {
        "default".into()
    } else {
        to.to_string()
    }
}

/// A route a node lacks: where it should go, and why we think so.
struct Missing {
    via: Option<IpAddr>,
    dev: Option<String>,
    why: String,
}

/// Routes the lab declares that the kernel lacks, and return routes a router's peer lacks.
pub(super) fn routes(snap: &Snapshot, lab: &Lab, r: &mut Report) {
    let mut missing: BTreeMap<(String, IpNet), Missing> = BTreeMap::new();
    for lr in &lab.routes {
        let Some(n) = snap.node(&lr.node) else {
            continue;
        };
        if n.routes.iter().any(|x| route_dst(x) == Some(lr.to)) {
            continue;
        }
        let why = if lr.to.prefix_len() == 0 {
            format!(
                "{} has no default route: it reaches only its own subnets, everything else is 'Network is unreachable'",
                n.node
            )
        } else {
            format!(
                "{} has no route to {}: packets for it are 'Network is unreachable' (or take the default route the wrong way)",
                n.node, lr.to
            )
        };
        missing.insert(
            (n.node.clone(), lr.to),
            Missing {
                via: lr.via,
                dev: lr.dev.clone(),
                why,
            },
        );
    }
    // Return routes: a forwarding node A routes prefix P via B; B must route A's other
    // subnets back to A, or every reply to them is lost.
    for a in snap.nodes.iter().filter(|a| a.forwards()) {
        for ra in &a.routes {
            let (Some(dst), Some(IpAddr::V4(g))) = (route_dst(ra), ra.via) else {
                continue;
            };
            if dst.prefix_len() == 0 {
                continue;
            }
            let owners = snap.owners(IpAddr::V4(g));
            let [(b, _)] = owners.as_slice() else {
                continue;
            };
            let Some(back) = a.source_towards(g) else {
                continue;
            };
            for (_, s) in a.ipv4() {
                let s = s.trunc();
                // Masqueraded sources need no way back: the replies come to A itself.
                if s.contains(&g)
                    || b.lookup(IpAddr::V4(s.network())).is_some()
                    || super::lb::snats(lab, &a.node, s)
                {
                    continue;
                }
                let why = format!(
                    "{} has no route back to {s}: {} forwards {s}'s packets to {dst} through it (via {g}), and every reply to them is dropped as unroutable",
                    b.node, a.node
                );
                missing
                    .entry((b.node.clone(), IpNet::V4(s)))
                    .and_modify(|m| m.why.clone_from(&why))
                    .or_insert_with(|| Missing {
                        via: Some(IpAddr::V4(back)),
                        dev: None,
                        why,
                    });
            }
        }
    }
    for ((node, to), m) in missing {
        let Some(n) = snap.node(&node) else { continue };
        let via = m.via.map(|v| format!(" via {v}")).unwrap_or_default();
        let dev = m
            .dev
            .as_ref()
            .map(|d| format!(" dev {d}"))
            .unwrap_or_default();
        let fix = format!("ip -n {} route add {}{via}{dev}", n.netns, shown(to));
        r.findings.push(
            Finding::new("route-missing", &node, shown(to), m.why)
                .evidence(format!("ip -n {} route: {}", n.netns, routes_text(n)))
                .fix(fix),
        );
    }
    // Gateways nobody owns.
    for n in &snap.nodes {
        for rt in &n.routes {
            let Some(g) = rt.via else { continue };
            if snap.owners(g).is_empty()
                && n.neighbours
                    .iter()
                    .any(|x| x.to == g && x.state == "FAILED")
            {
                r.findings.push(
                    Finding::new("route-missing", &n.node, &rt.to, format!("the gateway {g} of {}'s route {} answers no ARP: nothing in the lab has that address", n.node, rt.to))
                        .evidence(format!("ip -n {} neigh: {g} FAILED", n.netns)),
                );
            }
        }
    }
}

/// Nodes that route between subnets and serve as gateways, with forwarding off.
pub(super) fn ip_forward(snap: &Snapshot, r: &mut Report) {
    for n in &snap.nodes {
        if n.sysctl("net.ipv4.ip_forward") != Some("0") {
            continue;
        }
        let mut nets: Vec<Ipv4Net> = n.ipv4().iter().map(|(_, a)| a.trunc()).collect();
        nets.sort_unstable();
        nets.dedup();
        if nets.len() < 2 {
            continue;
        }
        let clients: Vec<String> = snap
            .nodes
            .iter()
            .filter(|m| m.node != n.node)
            .flat_map(|m| m.routes.iter().map(move |rt| (m, rt)))
            .filter(|(_, rt)| rt.via.is_some_and(|g| n.owns(g) && !g.is_loopback()))
            .map(|(m, rt)| {
                format!(
                    "{} ({} via {})",
                    m.node,
                    rt.to,
                    rt.via.map(|v| v.to_string()).unwrap_or_default()
                )
            })
            .collect();
        if clients.is_empty() {
            continue;
        }
        let subnets: Vec<String> = nets.iter().map(ToString::to_string).collect();
        r.findings.push(
            Finding::new(
                "ip-forward-off",
                &n.node,
                "net.ipv4.ip_forward",
                format!(
                    "{} joins {} and is the gateway of {}, but net.ipv4.ip_forward is 0: it drops every packet it should route",
                    n.node,
                    subnets.join(" and "),
                    clients.join(", ")
                ),
            )
            .evidence(format!("ip netns exec {} sysctl net.ipv4.ip_forward: 0", n.netns))
            .fix(format!("ip netns exec {} sysctl -w net.ipv4.ip_forward=1", n.netns)),
        );
    }
}

/// Strict reverse-path filtering dropping packets from nodes that route through us.
pub(super) fn rp_filter(snap: &Snapshot, r: &mut Report) {
    for n in &snap.nodes {
        for (addr, net) in n.ipv4() {
            let dev = &addr.dev;
            if n.rp_filter(dev) != 1 {
                continue;
            }
            for m in snap.nodes.iter().filter(|m| m.node != n.node) {
                let uses = m
                    .routes
                    .iter()
                    .any(|rt| rt.via == Some(IpAddr::V4(net.addr())));
                if !uses {
                    continue;
                }
                for (_, src) in m.ipv4() {
                    let back = n.lookup(IpAddr::V4(src.addr()));
                    let out = back.and_then(|b| b.dev.clone());
                    if out.as_deref() == Some(dev.as_str()) {
                        continue;
                    }
                    let out = out.unwrap_or_else(|| "nowhere".into());
                    r.findings.push(
                        Finding::new(
                            "rp-filter",
                            &n.node,
                            format!("{dev} rp_filter"),
                            format!(
                                "{} drops packets from {} ({}) arriving on {dev}: rp_filter is strict (1) there and its route back to {} leaves by {out}",
                                n.node,
                                src.addr(),
                                m.node,
                                src.addr()
                            ),
                        )
                        .evidence(format!("ip netns exec {} sysctl net.ipv4.conf.{{all,{dev}}}.rp_filter: strict", n.netns))
                        .evidence(format!("ip -n {} route get {}: dev {out}", n.netns, src.addr()))
                        .fix(format!("ip netns exec {} sysctl -w net.ipv4.conf.all.rp_filter=2 net.ipv4.conf.{dev}.rp_filter=2", n.netns)),
                    );
                }
            }
        }
    }
}
