//! A VXLAN device as it stands, with everything that hangs off it (bridge master,
//! addresses, static neighbours, FDB entries, routes), so it can be deleted and
//! recreated with another VNI or port, and recreated again as it was.
//!
//! The kernel cannot change a VXLAN's VNI or port in place, hence delete and recreate.
//! Where the device was created (its UDP socket's namespace) and its underlay device
//! come from the lab; everything else is read from the kernel.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::model::{Lab, Mac};
use crate::observe::Tables;
use crate::plan::Op;

/// A static FDB entry of the device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedFdb {
    /// MAC.
    pub mac: String,
    /// Remote VTEP.
    pub dst: Option<IpAddr>,
    /// In the device's own table (`self`) rather than its bridge's.
    pub self_: bool,
}

/// A route through the device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedRoute {
    /// Destination.
    pub to: IpNet,
    /// Gateway.
    pub via: Option<IpAddr>,
}

/// Everything needed to recreate a VXLAN device as it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VxlanState {
    /// Namespace it lives in.
    pub netns: String,
    /// Namespace it is created in (keeps its UDP socket).
    pub created_in: String,
    /// Name.
    pub name: String,
    /// MAC.
    pub mac: String,
    /// MTU.
    pub mtu: u32,
    /// Administratively up.
    pub up: bool,
    /// Bridge it is a port of.
    pub master: Option<String>,
    /// VNI.
    pub vni: u32,
    /// UDP destination port.
    pub dstport: u16,
    /// Outer source address.
    pub local: Option<IpAddr>,
    /// Unicast remote.
    pub remote: Option<IpAddr>,
    /// Multicast group.
    pub group: Option<IpAddr>,
    /// Underlay device in `created_in`.
    pub dev: Option<String>,
    /// `proxy`.
    pub proxy: bool,
    /// `learning`.
    pub learning: bool,
    /// Addresses.
    pub addresses: Vec<IpNet>,
    /// Permanent neighbour entries: IP and MAC.
    pub neighbours: Vec<(IpAddr, String)>,
    /// Static FDB entries.
    pub fdb: Vec<SavedFdb>,
    /// Routes through it that the kernel did not make itself.
    pub routes: Vec<SavedRoute>,
}

/// Reads the state of VXLAN `name` of node `node` from `tables` (a dump of the node's
/// namespace). `None` if there is no such VXLAN device.
pub fn read(lab: &Lab, node: &str, name: &str, tables: &Tables) -> Option<VxlanState> {
    let link = tables.links.iter().find(|l| l.name == name)?;
    let info = link.vxlan.as_ref()?;
    let model = lab
        .vxlans
        .iter()
        .find(|v| v.dev.node == node && v.dev.name == name);
    let ns = |n: &str| lab.node(n).map_or_else(String::new, |x| x.netns.clone());
    let (remote, group) = match info.remote {
        Some(ip) if ip.is_multicast() => (None, Some(ip)),
        other => (other, None),
    };
    let default_dst = info.remote;
    Some(VxlanState {
        netns: ns(node),
        created_in: ns(model.map_or(node, |m| m.created_in.as_str())),
        name: name.to_string(),
        mac: link.mac.clone(),
        mtu: link.mtu,
        up: link.up,
        master: link.master.clone(),
        vni: info.vni,
        dstport: info.dstport,
        local: info.local,
        remote,
        group,
        dev: model.and_then(|m| m.underlay_dev.clone()).or_else(|| {
            lab.agent_of(&crate::model::IfRef::new(node, name))
                .map(|a| a.iface)
        }),
        proxy: info.proxy,
        learning: info.learning,
        addresses: tables
            .addresses
            .iter()
            .filter(|a| a.dev == name)
            .filter_map(|a| a.address.parse::<IpNet>().ok())
            .filter(|a| match a {
                IpNet::V4(_) => true,
                IpNet::V6(v) => !v.addr().is_unicast_link_local(),
            })
            .collect(),
        neighbours: tables
            .neighbours
            .iter()
            .filter(|n| n.dev == name && n.state == "PERMANENT")
            .filter_map(|n| Some((n.to, n.lladdr.clone()?)))
            .collect(),
        fdb: tables
            .fdb
            .iter()
            .filter(|f| f.dev == name && f.state != "dynamic")
            // The kernel's own entries: the port's MAC in its bridge, and the default
            // destination (`remote`/`group`) made with the device.
            .filter(|f| f.self_ || f.mac != link.mac)
            .filter(|f| !(f.self_ && f.mac == "00:00:00:00:00:00" && f.dst == default_dst))
            .filter(|f| f.self_ || f.master.is_some())
            .map(|f| SavedFdb {
                mac: f.mac.clone(),
                dst: f.dst,
                self_: f.self_,
            })
            .collect(),
        routes: tables
            .routes
            .iter()
            .filter(|r| r.dev.as_deref() == Some(name) && r.proto != "kernel")
            .filter_map(|r| {
                let to = if r.to == "default" {
                    "0.0.0.0/0".parse().ok()?
                } else {
                    r.to.parse().ok()?
                };
                Some(SavedRoute { to, via: r.via })
            })
            .collect(),
    })
}

impl VxlanState {
    /// The plan operations that create the device as described (it must not exist).
    pub fn ops(&self) -> Vec<Op> {
        let mac = |s: &str| s.parse().unwrap_or(Mac([0; 6]));
        let mut ops = vec![Op::AddVxlan {
            netns: self.created_in.clone(),
            name: self.name.clone(),
            mac: mac(&self.mac),
            mtu: Some(self.mtu),
            vni: self.vni,
            dstport: Some(self.dstport),
            local: self.local,
            remote: self.remote,
            group: self.group,
            dev: self.dev.clone(),
            proxy: self.proxy,
            learning: self.learning,
        }];
        if self.created_in != self.netns {
            ops.push(Op::MoveLink {
                netns: self.created_in.clone(),
                name: self.name.clone(),
                to: self.netns.clone(),
            });
        }
        let netns = || self.netns.clone();
        let dev = || self.name.clone();
        if let Some(m) = &self.master {
            ops.push(Op::SetMaster {
                netns: netns(),
                dev: dev(),
                master: m.clone(),
            });
        }
        for a in &self.addresses {
            ops.push(Op::AddAddress {
                netns: netns(),
                dev: dev(),
                address: *a,
            });
        }
        if self.up {
            ops.push(Op::LinkUp {
                netns: netns(),
                dev: dev(),
            });
        }
        for r in &self.routes {
            ops.push(Op::AddRoute {
                netns: netns(),
                to: r.to,
                via: r.via,
                dev: Some(dev()),
                metric: None,
            });
        }
        for (to, lladdr) in &self.neighbours {
            ops.push(Op::AddNeigh {
                netns: netns(),
                dev: dev(),
                to: *to,
                lladdr: mac(lladdr),
            });
        }
        for f in &self.fdb {
            ops.push(Op::AddFdb {
                netns: netns(),
                dev: dev(),
                mac: mac(&f.mac),
                dst: f.dst,
                self_: f.self_,
            });
        }
        ops
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::{AddrRow, FdbRow, LinkRow, NeighRow, VxlanInfo};

    #[test]
    fn keeps_what_hangs_off_the_device_and_skips_what_the_kernel_makes() {
        let lab = Lab::from_source(include_str!("../../labs/docker-overlay.toml")).unwrap();
        let t = Tables {
            links: vec![LinkRow {
                index: 5,
                name: "vxlan0".into(),
                kind: "vxlan".into(),
                up: true,
                state: "UNKNOWN".into(),
                mtu: 1500,
                mac: "02:00:00:00:00:01".into(),
                master: Some("edge_bridge".into()),
                vxlan: Some(VxlanInfo {
                    vni: 100,
                    dstport: 4789,
                    local: None,
                    remote: None,
                    proxy: true,
                    learning: true,
                }),
            }],
            addresses: vec![AddrRow {
                dev: "vxlan0".into(),
                address: "fe80::1/64".into(),
            }],
            routes: Vec::new(),
            neighbours: vec![NeighRow {
                dev: "vxlan0".into(),
                to: "10.0.0.14".parse().unwrap(),
                lladdr: Some("02:00:00:00:00:0e".into()),
                state: "PERMANENT".into(),
            }],
            fdb: vec![
                FdbRow {
                    dev: "vxlan0".into(),
                    mac: "02:00:00:00:00:01".into(),
                    dst: None,
                    vni: None,
                    self_: false,
                    master: Some("edge_bridge".into()),
                    state: "permanent".into(),
                },
                FdbRow {
                    dev: "vxlan0".into(),
                    mac: "02:00:00:00:00:0e".into(),
                    dst: Some("192.168.228.149".parse().unwrap()),
                    vni: None,
                    self_: true,
                    master: None,
                    state: "permanent".into(),
                },
            ],
        };
        let s = read(&lab, "hostA/sandbox_2", "vxlan0", &t).unwrap();
        assert_eq!(s.created_in, "vx.docker-overlay.hostA");
        assert!(
            s.addresses.is_empty(),
            "link-local addresses come back by themselves"
        );
        assert_eq!(s.fdb.len(), 1);
        let cmds: Vec<String> = s.ops().iter().map(Op::command).collect();
        assert!(
            cmds[0].contains("type vxlan id 100 dstport 4789 proxy"),
            "{cmds:?}"
        );
        assert!(
            cmds[1].ends_with("netns vx.docker-overlay.hostA.sandbox_2"),
            "{cmds:?}"
        );
        assert!(cmds[2].ends_with("master edge_bridge"), "{cmds:?}");
        assert_eq!(cmds.len(), 6, "{cmds:?}");
    }
}
