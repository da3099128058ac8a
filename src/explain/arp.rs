//! ARP on the predicted path, when the neighbour table has no entry: the broadcast is
//! followed through veth pairs, bridges (every port but the one it came in by) and
//! VXLANs (a proxy answers from its neighbour table; others send it to their default
//! destinations, where a VTEP must listen on the same port with the same VNI), until an
//! interface holding the address answers. When nothing answers, the reason found on the
//! way (a port down, a proxy without the entry, a VNI mismatch) and the table entry
//! responsible come back.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr};

use super::sim::culprit;
use super::{Culprit, ovs};
use crate::doctor::Snapshot;
use crate::doctor::ovsdb::{FlowAction, OvsInterface};

/// The VXLAN devices whose UDP socket is in `socket`: `(node, device)`.
fn sockets_in(snap: &Snapshot, socket: &str) -> Vec<(String, String)> {
    snap.nodes
        .iter()
        .flat_map(|n| {
            n.links
                .iter()
                .filter(|l| l.vxlan.is_some())
                .map(move |l| (n, l))
        })
        .filter(|(n, l)| {
            snap.vxlan_socket
                .get(&(n.node.clone(), l.name.clone()))
                .map_or(n.node == socket, |s| s == socket)
        })
        .map(|(n, l)| (n.node.clone(), l.name.clone()))
        .collect()
}

fn info(snap: &Snapshot, node: &str, v: &str) -> Option<crate::observe::VxlanInfo> {
    snap.node(node)?.link(v)?.vxlan.clone()
}

/// The VXLAN device that takes packets for UDP `port` and `vni` arriving at `socket`.
pub(super) fn listener(
    snap: &Snapshot,
    socket: &str,
    port: u16,
    vni: u32,
) -> Result<(String, String), (String, Culprit)> {
    let all = sockets_in(snap, socket);
    let on_port: Vec<&(String, String)> = all
        .iter()
        .filter(|(n, v)| info(snap, n, v).is_some_and(|i| i.dstport == port))
        .collect();
    let shown = |list: &[&(String, String)]| {
        list.iter()
            .filter_map(|(n, v)| {
                info(snap, n, v).map(|i| format!("{v} in {n}: VNI {} port {}", i.vni, i.dstport))
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    if on_port.is_empty() {
        let all_refs: Vec<&(String, String)> = all.iter().collect();
        let c = all
            .iter()
            .find(|(n, v)| info(snap, n, v).is_some_and(|i| i.vni == vni))
            .or_else(|| all.first())
            .map_or_else(
                || culprit(socket, &format!("udp port {port}"), "no VXLAN device"),
                |(n, v)| {
                    culprit(
                        n,
                        v,
                        format!(
                            "{v}: vxlan id {} dstport {}",
                            info(snap, n, v).map_or(0, |i| i.vni),
                            info(snap, n, v).map_or(0, |i| i.dstport)
                        ),
                    )
                },
            );
        let reason = format!(
            "the VXLAN packet reaches {socket} on UDP port {port}, where no VXLAN device listens ({}): the kernel answers ICMP port unreachable",
            if all.is_empty() {
                "there is none".to_string()
            } else {
                shown(&all_refs)
            }
        );
        return Err((reason, c));
    }
    if let Some((n, v)) = on_port
        .iter()
        .find(|(n, v)| info(snap, n, v).is_some_and(|i| i.vni == vni))
    {
        return Ok((n.clone(), v.clone()));
    }
    let (n, v) = on_port[0];
    let reason = format!(
        "the VXLAN packet reaches {socket}, but no VXLAN device there has VNI {vni} ({}): it is dropped (VXLAN_VNI_NOT_FOUND)",
        shown(&on_port)
    );
    Err((
        reason,
        culprit(
            n,
            v,
            format!(
                "{v}: vxlan id {} dstport {port}",
                info(snap, n, v).map_or(0, |i| i.vni)
            ),
        ),
    ))
}

/// The other VTEPs in multicast group `group`: `(socket node, node, device)`.
pub(super) fn group_members(
    snap: &Snapshot,
    node: &str,
    v: &str,
    group: IpAddr,
) -> Vec<(String, String, String)> {
    let socket_of = |n: &str, d: &str| {
        snap.vxlan_socket
            .get(&(n.to_string(), d.to_string()))
            .cloned()
            .unwrap_or_else(|| n.to_string())
    };
    let mine = socket_of(node, v);
    snap.nodes
        .iter()
        .flat_map(|n| n.links.iter().map(move |l| (n, l)))
        .filter(|(_, l)| l.vxlan.as_ref().is_some_and(|x| x.remote == Some(group)))
        .map(|(n, l)| (socket_of(&n.node, &l.name), n.node.clone(), l.name.clone()))
        .filter(|(s, _, _)| *s != mine)
        .collect()
}

struct Flood<'a> {
    snap: &'a Snapshot,
    ip: IpAddr,
    seen: HashSet<(String, String)>,
    fails: Vec<(String, Culprit)>,
}

type Answer = Option<(String, String)>;

impl Flood<'_> {
    fn owns(&self, node: &str, iface: &str) -> bool {
        self.snap.node(node).is_some_and(|n| {
            n.addresses.iter().any(|a| {
                a.dev == iface
                    && a.address
                        .split('/')
                        .next()
                        .and_then(|x| x.parse::<IpAddr>().ok())
                        == Some(self.ip)
            })
        })
    }

    fn out(&mut self, node: &str, iface: &str) -> Answer {
        if !self.seen.insert((node.to_string(), iface.to_string())) {
            return None;
        }
        let snap = self.snap;
        if let Some(br) = ovs::port(snap, node, iface)
            .filter(|i| i.kind == "internal")
            .map(|i| i.bridge.clone())
        {
            return self.ovs(node, &br, iface, None);
        }
        let link = snap.node(node)?.link(iface)?;
        match link.kind.as_str() {
            "bridge" => self.bridge(node, iface, None),
            "vxlan" => self.vxlan(node, iface),
            _ => {
                let (pn, pi) = snap.peer(node, iface)?;
                let pst = snap.node(pn)?;
                if pst.link(pi).is_none_or(|l| !l.up) {
                    self.fails.push((
                        format!("{pi} in {pn}, the other end of {node}:{iface}, is down"),
                        culprit(pn, pi, format!("ip -n {} link show {pi}: DOWN", pst.netns)),
                    ));
                    return None;
                }
                self.arrive(pn, pi)
            }
        }
    }

    fn arrive(&mut self, node: &str, iface: &str) -> Answer {
        let link = self.snap.node(node)?.link(iface)?;
        if self.owns(node, iface) {
            return Some((
                link.mac.clone(),
                format!("{node}:{iface} answers with {}", link.mac),
            ));
        }
        if let Some(br) = ovs::port(self.snap, node, iface).map(|i| i.bridge.clone()) {
            return self.ovs(node, &br, iface, None);
        }
        let br = link.master.clone()?;
        self.bridge(node, &br, Some(iface))
    }

    /// The broadcast enters Open vSwitch bridge `br` of `node` by `ingress` (with tunnel
    /// id `tun` out of a tunnel): the flow it hits sets the tunnel id and floods it.
    fn ovs(&mut self, node: &str, br: &str, ingress: &str, tun: Option<u64>) -> Answer {
        if !self
            .seen
            .insert((node.to_string(), format!("{br}<{ingress}")))
        {
            return None;
        }
        let snap = self.snap;
        let st = snap.node(node)?;
        let o = st.ovs.as_ref()?;
        let flow = o.flow_for(br, ingress, tun)?;
        let mut tun = tun;
        for a in &flow.actions {
            match a {
                FlowAction::SetTunnel(t) => tun = Some(*t),
                FlowAction::Normal => break,
                _ => {
                    self.fails.push((
                        format!("the flow of {br} in {node} does not flood the broadcast"),
                        culprit(node, br, format!("flow {}", flow.text)),
                    ));
                    return None;
                }
            }
        }
        for p in o
            .interfaces
            .iter()
            .filter(|i| i.bridge == br && i.name != ingress)
        {
            let answer = match p.kind.as_str() {
                "internal" if self.owns(node, &p.name) => st.link(&p.name).map(|l| {
                    (
                        l.mac.clone(),
                        format!(
                            "{node}:{} (Open vSwitch {br}) answers with {}",
                            p.name, l.mac
                        ),
                    )
                }),
                "internal" => None,
                "vxlan" => self.ovs_tunnel(node, p, tun),
                _ if !p.admin_up || st.link(&p.name).is_none_or(|l| !l.up) => {
                    self.fails.push((
                        format!("{}, a port of Open vSwitch bridge {br} in {node}, is down, so the broadcast never gets past it", p.name),
                        culprit(node, &p.name, format!("ip -n {} link show {}: DOWN", st.netns, p.name)),
                    ));
                    None
                }
                _ => self.out(node, &p.name),
            };
            if answer.is_some() {
                return answer;
            }
        }
        None
    }

    /// The broadcast leaves `node` through OVS VXLAN port `v`.
    fn ovs_tunnel(&mut self, node: &str, v: &OvsInterface, tun: Option<u64>) -> Answer {
        let snap = self.snap;
        let remote: IpAddr = v.options.get("remote_ip")?.parse().ok()?;
        let src = match remote {
            IpAddr::V4(r) => IpAddr::V4(snap.node(node)?.source_towards(r)?),
            IpAddr::V6(_) => return None,
        };
        let owners: Vec<String> = snap
            .owners(remote)
            .iter()
            .map(|(n, _)| n.node.clone())
            .collect();
        if owners.is_empty() {
            let kv: Vec<String> = v.options.iter().map(|(k, x)| format!("{k}={x}")).collect();
            self.fails.push((
                format!(
                    "{} in {node} sends to {remote}, an address no node of the lab has",
                    v.name
                ),
                culprit(
                    node,
                    &v.name,
                    format!(
                        "ovs-vsctl get Interface {} options: {{{}}}",
                        v.name,
                        kv.join(", ")
                    ),
                ),
            ));
            return None;
        }
        let vni = ovs::vni_out(v, tun);
        for o in owners {
            match ovs::tunnel_in(snap, &o, src, vni, ovs::udp_port(v)) {
                Ok(v2) => {
                    let (br, name) = (v2.bridge.clone(), v2.name.clone());
                    if let Some(a) = self.ovs(&o, &br, &name, Some(vni)) {
                        return Some(a);
                    }
                }
                Err(f) => self.fails.push(f),
            }
        }
        None
    }

    fn bridge(&mut self, node: &str, br: &str, ingress: Option<&str>) -> Answer {
        let snap = self.snap;
        let st = snap.node(node)?;
        if ingress.is_some() && self.owns(node, br) {
            let mac = st.link(br)?.mac.clone();
            return Some((
                mac.clone(),
                format!("bridge {br} in {node} answers with {mac}"),
            ));
        }
        for port in st
            .links
            .iter()
            .filter(|l| l.master.as_deref() == Some(br) && Some(l.name.as_str()) != ingress)
        {
            if !port.up {
                self.fails.push((
                    format!("{}, a port of bridge {br} in {node}, is down, so the broadcast never gets past it", port.name),
                    culprit(node, &port.name, format!("ip -n {} link show {}: DOWN", st.netns, port.name)),
                ));
                continue;
            }
            if let Some(a) = self.out(node, &port.name) {
                return Some(a);
            }
        }
        None
    }

    fn vxlan(&mut self, node: &str, v: &str) -> Answer {
        let snap = self.snap;
        let st = snap.node(node)?;
        let x = st.link(v)?.vxlan.clone()?;
        if x.proxy {
            if let Some(n) = st
                .neighbours
                .iter()
                .find(|n| n.dev == v && n.to == self.ip && n.lladdr.is_some())
            {
                let mac = n.lladdr.clone().unwrap_or_default();
                return Some((
                    mac.clone(),
                    format!("{v} in {node} answers from its neighbour table (proxy): {mac}"),
                ));
            }
            self.fails.push((
                format!("{v} in {node} is in proxy mode and has no neighbour entry for {}: it answers ARP only from that table and floods nothing", self.ip),
                culprit(node, v, format!("ip -n {} neigh show dev {v}: no entry for {}", st.netns, self.ip)),
            ));
            return None;
        }
        let mut dsts: Vec<IpAddr> = st
            .fdb
            .iter()
            .filter(|f| f.dev == v && f.self_ && f.mac == "00:00:00:00:00:00")
            .filter_map(|f| f.dst)
            .collect();
        dsts.extend(x.remote);
        dsts.dedup();
        if dsts.is_empty() {
            self.fails.push((
                format!("{v} in {node} has nowhere to send broadcasts (no remote, group or all-zero FDB entry)"),
                culprit(node, v, format!("bridge -n {} fdb show dev {v}: no 00:00:00:00:00:00 entry", st.netns)),
            ));
            return None;
        }
        for d in dsts {
            let sockets: Vec<String> = if d.is_multicast() {
                group_members(snap, node, v, d)
                    .into_iter()
                    .map(|(s, _, _)| s)
                    .collect()
            } else {
                snap.owners(d)
                    .into_iter()
                    .map(|(n, _)| n.node.clone())
                    .collect()
            };
            for s in sockets {
                match listener(snap, &s, x.dstport, x.vni) {
                    Ok((n2, v2)) => {
                        if let Some(a) = self.arrive(&n2, &v2) {
                            return Some(a);
                        }
                    }
                    Err((why, c)) => self.fails.push((why, c)),
                }
            }
        }
        None
    }
}

/// The MAC answering ARP for `ip` sent out of `node:dev`, and how it is found; or why
/// nothing answers and the entry responsible.
pub(super) fn resolve(
    snap: &Snapshot,
    node: &str,
    dev: &str,
    ip: Ipv4Addr,
) -> Result<(String, String), (String, Culprit)> {
    let mut f = Flood {
        snap,
        ip: IpAddr::V4(ip),
        seen: HashSet::new(),
        fails: Vec::new(),
    };
    if let Some(a) = f.out(node, dev) {
        return Ok(a);
    }
    Err(f.fails.into_iter().next().unwrap_or_else(|| {
        (
            format!("nothing on the segment of {node}:{dev} has {ip}"),
            culprit(
                node,
                dev,
                format!("no interface reachable from {dev} holds {ip}"),
            ),
        )
    }))
}
