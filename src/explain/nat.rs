//! NAT on the predicted path: the lab's DNAT, SNAT and MASQUERADE rules (those the
//! kernel still has), IPVS virtual services, and undoing them on the reply, as conntrack
//! does.

use std::net::{IpAddr, Ipv4Addr};

use super::sim::Pkt;
use crate::doctor::NodeState;
use crate::model::{Hook, Lab, NatKind, NatRule};

/// A translation made at a node, undone for the reply there.
#[derive(Debug, Clone)]
pub(super) struct Xlat {
    pub node: String,
    pub from: (Ipv4Addr, Ipv4Addr),
    pub to: (Ipv4Addr, Ipv4Addr),
}

fn live(st: &NodeState, n: &NatRule) -> bool {
    let kind = match n.kind {
        NatKind::Dnat => "dnat",
        NatKind::Snat => "snat",
        NatKind::Masquerade => "masquerade",
    };
    let to = n.to.map(|t| t.addr.to_string());
    st.nat.iter().any(|x| {
        x.kind == kind
            && x.to == to
            && x.chain.eq_ignore_ascii_case(n.hook.nft())
            && x.ipvs_only == n.ipvs
    })
}

fn matches(n: &NatRule, p: &Pkt, iif: Option<&str>, oif: Option<&str>) -> bool {
    let addr = |m: Option<crate::model::AddrMatch>, ip: Ipv4Addr| {
        m.is_none_or(|m| m.net.contains(&ip) != m.negated)
    };
    let dev = |m: &Option<crate::model::IfMatch>, d: Option<&str>| {
        m.as_ref()
            .is_none_or(|m| d.is_some_and(|d| (d == m.name) != m.negated))
    };
    addr(n.src, p.src)
        && addr(n.dst, p.dst)
        && n.proto.is_none_or(|x| x == p.proto)
        && n.dport.is_none_or(|x| Some(x) == p.dport)
        && dev(&n.iif, iif)
        && dev(&n.oif, oif)
}

/// The destination NAT (a `[[nat]]` DNAT rule, or an IPVS service) the packet meets at
/// `st` on `hook`; `pick` lists real servers seen chosen, to follow the same one.
pub(super) fn dnat(
    lab: &Lab,
    st: &NodeState,
    hook: Hook,
    p: &Pkt,
    iif: Option<&str>,
    pick: &[Ipv4Addr],
) -> Option<(Ipv4Addr, Option<u16>, bool, String)> {
    let mut services: Vec<crate::ipvs::ServiceRow> = lab
        .ipvs
        .iter()
        .filter(|s| s.node == st.node && s.emulated)
        .map(crate::ipvs::ServiceRow::emulated)
        .collect();
    services.extend(st.ipvs.iter().flatten().cloned());
    for s in services {
        if s.addr != p.dst || s.proto != p.proto || Some(s.port) != p.dport || s.reals.is_empty() {
            continue;
        }
        let real = s
            .reals
            .iter()
            .find(|r| pick.contains(&r.addr))
            .unwrap_or(&s.reals[0]);
        let all: Vec<String> = s
            .reals
            .iter()
            .map(|r| format!("{}:{}", r.addr, r.port))
            .collect();
        let why = format!(
            "IPVS{} {}:{} ({}) sends it to real server {}:{} (one of {})",
            if s.emulated { " (emulated)" } else { "" },
            s.addr,
            s.port,
            s.scheduler,
            real.addr,
            real.port,
            all.join(", ")
        );
        return Some((real.addr, Some(real.port), true, why));
    }
    lab.nat
        .iter()
        .filter(|n| n.node == st.node && n.kind == NatKind::Dnat && n.hook == hook)
        .find(|n| matches(n, p, iif, None) && live(st, n))
        .and_then(|n| {
            let to = n.to?;
            Some((
                to.addr,
                to.port.or(p.dport),
                false,
                format!(
                    "DNAT {} → {} ({} rule of {})",
                    p.dst,
                    to.addr,
                    hook.nft(),
                    st.node
                ),
            ))
        })
}

/// The source NAT the packet meets leaving `st` by `oif`.
pub(super) fn snat(lab: &Lab, st: &NodeState, p: &Pkt, oif: &str) -> Option<(Ipv4Addr, String)> {
    let vs_off = st.ipvs.is_some() && st.sysctl("net.ipv4.vs.conntrack") == Some("0");
    lab.nat
        .iter()
        .filter(|n| n.node == st.node && n.kind != NatKind::Dnat && n.hook == Hook::Postrouting)
        .filter(|n| !n.ipvs || (p.ipvs && !vs_off))
        .find(|n| matches(n, p, None, Some(oif)) && live(st, n))
        .and_then(|n| {
            let new = match (n.kind, n.to) {
                (NatKind::Snat, Some(t)) => t.addr,
                _ => st
                    .ipv4()
                    .into_iter()
                    .find(|(a, _)| a.dev == oif)
                    .map(|(_, net)| net.addr())?,
            };
            let what = if n.kind == NatKind::Masquerade {
                "MASQUERADE"
            } else {
                "SNAT"
            };
            Some((
                new,
                format!("{what} {} → {new} (postrouting rule of {})", p.src, st.node),
            ))
        })
}

/// Why an IPVS-forwarded packet leaves without the `-m ipvs` SNAT the lab gives it.
pub(super) fn snat_missing(lab: &Lab, st: &NodeState, p: &Pkt) -> Option<String> {
    if !p.ipvs {
        return None;
    }
    let n = lab
        .nat
        .iter()
        .find(|n| n.node == st.node && n.ipvs && n.kind == NatKind::Snat)?;
    let to = n.to.map(|t| t.addr.to_string()).unwrap_or_default();
    Some(format!(
        "the lab's `-m ipvs` SNAT (to {to}) does not apply here ({}): the real server will see {} and answer it directly, not through {}",
        if live(st, n) {
            "net.ipv4.vs.conntrack is 0"
        } else {
            "the rule is not in the kernel"
        },
        p.src,
        st.node
    ))
}

/// Undoes, for a reply arriving at `node`, the translations made there.
pub(super) fn reverse(xlats: &[Xlat], node: &str, p: &mut Pkt) -> Option<String> {
    let mut notes = Vec::new();
    for x in xlats.iter().filter(|x| x.node == node) {
        if p.dst == x.to.0 && x.to.0 != x.from.0 {
            notes.push(format!("un-SNAT {} → {}", p.dst, x.from.0));
            p.dst = x.from.0;
        }
        if p.src == x.to.1 && x.to.1 != x.from.1 {
            notes.push(format!("un-DNAT {} → {}", p.src, x.from.1));
            p.src = x.from.1;
        }
    }
    (!notes.is_empty()).then(|| format!("conntrack at {node}: {}", notes.join(", ")))
}

/// Whether `ip` is one of the node's addresses or a loopback one.
pub(super) fn local(st: &NodeState, ip: Ipv4Addr) -> bool {
    st.owns(IpAddr::V4(ip))
}
