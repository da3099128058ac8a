//! Faults of the lab model (`[[fault]]`): named breakages `vxlab break` plants and
//! `vxlab fix` undoes, each one kernel change. Pure data; planting is [`crate::fault`].

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::Serialize;

use super::{IfRef, Mac};

/// A named fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fault {
    /// Its name, e.g. `no-static-arp`.
    pub name: String,
    /// What a student sees: the symptom.
    pub description: String,
    /// The one change that plants it.
    pub action: FaultAction,
}

/// An exercise: plant a fault, let the student repair the lab, check that it works.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Exercise {
    /// Its name.
    pub name: String,
    /// The fault planted when it starts (a name of [`super::Lab::faults`]).
    pub fault: String,
    /// The task, as a student reads it.
    pub task: String,
    /// Hints, revealed one at a time.
    pub hints: Vec<String>,
    /// The node the check runs in.
    pub from: String,
    /// What must work from there.
    pub check: Check,
}

/// What an exercise's check asks of the lab.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// An answered ICMP echo.
    Ping(IpAddr),
    /// A TCP connection that opens.
    Tcp(std::net::SocketAddr),
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ping(ip) => write!(f, "ping {ip}"),
            Self::Tcp(a) => write!(f, "TCP connection to {a}"),
        }
    }
}

/// What planting a fault changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum FaultAction {
    /// Delete every FDB entry of `mac`, or towards `dst`, on `dev` (`bridge fdb del`).
    RemoveFdb {
        /// Device.
        dev: IfRef,
        /// MAC.
        mac: Option<Mac>,
        /// Remote VTEP.
        dst: Option<IpAddr>,
    },
    /// Delete the neighbour entry of `to` on `dev` (`ip neigh del`).
    RemoveNeigh {
        /// Device.
        dev: IfRef,
        /// Neighbour IP.
        to: IpAddr,
    },
    /// Set a sysctl of a node.
    Sysctl {
        /// Node.
        node: String,
        /// Dotted key.
        key: String,
        /// Broken value.
        value: String,
    },
    /// Set an interface down.
    LinkDown {
        /// Interface.
        dev: IfRef,
    },
    /// Delete a node's routes to `to`.
    RemoveRoute {
        /// Node.
        node: String,
        /// Destination; `0.0.0.0/0` for default.
        to: IpNet,
    },
    /// Change an interface's MTU.
    Mtu {
        /// Interface.
        dev: IfRef,
        /// Broken MTU.
        mtu: u32,
    },
    /// Recreate a VXLAN device with another VNI and/or port, keeping its master,
    /// addresses, neighbours and FDB.
    Vxlan {
        /// The VXLAN device.
        dev: IfRef,
        /// Broken VNI.
        vni: Option<u32>,
        /// Broken UDP destination port.
        dstport: Option<u16>,
    },
    /// Delete one of the lab's NAT rules.
    RemoveNat {
        /// Node.
        node: String,
        /// Index of the rule in [`super::Lab::nat`].
        index: usize,
    },
    /// Stop one of the lab's processes.
    StopProcess {
        /// Node.
        node: String,
        /// Index of the process in [`super::Lab::processes`].
        index: usize,
        /// What it runs, as the scenario says it (`http 80`, or the command line).
        program: String,
    },
    /// Change a column of an Open vSwitch interface (`ovs-vsctl set Interface`).
    OvsSet {
        /// Node running the Open vSwitch.
        node: String,
        /// Interface.
        interface: String,
        /// Column, or `COLUMN:KEY`.
        column: String,
        /// Broken value.
        value: String,
    },
}

impl FaultAction {
    /// The node the change happens in.
    pub fn node(&self) -> &str {
        match self {
            Self::RemoveFdb { dev, .. }
            | Self::RemoveNeigh { dev, .. }
            | Self::LinkDown { dev }
            | Self::Mtu { dev, .. }
            | Self::Vxlan { dev, .. } => &dev.node,
            Self::Sysctl { node, .. }
            | Self::RemoveRoute { node, .. }
            | Self::RemoveNat { node, .. }
            | Self::StopProcess { node, .. }
            | Self::OvsSet { node, .. } => node,
        }
    }
}

impl fmt::Display for FaultAction {
    /// One line saying what planting the fault does, e.g.
    /// `remove the neighbour entry of 10.0.0.14 on hostA/sandbox_2:vxlan0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RemoveFdb {
                dev, mac: Some(m), ..
            } => write!(f, "remove the FDB entries of {m} on {dev}"),
            Self::RemoveFdb { dev, dst, .. } => {
                let to = dst.map(|d| d.to_string()).unwrap_or_default();
                write!(f, "remove the FDB entries towards {to} on {dev}")
            }
            Self::RemoveNeigh { dev, to } => {
                write!(f, "remove the neighbour (ARP) entry of {to} on {dev}")
            }
            Self::Sysctl { node, key, value } => write!(f, "set {key} = {value} in {node}"),
            Self::LinkDown { dev } => write!(f, "set {dev} down"),
            Self::RemoveRoute { node, to } if to.prefix_len() == 0 => {
                write!(f, "remove the default route of {node}")
            }
            Self::RemoveRoute { node, to } => write!(f, "remove the route to {to} of {node}"),
            Self::Mtu { dev, mtu } => write!(f, "set the MTU of {dev} to {mtu}"),
            Self::Vxlan { dev, vni, dstport } => {
                write!(f, "recreate {dev} with")?;
                if let Some(v) = vni {
                    write!(f, " VNI {v}")?;
                }
                if let Some(p) = dstport {
                    write!(
                        f,
                        "{} UDP port {p}",
                        if vni.is_some() { " and" } else { "" }
                    )?;
                }
                Ok(())
            }
            Self::RemoveNat { node, index } => {
                write!(f, "remove NAT rule #{} of the lab, in {node}", index + 1)
            }
            Self::StopProcess { node, program, .. } => write!(f, "stop `{program}` in {node}"),
            Self::OvsSet {
                node,
                interface,
                column,
                value,
            } => write!(
                f,
                "set {column}={value} on Open vSwitch interface {interface} of {node}"
            ),
        }
    }
}
