//! Open vSwitch on the predicted path (the userspace datapath the labs run): a frame
//! entering a bridge by one of its ports meets the highest-priority flow matching its
//! port (and tunnel id), which may set the tunnel id and switch it `NORMAL` (to the port
//! behind which its MAC is, a VXLAN port when none is known); a VXLAN port wraps it
//! (VNI: its `key`, or with `key=flow` the tunnel id) and OVS sends the outer packet by
//! the kernel's route, out through the OVS bridge holding that route's device. On the
//! other side the outer packet is popped before any bridge sees it, if a VXLAN port there
//! has the sender as `remote_ip` and takes its VNI.
//!
//! OVS's own ports (the bridges' internal ports, the VXLAN ports) are not where packets
//! are captured, except an internal port handing a packet to the host's stack.

use std::net::{IpAddr, Ipv4Addr};

use super::sim::{Encap, Pkt, Sim, culprit, drop_at};
use super::{Culprit, End, arp};
use crate::capture::Dir;
use crate::doctor::Snapshot;
use crate::doctor::ovsdb::{FlowAction, OvsInterface, OvsState};
use crate::model::Proto;

/// OVS's VXLAN port when `options:dst_port` does not say.
const VXLAN_PORT: u16 = 4789;

/// The OVS port `iface` of `node`, if it is one of a bridge.
pub(super) fn port<'a>(snap: &'a Snapshot, node: &str, iface: &str) -> Option<&'a OvsInterface> {
    snap.node(node)?
        .ovs
        .as_ref()?
        .interface(iface)
        .filter(|i| !i.bridge.is_empty())
}

fn ovs_of<'a>(snap: &'a Snapshot, node: &str) -> Option<&'a OvsState> {
    snap.node(node)?.ovs.as_ref()
}

/// The VNI VXLAN port `v` sends with: its key, or with `key=flow` the tunnel id (0 if no
/// flow set one).
pub(super) fn vni_out(v: &OvsInterface, tun: Option<u64>) -> u64 {
    match v.options.get("key").map(String::as_str) {
        Some("flow") => tun.unwrap_or(0),
        Some(k) => k.parse().unwrap_or(0),
        None => 0,
    }
}

/// The UDP port VXLAN port `v` sends to and listens on.
pub(super) fn udp_port(v: &OvsInterface) -> u16 {
    v.options
        .get("dst_port")
        .and_then(|p| p.parse().ok())
        .unwrap_or(VXLAN_PORT)
}

/// The VXLAN port of `node`'s OVS that takes a packet from `src` with `vni` on UDP
/// `udp`; or why none does, and the port to blame.
pub(super) fn tunnel_in<'a>(
    snap: &'a Snapshot,
    node: &str,
    src: IpAddr,
    vni: u64,
    udp: u16,
) -> Result<&'a OvsInterface, (String, Culprit)> {
    let o = ovs_of(snap, node).ok_or_else(|| {
        (
            format!("{node} has no Open vSwitch to take the VXLAN packet"),
            culprit(node, "ovs", "none"),
        )
    })?;
    let listening: Vec<&OvsInterface> = o
        .interfaces
        .iter()
        .filter(|i| i.kind == "vxlan" && udp_port(i) == udp)
        .collect();
    let Some(first) = listening.first() else {
        return Err((
            format!("no VXLAN port of {node}'s Open vSwitch listens on UDP port {udp}"),
            culprit(
                node,
                "ovs",
                format!("no vxlan interface with dst_port {udp}"),
            ),
        ));
    };
    let from: Vec<&&OvsInterface> = listening
        .iter()
        .filter(|i| {
            i.options
                .get("remote_ip")
                .is_some_and(|r| r == "flow" || r.parse() == Ok(src))
        })
        .collect();
    let Some(v) = from.first() else {
        return Err((
            format!(
                "the VXLAN packet from {src} reaches {node}, but no VXLAN port of its Open vSwitch has remote_ip {src}: OVS drops it"
            ),
            culprit(node, &first.name, first.options_text()),
        ));
    };
    let takes = match v.options.get("key").map(String::as_str) {
        Some("flow") => true,
        Some(k) => k.parse() == Ok(vni),
        None => vni == 0,
    };
    if takes {
        Ok(v)
    } else {
        Err((
            format!(
                "the VXLAN packet from {src} reaches {node} with VNI {vni}, but {} there has key={} and takes no other VNI: OVS drops it",
                v.name,
                v.options.get("key").map_or("0", String::as_str)
            ),
            culprit(node, &v.name, v.options_text()),
        ))
    }
}

impl Sim<'_> {
    /// A frame arrives at OVS port `iface` of `node`: a VXLAN packet for this host is
    /// popped by the VXLAN port that takes it; anything else enters the port's bridge.
    pub(super) fn ovs_in(&mut self, node: &str, iface: &str, mac: &str, mut p: Pkt) -> End {
        let snap = self.snap;
        let for_me = snap.node(node).is_some_and(|st| st.owns(IpAddr::V4(p.dst)));
        if let Some(e) = p.encap.take_if(|_| for_me) {
            let Encap {
                vni,
                port: udp,
                mac,
                inner,
            } = *e;
            return match tunnel_in(snap, node, IpAddr::V4(p.src), u64::from(vni), udp) {
                Ok(v) => {
                    self.notes.push(format!(
                        "{node}: Open vSwitch pops the VXLAN packet from {} (VNI {vni}) into {} of bridge {}",
                        p.src, v.name, v.bridge
                    ));
                    let (br, name) = (v.bridge.clone(), v.name.clone());
                    self.ovs_switch(node, &br, &name, Some(u64::from(vni)), &mac, inner)
                }
                Err((why, c)) => drop_at(node, Some(iface), why, c),
            };
        }
        let Some(br) = port(snap, node, iface).map(|i| i.bridge.clone()) else {
            return drop_at(
                node,
                Some(iface),
                format!("{iface} is no port of an Open vSwitch bridge in {node}"),
                culprit(node, iface, "not an OVS port"),
            );
        };
        self.ovs_switch(node, &br, iface, None, mac, p)
    }

    /// Bridge `br` of `node`'s OVS takes a frame for `mac` in by port `ingress`, with
    /// tunnel id `tun` if it came out of a tunnel: the flow it hits decides.
    pub(super) fn ovs_switch(
        &mut self,
        node: &str,
        br: &str,
        ingress: &str,
        tun: Option<u64>,
        mac: &str,
        p: Pkt,
    ) -> End {
        let snap = self.snap;
        let Some(o) = ovs_of(snap, node) else {
            return drop_at(
                node,
                Some(ingress),
                format!("{node} has no Open vSwitch"),
                culprit(node, br, "none"),
            );
        };
        if !o.switch_running {
            return drop_at(
                node,
                Some(ingress),
                format!("ovs-vswitchd of {node} is not running: bridge {br} forwards nothing"),
                culprit(
                    node,
                    "ovs-vswitchd",
                    format!("{}/ovs-vswitchd.pid: no such process", o.dir),
                ),
            );
        }
        let Some(flow) = o.flow_for(br, ingress, tun) else {
            return drop_at(
                node,
                Some(ingress),
                format!(
                    "no flow of {br} in {node} matches what comes in by {ingress}: OVS drops it"
                ),
                culprit(
                    node,
                    br,
                    format!("ovs-ofctl dump-flows {br}: nothing for in_port={ingress}"),
                ),
            );
        };
        let mut tun = tun;
        for a in &flow.actions {
            match a {
                FlowAction::SetTunnel(t) => tun = Some(*t),
                FlowAction::Normal => {
                    return self.ovs_normal(node, br, ingress, tun, mac, p, &flow.text);
                }
                FlowAction::Output(out) => {
                    let why = format!("{node}: {br}: flow {}", flow.text);
                    return self.ovs_output(node, out, tun, mac, p, why);
                }
                FlowAction::Drop => {
                    return drop_at(
                        node,
                        Some(ingress),
                        format!(
                            "the flow of {br} in {node} that {ingress}'s frames hit drops them"
                        ),
                        culprit(node, br, format!("flow {}", flow.text)),
                    );
                }
                FlowAction::Other(what) => {
                    return drop_at(
                        node,
                        Some(ingress),
                        format!(
                            "the flow of {br} in {node} that {ingress}'s frames hit does `{what}`, which the walk does not follow"
                        ),
                        culprit(node, br, format!("flow {}", flow.text)),
                    );
                }
            }
        }
        drop_at(
            node,
            Some(ingress),
            format!("the flow of {br} in {node} ends without sending the frame anywhere"),
            culprit(node, br, format!("flow {}", flow.text)),
        )
    }

    /// `NORMAL` switching: the port behind which `mac` is, or the VXLAN port if none is.
    #[expect(
        clippy::too_many_arguments,
        reason = "the frame's whole state at the bridge"
    )]
    fn ovs_normal(
        &mut self,
        node: &str,
        br: &str,
        ingress: &str,
        tun: Option<u64>,
        mac: &str,
        p: Pkt,
        flow: &str,
    ) -> End {
        let snap = self.snap;
        let (Some(o), Some(st)) = (ovs_of(snap, node), snap.node(node)) else {
            return drop_at(
                node,
                None,
                format!("{node} was not read"),
                culprit(node, br, "unreadable"),
            );
        };
        let ports: Vec<&OvsInterface> = o
            .interfaces
            .iter()
            .filter(|i| i.bridge == br && i.name != ingress)
            .collect();
        let own = |i: &&&OvsInterface| {
            i.kind == "internal"
                && st
                    .link(&i.name)
                    .is_some_and(|l| super::sim::same_mac(&l.mac, mac))
        };
        let found = ports
            .iter()
            .find(own)
            .map(|i| (i, "its own internal port"))
            .or_else(|| {
                ports
                    .iter()
                    .find(|i| i.kind.is_empty() && self.reaches(node, &i.name, mac, 3))
                    .map(|i| (i, "the port behind which it is"))
            })
            .or_else(|| {
                // Flooded: follow the copy that leaves the machine (a tunnel first).
                let leaves = |i: &&&OvsInterface| i.kind == "vxlan";
                let wire = |i: &&&OvsInterface| i.kind.is_empty();
                ports
                    .iter()
                    .find(leaves)
                    .or_else(|| ports.iter().find(wire))
                    .map(|i| {
                        (
                            i,
                            "no port known for it: flooded, the copy that can reach it leaves by",
                        )
                    })
            });
        let Some((out, how)) = found else {
            return drop_at(
                node,
                Some(ingress),
                format!("bridge {br} of {node}'s Open vSwitch has no port that leads to {mac}"),
                culprit(node, br, format!("ovs-vsctl list-ports {br}")),
            );
        };
        let why = format!(
            "{node}: Open vSwitch {br} (flow {flow}): {mac} → {how} {}",
            out.name
        );
        let name = out.name.clone();
        self.ovs_output(node, &name, tun, mac, p, why)
    }

    /// OVS sends the frame out of its port `out`.
    fn ovs_output(
        &mut self,
        node: &str,
        out: &str,
        tun: Option<u64>,
        mac: &str,
        p: Pkt,
        why: String,
    ) -> End {
        let snap = self.snap;
        let (Some(st), Some(i)) = (snap.node(node), port(snap, node, out)) else {
            return drop_at(
                node,
                Some(out),
                format!("{out} is no port of {node}'s Open vSwitch"),
                culprit(node, out, "missing"),
            );
        };
        if i.kind == "vxlan" {
            return self.ovs_tunnel(node, i, tun, mac, p);
        }
        let link_up = st.link(out).is_some_and(|l| l.up);
        if i.kind == "internal" {
            if !link_up {
                return drop_at(
                    node,
                    Some(out),
                    format!("{out} in {node} is down"),
                    culprit(
                        node,
                        out,
                        format!("ip -n {} link show {out}: DOWN", st.netns),
                    ),
                );
            }
            self.step(node, out, Dir::In, why);
            return self.route(node, Some(out), p);
        }
        if !link_up || !i.admin_up {
            return drop_at(
                node,
                Some(out),
                format!(
                    "{out}, the port of Open vSwitch bridge {} in {node} that leads to {mac}, is down",
                    i.bridge
                ),
                culprit(
                    node,
                    out,
                    format!("ip -n {} link show {out}: DOWN", st.netns),
                ),
            );
        }
        if let Some(end) = self.l2_mtu(node, out, &p, &format!("Open vSwitch bridge {}", i.bridge))
        {
            return end;
        }
        self.step(node, out, Dir::Out, why);
        self.l2_out(node, out, mac, p)
    }

    /// VXLAN port `v` of `node`'s OVS wraps the frame and OVS routes the outer packet.
    fn ovs_tunnel(
        &mut self,
        node: &str,
        v: &OvsInterface,
        tun: Option<u64>,
        mac: &str,
        p: Pkt,
    ) -> End {
        let snap = self.snap;
        let Some(st) = snap.node(node) else {
            return drop_at(
                node,
                None,
                format!("{node} was not read"),
                culprit(node, &v.name, "unreadable"),
            );
        };
        let Some(IpAddr::V4(remote)) = v.options.get("remote_ip").and_then(|r| r.parse().ok())
        else {
            return drop_at(
                node,
                Some(&v.name),
                format!("{} in {node} has no remote_ip the walk can follow", v.name),
                culprit(node, &v.name, v.options_text()),
            );
        };
        let vni = vni_out(v, tun);
        let udp = udp_port(v);
        let src = v
            .options
            .get("local_ip")
            .and_then(|l| l.parse().ok())
            .or_else(|| st.source_towards(remote))
            .or_else(|| st.ipv4().first().map(|(_, n)| n.addr()))
            .unwrap_or(Ipv4Addr::UNSPECIFIED);
        self.notes.push(format!(
            "{node}: {} of {} ({}): VXLAN VNI {vni} to UDP port {udp} of {remote}",
            v.name,
            v.bridge,
            v.options
                .get("key")
                .map_or_else(|| "no key".to_string(), |k| format!("key={k}"))
        ));
        let outer = Pkt {
            src,
            dst: remote,
            proto: Proto::Udp,
            dport: Some(udp),
            ipvs: false,
            reply: p.reply,
            len: p.len + crate::doctor::VXLAN_OVERHEAD,
            df: false,
            encap: Some(Box::new(Encap {
                vni: u32::try_from(vni).unwrap_or(u32::MAX),
                port: udp,
                mac: mac.to_string(),
                inner: p,
            })),
        };
        self.ovs_route(node, v, outer)
    }

    /// OVS routes its outer packet by the kernel's routes of `node` and sends it through
    /// the OVS bridge whose internal port holds the route's device (or, when that device
    /// is the kernel's own, lets the kernel send it).
    fn ovs_route(&mut self, node: &str, v: &OvsInterface, p: Pkt) -> End {
        let tunnel = v.name.as_str();
        let snap = self.snap;
        let Some(st) = snap.node(node) else {
            return drop_at(
                node,
                None,
                format!("{node} was not read"),
                culprit(node, tunnel, "unreadable"),
            );
        };
        let Some(rt) = st.lookup(IpAddr::V4(p.dst)) else {
            return drop_at(
                node,
                Some(tunnel),
                format!("{node} has no route to {}, where {tunnel} sends", p.dst),
                culprit(
                    node,
                    "route",
                    format!("ip -n {} route: nothing for {}", st.netns, p.dst),
                ),
            );
        };
        let Some(dev) = rt.dev.clone() else {
            return drop_at(
                node,
                Some(tunnel),
                format!("the route to {} in {node} has no device", p.dst),
                culprit(node, "route", rt.to.clone()),
            );
        };
        let Some(br) = port(snap, node, &dev)
            .filter(|i| i.kind == "internal")
            .map(|i| i.bridge.clone())
        else {
            // The route leaves by a kernel device: the kernel sends it, as with OVS's
            // kernel datapath.
            return self.route(node, None, p);
        };
        let nh = match rt.via {
            Some(IpAddr::V4(g)) => g,
            _ => p.dst,
        };
        match arp::resolve(snap, node, &dev, nh) {
            Ok((mac, how)) => {
                self.notes.push(format!(
                    "{node}: Open vSwitch resolves {nh} through {br}: {how}"
                ));
                self.ovs_switch(node, &br, &dev, None, &mac, p)
            }
            Err((why, _)) => drop_at(
                node,
                Some(tunnel),
                format!(
                    "{tunnel} in {node} sends to {}, but {nh} cannot be resolved: {why}",
                    p.dst
                ),
                culprit(node, tunnel, v.options_text()),
            ),
        }
    }
}
