//! `vxlab explain`: the path the kernel should give a packet, predicted from the live
//! tables, next to the path a real probe took, and the first hop where they part.
//!
//! The prediction ([`predict`]) is a pure walk over a [`Snapshot`]: route lookup
//! (longest prefix), neighbour table (or an ARP broadcast followed through bridges and
//! VXLANs when the entry is missing), bridge FDB, VXLAN FDB and encapsulation, the veth
//! peer into the next namespace, NAT and IPVS on the way, and the reply back. Each
//! predicted hop names the table entry that decided it. [`compare`] lines the prediction
//! up with the journeys the tracer captured.

mod arp;
mod compare;
pub mod drops;
mod l2;
mod mtu;
mod nat;
mod ovs;
mod sim;

use std::net::Ipv4Addr;

use serde::Serialize;

pub use compare::{Explanation, LegReport, compare, explanation_text};
pub use mtu::{Notice, PingOutcome, parse_ping};

use crate::capture::Dir;
use crate::doctor::Snapshot;
use crate::model::{Lab, Proto};

/// What is sent: from a node to an address, ICMP echo or a TCP/UDP port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Probe {
    /// Sending node.
    pub from: String,
    /// Destination.
    pub to: Ipv4Addr,
    /// `icmp`, `tcp` or `udp`.
    pub proto: Proto,
    /// Destination port (TCP, UDP).
    pub port: Option<u16>,
    /// ICMP payload bytes, as `ping -s` (default 56).
    pub size: Option<u32>,
    /// Don't-fragment bit set (`ping -M do`); clear otherwise (`ping -M dont`).
    pub df: bool,
}

impl Probe {
    /// The request's IPv4 total length: ICMP and UDP headers are both 8 bytes.
    pub fn ip_len(&self) -> u32 {
        let payload = match self.proto {
            Proto::Icmp => self.size.unwrap_or(56),
            Proto::Udp => 13,
            _ => 20,
        };
        28 + payload
    }
}

/// One predicted sighting of the packet, as the tracer would capture it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// Node.
    pub node: String,
    /// Interface.
    pub iface: String,
    /// Direction.
    pub dir: Dir,
    /// The table entry (or decision) that sends it there.
    pub why: String,
}

/// How a predicted leg ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "end", rename_all = "snake_case")]
pub enum End {
    /// Delivered to a node owning the destination.
    Delivered {
        /// Node.
        node: String,
        /// The packet's addresses there: source, destination.
        src: Ipv4Addr,
        /// Destination.
        dst: Ipv4Addr,
    },
    /// Dropped.
    Dropped {
        /// Node where it dies.
        node: String,
        /// Interface, if the drop is tied to one.
        iface: Option<String>,
        /// Why, in one sentence.
        reason: String,
        /// The table entry responsible (or the one missing), and where it is.
        culprit: Culprit,
        /// What the sender is told, if anything (a packet too big).
        #[serde(skip_serializing_if = "Option::is_none")]
        notice: Option<Notice>,
    },
}

/// The table entry responsible for a drop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Culprit {
    /// Node holding the table.
    pub node: String,
    /// Interface, route, sysctl… at fault.
    pub object: String,
    /// The entry (or its absence), as a command would show it.
    pub entry: String,
}

/// A predicted path: the sightings in order, and its end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Prediction {
    /// Sightings.
    pub steps: Vec<Step>,
    /// How it ends.
    pub end: End,
    /// Remarks along the way: ARP resolutions, NAT, IPVS choices.
    pub notes: Vec<String>,
}

/// The request's predicted path and, if it is delivered, the reply's.
pub fn predict(
    snap: &Snapshot,
    lab: &Lab,
    probe: &Probe,
    ipvs_pick: &[Ipv4Addr],
) -> Vec<(String, Prediction)> {
    let mut sim = sim::Sim::new(snap, lab, ipvs_pick);
    let request = sim.request(probe);
    let mut legs = vec![("request".to_string(), request.clone())];
    if let End::Delivered { node, src, dst } = &request.end {
        let reply = sim.reply(node, *dst, *src, probe);
        legs.push(("reply".to_string(), reply));
    }
    legs
}

#[cfg(test)]
mod tests;
