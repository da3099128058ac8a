//! Semantic checks of a scenario, building the [`Lab`] as it goes. Every problem found is
//! collected (not just the first), each anchored to the text that caused it.

mod balance;
mod exercise;
mod fault;
mod nat;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::ops::Range;

use ipnet::{IpNet, Ipv4Net};
use toml::Spanned;

use super::names::{LabName, check_ifname, check_word, netns_name};
use super::{
    Address, Bridge, Fdb, IfRef, Lab, Mac, Neigh, Node, NodeKind, Origin, Process, Program, Route,
    Sysctl, Veth, Vxlan,
};
use crate::diag::Diagnostic;
use crate::scenario::{Scenario, Text};

/// Node id of the switch joining the hosts.
pub const UNDERLAY_NODE: &str = "underlay";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IfKind {
    Veth,
    Bridge,
    Vxlan,
}

struct Checker {
    lab: String,
    diags: Vec<Diagnostic>,
    nodes: Vec<Node>,
    ifaces: HashMap<IfRef, (IfKind, Mac)>,
    masters: HashMap<IfRef, String>,
}

pub(super) fn validate(s: &Scenario) -> Result<Lab, Vec<Diagnostic>> {
    let mut c = Checker {
        lab: s.lab.name.get_ref().clone(),
        diags: Vec::new(),
        nodes: Vec::new(),
        ifaces: HashMap::new(),
        masters: HashMap::new(),
    };
    let name = LabName::new(&c.lab).unwrap_or_else(|e| {
        c.err(s.lab.name.span(), e.to_string());
        LabName::new("invalid").expect("a valid name")
    });
    let mut lab = Lab {
        name,
        title: s.lab.title.clone(),
        source: s.lab.source.clone(),
        description: s.lab.description.clone(),
        nodes: Vec::new(),
        veths: Vec::new(),
        bridges: Vec::new(),
        vxlans: Vec::new(),
        addresses: Vec::new(),
        routes: Vec::new(),
        sysctls: Vec::new(),
        neighs: Vec::new(),
        fdbs: Vec::new(),
        processes: Vec::new(),
        nat: Vec::new(),
        kube_proxy: None,
        services: Vec::new(),
        ipvs: Vec::new(),
        faults: Vec::new(),
        exercises: Vec::new(),
        ovs_datapath: super::OvsDatapath::default(),
    };
    c.nodes_of(s);
    c.underlay(s, &mut lab);
    c.veths(s, &mut lab);
    c.bridges(s, &mut lab);
    c.vxlans(s, &mut lab);
    c.ports(s);
    c.addresses(s, &mut lab);
    c.routes(s, &mut lab);
    c.sysctls(s, &mut lab);
    c.neighs(s, &mut lab);
    c.fdbs(s, &mut lab);
    c.processes(s, &mut lab);
    c.ipvs(s, &mut lab);
    c.kube(s, &mut lab);
    c.nat(s, &mut lab);
    c.faults(s, &mut lab);
    c.exercises(s, &mut lab);
    if c.diags.is_empty() {
        lab.nodes = c.nodes;
        Ok(lab)
    } else {
        c.diags.sort_by_key(|d| d.span.start);
        Err(c.diags)
    }
}

/// Name of the underlay switch for segment `i` of `count`.
fn switch_name(i: usize, count: usize) -> String {
    if count == 1 {
        "switch".to_string()
    } else {
        format!("switch{i}")
    }
}

fn mtu(m: Option<&Spanned<u32>>, c: &mut Checker) -> Option<u32> {
    let m = m?;
    if !(68..=65535).contains(m.get_ref()) {
        c.err(
            m.span(),
            format!("MTU {} is outside 68..=65535", m.get_ref()),
        );
    }
    Some(*m.get_ref())
}

impl Checker {
    fn err(&mut self, span: Range<usize>, msg: impl Into<String>) {
        self.diags.push(Diagnostic::new(span, msg));
    }

    fn err_help(&mut self, span: Range<usize>, msg: impl Into<String>, help: impl Into<String>) {
        self.diags.push(Diagnostic::new(span, msg).with_help(help));
    }

    fn add_node(&mut self, id: String, kind: NodeKind, lo_up: bool) {
        let netns = netns_name(&self.lab, &id);
        self.nodes.push(Node {
            id,
            netns,
            kind,
            lo_up,
        });
    }

    fn has_node(&self, id: &str) -> bool {
        self.nodes.iter().any(|n| n.id == id)
    }

    fn nodes_of(&mut self, s: &Scenario) {
        for h in &s.hosts {
            let name = h.name.get_ref();
            if let Err(why) = check_word(name, 15) {
                self.err(
                    h.name.span(),
                    format!("`{name}` is not a valid host name: {why}"),
                );
            } else if name == UNDERLAY_NODE {
                self.err(
                    h.name.span(),
                    "`underlay` is reserved for the switch joining the hosts",
                );
            } else if name == "lo"
                || name
                    .strip_prefix("switch")
                    .is_some_and(|n| n.chars().all(|c| c.is_ascii_digit()))
            {
                self.err(
                    h.name.span(),
                    format!(
                        "`{name}` is reserved: the underlay switch uses it as an interface name"
                    ),
                );
            } else if self.has_node(name) {
                self.err(h.name.span(), format!("host `{name}` is declared twice"));
            } else {
                self.add_node(name.clone(), NodeKind::Host, h.lo.unwrap_or(true));
            }
        }
        for n in &s.namespaces {
            let id = n.name.get_ref();
            let Some((host, inner)) = id.split_once('/') else {
                self.err_help(
                    n.name.span(),
                    format!("`{id}` does not name its host"),
                    "write namespaces as HOST/NAME, e.g. hostA/container",
                );
                continue;
            };
            if let Err(why) = check_word(inner, 32) {
                self.err(
                    n.name.span(),
                    format!("`{inner}` is not a valid namespace name: {why}"),
                );
            } else if !s.hosts.iter().any(|h| h.name.get_ref() == host) {
                self.err_help(
                    n.name.span(),
                    format!("host `{host}` is not declared"),
                    format!("add [[host]] name = \"{host}\""),
                );
            } else if self.has_node(id) {
                self.err(n.name.span(), format!("namespace `{id}` is declared twice"));
            } else {
                self.add_node(id.clone(), NodeKind::Namespace, n.lo.unwrap_or(true));
            }
        }
    }

    fn node_ref(&mut self, t: &Text) -> Option<String> {
        let id = t.get_ref();
        if self.has_node(id) {
            Some(id.clone())
        } else {
            let known: Vec<&str> = self.nodes.iter().map(|n| n.id.as_str()).collect();
            let help = if known.is_empty() {
                "no node is declared: add [[host]] and [[namespace]] tables".to_string()
            } else {
                format!("declared nodes: {}", known.join(", "))
            };
            self.err_help(t.span(), format!("there is no node `{id}`"), help);
            None
        }
    }

    /// Parses `NODE:IFNAME`, checking the node exists and the name is valid.
    fn if_ref(&mut self, t: &Text) -> Option<IfRef> {
        let Some((node, name)) = t.get_ref().rsplit_once(':') else {
            self.err_help(
                t.span(),
                format!(
                    "`{}` does not say which node the interface is in",
                    t.get_ref()
                ),
                "write interfaces as NODE:IFNAME, e.g. hostA/container:eth0",
            );
            return None;
        };
        if let Err(why) = check_ifname(name) {
            self.err(
                t.span(),
                format!("`{name}` is not a valid interface name: {why}"),
            );
            return None;
        }
        // The span includes the opening quote of the TOML string.
        let start = t.span().start + 1;
        let node_t = Spanned::new(start..start + node.len(), node.to_string());
        let node = self.node_ref(&node_t)?;
        Some(IfRef::new(node, name))
    }

    /// Registers a new interface, refusing duplicates.
    fn declare(&mut self, r: &IfRef, kind: IfKind, mac: Mac, span: Range<usize>) -> bool {
        if r.name == "lo" || self.ifaces.contains_key(r) {
            self.err(
                span,
                format!("interface `{}` already exists in `{}`", r.name, r.node),
            );
            return false;
        }
        self.ifaces.insert(r.clone(), (kind, mac));
        true
    }

    /// An existing interface of the lab, written `NODE:IFNAME`.
    fn existing(&mut self, t: &Text) -> Option<(IfRef, IfKind)> {
        let r = self.if_ref(t)?;
        if let Some(&(kind, _)) = self.ifaces.get(&r) {
            Some((r, kind))
        } else {
            self.err(
                t.span(),
                format!("there is no interface `{}` in `{}`", r.name, r.node),
            );
            None
        }
    }

    fn mac_or_derived(&mut self, t: Option<&Text>, r: &IfRef) -> Mac {
        match t {
            None => Mac::derived(&format!("{}/{r}", self.lab)),
            Some(t) => match t.get_ref().parse::<Mac>() {
                Ok(m) if m.is_multicast() || m.is_zero() => {
                    self.err(t.span(), format!("{m} is not a unicast MAC address"));
                    m
                }
                Ok(m) => m,
                Err(()) => {
                    self.err(
                        t.span(),
                        format!("`{}` is not a MAC address (aa:bb:cc:dd:ee:ff)", t.get_ref()),
                    );
                    Mac([0; 6])
                }
            },
        }
    }

    /// A literal MAC or `@NODE:IFNAME`, the MAC of a lab interface.
    fn mac_value(&mut self, t: &Text) -> Option<Mac> {
        let v = t.get_ref();
        if let Some(rest) = v.strip_prefix('@') {
            let inner = Spanned::new(t.span().start + 2..t.span().end - 1, rest.to_string());
            let (r, _) = self.existing(&inner)?;
            return self.ifaces.get(&r).map(|&(_, m)| m);
        }
        if let Ok(m) = v.parse() {
            Some(m)
        } else {
            self.err_help(
                t.span(),
                format!("`{v}` is not a MAC address"),
                "write aa:bb:cc:dd:ee:ff, or @NODE:IFNAME for the MAC of a lab interface",
            );
            None
        }
    }

    fn ip(&mut self, t: &Text) -> Option<IpAddr> {
        if let Ok(ip) = t.get_ref().parse() {
            Some(ip)
        } else {
            self.err(t.span(), format!("`{}` is not an IP address", t.get_ref()));
            None
        }
    }

    fn cidr(&mut self, t: &Text) -> Option<IpNet> {
        if let Ok(net) = t.get_ref().parse() {
            Some(net)
        } else {
            self.err_help(
                t.span(),
                format!("`{}` is not an address with a prefix length", t.get_ref()),
                "write e.g. 10.0.0.4/24",
            );
            None
        }
    }

    fn underlay(&mut self, s: &Scenario, lab: &mut Lab) {
        let ul = &s.underlay;
        let dev = ul
            .dev
            .as_ref()
            .map_or_else(|| "eth0".to_string(), |d| d.get_ref().clone());
        if let (Some(t), Err(why)) = (&ul.dev, check_ifname(&dev)) {
            self.err(
                t.span(),
                format!("`{dev}` is not a valid interface name: {why}"),
            );
        }
        let mtu = mtu(ul.mtu.as_ref(), self);
        let mut subnets: Vec<(Ipv4Net, Ipv4Addr)> = Vec::new();
        for sn in &ul.subnets {
            let (Some(IpNet::V4(net)), Some(IpAddr::V4(router))) =
                (self.cidr(&sn.cidr), self.ip(&sn.router))
            else {
                continue;
            };
            if net.network() != net.addr() {
                self.err(
                    sn.cidr.span(),
                    format!("`{net}` has host bits set; write {}", net.trunc()),
                );
            } else if !net.contains(&router) {
                self.err(sn.router.span(), format!("router {router} is not in {net}"));
            } else {
                subnets.push((net, router));
            }
        }
        let mut members: Vec<(String, Ipv4Net, usize)> = Vec::new();
        for h in &s.hosts {
            let Some(t) = &h.underlay else { continue };
            match self.cidr(t) {
                Some(IpNet::V4(a)) => {
                    let seg = if subnets.is_empty() {
                        Some(0)
                    } else {
                        subnets.iter().position(|(n, _)| *n == a.trunc())
                    };
                    match seg {
                        Some(i) => members.push((h.name.get_ref().clone(), a, i)),
                        None => self.err(
                            t.span(),
                            format!("{a} is in none of the [[underlay.subnet]]s"),
                        ),
                    }
                }
                Some(IpNet::V6(_)) => self.err(t.span(), "the underlay is IPv4"),
                None => {}
            }
        }
        if members.is_empty() {
            return;
        }
        if subnets.is_empty() {
            let first = members[0].1.trunc();
            if let Some((_, a, _)) = members.iter().find(|(_, a, _)| a.trunc() != first) {
                let span = s
                    .hosts
                    .iter()
                    .find_map(|h| {
                        h.underlay
                            .as_ref()
                            .filter(|t| t.get_ref() == &a.to_string())
                    })
                    .map_or(0..0, Spanned::span);
                self.err_help(
                    span,
                    format!("{a} is not on the same subnet as {}", members[0].1),
                    "put every host on one subnet, or declare [[underlay.subnet]]s to route between them",
                );
                return;
            }
        }
        self.add_node(UNDERLAY_NODE.into(), NodeKind::Underlay, true);
        let switches = subnets.len().max(1);
        for i in 0..switches {
            let dev = IfRef::new(UNDERLAY_NODE, switch_name(i, switches));
            let mac = Mac::derived(&format!("{}/{dev}", self.lab));
            self.ifaces.insert(dev.clone(), (IfKind::Bridge, mac));
            let ports = members
                .iter()
                .filter(|m| m.2 == i)
                .map(|m| m.0.clone())
                .collect();
            lab.bridges.push(Bridge {
                dev: dev.clone(),
                ports,
                mac,
                mtu,
                origin: Origin::Underlay,
            });
            if let Some(&(net, router)) = subnets.get(i) {
                let address = IpNet::V4(Ipv4Net::new(router, net.prefix_len()).unwrap_or(net));
                lab.addresses.push(Address {
                    dev,
                    address,
                    origin: Origin::Underlay,
                });
            }
        }
        if !subnets.is_empty() {
            lab.sysctls.push(Sysctl {
                node: UNDERLAY_NODE.into(),
                key: "net.ipv4.ip_forward".into(),
                value: "1".into(),
                origin: Origin::Underlay,
            });
        }
        for (host, addr, seg) in &members {
            let a = IfRef::new(host.clone(), dev.clone());
            let b = IfRef::new(UNDERLAY_NODE, host.clone());
            let (a_mac, b_mac) = (
                Mac::derived(&format!("{}/{a}", self.lab)),
                Mac::derived(&format!("{}/{b}", self.lab)),
            );
            self.ifaces.insert(a.clone(), (IfKind::Veth, a_mac));
            self.ifaces.insert(b.clone(), (IfKind::Veth, b_mac));
            self.masters
                .insert(b.clone(), switch_name(*seg, subnets.len().max(1)));
            lab.addresses.push(Address {
                dev: a.clone(),
                address: IpNet::V4(*addr),
                origin: Origin::Underlay,
            });
            lab.veths.push(Veth {
                a,
                b,
                a_mac,
                b_mac,
                mtu,
                origin: Origin::Underlay,
            });
            for (j, (net, _)) in subnets.iter().enumerate() {
                if j != *seg {
                    lab.routes.push(Route {
                        node: host.clone(),
                        to: IpNet::V4(*net),
                        via: Some(IpAddr::V4(subnets[*seg].1)),
                        dev: Some(dev.clone()),
                        metric: None,
                        origin: Origin::Underlay,
                    });
                }
            }
        }
    }

    fn veths(&mut self, s: &Scenario, lab: &mut Lab) {
        for v in &s.veths {
            let (Some(a), Some(b)) = (self.if_ref(&v.name), self.if_ref(&v.peer)) else {
                continue;
            };
            let a_mac = self.mac_or_derived(v.mac.as_ref(), &a);
            let b_mac = self.mac_or_derived(v.peer_mac.as_ref(), &b);
            let mtu = mtu(v.mtu.as_ref(), self);
            if self.declare(&a, IfKind::Veth, a_mac, v.name.span())
                & self.declare(&b, IfKind::Veth, b_mac, v.peer.span())
            {
                lab.veths.push(Veth {
                    a,
                    b,
                    a_mac,
                    b_mac,
                    mtu,
                    origin: Origin::Scenario,
                });
            }
        }
    }

    fn bridges(&mut self, s: &Scenario, lab: &mut Lab) {
        for b in &s.bridges {
            let Some(dev) = self.if_ref(&b.name) else {
                continue;
            };
            let mac = self.mac_or_derived(b.mac.as_ref(), &dev);
            let mtu = mtu(b.mtu.as_ref(), self);
            if self.declare(&dev, IfKind::Bridge, mac, b.name.span()) {
                let ports = b.ports.iter().map(|p| p.get_ref().clone()).collect();
                lab.bridges.push(Bridge {
                    dev,
                    ports,
                    mac,
                    mtu,
                    origin: Origin::Scenario,
                });
            }
        }
    }

    fn vxlans(&mut self, s: &Scenario, lab: &mut Lab) {
        for v in &s.vxlans {
            let Some(dev) = self.if_ref(&v.name) else {
                continue;
            };
            let created_in = match &v.created_in {
                Some(t) => self.node_ref(t),
                None => Some(dev.node.clone()),
            };
            let vni = *v.vni.get_ref();
            if !(1..=16_777_215).contains(&vni) {
                self.err_help(
                    v.vni.span(),
                    format!("VNI {vni} is outside 1..=16777215"),
                    "a VNI is 24 bits; 0 is reserved",
                );
            }
            let dstport = v.dstport.as_ref().and_then(|p| {
                let port = u16::try_from(*p.get_ref()).ok().filter(|&p| p != 0);
                if port.is_none() {
                    self.err(
                        p.span(),
                        format!("port {} is outside 1..=65535", p.get_ref()),
                    );
                }
                port
            });
            let local = v.local.as_ref().and_then(|t| self.ip(t));
            let remote = v.remote.as_ref().and_then(|t| self.ip(t));
            let group = v.group.as_ref().and_then(|t| self.ip(t));
            if let (Some(t), Some(g)) = (&v.group, group) {
                if !g.is_multicast() {
                    self.err(t.span(), format!("group {g} is not a multicast address"));
                } else if v.dev.is_none() {
                    self.err_help(
                        t.span(),
                        "a multicast group needs `dev`",
                        "add dev = \"eth0\" (the underlay interface)",
                    );
                }
            }
            if let (Some(t), Some(r)) = (&v.remote, remote) {
                if r.is_multicast() {
                    self.err_help(
                        t.span(),
                        format!("remote {r} is a multicast address"),
                        "use `group` for multicast",
                    );
                } else if v.group.is_some() {
                    self.err(t.span(), "`remote` and `group` exclude each other");
                }
            }
            if let (Some(t), Some(node)) = (&v.dev, &created_in) {
                let r = IfRef::new(node.clone(), t.get_ref().clone());
                if !self.ifaces.contains_key(&r) {
                    self.err(
                        t.span(),
                        format!(
                            "there is no interface `{}` in `{node}`, where the VXLAN is created",
                            r.name
                        ),
                    );
                }
            }
            let mac = self.mac_or_derived(v.mac.as_ref(), &dev);
            let mtu = mtu(v.mtu.as_ref(), self);
            let (Some(created_in), true) = (
                created_in,
                self.declare(&dev, IfKind::Vxlan, mac, v.name.span()),
            ) else {
                continue;
            };
            lab.vxlans.push(Vxlan {
                dev,
                created_in,
                vni: u32::try_from(vni).unwrap_or(0),
                dstport,
                local,
                remote,
                group,
                underlay_dev: v.dev.as_ref().map(|d| d.get_ref().clone()),
                proxy: v.proxy,
                learning: v.learning.unwrap_or(true),
                mac,
                mtu,
            });
        }
    }

    fn ports(&mut self, s: &Scenario) {
        for b in &s.bridges {
            let Some((node, br)) = b.name.get_ref().rsplit_once(':') else {
                continue;
            };
            for p in &b.ports {
                let r = IfRef::new(node, p.get_ref().clone());
                match self.ifaces.get(&r) {
                    None => self.err(
                        p.span(),
                        format!("there is no interface `{}` in `{node}`", r.name),
                    ),
                    Some((IfKind::Bridge, _)) => self.err(
                        p.span(),
                        format!("`{}` is a bridge; bridges cannot be ports", r.name),
                    ),
                    Some(_) => {
                        if let Some(prev) = self.masters.insert(r.clone(), br.to_string()) {
                            self.err(
                                p.span(),
                                format!("`{}` is already a port of `{prev}`", r.name),
                            );
                        }
                    }
                }
            }
        }
    }

    fn addresses(&mut self, s: &Scenario, lab: &mut Lab) {
        for a in &s.addresses {
            let (Some((dev, _)), Some(address)) = (self.existing(&a.dev), self.cidr(&a.address))
            else {
                continue;
            };
            if lab
                .addresses
                .iter()
                .any(|x| x.dev.node == dev.node && x.address.addr() == address.addr())
            {
                self.err(
                    a.address.span(),
                    format!("{} is already an address in `{}`", address.addr(), dev.node),
                );
                continue;
            }
            lab.addresses.push(Address {
                dev,
                address,
                origin: Origin::Scenario,
            });
        }
    }

    fn routes(&mut self, s: &Scenario, lab: &mut Lab) {
        for r in &s.routes {
            let Some(node) = self.node_ref(&r.node) else {
                continue;
            };
            let to = if r.to.get_ref() == "default" {
                IpNet::V4(Ipv4Net::default())
            } else {
                let Some(net) = self.cidr(&r.to) else {
                    continue;
                };
                if net.network() != net.addr() {
                    self.err_help(
                        r.to.span(),
                        format!("`{net}` has host bits set"),
                        format!("write {}", net.trunc()),
                    );
                    continue;
                }
                net
            };
            let via = r.via.as_ref().and_then(|t| self.ip(t));
            let dev = r.dev.as_ref().and_then(|t| {
                let name = t.get_ref();
                let exists = self
                    .ifaces
                    .contains_key(&IfRef::new(node.clone(), name.clone()));
                if !exists {
                    self.err(
                        t.span(),
                        format!("there is no interface `{name}` in `{node}`"),
                    );
                }
                exists.then(|| name.clone())
            });
            if r.via.is_none() && r.dev.is_none() {
                self.err_help(
                    r.to.span(),
                    "a route needs `via`, `dev` or both",
                    "e.g. via = \"10.0.0.1\"",
                );
                continue;
            }
            if let (Some(t), Some(gw)) = (&r.via, via) {
                let connected: Vec<IpNet> = lab
                    .addresses
                    .iter()
                    .filter(|a| a.dev.node == node && dev.as_ref().is_none_or(|d| *d == a.dev.name))
                    .map(|a| a.address.trunc())
                    .collect();
                if !connected.iter().any(|n| n.contains(&gw)) {
                    let list: Vec<String> = connected.iter().map(ToString::to_string).collect();
                    self.err_help(
                        t.span(),
                        format!("gateway {gw} is outside every subnet connected to `{node}`"),
                        if list.is_empty() {
                            format!("`{node}` has no address; add one in the gateway's subnet")
                        } else {
                            format!("connected subnets: {}", list.join(", "))
                        },
                    );
                    continue;
                }
            }
            if lab.routes.iter().any(|x| x.node == node && x.to == to) {
                self.err(r.to.span(), format!("`{node}` already has a route to {to}"));
                continue;
            }
            let metric = r.metric.as_ref().map(|m| *m.get_ref());
            lab.routes.push(Route {
                node,
                to,
                via,
                dev,
                metric,
                origin: Origin::Scenario,
            });
        }
    }

    /// A `net.*` key and a one-line value, as `[[sysctl]]` and sysctl faults write them.
    fn sysctl_setting(
        &mut self,
        key: &Text,
        value: &Spanned<crate::scenario::SysctlValue>,
    ) -> Option<(String, String)> {
        let k = key.get_ref();
        let well_formed = k.starts_with("net.")
            && !k.contains("..")
            && k.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !well_formed {
            self.err_help(
                key.span(),
                format!("`{k}` is not a per-namespace sysctl"),
                "only net.* keys are allowed: they belong to the lab's namespace, not to the host",
            );
            return None;
        }
        let v = value.get_ref().to_string();
        if v.is_empty() || v.chars().any(char::is_control) {
            self.err(value.span(), "a sysctl value must be one line of text");
            return None;
        }
        Some((k.clone(), v))
    }

    fn sysctls(&mut self, s: &Scenario, lab: &mut Lab) {
        for x in &s.sysctls {
            let Some(node) = self.node_ref(&x.node) else {
                continue;
            };
            let Some((key, value)) = self.sysctl_setting(&x.key, &x.value) else {
                continue;
            };
            lab.sysctls.push(Sysctl {
                node,
                key,
                value,
                origin: Origin::Scenario,
            });
        }
    }

    fn neighs(&mut self, s: &Scenario, lab: &mut Lab) {
        for n in &s.neighs {
            let (Some((dev, _)), Some(to), Some(lladdr)) = (
                self.existing(&n.dev),
                self.ip(&n.to),
                self.mac_value(&n.lladdr),
            ) else {
                continue;
            };
            lab.neighs.push(Neigh { dev, to, lladdr });
        }
    }

    fn fdbs(&mut self, s: &Scenario, lab: &mut Lab) {
        for f in &s.fdbs {
            let (Some((dev, kind)), Some(mac)) = (self.existing(&f.dev), self.mac_value(&f.mac))
            else {
                continue;
            };
            let dst = f.dst.as_ref().and_then(|t| self.ip(t));
            if let (Some(t), false) = (&f.dst, kind == IfKind::Vxlan) {
                self.err(
                    t.span(),
                    format!("`dst` needs a VXLAN device; `{}` is not one", dev.name),
                );
                continue;
            }
            let self_ = f.self_.unwrap_or(kind == IfKind::Vxlan);
            if !self_ && !self.masters.contains_key(&dev) {
                self.err_help(
                    f.dev.span(),
                    format!(
                        "`{}` is not a bridge port, so it has no master FDB",
                        dev.name
                    ),
                    "set self = true, or make it a port of a bridge",
                );
                continue;
            }
            lab.fdbs.push(Fdb {
                dev,
                mac,
                dst,
                self_,
            });
        }
    }

    fn processes(&mut self, s: &Scenario, lab: &mut Lab) {
        for p in &s.processes {
            let Some(node) = self.node_ref(&p.node) else {
                continue;
            };
            let program = match (&p.http, &p.command) {
                (Some(port), None) => match u16::try_from(*port.get_ref()) {
                    Ok(n) if n > 0 => Program::Http {
                        port: n,
                        text: node.clone(),
                    },
                    _ => {
                        self.err(
                            port.span(),
                            format!("port {} is outside 1..=65535", port.get_ref()),
                        );
                        continue;
                    }
                },
                (None, Some(cmd))
                    if !cmd.get_ref().is_empty()
                        && cmd.get_ref().iter().all(|a| !a.contains('\0')) =>
                {
                    Program::Command(cmd.get_ref().clone())
                }
                (None, Some(cmd)) => {
                    self.err(
                        cmd.span(),
                        "`command` must be a non-empty list of arguments without NUL bytes",
                    );
                    continue;
                }
                _ => {
                    self.err_help(
                        p.node.span(),
                        "a process needs exactly one of `http` or `command`",
                        "e.g. http = 80",
                    );
                    continue;
                }
            };
            lab.processes.push(Process { node, program });
        }
    }
}
