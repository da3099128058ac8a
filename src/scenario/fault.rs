//! `[[fault]]`: a named breakage a lab can have planted on purpose (`vxlab break`), as
//! the user wrote it. Each fault has exactly one action table; validation checks that
//! (see [`crate::model::Fault`]).

use serde::Deserialize;
use toml::Spanned;

use super::{SysctlValue, Text};

/// `[[fault]]`: one fault, e.g.
/// `remove_neigh = { dev = "hostA/sandbox_2:vxlan0", to = "10.0.0.14" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// Short name, used on the command line: `vxlab break LAB NAME`.
    pub name: Text,
    /// What a student sees: the symptom, not the cause.
    pub description: Text,
    /// `remove_fdb = { dev, mac }`: delete every FDB entry of `mac` on `dev`.
    #[serde(default)]
    pub remove_fdb: Option<Spanned<FaultFdb>>,
    /// `remove_neigh = { dev, to }`: delete the neighbour (ARP) entry of `to` on `dev`.
    #[serde(default)]
    pub remove_neigh: Option<Spanned<FaultNeigh>>,
    /// `sysctl = { node, key, value }`: set a sysctl of a node.
    #[serde(default)]
    pub sysctl: Option<Spanned<FaultSysctl>>,
    /// `link_down = { dev }`: set an interface down (`lo` included).
    #[serde(default)]
    pub link_down: Option<Spanned<FaultDev>>,
    /// `remove_route = { node, to }`: delete a node's route(s) to a prefix or `default`.
    #[serde(default)]
    pub remove_route: Option<Spanned<FaultRoute>>,
    /// `mtu = { dev, mtu }`: change an interface's MTU.
    #[serde(default)]
    pub mtu: Option<Spanned<FaultMtu>>,
    /// `vxlan = { dev, vni, dstport }`: recreate a VXLAN device with another VNI and/or
    /// UDP port.
    #[serde(default)]
    pub vxlan: Option<Spanned<FaultVxlan>>,
    /// `remove_nat = { node, rule }`: delete the node's `rule`-th `[[nat]]` rule.
    #[serde(default)]
    pub remove_nat: Option<Spanned<FaultNat>>,
    /// `stop_process = { node, process }`: stop the node's `process`-th `[[process]]`.
    #[serde(default)]
    pub stop_process: Option<Spanned<FaultProcess>>,
    /// `ovs_set = { node, interface, column, value }`: change a column of an Open vSwitch
    /// interface.
    #[serde(default)]
    pub ovs_set: Option<Spanned<FaultOvsSet>>,
}

/// `remove_fdb = { dev = "NODE:IFNAME", mac = "MAC" | "@NODE:IFNAME" }`, or
/// `{ dev, dst = "IP" }` for the entries towards a remote VTEP.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultFdb {
    /// The device whose FDB loses the entry.
    pub dev: Text,
    /// A MAC, or `@NODE:IFNAME` for that interface's MAC.
    #[serde(default)]
    pub mac: Option<Text>,
    /// The remote VTEP the entries send to (for MACs known only at run time).
    #[serde(default)]
    pub dst: Option<Text>,
}

/// `remove_neigh = { dev = "NODE:IFNAME", to = "IP" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultNeigh {
    /// The device.
    pub dev: Text,
    /// The neighbour's IP address.
    pub to: Text,
}

/// `sysctl = { node = "NODE", key = "net.…", value = V }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSysctl {
    /// The node.
    pub node: Text,
    /// Key, e.g. `net.ipv4.ip_forward`.
    pub key: Text,
    /// The broken value.
    pub value: Spanned<SysctlValue>,
}

/// `link_down = { dev = "NODE:IFNAME" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultDev {
    /// The interface.
    pub dev: Text,
}

/// `remove_route = { node = "NODE", to = "default" | "PREFIX" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRoute {
    /// The node.
    pub node: Text,
    /// `default` or a prefix.
    pub to: Text,
}

/// `mtu = { dev = "NODE:IFNAME", mtu = N }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultMtu {
    /// The interface.
    pub dev: Text,
    /// The broken MTU.
    pub mtu: Spanned<u32>,
}

/// `vxlan = { dev = "NODE:IFNAME", vni = N, dstport = P }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultVxlan {
    /// A VXLAN device of the lab.
    pub dev: Text,
    /// The broken VNI.
    #[serde(default)]
    pub vni: Option<Spanned<i64>>,
    /// The broken UDP destination port.
    #[serde(default)]
    pub dstport: Option<Spanned<i64>>,
}

/// `remove_nat = { node = "NODE", rule = N }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultNat {
    /// The node.
    pub node: Text,
    /// Which of the node's `[[nat]]` rules, counting from 1 in file order.
    pub rule: Spanned<i64>,
}

/// `stop_process = { node = "NODE", process = N }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultProcess {
    /// The node.
    pub node: Text,
    /// Which of the node's `[[process]]`es, counting from 1 in file order.
    pub process: Spanned<i64>,
}

/// `ovs_set = { node = "HOST", interface = "vxlan1", column = "options:key", value = "200" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultOvsSet {
    /// The host whose Open vSwitch (a `vxlab ovs-host` process) is changed.
    pub node: Text,
    /// An interface that process creates.
    pub interface: Text,
    /// A column, or `COLUMN:KEY` of a map column.
    pub column: Text,
    /// The broken value, as `ovs-vsctl set` takes it.
    pub value: Text,
}

/// `[[exercise]]`: a fault to plant, the task as a student reads it, hints, and the
/// check that passes once the lab works again.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exercise {
    /// Short name.
    pub name: Text,
    /// The `[[fault]]` planted when the exercise starts.
    pub fault: Text,
    /// The task, as a student reads it.
    pub task: Text,
    /// Hints, revealed one at a time.
    #[serde(default)]
    pub hints: Vec<String>,
    /// `check = { from = "NODE", ping = "IP" }` or `{ from, tcp = "IP:PORT" }`.
    pub check: Spanned<ExerciseCheck>,
}

/// What must work for an exercise to pass.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExerciseCheck {
    /// The node the check runs in.
    pub from: Text,
    /// Answered ICMP echo to this address.
    #[serde(default)]
    pub ping: Option<Text>,
    /// A TCP connection to this `IP:PORT`.
    #[serde(default)]
    pub tcp: Option<Text>,
}
