//! The walk: a packet through the lab's live tables, hop by hop, as the kernel would
//! route, resolve, bridge, encapsulate and NAT it.

use std::net::{IpAddr, Ipv4Addr};

use super::nat::{self, Xlat};
use super::{Culprit, End, Prediction, Probe, Step, arp};
use crate::capture::Dir;
use crate::doctor::Snapshot;
use crate::doctor::snapshot::route_dst;
use crate::model::{Hook, Lab, Proto};

/// At most this many routing decisions per leg (a routing loop ends the walk).
const BUDGET: usize = 64;

/// A packet on the predicted path.
#[derive(Debug, Clone)]
pub(super) struct Pkt {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub proto: Proto,
    pub dport: Option<u16>,
    /// Forwarded by IPVS at the current node (for `-m ipvs` SNAT rules).
    pub ipvs: bool,
    /// A reply: NAT is undone, not applied.
    pub reply: bool,
    /// The frame inside, for an outer VXLAN packet.
    pub encap: Option<Box<Encap>>,
    /// IPv4 total length of the biggest piece on the wire (a fragment, once cut).
    pub len: u32,
    /// Don't-fragment bit.
    pub df: bool,
}

/// What a VXLAN packet carries.
#[derive(Debug, Clone)]
pub(super) struct Encap {
    pub vni: u32,
    pub port: u16,
    pub mac: String,
    pub inner: Pkt,
}

pub(super) struct Sim<'a> {
    pub snap: &'a Snapshot,
    pub(super) lab: &'a Lab,
    pick: &'a [Ipv4Addr],
    steps: Vec<Step>,
    pub(super) notes: Vec<String>,
    xlats: Vec<Xlat>,
    budget: usize,
}

pub(super) fn drop_at(node: &str, iface: Option<&str>, reason: String, culprit: Culprit) -> End {
    End::Dropped {
        node: node.to_string(),
        iface: iface.map(str::to_string),
        reason,
        culprit,
        notice: None,
    }
}

pub(super) fn culprit(node: &str, object: &str, entry: impl Into<String>) -> Culprit {
    Culprit {
        node: node.to_string(),
        object: object.to_string(),
        entry: entry.into(),
    }
}

pub(super) fn same_mac(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

impl<'a> Sim<'a> {
    pub fn new(snap: &'a Snapshot, lab: &'a Lab, pick: &'a [Ipv4Addr]) -> Self {
        Self {
            snap,
            lab,
            pick,
            steps: Vec::new(),
            notes: Vec::new(),
            xlats: Vec::new(),
            budget: BUDGET,
        }
    }

    fn finish(&mut self, end: End) -> Prediction {
        self.budget = BUDGET;
        Prediction {
            steps: std::mem::take(&mut self.steps),
            end,
            notes: std::mem::take(&mut self.notes),
        }
    }

    pub(super) fn step(&mut self, node: &str, iface: &str, dir: Dir, why: impl Into<String>) {
        self.steps.push(Step {
            node: node.to_string(),
            iface: iface.to_string(),
            dir,
            why: why.into(),
        });
    }

    /// The request of `probe`.
    pub fn request(&mut self, probe: &Probe) -> Prediction {
        let Some(st) = self.snap.node(&probe.from) else {
            let c = culprit(&probe.from, "node", "no such namespace");
            return self.finish(drop_at(
                &probe.from,
                None,
                format!("there is no node {}", probe.from),
                c,
            ));
        };
        let dst = IpAddr::V4(probe.to);
        let out = st.lookup(dst).and_then(|r| r.dev.clone());
        let src = st
            .ipv4()
            .into_iter()
            .find(|(a, _)| Some(&a.dev) == out.as_ref())
            .or_else(|| st.ipv4().into_iter().next())
            .map_or(probe.to, |(_, n)| n.addr());
        let src = if nat::local(st, probe.to) {
            probe.to
        } else {
            src
        };
        let pkt = Pkt {
            src,
            dst: probe.to,
            proto: probe.proto,
            dport: probe.port,
            ipvs: false,
            reply: false,
            encap: None,
            len: probe.ip_len(),
            df: probe.df,
        };
        let end = self.route(&probe.from, None, pkt);
        self.finish(end)
    }

    /// The reply from `node` (`src`) back to `dst`.
    pub fn reply(&mut self, node: &str, src: Ipv4Addr, dst: Ipv4Addr, probe: &Probe) -> Prediction {
        let pkt = Pkt {
            src,
            dst,
            proto: probe.proto,
            dport: None,
            ipvs: false,
            reply: true,
            encap: None,
            // An echo reply is as long as the request, and Linux sends it with DF clear.
            len: probe.ip_len(),
            df: false,
        };
        let end = self.route(node, None, pkt);
        self.finish(end)
    }

    /// Layer 3 at `node`: the packet arrived by `iif` (or was sent there).
    pub(super) fn route(&mut self, node: &str, iif: Option<&str>, mut p: Pkt) -> End {
        if self.budget == 0 {
            return drop_at(
                node,
                iif,
                "routing loop: the walk went on too long".into(),
                culprit(node, "routes", "a loop"),
            );
        }
        self.budget -= 1;
        let Some(st) = self.snap.node(node) else {
            return drop_at(
                node,
                iif,
                format!("node {node} was not read"),
                culprit(node, "node", "unreadable"),
            );
        };
        if p.reply {
            if let Some(n) = nat::reverse(&self.xlats, node, &mut p) {
                self.notes.push(n);
            }
        } else if p.encap.is_none() {
            let hook = if iif.is_some() {
                Hook::Prerouting
            } else {
                Hook::Output
            };
            if let Some((to, port, ipvs, why)) = nat::dnat(self.lab, st, hook, &p, iif, self.pick) {
                self.xlats.push(Xlat {
                    node: node.to_string(),
                    from: (p.src, p.dst),
                    to: (p.src, to),
                });
                p.dst = to;
                p.dport = port;
                p.ipvs = ipvs;
                self.notes.push(format!("{node}: {why}"));
            }
        }
        if nat::local(st, p.dst) {
            if st.link("lo").is_some_and(|l| !l.up) {
                let reason = format!(
                    "{} belongs to {node}, whose lo is down: the kernel delivers local packets through lo, so it drops them",
                    p.dst
                );
                return drop_at(
                    node,
                    Some("lo"),
                    reason,
                    culprit(node, "lo", format!("ip -n {} link show lo: DOWN", st.netns)),
                );
            }
            if p.encap.is_some() && st.ovs.is_some() {
                return self.ovs_in(node, iif.unwrap_or_default(), "", p);
            }
            if let Some(e) = p.encap.take() {
                return self.decap(node, iif, *e);
            }
            return End::Delivered {
                node: node.to_string(),
                src: p.src,
                dst: p.dst,
            };
        }
        if let Some(i) = iif {
            if !st.forwards() {
                let reason = format!(
                    "{node} receives a packet for {} on {i}, but net.ipv4.ip_forward is 0 there: it does not route packets that are not its own",
                    p.dst
                );
                return drop_at(
                    node,
                    Some(i),
                    reason,
                    culprit(node, "net.ipv4.ip_forward", "net.ipv4.ip_forward = 0"),
                );
            }
            if st.rp_filter(i) == 1 {
                let back = st.lookup(IpAddr::V4(p.src)).and_then(|r| r.dev.clone());
                if back.as_deref() != Some(i) {
                    let reason = format!(
                        "rp_filter is strict on {i} in {node} and the route back to {} does not leave by {i}",
                        p.src
                    );
                    return drop_at(
                        node,
                        Some(i),
                        reason,
                        culprit(
                            node,
                            &format!("{i} rp_filter"),
                            format!(
                                "net.ipv4.conf.{i}.rp_filter = 1; route to {}: {back:?}",
                                p.src
                            ),
                        ),
                    );
                }
            }
        }
        let Some(rt) = st.lookup(IpAddr::V4(p.dst)) else {
            let reason = format!("{node} has no route to {} (Network is unreachable)", p.dst);
            let routes: Vec<&str> = st.routes.iter().map(|r| r.to.as_str()).collect();
            return drop_at(
                node,
                iif,
                reason,
                culprit(
                    node,
                    "route",
                    format!(
                        "ip -n {} route: {} — nothing matches {}, no default",
                        st.netns,
                        routes.join(", "),
                        p.dst
                    ),
                ),
            );
        };
        let Some(dev) = rt.dev.clone() else {
            return drop_at(
                node,
                iif,
                format!("the route to {} in {node} has no device", p.dst),
                culprit(node, "route", rt.to.clone()),
            );
        };
        let nh = match rt.via {
            Some(IpAddr::V4(g)) => g,
            _ => p.dst,
        };
        let Some(link) = st.link(&dev) else {
            return drop_at(
                node,
                Some(&dev),
                format!("{dev} does not exist in {node}"),
                culprit(node, &dev, "missing"),
            );
        };
        if !link.up {
            let reason = format!(
                "the route to {} leaves {node} by {dev}, which is down",
                p.dst
            );
            return drop_at(
                node,
                Some(&dev),
                reason,
                culprit(
                    node,
                    &dev,
                    format!("ip -n {} link show {dev}: DOWN", st.netns),
                ),
            );
        }
        if !p.reply && p.encap.is_none() {
            if let Some((new, why)) = nat::snat(self.lab, st, &p, &dev) {
                self.xlats.push(Xlat {
                    node: node.to_string(),
                    from: (p.src, p.dst),
                    to: (new, p.dst),
                });
                p.src = new;
                self.notes.push(format!("{node}: {why}"));
            } else if let Some(why) = nat::snat_missing(self.lab, st, &p) {
                self.notes.push(format!("{node}: {why}"));
            }
        }
        if let Some(end) = self.egress(node, iif, &dev, &mut p) {
            return end;
        }
        let shown = match (route_dst(rt), rt.via) {
            (Some(d), _) if d.prefix_len() == 0 => "default".to_string(),
            _ => rt.to.clone(),
        };
        let via = rt.via.map(|v| format!(" via {v}")).unwrap_or_default();
        let why = format!("{node}: route {shown}{via} dev {dev}");
        let mac = if let Some(n) = st.neighbour(&dev, IpAddr::V4(nh)) {
            n.lladdr.clone().unwrap_or_default()
        } else {
            match arp::resolve(self.snap, node, &dev, nh) {
                Ok((mac, how)) => {
                    self.notes
                        .push(format!("{node}: ARP for {nh} on {dev}: {how}"));
                    mac
                }
                Err((why, c)) => {
                    let reason = format!(
                        "{node} cannot resolve {nh} on {dev}: its ARP gets no answer, because {why}"
                    );
                    return drop_at(node, Some(&dev), reason, c);
                }
            }
        };
        // Only a resolved packet leaves: one whose ARP fails is never seen on the wire.
        self.step(node, &dev, Dir::Out, why);
        self.l2_out(node, &dev, &mac, p)
    }
}
