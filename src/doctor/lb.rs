//! Load-balancing and netfilter rules: the lab's NAT rules missing from the kernel, IPVS
//! with a `-m ipvs` SNAT while `net.ipv4.vs.conntrack` is 0, IPVS real servers whose
//! replies bypass the director, and `br_netfilter` sending bridged frames through filter
//! rules.

use std::net::IpAddr;

use super::snapshot::Snapshot;
use super::{Finding, Report};
use crate::ipvs::ServiceRow;
use crate::model::{Forward, Lab, NatKind, NatRule};

const VS_CONNTRACK: &str = "net.ipv4.vs.conntrack";

/// IPVS rules, on the kernel's IPVS table or, for emulated labs, on the lab's services
/// and their nftables emulation.
pub(super) fn ipvs(snap: &Snapshot, lab: &Lab, r: &mut Report) {
    if lab.ipvs_emulated() {
        r.notes.push(format!(
            "IPVS of lab {} is emulated with nftables (this kernel has no ip_vs): {VS_CONNTRACK} does not exist; its effect is checked through the emulated `-m ipvs` SNAT rules",
            lab.name
        ));
    } else if !lab.ipvs.is_empty() && snap.nodes.iter().all(|n| n.ipvs.is_none()) {
        r.notes
            .push("IPVS rules skipped: the kernel's IPVS table cannot be read (no ip_vs)".into());
    }
    for n in &snap.nodes {
        let mut services: Vec<ServiceRow> = lab
            .ipvs
            .iter()
            .filter(|s| s.node == n.node && s.emulated)
            .map(ServiceRow::emulated)
            .collect();
        services.extend(n.ipvs.iter().flatten().cloned());
        if services.is_empty() {
            continue;
        }
        let emulated = services.iter().any(|s| s.emulated);
        let live_snat: Vec<_> = n
            .nat
            .iter()
            .filter(|x| x.ipvs_only && x.kind == "snat")
            .collect();
        let intended: Vec<_> = lab
            .nat
            .iter()
            .filter(|x| x.node == n.node && x.ipvs && x.kind == NatKind::Snat)
            .collect();
        let conntrack = n.sysctl(VS_CONNTRACK);
        let svc = services
            .iter()
            .map(|s| format!("{}:{}", s.addr, s.port))
            .collect::<Vec<_>>()
            .join(", ");
        let broken = if emulated {
            !intended.is_empty() && live_snat.is_empty()
        } else {
            !live_snat.is_empty() && conntrack == Some("0")
        };
        if broken {
            let to = intended
                .iter()
                .filter_map(|x| x.to.map(|t| t.addr.to_string()))
                .chain(live_snat.iter().filter_map(|x| x.to.clone()))
                .next()
                .unwrap_or_default();
            let mut f = Finding::new(
                "ipvs-conntrack",
                &n.node,
                VS_CONNTRACK,
                format!(
                    "IPVS in {} balances {svc} and a `-m ipvs --ipvs` SNAT rule (to {to}) should rewrite the forwarded packets' source, but {VS_CONNTRACK} is 0: IPVS-forwarded packets skip conntrack, so the nat POSTROUTING chain never sees them, the real servers answer the client directly and the replies are lost",
                    n.node
                ),
            )
            .fix(format!("ip netns exec {} sysctl -w {VS_CONNTRACK}=1", n.netns));
            if emulated {
                f = f
                    .evidence(format!("EMULATED IPVS: the emulation of the `-m ipvs` SNAT rule (to {to}) is missing from table ip vxlab of {}: the emulation's equivalent of {VS_CONNTRACK} = 0", n.node))
                    .evidence(format!("ip netns exec {} nft list chain ip vxlab postrouting: no `ct mark` SNAT rule", n.netns));
                f.fix = vec![
                    format!(
                        "# a real kernel: ip netns exec {} sysctl -w {VS_CONNTRACK}=1",
                        n.netns
                    ),
                    format!(
                        "# the emulation: put the SNAT rule back, e.g. `vxlab fix {} <fault>`, or recreate the lab",
                        lab.name
                    ),
                ];
            } else {
                f = f.evidence(format!(
                    "ip netns exec {} sysctl {VS_CONNTRACK}: 0",
                    n.netns
                ));
            }
            r.findings.push(f);
            continue;
        }
        if !intended.is_empty() || !live_snat.is_empty() {
            continue;
        }
        for s in &services {
            for real in s.reals.iter().filter(|x| x.forward == Forward::Masq) {
                let owners = snap.owners(IpAddr::V4(real.addr));
                let [(y, _)] = owners.as_slice() else {
                    continue;
                };
                if y.node == n.node {
                    continue;
                }
                let default = y.routes.iter().find(|x| x.to == "default");
                let via = default.and_then(|d| d.via);
                if via.is_some_and(|g| n.owns(g)) {
                    continue;
                }
                let how = via.map_or_else(
                    || "has no default route".to_string(),
                    |g| format!("sends them via {g}"),
                );
                let back = y
                    .ipv4()
                    .iter()
                    .find_map(|(_, a)| n.source_towards(a.addr()))
                    .map_or_else(|| "DIRECTOR_IP".into(), |a| a.to_string());
                r.findings.push(
                    Finding::new(
                        "ipvs-return-path",
                        &y.node,
                        real.addr.to_string(),
                        format!(
                            "real server {} ({}) of IPVS service {}:{} in {} answers clients without going back through the director: it {how}, and nothing SNATs the forwarded requests, so the replies are never un-NATed and the client drops them",
                            real.addr, y.node, s.addr, s.port, n.node
                        ),
                    )
                    .evidence(format!("ip -n {} route: default {}", y.netns, via.map_or_else(|| "missing".into(), |g| format!("via {g}"))))
                    .fix(format!("ip -n {} route replace default via {back}", y.netns))
                    .fix(format!("# or SNAT what IPVS forwards: iptables -t nat -A POSTROUTING -m ipvs --ipvs -j SNAT --to-source {back} (in {})", n.node)),
                );
            }
        }
    }
}

/// `bridge-nf-call-iptables` in namespaces with bridges and filter rules.
pub(super) fn br_netfilter(snap: &Snapshot, r: &mut Report) {
    for n in &snap.nodes {
        let bridges: Vec<&str> = n
            .links
            .iter()
            .filter(|l| l.kind == "bridge")
            .map(|l| l.name.as_str())
            .collect();
        if bridges.is_empty()
            || n.filter_rules == 0
            || n.sysctl("net.bridge.bridge-nf-call-iptables") != Some("1")
        {
            continue;
        }
        r.findings.push(
            Finding::new(
                "br-netfilter",
                &n.node,
                "net.bridge.bridge-nf-call-iptables",
                format!(
                    "{} has bridges ({}) and {} filter rules, and br_netfilter's bridge-nf-call-iptables is 1: frames bridged between ports go through the IP filter chains too, where rules meant for routed traffic can drop them",
                    n.node,
                    bridges.join(", "),
                    n.filter_rules
                ),
            )
            .evidence(format!("ip netns exec {} sysctl net.bridge.bridge-nf-call-iptables: 1", n.netns))
            .fix(format!("ip netns exec {} sysctl -w net.bridge.bridge-nf-call-iptables=0", n.netns)),
        );
    }
}

/// What a missing NAT rule breaks.
fn consequence(n: &NatRule) -> String {
    let to = n.to.map(|t| t.addr.to_string()).unwrap_or_default();
    let what = n.dst.map(|d| format!(" to {}", d.net)).unwrap_or_default();
    let port = n.dport.map(|p| format!(" port {p}")).unwrap_or_default();
    match n.kind {
        NatKind::Dnat => format!(
            "connections{what}{port} are no longer sent on to {to}: they reach the node itself, where nothing listens (connection refused) or nothing answers"
        ),
        NatKind::Snat | NatKind::Masquerade => {
            let from = n
                .src
                .map(|s| format!(" from {}", s.net))
                .unwrap_or_default();
            format!(
                "packets{from} leave with their own, private source address: the far end answers an address it cannot route back, and the replies are lost"
            )
        }
    }
}

/// The lab's `[[nat]]` rules (other than `-m ipvs` ones, see [`ipvs`]) missing from the
/// kernel.
pub(super) fn nat_missing(snap: &Snapshot, lab: &Lab, r: &mut Report) {
    for n in lab.nat.iter().filter(|n| !n.ipvs) {
        let Some(st) = snap.node(&n.node) else {
            continue;
        };
        if st.errors.iter().any(|e| e.contains("nftables")) {
            continue;
        }
        let kind = match n.kind {
            NatKind::Dnat => "dnat",
            NatKind::Snat => "snat",
            NatKind::Masquerade => "masquerade",
        };
        let to = n.to.map(|t| t.addr.to_string());
        let present = st
            .nat
            .iter()
            .any(|x| x.kind == kind && x.to == to && x.chain.eq_ignore_ascii_case(n.hook.nft()));
        if present {
            continue;
        }
        let rule = crate::nat::from_model(n);
        let iptables = rule
            .iptables(false)
            .map(|w| w.join(" "))
            .unwrap_or_default();
        let mut f = Finding::new(
            "nat-missing",
            &n.node,
            format!("{kind} {}", to.as_deref().unwrap_or(""))
                .trim_end()
                .to_string(),
            format!(
                "the lab's NAT rule `iptables {iptables}` is missing from {}: {}",
                n.node,
                consequence(n)
            ),
        )
        .evidence(format!(
            "ip netns exec {} nft list chain ip {} {}: no {kind} rule{}",
            st.netns,
            crate::nat::TABLE,
            n.hook.nft(),
            to.as_deref()
                .map(|t| format!(" to {t}"))
                .unwrap_or_default()
        ));
        if let Some(cmd) = rule.nft_command() {
            f = f.fix(format!("ip netns exec {} nft '{cmd}'", st.netns));
        }
        r.findings.push(f.fix(format!(
            "# the same with iptables: ip netns exec {} iptables {iptables}",
            st.netns
        )));
    }
}

/// Whether the lab SNATs (or masquerades) packets from `net` leaving `node`.
pub(super) fn snats(lab: &Lab, node: &str, net: ipnet::Ipv4Net) -> bool {
    lab.nat.iter().any(|n| {
        n.node == node
            && matches!(n.kind, NatKind::Snat | NatKind::Masquerade)
            && n.src.is_none_or(|s| !s.negated && s.net.contains(&net))
    })
}
