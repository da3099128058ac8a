//! What the doctor looks at: every namespace's tables as the kernel reported them, plus
//! the wiring the kernel does not show from inside one namespace (which veth end is whose
//! peer, where each VXLAN's UDP socket lives), taken from the lab.
//!
//! Pure data with lookups (longest-prefix route lookup, who owns an address); reading it
//! from the kernel is [`super::read`].

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use ipnet::{IpNet, Ipv4Net};
use serde::Serialize;

use crate::ipvs::ServiceRow;
use crate::model::Lab;
use crate::observe::{AddrRow, FdbRow, LinkRow, NeighRow, RouteRow, Tables};

/// A NAT rule as found in a namespace's nftables ruleset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NatRow {
    /// Table (`vxlab`, or iptables' `nat`).
    pub table: String,
    /// Chain.
    pub chain: String,
    /// `snat`, `dnat` or `masquerade`.
    pub kind: String,
    /// The new address, if any.
    pub to: Option<String>,
    /// Whether it applies only to IPVS-forwarded packets (`-m ipvs --ipvs`, or its
    /// emulation).
    pub ipvs_only: bool,
}

/// A path MTU the kernel learned for one destination (`ip route show cache`): an ICMP
/// "frag needed", or a VXLAN device's own check, lowered it below the device's MTU for
/// the packets this namespace sends there, for ten minutes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PmtuRow {
    /// Destination.
    pub to: IpAddr,
    /// Output device.
    pub dev: Option<String>,
    /// The learned path MTU.
    pub mtu: u32,
}

/// A process running in a namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProcessRow {
    /// Its pid.
    pub pid: i32,
    /// Its command line.
    pub argv: Vec<String>,
}

/// The live state of one namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NodeState {
    /// Node id, `HOST` or `HOST/NAME`.
    pub node: String,
    /// Namespace.
    pub netns: String,
    /// Links.
    pub links: Vec<LinkRow>,
    /// Addresses.
    pub addresses: Vec<AddrRow>,
    /// Routes of the main table.
    pub routes: Vec<RouteRow>,
    /// IPv4 neighbours.
    pub neighbours: Vec<NeighRow>,
    /// Bridge FDB.
    pub fdb: Vec<FdbRow>,
    /// Path MTUs learned (route cache exceptions).
    pub pmtu: Vec<PmtuRow>,
    /// Sysctls read, by dotted key; a key the kernel lacks is absent.
    pub sysctls: BTreeMap<String, String>,
    /// NAT rules.
    pub nat: Vec<NatRow>,
    /// Number of rules in chains of type `filter`.
    pub filter_rules: usize,
    /// IPVS services; `None` when the kernel has no IPVS to ask.
    pub ipvs: Option<Vec<ServiceRow>>,
    /// The processes running in it.
    pub processes: Vec<ProcessRow>,
    /// Its Open vSwitch, if the lab runs one there.
    pub ovs: Option<super::ovsdb::OvsState>,
    /// What could not be read.
    pub errors: Vec<String>,
}

/// `(node, interface)`.
pub type Iface = (String, String);

/// Where a VXLAN device sends a frame for a MAC: what its FDB (or its configuration) says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VxlanDest<'a> {
    /// Its FDB entries for the MAC (`bridge fdb … dst`).
    Entry(Vec<&'a FdbRow>),
    /// No entry for the MAC: the all-zeros entries, which it floods to.
    Flood(Vec<&'a FdbRow>),
    /// No entry at all: the device's own `remote`.
    Remote(IpAddr),
}

impl VxlanDest<'_> {
    /// The VTEP addresses it sends to.
    pub fn addrs(&self) -> Vec<IpAddr> {
        match self {
            Self::Entry(rows) | Self::Flood(rows) => rows.iter().filter_map(|f| f.dst).collect(),
            Self::Remote(r) => vec![*r],
        }
    }
}

fn same_mac(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Every namespace of a running lab, and its wiring.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    /// Lab name.
    pub lab: String,
    /// Each namespace's state.
    pub nodes: Vec<NodeState>,
    /// Veth peers, both ways.
    #[serde(skip)]
    pub peers: BTreeMap<Iface, Iface>,
    /// VXLAN devices and the node holding their UDP socket.
    #[serde(skip)]
    pub vxlan_socket: BTreeMap<Iface, String>,
}

impl Snapshot {
    /// An empty snapshot of `lab` with its wiring.
    pub fn wiring_of(lab: &Lab) -> Self {
        let mut s = Self {
            lab: lab.name.to_string(),
            ..Self::default()
        };
        for v in &lab.veths {
            let a = (v.a.node.clone(), v.a.name.clone());
            let b = (v.b.node.clone(), v.b.name.clone());
            s.peers.insert(a.clone(), b.clone());
            s.peers.insert(b, a);
        }
        for v in &lab.vxlans {
            s.vxlan_socket.insert(
                (v.dev.node.clone(), v.dev.name.clone()),
                v.created_in.clone(),
            );
        }
        s
    }

    /// The state of node `id`.
    pub fn node(&self, id: &str) -> Option<&NodeState> {
        self.nodes.iter().find(|n| n.node == id)
    }

    /// Nodes owning address `ip` (on an interface other than `lo`).
    pub fn owners(&self, ip: IpAddr) -> Vec<(&NodeState, &AddrRow)> {
        self.nodes
            .iter()
            .flat_map(|n| n.addresses.iter().map(move |a| (n, a)))
            .filter(|(_, a)| a.dev != "lo" && addr_of(a).is_some_and(|x| x.addr() == ip))
            .collect()
    }

    /// The node and interface whose MAC is `mac`.
    pub fn mac_owner(&self, mac: &str) -> Option<(&NodeState, &LinkRow)> {
        self.nodes
            .iter()
            .flat_map(|n| n.links.iter().map(move |l| (n, l)))
            .find(|(_, l)| l.mac.eq_ignore_ascii_case(mac))
    }

    /// The veth peer of `(node, iface)`.
    pub fn peer(&self, node: &str, iface: &str) -> Option<&Iface> {
        self.peers.get(&(node.to_string(), iface.to_string()))
    }
}

/// The host a node belongs to (`hostA/container` → `hostA`).
pub fn host_of(node: &str) -> &str {
    node.split('/').next().unwrap_or(node)
}

/// An address row's address and prefix.
pub fn addr_of(a: &AddrRow) -> Option<IpNet> {
    a.address.parse().ok()
}

/// A route row's destination (`default` is `0.0.0.0/0`).
pub fn route_dst(r: &RouteRow) -> Option<IpNet> {
    if r.to == "default" {
        Some(IpNet::V4(Ipv4Net::default()))
    } else if r.to.contains('/') {
        r.to.parse().ok()
    } else {
        r.to.parse::<IpAddr>().ok().map(IpNet::from)
    }
}

impl NodeState {
    /// A node's state from a dump of its tables.
    pub fn from_tables(node: &str, netns: &str, t: Tables) -> Self {
        Self {
            node: node.to_string(),
            netns: netns.to_string(),
            links: t.links,
            addresses: t.addresses,
            routes: t.routes,
            neighbours: t.neighbours,
            fdb: t.fdb,
            ..Self::default()
        }
    }

    /// Its tables, as [`crate::observe::dump`] returns them.
    pub fn tables(&self) -> Tables {
        Tables {
            links: self.links.clone(),
            addresses: self.addresses.clone(),
            routes: self.routes.clone(),
            neighbours: self.neighbours.clone(),
            fdb: self.fdb.clone(),
        }
    }

    /// The process running `argv`, if one does (see
    /// [`crate::fault::process::same_command`]).
    pub fn running(&self, argv: &[String]) -> Option<&ProcessRow> {
        self.processes
            .iter()
            .find(|p| crate::fault::process::same_command(&p.argv, argv))
    }

    /// Link `name`.
    pub fn link(&self, name: &str) -> Option<&LinkRow> {
        self.links.iter().find(|l| l.name == name)
    }

    /// IPv4 addresses (with prefix) on interfaces other than `lo`.
    pub fn ipv4(&self) -> Vec<(&AddrRow, Ipv4Net)> {
        self.addresses
            .iter()
            .filter(|a| a.dev != "lo")
            .filter_map(|a| match addr_of(a)? {
                IpNet::V4(n) => Some((a, n)),
                IpNet::V6(_) => None,
            })
            .collect()
    }

    /// Whether it owns `ip` on any interface, `lo` included.
    pub fn owns(&self, ip: IpAddr) -> bool {
        ip.is_loopback()
            || self
                .addresses
                .iter()
                .any(|a| addr_of(a).is_some_and(|x| x.addr() == ip))
    }

    /// The main-table route the kernel would pick for `ip` (longest prefix; connected
    /// routes included, as the kernel lists them).
    pub fn lookup(&self, ip: IpAddr) -> Option<&RouteRow> {
        self.routes
            .iter()
            .filter_map(|r| Some((route_dst(r)?, r)))
            .filter(|(d, _)| d.contains(&ip))
            .max_by_key(|(d, _)| d.prefix_len())
            .map(|(_, r)| r)
    }

    /// The neighbour entry the kernel uses for `ip` on `dev`: one with a link-layer
    /// address, neither `FAILED` nor `INCOMPLETE`.
    pub fn neighbour(&self, dev: &str, ip: IpAddr) -> Option<&NeighRow> {
        self.neighbours.iter().find(|n| {
            n.dev == dev
                && n.to == ip
                && n.lladdr.is_some()
                && !matches!(n.state.as_str(), "FAILED" | "INCOMPLETE")
        })
    }

    /// The FDB entry bridge `br` forwards a frame for `mac` by (a port's, not the bridge's
    /// own); `None` when it floods.
    pub fn bridge_fdb(&self, br: &str, mac: &str) -> Option<&FdbRow> {
        self.fdb
            .iter()
            .find(|f| f.master.as_deref() == Some(br) && same_mac(&f.mac, mac) && f.dev != br)
    }

    /// Where VXLAN device `dev` sends a frame for `mac`: its FDB entries for the MAC, else
    /// its all-zeros entries, else its `remote`; `None` when it has nowhere to send it.
    pub fn vxlan_dest(&self, dev: &str, mac: &str) -> Option<VxlanDest<'_>> {
        let own = |m: &str| -> Vec<&FdbRow> {
            self.fdb
                .iter()
                .filter(|f| f.dev == dev && f.self_ && same_mac(&f.mac, m) && f.dst.is_some())
                .collect()
        };
        let entries = own(mac);
        if !entries.is_empty() {
            return Some(VxlanDest::Entry(entries));
        }
        let flood = own("00:00:00:00:00:00");
        if !flood.is_empty() {
            return Some(VxlanDest::Flood(flood));
        }
        let remote = self.link(dev)?.vxlan.as_ref()?.remote?;
        Some(VxlanDest::Remote(remote))
    }

    /// The path MTU this namespace learned for `ip`, if it learned one.
    pub fn pmtu(&self, ip: IpAddr) -> Option<&PmtuRow> {
        self.pmtu.iter().find(|p| p.to == ip)
    }

    /// A sysctl's value, if the kernel has it.
    pub fn sysctl(&self, key: &str) -> Option<&str> {
        self.sysctls.get(key).map(String::as_str)
    }

    /// Whether it forwards IPv4 (`net.ipv4.ip_forward`).
    pub fn forwards(&self) -> bool {
        self.sysctl("net.ipv4.ip_forward") == Some("1")
    }

    /// The effective `rp_filter` of interface `dev` (the larger of `all` and its own).
    pub fn rp_filter(&self, dev: &str) -> u8 {
        let get = |k: String| {
            self.sysctl(&k)
                .and_then(|v| v.parse::<u8>().ok())
                .unwrap_or(0)
        };
        get("net.ipv4.conf.all.rp_filter".into()).max(get(format!("net.ipv4.conf.{dev}.rp_filter")))
    }

    /// Its address in the subnet of `ip`, if it has one.
    pub fn source_towards(&self, ip: Ipv4Addr) -> Option<Ipv4Addr> {
        self.ipv4()
            .into_iter()
            .find(|(_, n)| n.contains(&ip))
            .map(|(_, n)| n.addr())
    }
}
