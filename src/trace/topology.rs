//! What the correlator needs to know about a lab's wiring.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use crate::model::{Lab, OvsDatapath};

/// `(node, interface)`.
pub type Iface = (String, String);

/// How capture points are connected.
#[derive(Debug, Clone, Default)]
pub struct Topology {
    /// Veth peers, both ways.
    pub peers: HashMap<Iface, Iface>,
    /// Bridge of each port (same node).
    pub masters: HashMap<Iface, String>,
    /// VXLAN devices and the node that holds their UDP socket.
    pub vxlan_socket: HashMap<Iface, String>,
    /// Addresses owned by each node.
    pub addresses: HashMap<String, HashSet<IpAddr>>,
}

impl Topology {
    /// The wiring of `lab`.
    pub fn of_lab(lab: &Lab) -> Self {
        let mut t = Self::default();
        for v in &lab.veths {
            let a = (v.a.node.clone(), v.a.name.clone());
            let b = (v.b.node.clone(), v.b.name.clone());
            t.peers.insert(a.clone(), b.clone());
            t.peers.insert(b, a);
        }
        for b in &lab.bridges {
            for p in &b.ports {
                t.masters
                    .insert((b.dev.node.clone(), p.clone()), b.dev.name.clone());
            }
        }
        for v in &lab.vxlans {
            t.vxlan_socket.insert(
                (v.dev.node.clone(), v.dev.name.clone()),
                v.created_in.clone(),
            );
        }
        t.add_ovs(lab);
        for a in &lab.addresses {
            t.addresses
                .entry(a.dev.node.clone())
                .or_default()
                .insert(a.address.addr());
        }
        t
    }

    /// Open vSwitch bridges switch between their ports like a Linux bridge. On the kernel
    /// datapath, a VXLAN port is the kernel's `vxlan_sys_PORT` device of the node, which
    /// encapsulates there; on the userspace datapath ovs-vswitchd encapsulates, and the
    /// frame appears next on the underlay.
    fn add_ovs(&mut self, lab: &Lab) {
        for host in lab.ovs_hosts() {
            for (bridge, port) in &host.ports {
                self.masters
                    .insert((host.node.clone(), port.clone()), bridge.clone());
                if lab.ovs_datapath == OvsDatapath::System
                    && host.intended(port, "type") == Some("vxlan")
                {
                    let udp = host.intended(port, "options:dst_port").unwrap_or("4789");
                    let dev = (host.node.clone(), format!("vxlan_sys_{udp}"));
                    self.masters.insert(dev.clone(), bridge.clone());
                    self.vxlan_socket.insert(dev, host.node.clone());
                }
            }
        }
    }

    /// Whether `node` owns address `ip`.
    pub fn owns(&self, node: &str, ip: IpAddr) -> bool {
        self.addresses.get(node).is_some_and(|s| s.contains(&ip))
    }

    /// The node holding address `ip`, if exactly one does.
    pub fn owner(&self, ip: IpAddr) -> Option<&str> {
        let mut owners = self
            .addresses
            .iter()
            .filter(|(_, s)| s.contains(&ip))
            .map(|(n, _)| n.as_str());
        let first = owners.next()?;
        owners.next().is_none().then_some(first)
    }
}
