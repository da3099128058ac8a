//! The lab model: a scenario after validation, with every reference resolved, every MAC
//! known and the underlay expanded into ordinary namespaces, bridges and veths.
//!
//! Built only by [`Lab::from_scenario`]; a `Lab` is always consistent, so the planner and
//! the kernel backend never re-check it. Pure data: nothing here touches the kernel.

mod balance;
mod fault;
mod managed;
mod names;
mod nat;
mod ovs;
mod validate;

use std::net::IpAddr;

use ipnet::IpNet;
use serde::Serialize;

pub use balance::{Forward, IpvsReal, IpvsService, KubeProxy, SCHEDULERS, Service};
pub use fault::{Check, Exercise, Fault, FaultAction};
pub use managed::{Agent, OvsHost};
pub use names::{
    BadLabName, IfRef, LAB_NAME_MAX, LAB_NAME_RULE, LabName, Mac, check_ifname, check_lab_name,
    check_node_id, check_word, netns_name, netns_prefix,
};
pub use nat::{AddrMatch, Hook, IfMatch, NatKind, NatRule, NatTo, Proto};
pub use ovs::{OVS_DATAPATH_PLACEHOLDER, OvsDatapath};

use crate::diag::Diagnostic;
use crate::scenario::{self, Scenario};

/// A validated lab.
#[derive(Debug, Clone, Serialize)]
pub struct Lab {
    /// Lab name (`[lab] name`).
    pub name: LabName,
    /// One-line title.
    pub title: Option<String>,
    /// The write-up it reproduces.
    pub source: Option<String>,
    /// Longer description.
    pub description: Option<String>,
    /// Every namespace: hosts, their inner namespaces, and the underlay switch.
    pub nodes: Vec<Node>,
    /// Veth pairs.
    pub veths: Vec<Veth>,
    /// Bridges.
    pub bridges: Vec<Bridge>,
    /// VXLAN devices.
    pub vxlans: Vec<Vxlan>,
    /// Addresses.
    pub addresses: Vec<Address>,
    /// Routes.
    pub routes: Vec<Route>,
    /// Sysctls.
    pub sysctls: Vec<Sysctl>,
    /// Static neighbour entries.
    pub neighs: Vec<Neigh>,
    /// Static FDB entries.
    pub fdbs: Vec<Fdb>,
    /// Processes.
    pub processes: Vec<Process>,
    /// NAT rules (`[[nat]]`).
    pub nat: Vec<NatRule>,
    /// Where kube-proxy runs, if the lab has services.
    pub kube_proxy: Option<KubeProxy>,
    /// kube-proxy services (`[[service]]`).
    pub services: Vec<Service>,
    /// IPVS virtual services (`[[ipvs]]`).
    pub ipvs: Vec<IpvsService>,
    /// Faults `vxlab break` can plant (`[[fault]]`).
    pub faults: Vec<Fault>,
    /// Exercises built on them (`[[exercise]]`), in order.
    pub exercises: Vec<Exercise>,
    /// The datapath of its Open vSwitch bridges, if it runs OVS (see [`Lab::uses_ovs`]).
    pub ovs_datapath: OvsDatapath,
}

/// What a namespace stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    /// An emulated machine.
    Host,
    /// A sandbox or container inside a host.
    Namespace,
    /// The switch (and router) joining the hosts; vxlab's own.
    Underlay,
}

/// One network namespace of the lab.
#[derive(Debug, Clone, Serialize)]
pub struct Node {
    /// `HOST` or `HOST/NAME`; `underlay` for the switch.
    pub id: String,
    /// The network namespace's name, `vx.LAB.HOST[.NAME]`.
    pub netns: String,
    /// What it stands for.
    pub kind: NodeKind,
    /// Whether `lo` is brought up.
    pub lo_up: bool,
}

/// Where an object comes from: the user's scenario, or the underlay vxlab builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// Written in the scenario.
    Scenario,
    /// Part of the emulated underlay network.
    Underlay,
}

/// A veth pair.
#[derive(Debug, Clone, Serialize)]
pub struct Veth {
    /// First end.
    pub a: IfRef,
    /// Second end.
    pub b: IfRef,
    /// MAC of the first end.
    pub a_mac: Mac,
    /// MAC of the second end.
    pub b_mac: Mac,
    /// MTU of both ends.
    pub mtu: Option<u32>,
    /// Who asked for it.
    pub origin: Origin,
}

/// A bridge.
#[derive(Debug, Clone, Serialize)]
pub struct Bridge {
    /// The bridge device.
    pub dev: IfRef,
    /// Its ports, in the same node.
    pub ports: Vec<String>,
    /// Its MAC.
    pub mac: Mac,
    /// MTU.
    pub mtu: Option<u32>,
    /// Who asked for it.
    pub origin: Origin,
}

/// A VXLAN device.
#[derive(Debug, Clone, Serialize)]
pub struct Vxlan {
    /// Where it lives.
    pub dev: IfRef,
    /// Node where it is created (keeps its UDP socket).
    pub created_in: String,
    /// VNI.
    pub vni: u32,
    /// UDP destination port; `None` leaves the kernel's default (8472).
    pub dstport: Option<u16>,
    /// Outer source address.
    pub local: Option<IpAddr>,
    /// Unicast remote.
    pub remote: Option<IpAddr>,
    /// Multicast group.
    pub group: Option<IpAddr>,
    /// Underlay device in `created_in`.
    pub underlay_dev: Option<String>,
    /// `proxy`.
    pub proxy: bool,
    /// `learning`.
    pub learning: bool,
    /// MAC.
    pub mac: Mac,
    /// MTU.
    pub mtu: Option<u32>,
}

/// An address on an interface.
#[derive(Debug, Clone, Serialize)]
pub struct Address {
    /// Interface.
    pub dev: IfRef,
    /// Address and prefix.
    pub address: IpNet,
    /// Who asked for it.
    pub origin: Origin,
}

/// A route.
#[derive(Debug, Clone, Serialize)]
pub struct Route {
    /// Node whose main table gets it.
    pub node: String,
    /// Destination; `0.0.0.0/0` for default.
    pub to: IpNet,
    /// Gateway.
    pub via: Option<IpAddr>,
    /// Output device.
    pub dev: Option<String>,
    /// Metric.
    pub metric: Option<u32>,
    /// Who asked for it.
    pub origin: Origin,
}

impl Route {
    /// Whether this is a default route.
    pub fn is_default(&self) -> bool {
        self.to.prefix_len() == 0
    }
}

/// A sysctl of one namespace.
#[derive(Debug, Clone, Serialize)]
pub struct Sysctl {
    /// Node.
    pub node: String,
    /// Dotted key under `net.`.
    pub key: String,
    /// Value to write.
    pub value: String,
    /// Who asked for it.
    pub origin: Origin,
}

/// A permanent neighbour entry.
#[derive(Debug, Clone, Serialize)]
pub struct Neigh {
    /// Interface.
    pub dev: IfRef,
    /// Neighbour IP.
    pub to: IpAddr,
    /// Its MAC.
    pub lladdr: Mac,
}

/// A permanent FDB entry.
#[derive(Debug, Clone, Serialize)]
pub struct Fdb {
    /// Interface.
    pub dev: IfRef,
    /// MAC.
    pub mac: Mac,
    /// Remote VTEP.
    pub dst: Option<IpAddr>,
    /// `self` (true) or `master` (false).
    pub self_: bool,
}

/// What a process runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Program {
    /// vxlab's built-in HTTP server on this port, answering with `text`.
    Http {
        /// TCP port.
        port: u16,
        /// Body of every answer.
        text: String,
    },
    /// Any program, as argv (never through a shell).
    Command(Vec<String>),
}

impl Program {
    /// The program as `lab` (record directory `state`) runs it: in a command's arguments,
    /// `{lab}` becomes the lab's name, `{state}` its record directory (e.g. an etcd
    /// `--data-dir {state}/etcd`, removed by `down`) and `{ovs_datapath}` the datapath of
    /// its Open vSwitch bridges (`system` or `netdev`).
    #[must_use]
    pub fn for_lab(&self, lab: &Lab, state: &std::path::Path) -> Self {
        match self {
            Self::Command(argv) => Self::Command(
                argv.iter()
                    .map(|a| {
                        a.replace("{lab}", &lab.name)
                            .replace("{state}", &state.to_string_lossy())
                            .replace(OVS_DATAPATH_PLACEHOLDER, lab.ovs_datapath.as_str())
                    })
                    .collect(),
            ),
            Self::Http { .. } => self.clone(),
        }
    }

    /// Whether the command takes the lab's Open vSwitch datapath (`{ovs_datapath}`).
    fn takes_ovs_datapath(&self) -> bool {
        match self {
            Self::Command(argv) => argv.iter().any(|a| a.contains(OVS_DATAPATH_PLACEHOLDER)),
            Self::Http { .. } => false,
        }
    }
}

/// A process run for the lab's lifetime.
#[derive(Debug, Clone, Serialize)]
pub struct Process {
    /// Node.
    pub node: String,
    /// Program.
    pub program: Program,
}

impl Lab {
    /// Validates a parsed scenario. On error, every problem found is returned, each
    /// anchored to the offending text.
    pub fn from_scenario(scenario: &Scenario) -> Result<Self, Vec<Diagnostic>> {
        validate::validate(scenario)
    }

    /// Parses and validates scenario source text.
    pub fn from_source(source: &str) -> Result<Self, Vec<Diagnostic>> {
        Self::from_scenario(&scenario::parse(source)?)
    }

    /// The same lab under another name: its namespaces are renamed to match, so several
    /// copies of one scenario can be up at once (e.g. one per student, or per test).
    #[must_use]
    pub fn renamed(mut self, name: &LabName) -> Self {
        self.name = name.clone();
        for n in &mut self.nodes {
            n.netns = netns_name(name, &n.id);
        }
        self
    }

    /// The same lab with its IPVS services emulated with nftables (see
    /// [`crate::nat::emulate`]), for kernels without `ip_vs`.
    #[must_use]
    pub fn emulate_ipvs(mut self) -> Self {
        for s in &mut self.ipvs {
            s.emulated = true;
        }
        self
    }

    /// Whether the lab runs Open vSwitch: a process takes its datapath (`{ovs_datapath}`).
    pub fn uses_ovs(&self) -> bool {
        self.processes
            .iter()
            .any(|p| p.program.takes_ovs_datapath())
    }

    /// The same lab with its Open vSwitch bridges on datapath `datapath`.
    #[must_use]
    pub fn with_ovs_datapath(mut self, datapath: OvsDatapath) -> Self {
        self.ovs_datapath = datapath;
        self
    }

    /// Whether any IPVS service is emulated.
    pub fn ipvs_emulated(&self) -> bool {
        self.ipvs.iter().any(|s| s.emulated)
    }

    /// Whether the lab needs the kernel's IPVS (`ip_vs`): an IPVS service not emulated.
    pub fn needs_kernel_ipvs(&self) -> bool {
        self.ipvs.iter().any(|s| !s.emulated)
    }

    /// The node with this id.
    pub fn node(&self, id: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// Every interface the lab creates, with its MAC, in creation order.
    pub fn interfaces(&self) -> Vec<(&IfRef, Mac)> {
        let mut out = Vec::new();
        for v in &self.veths {
            out.push((&v.a, v.a_mac));
            out.push((&v.b, v.b_mac));
        }
        out.extend(self.bridges.iter().map(|b| (&b.dev, b.mac)));
        out.extend(self.vxlans.iter().map(|v| (&v.dev, v.mac)));
        out
    }
}
