//! Layer-2 rules: links and bridge ports, VXLAN peers that disagree (VNI, port), and VXLAN
//! MTU against its underlay. What VXLANs need to reach remote MACs is [`super::overlay`].

use std::collections::BTreeSet;
use std::net::IpAddr;

use ipnet::Ipv4Net;

use super::snapshot::{NodeState, Snapshot, host_of};
use super::{Finding, Report, VXLAN_OVERHEAD};
use crate::model::{IfRef, Lab};
use crate::observe::LinkRow;
use crate::plan::Op;

pub(super) const ZERO_MAC: &str = "00:00:00:00:00:00";

/// A VXLAN device and the node holding its UDP socket.
pub(super) struct Vtep<'a> {
    pub node: &'a NodeState,
    pub link: &'a LinkRow,
    pub socket: &'a NodeState,
}

pub(super) fn vteps(snap: &Snapshot) -> Vec<Vtep<'_>> {
    let mut out = Vec::new();
    for n in &snap.nodes {
        for l in n.links.iter().filter(|l| l.vxlan.is_some()) {
            let socket = snap
                .vxlan_socket
                .get(&(n.node.clone(), l.name.clone()))
                .and_then(|s| snap.node(s))
                .unwrap_or(n);
            out.push(Vtep {
                node: n,
                link: l,
                socket,
            });
        }
    }
    out
}

fn vxlan_text(l: &LinkRow) -> String {
    let Some(v) = &l.vxlan else {
        return String::new();
    };
    let mut s = format!("{}: vxlan id {} dstport {}", l.name, v.vni, v.dstport);
    match v.remote {
        Some(g) if g.is_multicast() => s = format!("{s} group {g}"),
        Some(r) => s = format!("{s} remote {r}"),
        None => {}
    }
    if v.proxy {
        s += " proxy";
    }
    s + &format!(" mtu {}", l.mtu)
}

/// Interfaces in the same L2 domain as `link` of `node`: its bridge and the bridge's
/// ports, and the veth peers of those ports.
pub(super) fn domain<'a>(
    snap: &'a Snapshot,
    node: &'a NodeState,
    link: &LinkRow,
) -> Vec<(&'a NodeState, String)> {
    let mut out = vec![(node, link.name.clone())];
    if let Some(br) = &link.master {
        out.push((node, br.clone()));
        for p in node.links.iter().filter(|p| p.master.as_ref() == Some(br)) {
            out.push((node, p.name.clone()));
            if let Some((peer, pi)) = snap
                .peer(&node.node, &p.name)
                .and_then(|(pn, pi)| Some((snap.node(pn)?, pi)))
            {
                out.push((peer, pi.clone()));
            }
        }
    }
    out
}

pub(super) fn subnets(dom: &[(&NodeState, String)]) -> Vec<Ipv4Net> {
    let mut out: Vec<Ipv4Net> = dom
        .iter()
        .flat_map(|(n, i)| {
            n.ipv4()
                .into_iter()
                .filter(move |(a, _)| &a.dev == i)
                .map(|(_, net)| net.trunc())
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

pub(super) fn has_default_dst(v: &Vtep<'_>) -> bool {
    v.link.vxlan.as_ref().is_some_and(|x| x.remote.is_some())
        || v.node
            .fdb
            .iter()
            .any(|f| f.dev == v.link.name && f.self_ && f.mac == ZERO_MAC)
}

/// Bridge ports missing, not enslaved or down; other lab interfaces down.
pub(super) fn links_and_ports(snap: &Snapshot, lab: &Lab, r: &mut Report) {
    let mut ports = BTreeSet::new();
    for b in &lab.bridges {
        let Some(n) = snap.node(&b.dev.node) else {
            continue;
        };
        for p in &b.ports {
            ports.insert((b.dev.node.clone(), p.clone()));
            let br = &b.dev.name;
            let ns = &n.netns;
            let Some(l) = n.link(p) else {
                r.findings.push(
                    Finding::new(
                        "bridge-port",
                        &n.node,
                        p,
                        format!("{p}, a port of {br} in {}, does not exist", n.node),
                    )
                    .evidence(format!("ip -n {ns} link show {p}: no such device")),
                );
                continue;
            };
            if l.master.as_ref() != Some(br) {
                let now = l.master.as_deref().unwrap_or("no bridge");
                r.findings.push(
                    Finding::new(
                        "bridge-port",
                        &n.node,
                        p,
                        format!("{p} in {} should be a port of {br} but its master is {now}: {br} never forwards frames to or from it", n.node),
                    )
                    .evidence(format!("ip -n {ns} link show {p}: master {now}"))
                    .fix(format!("ip -n {ns} link set {p} master {br}")),
                );
            } else if !l.up {
                r.findings.push(
                    Finding::new(
                        "bridge-port",
                        &n.node,
                        p,
                        format!("{p}, a port of {br} in {}, is down: everything behind it is cut off from the bridge", n.node),
                    )
                    .evidence(format!("ip -n {ns} link show {p}: state {} (not UP)", l.state))
                    .fix(format!("ip -n {ns} link set {p} up")),
                );
            }
        }
    }
    for (dev, _) in lab.interfaces() {
        if ports.contains(&(dev.node.clone(), dev.name.clone())) {
            continue;
        }
        let Some(n) = snap.node(&dev.node) else {
            continue;
        };
        if let Some(l) = n.link(&dev.name).filter(|l| !l.up) {
            let what = n
                .ovs
                .as_ref()
                .and_then(|o| o.interface(&l.name))
                .map_or_else(
                    || "nothing goes in or out through it".to_string(),
                    |i| {
                        format!(
                            "it is a port of Open vSwitch bridge {}, and everything behind it is cut off from the bridge",
                            i.bridge
                        )
                    },
                );
            r.findings.push(
                Finding::new(
                    "link-down",
                    &n.node,
                    &l.name,
                    format!("{} in {} is down: {what}", l.name, n.node),
                )
                .evidence(format!(
                    "ip -n {} link show {}: state {}",
                    n.netns, l.name, l.state
                ))
                .fix(format!("ip -n {} link set {} up", n.netns, l.name)),
            );
        }
    }
}

/// The VNI and port the lab means VXLAN `v` to have: its `[[vxlan]]`, or the options of
/// the agent that creates it (`None` for the port: Linux's default).
fn intent(lab: &Lab, v: &Vtep<'_>) -> Option<(u32, Option<u16>)> {
    lab.vxlans
        .iter()
        .find(|m| m.dev.node == v.node.node && m.dev.name == v.link.name)
        .map(|m| (m.vni, m.dstport))
        .or_else(|| {
            lab.agent_of(&IfRef::new(&v.node.node, &v.link.name))
                .map(|a| (a.vni, Some(a.port)))
        })
}

/// The commands that let the agent (lab process `index`) make VTEP `v` again as it is
/// told: stop it, delete the device, start it; it creates the device and programs every
/// other node's entries on it, as flanneld does.
fn agent_recreates(lab: &Lab, v: &Vtep<'_>, index: usize) -> Vec<String> {
    let argv = crate::fault::process::command_line(lab, index);
    let mut out = Vec::new();
    if let Some(p) = v.node.running(&argv) {
        out.push(format!("kill {}", p.pid));
    }
    out.push(format!("ip -n {} link del {}", v.node.netns, v.link.name));
    out.push(super::process::start_command(lab, v.node, &argv));
    out
}

/// The commands that recreate VXLAN `v` with `vni` and `dstport`.
fn recreate(lab: &Lab, v: &Vtep<'_>, vni: u32, dstport: u16) -> Vec<String> {
    let Some(mut state) =
        crate::fault::vxlan::read(lab, &v.node.node, &v.link.name, &v.node.tables())
    else {
        return Vec::new();
    };
    state.vni = vni;
    state.dstport = dstport;
    let mut out = vec![format!("ip -n {} link del {}", v.node.netns, v.link.name)];
    out.extend(state.ops().iter().map(Op::command));
    out
}

/// Whether VTEP `a` sends to `b`: its unicast remote or a flooding entry points at `b`'s
/// socket node, or one of its FDB entries sends a MAC of `b`'s side there, or both
/// share a multicast group. (Two overlays between the same machines, each with its own
/// VNI, do not talk to each other.)
fn sends_to(snap: &Snapshot, a: &Vtep<'_>, b: &Vtep<'_>) -> bool {
    let Some(va) = &a.link.vxlan else {
        return false;
    };
    if va
        .remote
        .is_some_and(|r| !r.is_multicast() && b.socket.owns(r))
    {
        return true;
    }
    let macs: Vec<String> = domain(snap, b.node, b.link)
        .iter()
        .filter_map(|(n, i)| n.link(i).map(|l| l.mac.to_ascii_lowercase()))
        .collect();
    a.node
        .fdb
        .iter()
        .filter(|f| f.dev == a.link.name && f.self_)
        .any(|f| {
            f.dst.is_some_and(|d| b.socket.owns(d))
                && (f.mac == ZERO_MAC || macs.contains(&f.mac.to_ascii_lowercase()))
        })
}

fn talk(snap: &Snapshot, a: &Vtep<'_>, b: &Vtep<'_>) -> bool {
    let (Some(va), Some(vb)) = (&a.link.vxlan, &b.link.vxlan) else {
        return false;
    };
    let same_group =
        matches!((va.remote, vb.remote), (Some(x), Some(y)) if x.is_multicast() && x == y);
    same_group || sends_to(snap, a, b) || sends_to(snap, b, a)
}

/// VTEPs that send to each other with different VNIs or UDP ports.
pub(super) fn vxlan_mismatch(snap: &Snapshot, lab: &Lab, r: &mut Report) {
    let all = vteps(snap);
    for (i, a) in all.iter().enumerate() {
        for b in &all[i + 1..] {
            if host_of(&a.node.node) == host_of(&b.node.node) || !talk(snap, a, b) {
                continue;
            }
            let (Some(va), Some(vb)) = (&a.link.vxlan, &b.link.vxlan) else {
                continue;
            };
            if va.vni == vb.vni && va.dstport == vb.dstport {
                continue;
            }
            // Overlays the lab keeps apart on purpose (same machines, different VNIs,
            // possibly the same MACs) are not peers.
            let apart = match (intent(lab, a), intent(lab, b)) {
                (Some(ma), Some(mb)) => ma != mb,
                _ => false,
            };
            if apart {
                continue;
            }
            let intended = |v: &Vtep<'_>| {
                intent(lab, v).is_some_and(|(vni, port)| {
                    v.link
                        .vxlan
                        .as_ref()
                        .is_some_and(|x| x.vni == vni && port.is_none_or(|p| p == x.dstport))
                })
            };
            // Blame the side that differs from the lab's intent; else the second one.
            let (bad, good) = if intended(b) && !intended(a) {
                (a, b)
            } else {
                (b, a)
            };
            let (vbad, vgood) = (
                bad.link.vxlan.as_ref().expect("vtep"),
                good.link.vxlan.as_ref().expect("vtep"),
            );
            // One finding per device at fault, whatever the number of peers it fails.
            let peer = format!("{}: {}", good.node.node, vxlan_text(good.link));
            if let Some(prev) = r.findings.iter_mut().find(|x| {
                x.rule == "vxlan-mismatch" && x.node == bad.node.node && x.object == bad.link.name
            }) {
                if !prev.evidence.contains(&peer) {
                    prev.evidence.push(peer);
                }
                continue;
            }
            let what = if vbad.vni == vgood.vni {
                format!(
                    "uses UDP port {} but its peer {} in {} uses {}: each side's packets arrive at a port the other does not listen on (the receiver answers ICMP port unreachable)",
                    vbad.dstport, good.link.name, good.node.node, vgood.dstport
                )
            } else {
                format!(
                    "has VNI {} but its peer {} in {} has VNI {}: each side drops the other's packets, no VXLAN device there has that VNI (drop reason VXLAN_VNI_NOT_FOUND)",
                    vbad.vni, good.link.name, good.node.node, vgood.vni
                )
            };
            let mut f = Finding::new(
                "vxlan-mismatch",
                &bad.node.node,
                &bad.link.name,
                format!("{} in {} {what}", bad.link.name, bad.node.node),
            )
            .evidence(format!("{}: {}", bad.node.node, vxlan_text(bad.link)))
            .evidence(peer);
            f.fix = match lab.agent_of(&IfRef::new(&bad.node.node, &bad.link.name)) {
                Some(a) => agent_recreates(lab, bad, a.process),
                None => recreate(lab, bad, vgood.vni, vgood.dstport),
            };
            r.findings.push(f);
        }
    }
}

/// The underlay link a VTEP's packets leave by.
fn underlay<'a>(lab: &Lab, v: &Vtep<'a>) -> Option<&'a LinkRow> {
    let model = lab
        .vxlans
        .iter()
        .find(|m| m.dev.node == v.node.node && m.dev.name == v.link.name);
    if let Some(dev) = model.and_then(|m| m.underlay_dev.as_ref()) {
        return v.socket.link(dev);
    }
    let mut dsts: Vec<IpAddr> = v.link.vxlan.iter().filter_map(|x| x.remote).collect();
    dsts.extend(
        v.node
            .fdb
            .iter()
            .filter(|f| f.dev == v.link.name && f.self_)
            .filter_map(|f| f.dst),
    );
    dsts.iter().find_map(|d| {
        v.socket
            .lookup(*d)?
            .dev
            .as_deref()
            .and_then(|dev| v.socket.link(dev))
    })
}

/// VXLAN MTUs larger than their underlay can carry once encapsulated.
pub(super) fn vxlan_mtu(snap: &Snapshot, lab: &Lab, r: &mut Report) {
    for v in vteps(snap) {
        let Some(u) = underlay(lab, &v) else { continue };
        let room = u.mtu.saturating_sub(VXLAN_OVERHEAD);
        if v.link.mtu <= room {
            continue;
        }
        let at = format!(
            "{} in {} (MTU {}) over {} in {} (MTU {})",
            v.link.name, v.node.node, v.link.mtu, u.name, v.socket.node, u.mtu
        );
        // Not a finding: measured, both ends at this MTU carry everything (a 4 MiB TCP
        // transfer each way through docker-overlay's 1500-on-1500 vxlan0). Only an underlay
        // smaller than the VXLAN device's own MTU loses packets (see below).
        if v.link.mtu <= u.mtu {
            let df = if v.link.master.is_some() {
                format!(
                    "DF packets above {room} bytes are answered with 'frag needed (mtu {room})' by the VXLAN driver, which path MTU discovery copes with"
                )
            } else {
                format!(
                    "{} is no bridge port, so even DF packets go out that way, and its node learns path MTU {room} for its own",
                    v.link.name
                )
            };
            r.notes.push(format!(
                "{at}: no room for VXLAN's {VXLAN_OVERHEAD} bytes: outer packets above the underlay's MTU are fragmented (VXLAN never sets DF on them) and {df}"
            ));
            continue;
        }
        let mut f = Finding::new(
            "vxlan-mtu",
            &v.node.node,
            &v.link.name,
            format!(
                "{} in {} has MTU {} but its underlay {} in {} has MTU {}: with VXLAN's {VXLAN_OVERHEAD} bytes of headers only {room}-byte packets fit; bigger ones with DF set are refused with 'frag needed (mtu {room})' and big transfers stall",
                v.link.name, v.node.node, v.link.mtu, u.name, v.socket.node, u.mtu
            ),
        )
        .evidence(format!("ip -n {} link show {}: mtu {}", v.node.netns, v.link.name, v.link.mtu))
        .evidence(format!("ip -n {} link show {}: mtu {}", v.socket.netns, u.name, u.mtu))
        .fix(format!("ip -n {} link set {} mtu {room}", v.node.netns, v.link.name));
        for (n, i) in domain(snap, v.node, v.link).into_iter().skip(1) {
            if i != v.link.name && n.link(&i).is_some_and(|l| l.mtu > room) {
                f = f.fix(format!("ip -n {} link set {i} mtu {room}", n.netns));
            }
        }
        r.findings.push(f.fix(format!(
            "# or give the underlay room for the overlay: ip -n {} link set {} mtu {} (and its peer)",
            v.socket.netns,
            u.name,
            v.link.mtu + VXLAN_OVERHEAD
        )));
    }
}
