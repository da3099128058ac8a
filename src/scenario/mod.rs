//! The scenario file: a lab written in TOML, exactly as the user wrote it.
//!
//! Every value that validation may complain about keeps its source span ([`Spanned`]), so
//! errors point at the offending text. Nothing here checks meaning: see [`crate::model`].
//! Each key is documented for users in `labs/README.md`.

mod fault;

use serde::Deserialize;
use toml::Spanned;

pub use fault::{
    Exercise, ExerciseCheck, Fault, FaultDev, FaultFdb, FaultMtu, FaultNat, FaultNeigh,
    FaultOvsSet, FaultProcess, FaultRoute, FaultSysctl, FaultVxlan,
};

use crate::diag::Diagnostic;

/// A string with its position in the scenario file.
pub type Text = Spanned<String>;

/// A whole scenario file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// `[lab]`: name and description.
    pub lab: LabMeta,
    /// `[underlay]`: the network joining the emulated hosts.
    #[serde(default)]
    pub underlay: Underlay,
    /// `[[host]]`: emulated machines.
    #[serde(default, rename = "host")]
    pub hosts: Vec<Host>,
    /// `[[namespace]]`: sandboxes and containers inside hosts.
    #[serde(default, rename = "namespace")]
    pub namespaces: Vec<Namespace>,
    /// `[[veth]]`: veth pairs.
    #[serde(default, rename = "veth")]
    pub veths: Vec<Veth>,
    /// `[[bridge]]`: Linux bridges.
    #[serde(default, rename = "bridge")]
    pub bridges: Vec<Bridge>,
    /// `[[vxlan]]`: VXLAN devices.
    #[serde(default, rename = "vxlan")]
    pub vxlans: Vec<Vxlan>,
    /// `[[address]]`: IP addresses on interfaces.
    #[serde(default, rename = "address")]
    pub addresses: Vec<Address>,
    /// `[[route]]`: routes.
    #[serde(default, rename = "route")]
    pub routes: Vec<Route>,
    /// `[[sysctl]]`: per-namespace `net.*` sysctls.
    #[serde(default, rename = "sysctl")]
    pub sysctls: Vec<Sysctl>,
    /// `[[neigh]]`: static neighbour (ARP) entries.
    #[serde(default, rename = "neigh")]
    pub neighs: Vec<Neigh>,
    /// `[[fdb]]`: static bridge forwarding database entries.
    #[serde(default, rename = "fdb")]
    pub fdbs: Vec<Fdb>,
    /// `[[process]]`: programs the lab runs in its namespaces.
    #[serde(default, rename = "process")]
    pub processes: Vec<Process>,
    /// `[[nat]]`: DNAT, SNAT and MASQUERADE rules.
    #[serde(default)]
    pub nat: Vec<Nat>,
    /// `[kube_proxy]`: the nodes running kube-proxy for `[[service]]`s.
    #[serde(default)]
    pub kube_proxy: Option<KubeProxy>,
    /// `[[service]]`: Kubernetes services, as kube-proxy's iptables mode programs them.
    #[serde(default, rename = "service")]
    pub services: Vec<Service>,
    /// `[[ipvs]]`: IPVS virtual services.
    #[serde(default)]
    pub ipvs: Vec<Ipvs>,
    /// `[[fault]]`: faults `vxlab break` can plant, for teaching and troubleshooting.
    #[serde(default, rename = "fault")]
    pub faults: Vec<Fault>,
    /// `[[exercise]]`: faults to repair, in order, graded by a check (`vxlab exercise`).
    #[serde(default, rename = "exercise")]
    pub exercises: Vec<Exercise>,
}

/// `[lab]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabMeta {
    /// Short name, used in namespace names: `vx.NAME.HOST`.
    pub name: Text,
    /// One line shown in listings.
    #[serde(default)]
    pub title: Option<String>,
    /// Which write-up the lab reproduces.
    #[serde(default)]
    pub source: Option<String>,
    /// Longer text for students.
    #[serde(default)]
    pub description: Option<String>,
}

/// `[underlay]`: one switched L2 segment unless subnets are given.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Underlay {
    /// Name of each host's underlay interface (default `eth0`).
    #[serde(default)]
    pub dev: Option<Text>,
    /// MTU of the underlay links (default 1500).
    #[serde(default)]
    pub mtu: Option<Spanned<u32>>,
    /// `[[underlay.subnet]]`: routed subnets joined by a router.
    #[serde(default, rename = "subnet")]
    pub subnets: Vec<Subnet>,
}

/// A routed underlay subnet.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subnet {
    /// The subnet, e.g. `192.168.1.0/24`.
    pub cidr: Text,
    /// The router's address in it, e.g. `192.168.1.1`.
    pub router: Text,
}

/// `[[host]]`: an emulated machine.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Host {
    /// Host name, e.g. `hostA`.
    pub name: Text,
    /// Address on the underlay, with prefix length, e.g. `192.168.228.148/24`.
    #[serde(default)]
    pub underlay: Option<Text>,
    /// Bring `lo` up (default true).
    #[serde(default)]
    pub lo: Option<bool>,
}

/// `[[namespace]]`: a sandbox or container inside a host.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Namespace {
    /// `HOST/NAME`, e.g. `hostA/container`.
    pub name: Text,
    /// Bring `lo` up (default true).
    #[serde(default)]
    pub lo: Option<bool>,
}

/// `[[veth]]`: a veth pair; each end is `NODE:IFNAME`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Veth {
    /// First end, e.g. `hostA:veth100`.
    pub name: Text,
    /// Second end, e.g. `hostA/sandbox_1:veth101`.
    pub peer: Text,
    /// Fixed MAC of the first end.
    #[serde(default)]
    pub mac: Option<Text>,
    /// Fixed MAC of the second end.
    #[serde(default)]
    pub peer_mac: Option<Text>,
    /// MTU of both ends.
    #[serde(default)]
    pub mtu: Option<Spanned<u32>>,
}

/// `[[bridge]]`: a Linux bridge.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bridge {
    /// `NODE:IFNAME`, e.g. `hostA/sandbox_2:edge_bridge`.
    pub name: Text,
    /// Interfaces of the same node enslaved to it.
    #[serde(default)]
    pub ports: Vec<Text>,
    /// Fixed MAC.
    #[serde(default)]
    pub mac: Option<Text>,
    /// MTU.
    #[serde(default)]
    pub mtu: Option<Spanned<u32>>,
}

/// `[[vxlan]]`: a VXLAN device.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vxlan {
    /// `NODE:IFNAME` where the device lives, e.g. `hostA/sandbox_2:vxlan0`.
    pub name: Text,
    /// Node where it is created (its UDP socket stays there); default: where it lives.
    #[serde(default)]
    pub created_in: Option<Text>,
    /// VXLAN Network Identifier, 1..=16777215.
    pub vni: Spanned<i64>,
    /// UDP destination port; the kernel's default is 8472, IANA's 4789.
    #[serde(default)]
    pub dstport: Option<Spanned<i64>>,
    /// Source address of the outer packets.
    #[serde(default)]
    pub local: Option<Text>,
    /// Unicast remote VTEP (point to point).
    #[serde(default)]
    pub remote: Option<Text>,
    /// Multicast group for BUM traffic; needs `dev`.
    #[serde(default)]
    pub group: Option<Text>,
    /// Underlay interface in the creating node.
    #[serde(default)]
    pub dev: Option<Text>,
    /// Answer ARP from the neighbour table (`proxy`).
    #[serde(default)]
    pub proxy: bool,
    /// Learn remote MACs into the FDB (default true).
    #[serde(default)]
    pub learning: Option<bool>,
    /// Fixed MAC.
    #[serde(default)]
    pub mac: Option<Text>,
    /// MTU.
    #[serde(default)]
    pub mtu: Option<Spanned<u32>>,
}

/// `[[address]]`: `ip addr add ADDRESS dev DEV`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Address {
    /// `NODE:IFNAME`.
    pub dev: Text,
    /// Address with prefix length.
    pub address: Text,
}

/// `[[route]]`: `ip route add TO [via VIA] [dev DEV]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// The node whose table gets the route.
    pub node: Text,
    /// `default` or a prefix.
    pub to: Text,
    /// Gateway.
    #[serde(default)]
    pub via: Option<Text>,
    /// Output interface of that node.
    #[serde(default)]
    pub dev: Option<Text>,
    /// Route metric.
    #[serde(default)]
    pub metric: Option<Spanned<u32>>,
}

/// `[[sysctl]]`: a `net.*` sysctl of one namespace.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sysctl {
    /// The node.
    pub node: Text,
    /// Key, e.g. `net.ipv4.ip_forward`.
    pub key: Text,
    /// Value; integers and strings are both accepted.
    pub value: Spanned<SysctlValue>,
}

/// A sysctl value as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum SysctlValue {
    /// `value = 1`
    Int(i64),
    /// `value = "1"`
    Str(String),
}

impl std::fmt::Display for SysctlValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Int(v) => write!(f, "{v}"),
            Self::Str(s) => f.write_str(s),
        }
    }
}

/// `[[neigh]]`: `ip neigh add TO lladdr LLADDR dev DEV nud permanent`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Neigh {
    /// `NODE:IFNAME`.
    pub dev: Text,
    /// The neighbour's IP address.
    pub to: Text,
    /// A MAC, or `@NODE:IFNAME` for that interface's MAC.
    pub lladdr: Text,
}

/// `[[fdb]]`: `bridge fdb add MAC dev DEV [dst DST] self|master permanent`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fdb {
    /// `NODE:IFNAME`.
    pub dev: Text,
    /// A MAC, or `@NODE:IFNAME` for that interface's MAC.
    pub mac: Text,
    /// Remote VTEP address (VXLAN devices).
    #[serde(default)]
    pub dst: Option<Text>,
    /// Put the entry in the device's own table (`self`, default for VXLAN) or in its
    /// bridge's (`master`).
    #[serde(default, rename = "self")]
    pub self_: Option<bool>,
}

/// `[[process]]`: a program run in a namespace for the lab's lifetime.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Process {
    /// The node.
    pub node: Text,
    /// vxlab's built-in HTTP server on this TCP port, answering with the node's name.
    #[serde(default)]
    pub http: Option<Spanned<i64>>,
    /// Any other program, as argv.
    #[serde(default)]
    pub command: Option<Spanned<Vec<String>>>,
}

/// `[[nat]]`: one NAT rule in a node's nat table, e.g. the write-up's
/// `iptables -t nat -I PREROUTING -d 192.168.228.148 -p tcp --dport 80 -j DNAT --to 172.18.0.2`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nat {
    /// The node.
    pub node: Text,
    /// `dnat`, `snat` or `masquerade`.
    #[serde(rename = "type")]
    pub kind: Text,
    /// `prerouting` (default for dnat), `output`, `postrouting` (default for snat and
    /// masquerade) or `input`.
    #[serde(default)]
    pub hook: Option<Text>,
    /// Source address or prefix; `!` in front negates.
    #[serde(default)]
    pub src: Option<Text>,
    /// Destination address or prefix; `!` in front negates.
    #[serde(default)]
    pub dst: Option<Text>,
    /// `tcp`, `udp`, `sctp` or `icmp`.
    #[serde(default)]
    pub proto: Option<Text>,
    /// Destination port (needs `proto`).
    #[serde(default)]
    pub dport: Option<Spanned<i64>>,
    /// Input interface of the node (`-i`); `!` in front negates.
    #[serde(default, rename = "in")]
    pub iif: Option<Text>,
    /// Output interface of the node (`-o`); `!` in front negates.
    #[serde(default, rename = "out")]
    pub oif: Option<Text>,
    /// Only packets IPVS forwards (`-m ipvs --ipvs`).
    #[serde(default)]
    pub ipvs: Option<Spanned<bool>>,
    /// New destination (dnat) or source (snat): `ADDR` or `ADDR:PORT`.
    #[serde(default)]
    pub to: Option<Text>,
    /// Comment shown with the rule.
    #[serde(default)]
    pub comment: Option<Text>,
}

/// `[kube_proxy]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubeProxy {
    /// Nodes running kube-proxy: each gets the KUBE-* chains of every service.
    pub nodes: Spanned<Vec<Text>>,
    /// The pods' network; traffic to a `ClusterIP` from outside it is masqueraded.
    #[serde(default)]
    pub cluster_cidr: Option<Text>,
}

/// `[[service]]`: a Kubernetes service port.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// `NAMESPACE/NAME`, e.g. `default/web`.
    pub name: Text,
    /// Name of the port, if the service names its ports.
    #[serde(default)]
    pub port_name: Option<Text>,
    /// The `ClusterIP`.
    pub cluster_ip: Text,
    /// The service port.
    pub port: Spanned<i64>,
    /// `tcp` (default), `udp` or `sctp`.
    #[serde(default)]
    pub proto: Option<Text>,
    /// `NodePort`.
    #[serde(default)]
    pub node_port: Option<Spanned<i64>>,
    /// Endpoints, `IP:PORT` each.
    pub endpoints: Spanned<Vec<Text>>,
}

/// `[[ipvs]]`: an IPVS virtual service, as `ipvsadm -A` and `ipvsadm -a` make it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ipvs {
    /// The node.
    pub node: Text,
    /// Virtual `ADDR:PORT`.
    pub service: Text,
    /// `tcp` (default), `udp` or `sctp`.
    #[serde(default)]
    pub proto: Option<Text>,
    /// Scheduler (`rr`, `wrr`, `lc`, `wlc` (default, as ipvsadm), `sh`, …).
    #[serde(default)]
    pub scheduler: Option<Text>,
    /// `[[ipvs.real]]`: real servers.
    #[serde(default)]
    pub real: Vec<IpvsReal>,
}

/// A real server of an `[[ipvs]]` service.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IpvsReal {
    /// `ADDR` (the service's port) or `ADDR:PORT`.
    pub address: Text,
    /// `masq`, `droute` (default, as ipvsadm) or `tunnel`.
    #[serde(default)]
    pub forward: Option<Text>,
    /// Weight (default 1).
    #[serde(default)]
    pub weight: Option<Spanned<i64>>,
}

/// Parses a scenario file. Syntax errors, unknown keys and wrong types come back as one
/// diagnostic with the span TOML reports.
pub fn parse(source: &str) -> Result<Scenario, Vec<Diagnostic>> {
    toml::from_str(source).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        vec![Diagnostic::new(span, e.message().trim_end().to_string())]
    })
}
