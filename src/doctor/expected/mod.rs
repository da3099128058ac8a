//! The snapshot a healthy lab would have, built from the lab alone, and faults applied to
//! a snapshot in memory: the rules' test bench, without root or a kernel.
//!
//! It mimics what the kernel shows after `vxlab up` (connected routes, the bridge's
//! entries for its ports' MACs, a VXLAN's default destination, default sysctls), not
//! every detail: learned entries, IPv6 link-local addresses and timers are left out.

mod made;

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::Finding;
use super::snapshot::{NatRow, NodeState, Snapshot, host_of};
use crate::ipvs::ServiceRow;
use crate::model::{Fault, FaultAction, Lab, NatKind};
use crate::observe::{AddrRow, FdbRow, LinkRow, NeighRow, RouteRow, VxlanInfo};

fn link(index: u32, name: &str, kind: &str, mtu: u32, mac: String) -> LinkRow {
    LinkRow {
        index,
        name: name.to_string(),
        kind: kind.to_string(),
        up: true,
        state: "UP".into(),
        mtu,
        mac,
        master: None,
        vxlan: None,
    }
}

fn fdb(dev: &str, mac: String, dst: Option<IpAddr>, master: Option<String>) -> FdbRow {
    FdbRow {
        dev: dev.to_string(),
        mac,
        dst,
        vni: None,
        self_: master.is_none(),
        master,
        state: "permanent".into(),
    }
}

fn nat_row(lab: &Lab, n: &crate::model::NatRule) -> NatRow {
    NatRow {
        table: if n.ipvs && !lab.ipvs_emulated() {
            "nat".into()
        } else {
            crate::nat::TABLE.into()
        },
        chain: n.hook.nft().to_string(),
        kind: match n.kind {
            NatKind::Dnat => "dnat",
            NatKind::Snat => "snat",
            NatKind::Masquerade => "masquerade",
        }
        .into(),
        to: n.to.map(|t| t.addr.to_string()),
        ipvs_only: n.ipvs,
    }
}

fn node_state(lab: &Lab, node: &crate::model::Node) -> NodeState {
    let id = node.id.as_str();
    let mut st = NodeState {
        node: id.to_string(),
        netns: node.netns.clone(),
        ..NodeState::default()
    };
    let mut lo = link(1, "lo", "", 65536, "00:00:00:00:00:00".into());
    lo.up = node.lo_up;
    st.links.push(lo);
    let veth_mtu = |n: &str, dev: &str| {
        lab.veths
            .iter()
            .find(|v| (v.a.node == n && v.a.name == dev) || (v.b.node == n && v.b.name == dev))
            .and_then(|v| v.mtu)
            .unwrap_or(1500)
    };
    for (i, (dev, mac)) in lab.interfaces().into_iter().enumerate() {
        if dev.node != id {
            continue;
        }
        let index = u32::try_from(i).unwrap_or(0) + 2;
        let mut l = if let Some(v) = lab.vxlans.iter().find(|v| &v.dev == dev) {
            let auto = v
                .underlay_dev
                .as_ref()
                .map_or(1500, |d| veth_mtu(&v.created_in, d) - 50);
            let mut l = link(
                index,
                &dev.name,
                "vxlan",
                v.mtu.unwrap_or(auto),
                mac.to_string(),
            );
            l.vxlan = Some(VxlanInfo {
                vni: v.vni,
                dstport: v.dstport.unwrap_or(8472),
                local: v.local,
                remote: v.remote.or(v.group),
                proxy: v.proxy,
                learning: v.learning,
            });
            if let Some(d) = v.remote.or(v.group) {
                st.fdb
                    .push(fdb(&dev.name, "00:00:00:00:00:00".into(), Some(d), None));
            }
            l
        } else if let Some(b) = lab.bridges.iter().find(|b| &b.dev == dev) {
            link(
                index,
                &dev.name,
                "bridge",
                b.mtu.unwrap_or(1500),
                mac.to_string(),
            )
        } else {
            link(
                index,
                &dev.name,
                "veth",
                veth_mtu(id, &dev.name),
                mac.to_string(),
            )
        };
        if let Some(b) = lab
            .bridges
            .iter()
            .find(|b| b.dev.node == id && b.ports.contains(&dev.name))
        {
            l.master = Some(b.dev.name.clone());
            st.fdb.push(fdb(
                &dev.name,
                mac.to_string(),
                None,
                Some(b.dev.name.clone()),
            ));
        }
        st.links.push(l);
    }
    for a in lab.addresses.iter().filter(|a| a.dev.node == id) {
        st.addresses.push(AddrRow {
            dev: a.dev.name.clone(),
            address: a.address.to_string(),
        });
        st.routes.push(RouteRow {
            to: a.address.trunc().to_string(),
            via: None,
            dev: Some(a.dev.name.clone()),
            proto: "kernel".into(),
        });
    }
    for r in lab.routes.iter().filter(|r| r.node == id) {
        let dev = r.dev.clone().or_else(|| {
            let via = r.via?;
            lab.addresses
                .iter()
                .find(|a| a.dev.node == id && a.address.contains(&via))
                .map(|a| a.dev.name.clone())
        });
        let to = if r.is_default() {
            "default".to_string()
        } else {
            r.to.to_string()
        };
        st.routes.push(RouteRow {
            to,
            via: r.via,
            dev,
            proto: "boot".into(),
        });
    }
    for n in lab.neighs.iter().filter(|n| n.dev.node == id) {
        st.neighbours.push(NeighRow {
            dev: n.dev.name.clone(),
            to: n.to,
            lladdr: Some(n.lladdr.to_string()),
            state: "PERMANENT".into(),
        });
    }
    for f in lab.fdbs.iter().filter(|f| f.dev.node == id) {
        let master = if f.self_ {
            None
        } else {
            st.link(&f.dev.name).and_then(|l| l.master.clone())
        };
        st.fdb
            .push(fdb(&f.dev.name, f.mac.to_string(), f.dst, master));
    }
    let mut sys: BTreeMap<String, String> = [
        ("net.ipv4.ip_forward", "0"),
        ("net.ipv4.conf.all.rp_filter", "0"),
        ("net.ipv4.conf.default.rp_filter", "0"),
        ("net.bridge.bridge-nf-call-iptables", "1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for s in lab.sysctls.iter().filter(|s| s.node == id) {
        if !(lab.ipvs_emulated() && s.key.starts_with("net.ipv4.vs.")) {
            sys.insert(s.key.clone(), s.value.clone());
        }
        // The kernel's one switch under two names.
        if s.key == "net.ipv4.conf.all.forwarding" {
            sys.insert("net.ipv4.ip_forward".into(), s.value.clone());
        }
    }
    st.sysctls = sys;
    let vs_on = lab
        .sysctls
        .iter()
        .any(|s| s.node == id && s.key == "net.ipv4.vs.conntrack" && s.value == "1");
    st.nat = lab
        .nat
        .iter()
        .filter(|n| n.node == id && (!n.ipvs || !lab.ipvs_emulated() || vs_on))
        .map(|n| nat_row(lab, n))
        .collect();
    if !lab.ipvs.is_empty() && !lab.ipvs_emulated() {
        st.ipvs = Some(
            lab.ipvs
                .iter()
                .filter(|s| s.node == id)
                .map(|s| ServiceRow {
                    emulated: false,
                    ..ServiceRow::emulated(s)
                })
                .collect(),
        );
    }
    st
}

/// The snapshot of `lab` freshly up and healthy.
pub fn expected(lab: &Lab) -> Snapshot {
    let mut s = Snapshot::wiring_of(lab);
    s.nodes = lab.nodes.iter().map(|n| node_state(lab, n)).collect();
    made::add(lab, &mut s);
    s
}

/// `snap` once the agent of lab process `index` stopped and its lease expired: the other
/// agents forget its subnet.
fn agent_gone(snap: &mut Snapshot, lab: &Lab, index: usize) {
    let Some(gone) = lab.agents().into_iter().find(|a| a.process == index) else {
        return;
    };
    let Some(subnet) = gone.subnet else { return };
    let mac = snap
        .node(&gone.node)
        .and_then(|n| n.link(&gone.vtep))
        .map(|l| l.mac.clone());
    let gw = IpAddr::V4(subnet.network());
    for n in snap.nodes.iter_mut().filter(|n| n.node != gone.node) {
        n.routes.retain(|r| r.to != subnet.to_string());
        n.neighbours.retain(|x| x.to != gw);
        n.fdb.retain(|f| Some(&f.mac) != mac.as_ref());
    }
}

/// `snap` with `fault` of `lab` planted, as the kernel would show it.
pub fn plant(snap: &Snapshot, lab: &Lab, fault: &Fault) -> Snapshot {
    let mut s = snap.clone();
    if let FaultAction::StopProcess { index, .. } = &fault.action {
        agent_gone(&mut s, lab, *index);
    }
    let Some(n) = s.nodes.iter_mut().find(|n| n.node == fault.action.node()) else {
        return s;
    };
    match &fault.action {
        FaultAction::RemoveFdb { dev, mac, dst } => {
            let mac = mac.map(|m| m.to_string());
            n.fdb.retain(|f| {
                !(f.dev == dev.name
                    && mac.as_ref().is_none_or(|m| *m == f.mac)
                    && dst.is_none_or(|d| f.dst == Some(d)))
            });
        }
        FaultAction::RemoveNeigh { dev, to } => {
            n.neighbours.retain(|x| !(x.dev == dev.name && x.to == *to));
        }
        FaultAction::Sysctl { key, value, .. }
            if key.starts_with("net.ipv4.vs.") && lab.ipvs_emulated() =>
        {
            if value == "0" {
                n.nat.retain(|x| !x.ipvs_only);
            }
        }
        FaultAction::Sysctl { key, value, .. } => {
            n.sysctls.insert(key.clone(), value.clone());
        }
        FaultAction::LinkDown { dev } => {
            if let Some(l) = n.links.iter_mut().find(|l| l.name == dev.name) {
                l.up = false;
                l.state = "DOWN".into();
            }
        }
        FaultAction::RemoveRoute { to, .. } => {
            n.routes
                .retain(|r| super::snapshot::route_dst(r) != Some(*to));
        }
        FaultAction::Mtu { dev, mtu } => {
            if let Some(l) = n.links.iter_mut().find(|l| l.name == dev.name) {
                l.mtu = *mtu;
            }
        }
        FaultAction::Vxlan { dev, vni, dstport } => {
            if let Some(v) = n
                .links
                .iter_mut()
                .find(|l| l.name == dev.name)
                .and_then(|l| l.vxlan.as_mut())
            {
                v.vni = vni.unwrap_or(v.vni);
                v.dstport = dstport.unwrap_or(v.dstport);
            }
        }
        FaultAction::StopProcess { index, .. } => {
            let argv = crate::fault::process::command_line(lab, *index);
            n.processes
                .retain(|p| !crate::fault::process::same_command(&p.argv, &argv));
        }
        FaultAction::OvsSet {
            interface,
            column,
            value,
            ..
        } => {
            if let (Some(i), Some((_, key))) = (
                n.ovs
                    .as_mut()
                    .and_then(|o| o.interfaces.iter_mut().find(|i| &i.name == interface)),
                column.split_once(':'),
            ) {
                i.options.insert(key.to_string(), value.clone());
            }
        }
        FaultAction::RemoveNat { index, .. } => {
            if let Some(i) = lab
                .nat
                .get(*index)
                .map(|r| nat_row(lab, r))
                .and_then(|want| n.nat.iter().position(|x| *x == want))
            {
                n.nat.remove(i);
            }
        }
    }
    s
}

/// The rule that should name `fault` as the cause.
pub fn cause_rule(lab: &Lab, fault: &Fault) -> &'static str {
    match &fault.action {
        FaultAction::RemoveFdb { .. } => "fdb-missing",
        FaultAction::RemoveNeigh { dev, .. }
            if lab.agent_of(dev).is_some()
                || lab.vxlans.iter().any(|v| v.dev == *dev && !v.proxy) =>
        {
            "vtep-arp-missing"
        }
        FaultAction::RemoveNeigh { .. } => "proxy-arp-missing",
        FaultAction::Sysctl { key, .. } if key == "net.ipv4.ip_forward" => "ip-forward-off",
        FaultAction::Sysctl { key, .. } if key.contains("rp_filter") => "rp-filter",
        FaultAction::Sysctl { key, .. } if key.starts_with("net.ipv4.vs.") => "ipvs-conntrack",
        FaultAction::Sysctl { .. } => "sysctl",
        FaultAction::LinkDown { dev } if dev.name == "lo" => "lo-down",
        FaultAction::LinkDown { dev }
            if lab
                .bridges
                .iter()
                .any(|b| b.dev.node == dev.node && b.ports.contains(&dev.name)) =>
        {
            "bridge-port"
        }
        FaultAction::LinkDown { .. } => "link-down",
        FaultAction::RemoveRoute { .. } => "route-missing",
        FaultAction::Mtu { .. } => "vxlan-mtu",
        FaultAction::Vxlan { .. } => "vxlan-mismatch",
        FaultAction::RemoveNat { index, .. } if lab.nat.get(*index).is_some_and(|r| r.ipvs) => {
            "ipvs-conntrack"
        }
        FaultAction::RemoveNat { .. } => "nat-missing",
        FaultAction::StopProcess { .. } => "process-down",
        FaultAction::OvsSet { .. } => "ovs-tunnel",
    }
}

/// Whether `finding` names `fault` as the cause: the right rule, on the fault's machine.
pub fn names_cause(lab: &Lab, fault: &Fault, finding: &Finding) -> bool {
    finding.rule == cause_rule(lab, fault) && host_of(&finding.node) == host_of(fault.action.node())
}
