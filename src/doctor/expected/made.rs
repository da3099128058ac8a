//! What a healthy lab's processes make once they run, added to the expected snapshot:
//! each `vxlab agent`'s VTEP with the neighbour, FDB and route entries it programs for
//! every other agent's node, each `vxlab ovs-host`'s Open vSwitch (bridges, ports,
//! options, flows) with the underlay address moved onto its bridge, and the servers that
//! run. VTEP MACs are random at run time; here they are derived like the lab's own.

use std::net::IpAddr;

use super::{fdb, link};
use crate::doctor::ovsdb::{OvsInterface, OvsState, parse_flow};
use crate::doctor::snapshot::{ProcessRow, Snapshot};
use crate::fault::process::command_line;
use crate::model::{Agent, Lab, Mac};
use crate::observe::{AddrRow, NeighRow, RouteRow, VxlanInfo};

/// Interface indexes for what processes make, clear of the lab's own.
const FIRST_INDEX: u32 = 1000;

fn underlay_of(lab: &Lab, node: &str, dev: &str) -> Option<IpAddr> {
    lab.addresses
        .iter()
        .find(|a| a.dev.node == node && a.dev.name == dev)
        .map(|a| a.address.addr())
}

fn vtep_mac(lab: &Lab, a: &Agent) -> Mac {
    Mac::derived(&format!("{}/{}", lab.name, a.dev()))
}

fn agents(lab: &Lab, snap: &mut Snapshot) {
    let all = lab.agents();
    for (i, a) in all.iter().enumerate() {
        let Some(subnet) = a.subnet else { continue };
        let local = underlay_of(lab, &a.node, &a.iface);
        let Some(st) = snap.nodes.iter_mut().find(|n| n.node == a.node) else {
            continue;
        };
        let under = st.link(&a.iface).map_or(1500, |l| l.mtu);
        let mut l = link(
            FIRST_INDEX + u32::try_from(i).unwrap_or(0),
            &a.vtep,
            "vxlan",
            under - crate::doctor::VXLAN_OVERHEAD,
            vtep_mac(lab, a).to_string(),
        );
        l.vxlan = Some(VxlanInfo {
            vni: a.vni,
            dstport: a.port,
            local,
            remote: None,
            proxy: false,
            learning: false,
        });
        st.links.push(l);
        st.addresses.push(AddrRow {
            dev: a.vtep.clone(),
            address: format!("{}/32", subnet.network()),
        });
        for b in all.iter().filter(|b| b.node != a.node) {
            let (Some(s), Some(public)) = (b.subnet, underlay_of(lab, &b.node, &b.iface)) else {
                continue;
            };
            let gw = IpAddr::V4(s.network());
            let mac = vtep_mac(lab, b).to_string();
            st.neighbours.push(NeighRow {
                dev: a.vtep.clone(),
                to: gw,
                lladdr: Some(mac.clone()),
                state: "PERMANENT".into(),
            });
            st.fdb.push(fdb(&a.vtep, mac, Some(public), None));
            st.routes.push(RouteRow {
                to: s.to_string(),
                via: Some(gw),
                dev: Some(a.vtep.clone()),
                proto: "static".into(),
            });
        }
    }
}

fn ovs(lab: &Lab, snap: &mut Snapshot) {
    for h in lab.ovs_hosts() {
        let Some(st) = snap.nodes.iter_mut().find(|n| n.node == h.node) else {
            continue;
        };
        let mut index = FIRST_INDEX + 100;
        let mut names: Vec<&str> = h.bridges.iter().map(String::as_str).collect();
        names.push("ovs-netdev");
        for br in names {
            index += 1;
            let mut l = link(
                index,
                br,
                "tun",
                1500,
                Mac::derived(&format!("{}/{}:{br}", lab.name, h.node)).to_string(),
            );
            l.up = h.underlays.iter().any(|(_, to)| to == br);
            l.state = if l.up { "UNKNOWN" } else { "DOWN" }.into();
            st.links.push(l);
        }
        for (from, to) in &h.underlays {
            for a in st.addresses.iter_mut().filter(|a| &a.dev == from) {
                a.dev.clone_from(to);
            }
            for r in st
                .routes
                .iter_mut()
                .filter(|r| r.dev.as_deref() == Some(from.as_str()))
            {
                r.dev = Some(to.clone());
            }
        }
        let mut interfaces: Vec<OvsInterface> = h
            .bridges
            .iter()
            .map(|br| {
                let up = h.underlays.iter().any(|(_, to)| to == br);
                OvsInterface {
                    name: br.clone(),
                    bridge: br.clone(),
                    kind: "internal".into(),
                    ofport: Some(65534),
                    admin_up: up,
                    link_up: up,
                    ..OvsInterface::default()
                }
            })
            .collect();
        for (n, (br, port)) in (1_i64..).zip(&h.ports) {
            let set = |c: &str| h.intended(port, c).map(str::to_string);
            interfaces.push(OvsInterface {
                name: port.clone(),
                bridge: br.clone(),
                kind: set("type").unwrap_or_default(),
                options: h
                    .settings
                    .iter()
                    .filter(|(i, _, _)| i == port)
                    .filter_map(|(_, c, v)| {
                        Some((c.strip_prefix("options:")?.to_string(), v.clone()))
                    })
                    .collect(),
                ofport: Some(n),
                admin_up: true,
                link_up: true,
                error: None,
            });
        }
        interfaces.sort_by(|a, b| a.name.cmp(&b.name));
        let mut flows: Vec<_> = h
            .flows
            .iter()
            .filter_map(|(br, f)| parse_flow(br, f))
            .collect();
        flows.extend(
            h.bridges
                .iter()
                .filter_map(|br| parse_flow(br, "priority=0 actions=NORMAL")),
        );
        st.ovs = Some(OvsState {
            dir: h.dir(&lab.name).display().to_string(),
            db: h.db(&lab.name),
            db_running: true,
            switch_running: true,
            interfaces,
            flows,
            errors: Vec::new(),
        });
    }
}

fn servers(lab: &Lab, snap: &mut Snapshot) {
    for (i, p) in lab.processes.iter().enumerate().filter(|(_, p)| p.serves()) {
        if let Some(st) = snap.nodes.iter_mut().find(|n| n.node == p.node) {
            let pid = i32::try_from(i).unwrap_or(0) + 100;
            st.processes.push(ProcessRow {
                pid,
                argv: command_line(lab, i),
            });
        }
    }
}

/// Adds what the lab's processes make and run to `snap`.
pub(super) fn add(lab: &Lab, snap: &mut Snapshot) {
    agents(lab, snap);
    ovs(lab, snap);
    servers(lab, snap);
}
