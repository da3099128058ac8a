//! Layer 2 on the predicted path: veth pairs into the next namespace, bridge forwarding
//! (FDB, or flooding and where the MAC is), VXLAN encapsulation (FDB `dst`, default
//! destinations) and decapsulation at the VTEP listening on the packet's port and VNI.

use std::net::IpAddr;

use super::sim::{Encap, Pkt, Sim, culprit, drop_at, same_mac};
use super::{End, arp, ovs};
use crate::capture::Dir;
use crate::doctor::VxlanDest;
use crate::model::Proto;

impl Sim<'_> {
    /// A frame for `mac` leaves `node` by `iface`.
    pub(super) fn l2_out(&mut self, node: &str, iface: &str, mac: &str, p: Pkt) -> End {
        let snap = self.snap;
        if let Some(br) = ovs::port(snap, node, iface)
            .filter(|i| i.kind == "internal")
            .map(|i| i.bridge.clone())
        {
            return self.ovs_switch(node, &br, iface, None, mac, p);
        }
        let Some(link) = snap.node(node).and_then(|s| s.link(iface)) else {
            return drop_at(
                node,
                Some(iface),
                format!("{iface} is missing in {node}"),
                culprit(node, iface, "missing"),
            );
        };
        match link.kind.as_str() {
            "bridge" => self.bridge(node, iface, None, mac, p),
            "vxlan" => self.vxlan(node, iface, mac, p),
            _ => {
                let Some((pn, pi)) = snap.peer(node, iface) else {
                    return drop_at(
                        node,
                        Some(iface),
                        format!("{node}:{iface} leads nowhere the lab knows"),
                        culprit(node, iface, "no peer"),
                    );
                };
                let Some(pst) = snap.node(pn) else {
                    return drop_at(
                        pn,
                        Some(pi),
                        format!("{pn} was not read"),
                        culprit(pn, pi, "unreadable"),
                    );
                };
                if pst.link(pi).is_none_or(|l| !l.up) {
                    let reason = format!(
                        "{pi} in {pn}, the other end of {node}:{iface}, is down: frames sent into the pair are lost"
                    );
                    return drop_at(
                        pn,
                        Some(pi),
                        reason,
                        culprit(pn, pi, format!("ip -n {} link show {pi}: DOWN", pst.netns)),
                    );
                }
                if let Some(end) = self.l2_mtu(pn, pi, &p, "the receiving end of the veth pair") {
                    return end;
                }
                self.step(pn, pi, Dir::In, format!("veth peer of {node}:{iface}"));
                self.l2_in(pn, pi, mac, p)
            }
        }
    }

    /// A frame for `mac` arrives at `node` on `iface`.
    pub(super) fn l2_in(&mut self, node: &str, iface: &str, mac: &str, p: Pkt) -> End {
        if ovs::port(self.snap, node, iface).is_some() {
            return self.ovs_in(node, iface, mac, p);
        }
        let Some(link) = self.snap.node(node).and_then(|s| s.link(iface)) else {
            return drop_at(
                node,
                Some(iface),
                format!("{iface} is missing in {node}"),
                culprit(node, iface, "missing"),
            );
        };
        if let Some(br) = link.master.clone() {
            return self.bridge(node, &br, Some(iface), mac, p);
        }
        if same_mac(&link.mac, mac) {
            return self.route(node, Some(iface), p);
        }
        let reason = format!(
            "the frame for {mac} reaches {node}:{iface} ({}), which is not its destination",
            link.mac
        );
        drop_at(
            node,
            Some(iface),
            reason,
            culprit(node, iface, format!("MAC {}", link.mac)),
        )
    }

    /// Whether a frame for `mac` sent out of `node:iface` can reach it.
    pub(super) fn reaches(&self, node: &str, iface: &str, mac: &str, depth: u8) -> bool {
        let Some(st) = self.snap.node(node) else {
            return false;
        };
        let Some(link) = st.link(iface) else {
            return false;
        };
        match link.kind.as_str() {
            "vxlan" => st
                .fdb
                .iter()
                .any(|f| f.dev == iface && f.self_ && same_mac(&f.mac, mac)),
            "bridge" => false,
            _ => {
                let Some((pn, pi)) = self.snap.peer(node, iface) else {
                    return false;
                };
                let Some(pst) = self.snap.node(pn) else {
                    return false;
                };
                let Some(pl) = pst.link(pi) else { return false };
                if same_mac(&pl.mac, mac) {
                    return true;
                }
                if let (Some(i), Some(o)) = (ovs::port(self.snap, pn, pi), pst.ovs.as_ref()) {
                    return depth > 0
                        && o.interfaces
                            .iter()
                            .filter(|x| x.bridge == i.bridge && x.name != *pi)
                            .any(|x| match x.kind.as_str() {
                                "internal" => {
                                    pst.link(&x.name).is_some_and(|l| same_mac(&l.mac, mac))
                                }
                                "" => self.reaches(pn, &x.name, mac, depth - 1),
                                _ => false,
                            });
                }
                let Some(br) = &pl.master else { return false };
                depth > 0
                    && (pst.link(br).is_some_and(|b| same_mac(&b.mac, mac))
                        || pst
                            .links
                            .iter()
                            .filter(|x| x.master.as_ref() == Some(br) && x.name != *pi)
                            .any(|x| self.reaches(pn, &x.name, mac, depth - 1)))
            }
        }
    }

    /// Bridge `br` of `node` forwards a frame for `mac` that came in on `ingress` (or from
    /// the node itself).
    fn bridge(&mut self, node: &str, br: &str, ingress: Option<&str>, mac: &str, p: Pkt) -> End {
        let snap = self.snap;
        let Some(st) = snap.node(node) else {
            return drop_at(
                node,
                ingress,
                format!("{node} was not read"),
                culprit(node, br, "unreadable"),
            );
        };
        let Some(brl) = st.link(br) else {
            return drop_at(
                node,
                ingress,
                format!("bridge {br} is missing in {node}"),
                culprit(node, br, "missing"),
            );
        };
        if same_mac(&brl.mac, mac) && ingress.is_some() {
            self.step(
                node,
                br,
                Dir::In,
                format!(
                    "{node}: bridge {br} delivers the frame for its own MAC to {node}'s IP stack"
                ),
            );
            return self.route(node, Some(br), p);
        }
        let (port, why) = if let Some(f) = st.bridge_fdb(br, mac) {
            (
                f.dev.clone(),
                format!("{node}: bridge {br}: fdb {mac} on {}", f.dev),
            )
        } else {
            let ports: Vec<String> = st
                .links
                .iter()
                .filter(|x| x.master.as_deref() == Some(br) && Some(x.name.as_str()) != ingress)
                .map(|x| x.name.clone())
                .collect();
            let found = ports
                .iter()
                .find(|x| self.reaches(node, x, mac, 3))
                .or_else(|| {
                    // Flooded, the frame leaves the machine only through a VXLAN port: follow
                    // that copy (it is the one that can reach a remote MAC, or dies there).
                    ports
                        .iter()
                        .find(|x| st.link(x).is_some_and(|l| l.vxlan.is_some() && l.up))
                });
            let Some(x) = found else {
                let reason = format!(
                    "bridge {br} in {node} has no FDB entry for {mac} and no port leads to it"
                );
                return drop_at(
                    node,
                    ingress,
                    reason,
                    culprit(
                        node,
                        br,
                        format!("bridge -n {} fdb show br {br}: no {mac}", st.netns),
                    ),
                );
            };
            (
                x.clone(),
                format!(
                    "{node}: bridge {br} has no fdb entry for {mac}, floods it; it is behind {x}"
                ),
            )
        };
        if Some(port.as_str()) == ingress {
            return drop_at(
                node,
                ingress,
                format!("bridge {br} would send the frame back where it came from"),
                culprit(node, br, why),
            );
        }
        if st.link(&port).is_none_or(|l| !l.up) {
            let reason =
                format!("{port}, the port of bridge {br} in {node} that leads to {mac}, is down");
            return drop_at(
                node,
                Some(&port),
                reason,
                culprit(
                    node,
                    &port,
                    format!("ip -n {} link show {port}: DOWN", st.netns),
                ),
            );
        }
        if let Some(end) = self.l2_mtu(node, &port, &p, &format!("bridge {br}")) {
            return end;
        }
        self.step(node, &port, Dir::Out, why);
        self.l2_out(node, &port, mac, p)
    }

    /// VXLAN `v` of `node` encapsulates a frame for `mac`.
    fn vxlan(&mut self, node: &str, v: &str, mac: &str, p: Pkt) -> End {
        let snap = self.snap;
        let Some(st) = snap.node(node) else {
            return drop_at(
                node,
                Some(v),
                format!("{node} was not read"),
                culprit(node, v, "unreadable"),
            );
        };
        let Some(info) = st.link(v).and_then(|l| l.vxlan.clone()) else {
            return drop_at(
                node,
                Some(v),
                format!("{v} is not a VXLAN device"),
                culprit(node, v, "not vxlan"),
            );
        };
        let Some(dest) = st.vxlan_dest(v, mac) else {
            let reason = format!(
                "{v} in {node} has no FDB entry for {mac} and no default destination: the VXLAN driver has nowhere to send the frame and drops it (NO_TX_TARGET)"
            );
            return drop_at(
                node,
                Some(v),
                reason,
                culprit(
                    node,
                    v,
                    format!(
                        "bridge -n {} fdb show dev {v}: no entry for {mac}",
                        st.netns
                    ),
                ),
            );
        };
        let why = match dest {
            VxlanDest::Entry(_) => format!("{node}: {v}: fdb {mac} dst"),
            VxlanDest::Flood(_) => format!("{node}: {v}: no fdb entry for {mac}, flooded to"),
            VxlanDest::Remote(_) => format!("{node}: {v}: default destination"),
        };
        let dsts = dest.addrs();
        let socket = snap
            .vxlan_socket
            .get(&(node.to_string(), v.to_string()))
            .cloned()
            .unwrap_or_else(|| node.to_string());
        let Some(sst) = snap.node(&socket) else {
            return drop_at(
                &socket,
                None,
                format!("{socket} was not read"),
                culprit(&socket, v, "unreadable"),
            );
        };
        let d = dsts[0];
        let target = if d.is_multicast() {
            arp::group_members(snap, node, v, d)
                .into_iter()
                .find_map(|(s2, _, _)| {
                    snap.node(&s2).and_then(|m| {
                        m.ipv4()
                            .into_iter()
                            .map(|(_, n)| n.addr())
                            .find(|a| sst.ipv4().iter().any(|(_, n)| n.contains(a)))
                    })
                })
        } else {
            match d {
                IpAddr::V4(a) => Some(a),
                IpAddr::V6(_) => None,
            }
        };
        let Some(target) = target else {
            let reason = format!("{v} in {node} sends to {d}, where no VTEP of the lab listens");
            return drop_at(
                node,
                Some(v),
                reason,
                culprit(node, v, format!("destination {d}")),
            );
        };
        let len = match self.encap_mtu(node, v, &socket, target, &p) {
            Ok(len) => len,
            Err(end) => return *end,
        };
        self.notes.push(format!(
            "{why} {d}: VXLAN VNI {} to UDP port {} of {target}",
            info.vni, info.dstport
        ));
        let src = match info.local {
            Some(IpAddr::V4(l)) => l,
            _ => sst
                .source_towards(target)
                .or_else(|| sst.ipv4().first().map(|(_, n)| n.addr()))
                .unwrap_or(target),
        };
        let outer = Pkt {
            src,
            dst: target,
            proto: Proto::Udp,
            dport: Some(info.dstport),
            ipvs: false,
            reply: p.reply,
            len,
            df: false,
            encap: Some(Box::new(Encap {
                vni: info.vni,
                port: info.dstport,
                mac: mac.to_string(),
                inner: p,
            })),
        };
        self.route(&socket, None, outer)
    }

    /// An outer VXLAN packet delivered to `node`: the VTEP listening there takes the frame
    /// out and passes it on.
    pub(super) fn decap(&mut self, node: &str, iif: Option<&str>, e: Encap) -> End {
        match arp::listener(self.snap, node, e.port, e.vni) {
            Ok((n2, v2)) => {
                if self
                    .snap
                    .node(&n2)
                    .and_then(|s| s.link(&v2))
                    .is_none_or(|l| !l.up)
                {
                    return drop_at(
                        &n2,
                        Some(&v2),
                        format!("{v2} in {n2} is down"),
                        culprit(&n2, &v2, "DOWN"),
                    );
                }
                self.step(
                    &n2,
                    &v2,
                    Dir::In,
                    format!(
                        "{n2}: {v2} decapsulates VNI {} (UDP port {})",
                        e.vni, e.port
                    ),
                );
                self.l2_in(&n2, &v2, &e.mac, e.inner)
            }
            Err((why, c)) => drop_at(node, iif, why, c),
        }
    }
}
