//! `vxlab doctor`: what is wrong with a running lab, found in the live kernel tables,
//! each finding with its evidence (the table rows that show it) and the commands that
//! fix it.
//!
//! The rules are pure functions over a [`Snapshot`] (read from the kernel by [`read`])
//! and the lab it was built from (for wiring, and to compare with intent where the kernel
//! alone cannot say what was meant). They are grouped by layer: `l2` (bridges, FDB,
//! ARP, VXLAN), `l3` (forwarding, routes, `lo`, `rp_filter`) and `lb` (IPVS, NAT,
//! `br_netfilter`), then `process` (servers that stopped) and `ovs` (Open vSwitch). [`expected`] builds the snapshot a healthy lab would have, so the rules
//! are tested on every shipped lab without root.

pub mod expected;
mod l2;
mod l3;
mod lb;
mod overlay;
mod ovs;
pub mod ovsdb;
mod process;
pub mod read;
mod render;
pub mod snapshot;

use serde::Serialize;

pub use render::report_text;
pub use snapshot::{NatRow, NodeState, Snapshot, VxlanDest};

use crate::model::Lab;

/// VXLAN's encapsulation overhead over IPv4: outer Ethernet is not counted, so
/// IP (20) + UDP (8) + VXLAN (8) + inner Ethernet (14).
pub const VXLAN_OVERHEAD: u32 = 50;

/// One problem found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Which rule found it, e.g. `proxy-arp-missing`.
    pub rule: String,
    /// The node it is in.
    pub node: String,
    /// The object at fault: an interface, an address, a route, a sysctl.
    pub object: String,
    /// What is wrong and what it breaks, in one or two sentences.
    pub message: String,
    /// The table rows (or their absence) that show it.
    pub evidence: Vec<String>,
    /// Commands that fix it.
    pub fix: Vec<String>,
}

impl Finding {
    fn new(rule: &str, node: &str, object: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            rule: rule.to_string(),
            node: node.to_string(),
            object: object.into(),
            message: message.into(),
            evidence: Vec::new(),
            fix: Vec::new(),
        }
    }

    fn evidence(mut self, e: impl Into<String>) -> Self {
        self.evidence.push(e.into());
        self
    }

    fn fix(mut self, c: impl Into<String>) -> Self {
        self.fix.push(c.into());
        self
    }
}

/// What the doctor found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Lab name.
    pub lab: String,
    /// Problems, in rule order.
    pub findings: Vec<Finding>,
    /// Remarks that are not problems: rules skipped and why, things worth knowing.
    pub notes: Vec<String>,
}

/// The rules, in the order findings are listed.
pub const RULES: &[&str] = &[
    "lo-down",
    "link-down",
    "bridge-port",
    "process-down",
    "ovs-down",
    "ovs-port",
    "ovs-tunnel",
    "vxlan-mismatch",
    "vxlan-mtu",
    "proxy-arp-missing",
    "vtep-arp-missing",
    "fdb-missing",
    "route-missing",
    "ip-forward-off",
    "rp-filter",
    "nat-missing",
    "ipvs-conntrack",
    "ipvs-return-path",
    "br-netfilter",
];

/// Runs every rule over `snap`, the live state of `lab`.
pub fn diagnose(snap: &Snapshot, lab: &Lab) -> Report {
    let mut r = Report {
        lab: snap.lab.clone(),
        ..Report::default()
    };
    for n in &snap.nodes {
        for e in &n.errors {
            r.notes.push(format!("{}: could not read {e}", n.node));
        }
    }
    l3::lo_down(snap, &mut r);
    l2::links_and_ports(snap, lab, &mut r);
    process::process_down(snap, lab, &mut r);
    ovs::ovs(snap, lab, &mut r);
    l2::vxlan_mismatch(snap, lab, &mut r);
    l2::vxlan_mtu(snap, lab, &mut r);
    overlay::proxy_arp(snap, &mut r);
    overlay::vtep_arp(snap, &mut r);
    overlay::fdb_missing(snap, &mut r);
    l3::routes(snap, lab, &mut r);
    l3::ip_forward(snap, &mut r);
    l3::rp_filter(snap, &mut r);
    lb::nat_missing(snap, lab, &mut r);
    lb::ipvs(snap, lab, &mut r);
    lb::br_netfilter(snap, &mut r);
    r
}

#[cfg(test)]
mod tests;
