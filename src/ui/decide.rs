//! Which table rows decided the hop being walked: the route (longest prefix) and the
//! neighbour entry when a node routes the packet out, the bridge FDB entry when a bridge
//! forwards it, the VXLAN FDB entry (or the all-zeros entries, or the device's `remote`)
//! when a VXLAN device sends it, and the NAT rule, IPVS service or conntrack entry when
//! its addresses were rewritten since the previous hop.
//!
//! The lookups are the ones `vxlab explain` predicts paths with ([`NodeState::lookup`],
//! [`NodeState::neighbour`], [`NodeState::bridge_fdb`], [`NodeState::vxlan_dest`]), run on
//! the tables the panel holds and the frame captured at the hop.

use std::net::IpAddr;

use super::model::{Model, NodeTables, Tab};
use super::netfilter::NftRule;
use super::rows;
use crate::capture::Dir;
use crate::conntrack::{CtRow, Tuple};
use crate::decode::{DecodeOptions, decode};
use crate::doctor::{NodeState, VxlanDest};
use crate::ipvs::ServiceRow;
use crate::trace::Hop;

/// A row of a node's tables that decided the hop (or, without a row, what the kernel did
/// for want of one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Node whose table it is.
    pub node: String,
    /// Tab holding the row.
    pub tab: Tab,
    /// Key of the row in the tab; `None` when no row decided (a flood, a missing entry).
    pub key: Option<String>,
    /// What it says, as the journey shows it.
    pub what: String,
}

/// An address and port as the tables show them.
type Endpoint = (IpAddr, Option<u16>);

/// What the frame captured at the hop says about layer 2.
#[derive(Debug, Clone, Default)]
struct Frame {
    src_mac: Option<String>,
    dst_mac: Option<String>,
}

fn frame_at(m: &Model, seq: Option<u64>) -> Frame {
    let Some(c) = seq.and_then(|s| m.packets.get(s)) else {
        return Frame::default();
    };
    let pkt = decode(&c.frame.data, &DecodeOptions::default());
    let eth = pkt.ethernet();
    Frame {
        src_mac: eth.map(|e| e.src.to_string()),
        dst_mac: eth.map(|e| e.dst.to_string()),
    }
}

/// The rows that decided the hop being walked, the most telling first.
pub fn decisions(m: &Model) -> Vec<Decision> {
    let Some(j) = &m.journey else {
        return Vec::new();
    };
    let Some(hops) = j.current().map(|c| &c.hops) else {
        return Vec::new();
    };
    let Some(hop) = hops.get(j.hop) else {
        return Vec::new();
    };
    let Some(t) = m.tables.get(&hop.node) else {
        return Vec::new();
    };
    let prev = j.hop.checked_sub(1).and_then(|i| hops.get(i));
    let frame = frame_at(m, j.seqs.get(hop.frame).copied());
    let mut out = Vec::new();
    if let Some(p) = prev.filter(|p| p.encap.is_some() == hop.encap.is_some()) {
        out.extend(nat(t, hop, (p.src, p.dst)));
    }
    match hop.dir {
        Dir::Out => out.extend(forwarding(&t.state, hop, &frame)),
        Dir::In => out.extend(decapsulating(&t.state, hop)),
    }
    out
}

/// A VXLAN device that takes a packet in: it listens on the packet's port and VNI.
fn decapsulating(st: &NodeState, hop: &Hop) -> Option<Decision> {
    let v = st.link(&hop.iface)?.vxlan.as_ref()?;
    Some(decision(
        &st.node,
        Tab::Links,
        Some(hop.iface.clone()),
        format!(
            "{} takes VNI {} on UDP port {}",
            hop.iface, v.vni, v.dstport
        ),
    ))
}

fn decision(node: &str, tab: Tab, key: Option<String>, what: String) -> Decision {
    Decision {
        node: node.to_string(),
        tab,
        key,
        what,
    }
}

/// Why the frame left by the hop's interface: routed, bridged, sent by a VXLAN device.
fn forwarding(st: &NodeState, hop: &Hop, frame: &Frame) -> Vec<Decision> {
    let Some(link) = st.link(&hop.iface) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    // A routed frame leaves with the MAC of the device the route chose: the interface's
    // own, or its bridge's.
    let sent_by = |dev: &str| {
        st.link(dev)
            .zip(frame.src_mac.as_deref())
            .is_some_and(|(l, mac)| l.mac.eq_ignore_ascii_case(mac))
    };
    let routed_by = if sent_by(&hop.iface) {
        Some(hop.iface.as_str())
    } else {
        link.master.as_deref().filter(|br| sent_by(br))
    };
    if routed_by.is_some() || frame.src_mac.is_none() {
        out.extend(routing(st, hop));
    }
    if let (Some(br), Some(mac)) = (&link.master, &frame.dst_mac) {
        out.push(bridging(st, br, mac));
    }
    if link.vxlan.is_some()
        && let Some(mac) = &frame.dst_mac
    {
        out.extend(vxlan(st, &hop.iface, mac));
    }
    out
}

fn routing(st: &NodeState, hop: &Hop) -> Vec<Decision> {
    let dst = hop.encap.map_or(hop.dst.0, |e| e.outer_dst);
    let node = &st.node;
    let Some(r) = st.lookup(dst) else {
        return vec![decision(
            node,
            Tab::Routes,
            None,
            format!("no route to {dst}"),
        )];
    };
    let via = r.via.map(|v| format!(" via {v}")).unwrap_or_default();
    let dev = r.dev.clone().unwrap_or_default();
    let mut out = vec![decision(
        node,
        Tab::Routes,
        Some(rows::route(r).key),
        format!("route {}{via} dev {dev}", r.to),
    )];
    let nh = r.via.unwrap_or(dst);
    out.push(match st.neighbour(&dev, nh) {
        Some(n) => decision(
            node,
            Tab::Neighbours,
            Some(rows::neigh(n).key),
            format!(
                "neighbour {nh} lladdr {} {}",
                n.lladdr.as_deref().unwrap_or_default(),
                n.state
            ),
        ),
        None => decision(
            node,
            Tab::Neighbours,
            None,
            format!("no neighbour entry for {nh} on {dev} yet"),
        ),
    });
    out
}

fn bridging(st: &NodeState, br: &str, mac: &str) -> Decision {
    let node = &st.node;
    if mac == "ff:ff:ff:ff:ff:ff" || is_multicast(mac) {
        return decision(
            node,
            Tab::Fdb,
            None,
            format!("bridge {br} floods {mac} to every port"),
        );
    }
    match st.bridge_fdb(br, mac) {
        Some(f) => decision(
            node,
            Tab::Fdb,
            Some(rows::fdb(f).key),
            format!(
                "fdb {mac} dev {} master {br} ({})",
                f.dev,
                fdb_state(&f.state)
            ),
        ),
        None => decision(
            node,
            Tab::Fdb,
            None,
            format!("bridge {br} has no fdb entry for {mac}: flooded"),
        ),
    }
}

/// An FDB entry's state as the FDB tab shows it.
fn fdb_state(state: &str) -> &str {
    if state == "dynamic" { "learned" } else { state }
}

fn is_multicast(mac: &str) -> bool {
    u8::from_str_radix(mac.get(..2).unwrap_or("00"), 16).is_ok_and(|b| b & 1 == 1)
}

fn vxlan(st: &NodeState, dev: &str, mac: &str) -> Vec<Decision> {
    let node = &st.node;
    match st.vxlan_dest(dev, mac) {
        Some(VxlanDest::Entry(rows)) => rows
            .into_iter()
            .map(|f| {
                let dst = f.dst.map(|d| d.to_string()).unwrap_or_default();
                decision(
                    node,
                    Tab::Fdb,
                    Some(rows::fdb(f).key),
                    format!("{dev} fdb {mac} dst {dst} ({})", fdb_state(&f.state)),
                )
            })
            .collect(),
        Some(VxlanDest::Flood(rows)) => rows
            .into_iter()
            .map(|f| {
                let dst = f.dst.map(|d| d.to_string()).unwrap_or_default();
                decision(
                    node,
                    Tab::Fdb,
                    Some(rows::fdb(f).key),
                    format!("{dev}: no fdb entry for {mac}, default 00:00:00:00:00:00 dst {dst}"),
                )
            })
            .collect(),
        Some(VxlanDest::Remote(r)) => vec![decision(
            node,
            Tab::Links,
            Some(dev.to_string()),
            format!("{dev}: no fdb entry for {mac}, the device's remote {r}"),
        )],
        None => vec![decision(
            node,
            Tab::Fdb,
            None,
            format!("{dev} has no fdb entry for {mac} and no remote"),
        )],
    }
}

fn tuple_is(t: &Tuple, (src, dst): (Endpoint, Endpoint)) -> bool {
    t.src == src.0
        && t.dst == dst.0
        && src.1.is_none_or(|p| t.sport == Some(p))
        && dst.1.is_none_or(|p| t.dport == Some(p))
}

/// What rewrote the packet's addresses between `before` and the hop: conntrack undoing a
/// translation on a reply, or the NAT rule (IPVS service) that made it, with the conntrack
/// entry it created.
fn nat(t: &NodeTables, hop: &Hop, before: (Endpoint, Endpoint)) -> Vec<Decision> {
    let (snat, dnat) = (before.0 != hop.src, before.1 != hop.dst);
    if !snat && !dnat {
        return Vec::new();
    }
    let node = &t.state.node;
    let Some(p) = &t.polled else {
        return vec![decision(
            node,
            Tab::Nat,
            None,
            format!("{node}'s NAT rules are read once it is selected"),
        )];
    };
    let conns = p.conntrack.as_deref().unwrap_or_default();
    let entry =
        |c: &CtRow, what: String| decision(node, Tab::Conntrack, Some(rows::ct(c).key), what);
    if let Some(c) = conns.iter().find(|c| tuple_is(&c.reply, before)) {
        return vec![entry(
            c,
            format!(
                "conntrack: a reply of {}, translated back",
                rows::tuple(&c.original)
            ),
        )];
    }
    let mut out = Vec::new();
    if dnat {
        let services = p.ipvs.as_deref().unwrap_or_default();
        match services.iter().find(|s| serves(s, before.1)) {
            Some(s) => out.extend(ipvs(node, s, hop.dst)),
            None => out.push(rule(
                node,
                p.nat.as_deref().unwrap_or_default(),
                "dnat",
                hop.dst.0,
            )),
        }
    }
    if snat {
        out.push(rule(
            node,
            p.nat.as_deref().unwrap_or_default(),
            "snat",
            hop.src.0,
        ));
    }
    if let Some(c) = conns.iter().find(|c| tuple_is(&c.original, before)) {
        out.push(entry(
            c,
            format!(
                "conntrack {} ⇄ {}",
                rows::tuple(&c.original),
                rows::tuple(&c.reply)
            ),
        ));
    }
    out
}

fn serves(s: &ServiceRow, (addr, port): Endpoint) -> bool {
    IpAddr::V4(s.addr) == addr && port.is_none_or(|p| p == s.port)
}

fn ipvs(node: &str, s: &ServiceRow, to: Endpoint) -> Vec<Decision> {
    let mut out = vec![decision(
        node,
        Tab::Ipvs,
        Some(rows::service_key(s)),
        format!(
            "IPVS {}:{} ({}{})",
            s.addr,
            s.port,
            s.scheduler,
            if s.emulated { ", emulated" } else { "" }
        ),
    )];
    if let Some(r) = s.reals.iter().find(|r| IpAddr::V4(r.addr) == to.0) {
        out.push(decision(
            node,
            Tab::Ipvs,
            Some(rows::real_key(s, r)),
            format!("real server {}:{}", r.addr, r.port),
        ));
    }
    out
}

/// Whether rule text `text` translates (`kind`, `dnat` or `snat`) to address `to`.
fn translates_to(text: &str, kind: &str, to: IpAddr) -> bool {
    let to = to.to_string();
    let words: Vec<&str> = text.split_whitespace().collect();
    words.windows(3).any(|w| {
        w[0] == kind
            && w[1] == "to"
            && (w[2] == to
                || w[2]
                    .strip_prefix(to.as_str())
                    .is_some_and(|r| r.starts_with(':')))
    })
}

/// The rule that translates to `to`: `kind` (`dnat`, `snat`) with that address, or for
/// `snat` a `masquerade`.
fn rule(node: &str, rules: &[NftRule], kind: &str, to: IpAddr) -> Decision {
    let found = rules
        .iter()
        .find(|r| translates_to(&r.text, kind, to))
        .or_else(|| {
            rules
                .iter()
                .find(|r| kind == "snat" && r.text.split_whitespace().any(|w| w == "masquerade"))
        });
    match found {
        Some(r) => decision(
            node,
            Tab::Nat,
            Some(rows::nft_rule(r).key),
            format!("{} rule: {}", r.chain, r.text),
        ),
        None => decision(
            node,
            Tab::Nat,
            None,
            format!("no {kind} rule to {to} found in {node}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::ipvs::RealRow;
    use crate::model::{Forward, Lab, Proto};
    use crate::trace::Journey;
    use crate::ui::model::{JourneyState, Phase};
    use crate::ui::netfilter::Polled;

    fn ep(ip: [u8; 4], port: u16) -> Endpoint {
        (IpAddr::from(ip), Some(port))
    }

    fn hop(node: &str, iface: &str, dir: Dir, (src, dst): (Endpoint, Endpoint)) -> Hop {
        Hop {
            frame: usize::MAX,
            node: node.into(),
            iface: iface.into(),
            dir,
            ts_ns: 0,
            delta_ns: None,
            summary: String::new(),
            encap: None,
            src,
            dst,
            ttl: 64,
            changes: Vec::new(),
        }
    }

    fn tuple((src, dst): (Endpoint, Endpoint)) -> Tuple {
        Tuple {
            src: src.0,
            dst: dst.0,
            sport: src.1,
            dport: dst.1,
            icmp_type: None,
            icmp_code: None,
            icmp_id: None,
        }
    }

    fn conn(original: (Endpoint, Endpoint), reply: (Endpoint, Endpoint)) -> CtRow {
        CtRow {
            family: "ipv4",
            proto: "tcp".into(),
            proto_num: 6,
            original: tuple(original),
            reply: tuple(reply),
            state: Some("ESTABLISHED".into()),
            status: vec!["SEEN_REPLY", "ASSURED"],
            src_nat: false,
            dst_nat: true,
            timeout: Some(100),
            mark: 0,
            id: None,
            zone: None,
        }
    }

    fn rule(chain: &str, handle: u64, text: &str) -> NftRule {
        NftRule {
            family: "ip".into(),
            table: "vxlab".into(),
            chain: chain.into(),
            handle: Some(handle),
            text: text.into(),
            packets: Some(1),
            bytes: Some(60),
        }
    }

    const CLIENT: [u8; 4] = [192, 168, 228, 150];
    const HOST_A: [u8; 4] = [192, 168, 228, 148];
    const WEB: [u8; 4] = [10, 0, 0, 2];

    /// The panel on docker-overlay walking hop `at` of `hops`, hostA's netfilter state
    /// polled as `polled`.
    fn walking(hops: Vec<Hop>, at: usize, polled: Polled) -> Model {
        let lab = Lab::from_source(include_str!("../../labs/docker-overlay.toml")).expect("lab");
        let mut m = Model::new(lab, Phase::Attached, (160, 45), false);
        let t = m.tables.entry("hostA".into()).or_default();
        t.state.node = "hostA".into();
        t.polled = Some(Box::new(polled));
        m.journey = Some(JourneyState {
            title: "test".into(),
            journeys: vec![Journey {
                summary: String::new(),
                hops,
                delivered: true,
                last_seen: String::new(),
                verdict: String::new(),
            }],
            seqs: Vec::new(),
            which: 0,
            hop: at,
            key: None,
        });
        m
    }

    fn keys(m: &Model) -> Vec<(Tab, Option<String>)> {
        decisions(m).into_iter().map(|d| (d.tab, d.key)).collect()
    }

    fn polled(nat: Vec<NftRule>, ipvs: Vec<ServiceRow>, conntrack: Vec<CtRow>) -> Polled {
        Polled {
            nat: Ok(nat),
            ipvs: Ok(ipvs),
            conntrack: Ok(conntrack),
        }
    }

    #[test]
    fn a_dnat_is_decided_by_its_rule_and_undone_on_the_reply_by_conntrack() {
        let request = (ep(CLIENT, 40_000), ep(HOST_A, 80));
        let translated = (ep(CLIENT, 40_000), ep(WEB, 80));
        let reply = (ep(WEB, 80), ep(CLIENT, 40_000));
        let rules = vec![
            rule("prerouting", 3, "tcp dport 8080 dnat to 10.0.0.22:80"),
            rule("prerouting", 4, "tcp dport 80 dnat to 10.0.0.2:80"),
        ];
        let c = conn(request, reply);
        let p = polled(rules, Vec::new(), vec![c.clone()]);
        let hops = vec![
            hop("hostA", "eth0", Dir::In, request),
            hop("hostA", "pandora_bridge", Dir::Out, translated),
        ];
        let m = walking(hops, 1, p.clone());
        assert_eq!(
            keys(&m),
            [
                (Tab::Nat, Some("ip vxlab prerouting 4".into())),
                (Tab::Conntrack, Some(rows::ct(&c).key)),
            ]
        );
        let back = vec![
            hop("hostA", "pandora_bridge", Dir::In, reply),
            hop(
                "hostA",
                "eth0",
                Dir::Out,
                (ep(HOST_A, 80), ep(CLIENT, 40_000)),
            ),
        ];
        let m = walking(back, 1, p);
        let found = decisions(&m);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].tab, Tab::Conntrack);
        assert!(
            found[0]
                .what
                .contains("a reply of 192.168.228.150:40000→192.168.228.148:80")
        );
        // The first hop, with nothing before it, was decided by nothing seen here.
        let m = walking(
            vec![hop("hostA", "eth0", Dir::In, request)],
            0,
            polled(Vec::new(), Vec::new(), Vec::new()),
        );
        assert!(decisions(&m).is_empty());
    }

    #[test]
    fn an_ipvs_dnat_is_decided_by_the_service_and_its_real_server() {
        let vip = ep([10, 96, 0, 10], 80);
        let real = |last: u8| RealRow {
            addr: Ipv4Addr::new(10, 0, 0, last),
            port: 80,
            forward: Forward::Masq,
            weight: 1,
            active: 0,
            inactive: 0,
        };
        let s = ServiceRow {
            proto: Proto::Tcp,
            addr: Ipv4Addr::new(10, 96, 0, 10),
            port: 80,
            scheduler: "rr".into(),
            reals: vec![real(4), real(14)],
            emulated: true,
        };
        let hops = vec![
            hop("hostA", "veth100", Dir::In, (ep(CLIENT, 1), vip)),
            hop(
                "hostA",
                "eth0",
                Dir::Out,
                (ep(CLIENT, 1), ep([10, 0, 0, 14], 80)),
            ),
        ];
        let m = walking(hops, 1, polled(Vec::new(), vec![s.clone()], Vec::new()));
        assert_eq!(
            keys(&m),
            [
                (Tab::Ipvs, Some(rows::service_key(&s))),
                (Tab::Ipvs, Some(rows::real_key(&s, &real(14)))),
            ]
        );
    }

    #[test]
    fn a_snat_is_decided_by_its_rule_or_a_masquerade_and_a_missing_one_is_said() {
        let before = (ep(WEB, 5000), ep(CLIENT, 80));
        let after = (ep(HOST_A, 5000), ep(CLIENT, 80));
        let hops = || {
            vec![
                hop("hostA", "pandora_bridge", Dir::In, before),
                hop("hostA", "eth0", Dir::Out, after),
            ]
        };
        let masq = rule("postrouting", 7, "ip saddr 10.0.0.0/24 masquerade");
        let m = walking(hops(), 1, polled(vec![masq], Vec::new(), Vec::new()));
        assert_eq!(
            keys(&m),
            [(Tab::Nat, Some("ip vxlab postrouting 7".into()))]
        );
        let m = walking(hops(), 1, polled(Vec::new(), Vec::new(), Vec::new()));
        let found = decisions(&m);
        assert_eq!(found[0].key, None);
        assert_eq!(
            found[0].what,
            "no snat rule to 192.168.228.148 found in hostA"
        );
    }
}
