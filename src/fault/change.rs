//! The kernel changes planting a fault makes: read first (what is there, and how to put
//! it back), then applied. Each change carries the shell command that does the same.

use std::net::{IpAddr, Ipv4Addr};

use futures::TryStreamExt;
use rtnetlink::packet_route::AddressFamily;
use rtnetlink::packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourFlags, NeighbourMessage, NeighbourState,
};
use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute, RouteMessage};
use rtnetlink::{Handle, LinkUnspec, RouteMessageBuilder};

use super::{FaultError, Undo, kernel_err, nat, nl_err, ovs, process, vxlan};
use crate::kernel::{Kernel, Netlink};
use crate::model::{Fault, FaultAction, IfRef, Lab, Mac, Program};
use crate::netns;
use crate::observe::dump;
use crate::plan::Op;

/// One change planting makes, with the command that does the same.
pub(super) enum Change {
    DelNeigh(String, NeighbourMessage, String),
    DelRoute(String, RouteMessage, String),
    Sysctl {
        netns: String,
        key: String,
        value: String,
    },
    LinkDown {
        netns: String,
        dev: String,
    },
    Mtu {
        netns: String,
        dev: String,
        mtu: u32,
    },
    Recreate {
        index: u32,
        state: Box<vxlan::VxlanState>,
    },
    DelNat(Box<nat::SavedRule>, u64),
    StopProcess {
        netns: String,
        argv: Vec<String>,
    },
    StartProcess {
        netns: String,
        argv: Vec<String>,
        ready: Option<String>,
    },
    OvsSet {
        db: String,
        interface: String,
        column: String,
        value: String,
    },
}

impl Change {
    pub(super) fn command(&self) -> String {
        match self {
            Self::DelNeigh(_, _, c) | Self::DelRoute(_, _, c) => c.clone(),
            Self::Sysctl { netns, key, value } => {
                format!("ip netns exec {netns} sysctl -qw {key}={value}")
            }
            Self::LinkDown { netns, dev } => format!("ip -n {netns} link set {dev} down"),
            Self::Mtu { netns, dev, mtu } => format!("ip -n {netns} link set {dev} mtu {mtu}"),
            Self::Recreate { state, .. } => {
                let mut c = format!("ip -n {} link del {}", state.netns, state.name);
                for op in state.ops() {
                    c += " && ";
                    c += &op.command();
                }
                c
            }
            Self::DelNat(s, h) => nat::delete_command(s, *h),
            Self::StopProcess { netns, argv } => process::stop_command(netns, argv),
            Self::StartProcess { netns, argv, .. } => Op::Spawn {
                netns: netns.clone(),
                program: Program::Command(argv.clone()),
            }
            .command(),
            Self::OvsSet {
                db,
                interface,
                column,
                value,
            } => ovs::set_command(db, interface, column, Some(value)),
        }
    }
}

fn netns_of(lab: &Lab, node: &str) -> String {
    lab.node(node).map_or_else(String::new, |n| n.netns.clone())
}

fn lladdr(m: &NeighbourMessage) -> Option<Vec<u8>> {
    m.attributes.iter().find_map(|a| match a {
        NeighbourAttribute::LinkLayerAddress(l) => Some(l.clone()),
        _ => None,
    })
}

fn neigh_dst(m: &NeighbourMessage) -> Option<IpAddr> {
    m.attributes.iter().find_map(|a| match a {
        NeighbourAttribute::Destination(NeighbourAddress::Inet(v)) => Some(IpAddr::V4(*v)),
        NeighbourAttribute::Destination(NeighbourAddress::Inet6(v)) => Some(IpAddr::V6(*v)),
        // Bridge-family (FDB) messages carry NDA_DST as raw bytes.
        NeighbourAttribute::Destination(NeighbourAddress::Other(b)) => match b.len() {
            4 => <[u8; 4]>::try_from(b.as_slice()).ok().map(IpAddr::from),
            16 => <[u8; 16]>::try_from(b.as_slice()).ok().map(IpAddr::from),
            _ => None,
        },
        _ => None,
    })
}

fn mac_text(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

pub(super) async fn index(h: &Handle, netns: &str, dev: &str) -> Result<u32, FaultError> {
    let mut links = h.link().get().match_name(dev.to_string()).execute();
    match links.try_next().await {
        Ok(Some(m)) => Ok(m.header.index),
        _ => Err(FaultError::NothingThere {
            fault: String::new(),
            why: format!("there is no interface {dev} in {netns}"),
        }),
    }
}

pub(super) async fn neighbours(
    h: &Handle,
    family: AddressFamily,
) -> Result<Vec<NeighbourMessage>, FaultError> {
    let mut req = h.neighbours().get();
    req.message_mut().header.family = family;
    req.execute()
        .try_collect()
        .await
        .map_err(nl_err("dump neighbours"))
}

/// A clean delete request for a dumped neighbour or FDB entry.
pub(super) fn del_message(m: &NeighbourMessage) -> NeighbourMessage {
    let mut d = NeighbourMessage::default();
    d.header = m.header.clone();
    d.attributes = m
        .attributes
        .iter()
        .filter(|a| {
            matches!(
                a,
                NeighbourAttribute::LinkLayerAddress(_) | NeighbourAttribute::Destination(_)
            )
        })
        .cloned()
        .collect();
    d
}

/// The FDB entries of `dev` for `mac`, or towards `to`, and how to put them back.
async fn fdb_changes(
    h: &Handle,
    netns: &str,
    dev: &IfRef,
    mac: Option<Mac>,
    to: Option<IpAddr>,
) -> Result<(Vec<Change>, Vec<Undo>), FaultError> {
    let idx = index(h, netns, &dev.name).await?;
    let (mut changes, mut undo) = (Vec::new(), Vec::new());
    for m in neighbours(h, AddressFamily::Bridge).await? {
        let dst = neigh_dst(&m);
        let Some(ll) = lladdr(&m).and_then(|b| <[u8; 6]>::try_from(b).ok()) else {
            continue;
        };
        if m.header.ifindex != idx
            || mac.is_some_and(|x| x.0 != ll)
            || to.is_some_and(|t| dst != Some(t))
        {
            continue;
        }
        let mac = Mac(ll);
        let self_ = m.header.flags.contains(NeighbourFlags::Own);
        let where_ = if self_ { "self" } else { "master" };
        let dst_txt = dst.map(|d| format!(" dst {d}")).unwrap_or_default();
        let cmd = format!(
            "bridge -n {netns} fdb del {mac} dev {}{dst_txt} {where_}",
            dev.name
        );
        // VXLAN devices report static entries as PERMANENT|NOARP: test the bits.
        if u16::from(m.header.state) & 0xc0 != 0 {
            undo.push(Undo::AddFdb {
                netns: netns.to_string(),
                dev: dev.name.clone(),
                mac: mac.to_string(),
                dst,
                self_,
            });
        }
        changes.push(Change::DelNeigh(netns.to_string(), del_message(&m), cmd));
    }
    Ok((changes, undo))
}

async fn neigh_changes(
    h: &Handle,
    netns: &str,
    dev: &IfRef,
    to: IpAddr,
) -> Result<(Vec<Change>, Vec<Undo>), FaultError> {
    let idx = index(h, netns, &dev.name).await?;
    let family = if to.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    };
    let (mut changes, mut undo) = (Vec::new(), Vec::new());
    for m in neighbours(h, family).await? {
        if m.header.ifindex != idx || neigh_dst(&m) != Some(to) {
            continue;
        }
        if let (NeighbourState::Permanent, Some(ll)) = (m.header.state, lladdr(&m)) {
            undo.push(Undo::AddNeigh {
                netns: netns.to_string(),
                dev: dev.name.clone(),
                to,
                lladdr: mac_text(&ll),
            });
        }
        let cmd = format!("ip -n {netns} neigh del {to} dev {}", dev.name);
        changes.push(Change::DelNeigh(netns.to_string(), del_message(&m), cmd));
    }
    Ok((changes, undo))
}

async fn route_changes(
    h: &Handle,
    netns: &str,
    to: ipnet::IpNet,
) -> Result<(Vec<Change>, Vec<Undo>), FaultError> {
    let filter = RouteMessageBuilder::<Ipv4Addr>::new().build();
    let routes: Vec<RouteMessage> = h
        .route()
        .get(filter)
        .execute()
        .try_collect()
        .await
        .map_err(nl_err("dump routes"))?;
    let links = dump(h).await.map_err(nl_err("dump links"))?.links;
    let name = |i: u32| links.iter().find(|l| l.index == i).map(|l| l.name.clone());
    let (mut changes, mut undo) = (Vec::new(), Vec::new());
    for r in routes {
        if r.header.table != 254 || r.header.destination_prefix_length != to.prefix_len() {
            continue;
        }
        let (mut dst, mut via, mut dev, mut metric) = (None, None, None, None);
        for a in &r.attributes {
            match a {
                RouteAttribute::Destination(RouteAddress::Inet(d)) => dst = Some(IpAddr::V4(*d)),
                RouteAttribute::Gateway(RouteAddress::Inet(g)) => via = Some(IpAddr::V4(*g)),
                RouteAttribute::Oif(i) => dev = name(*i),
                RouteAttribute::Priority(p) => metric = Some(*p),
                _ => {}
            }
        }
        let dst = dst.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        if dst != to.network() {
            continue;
        }
        let shown = if to.prefix_len() == 0 {
            "default".to_string()
        } else {
            to.to_string()
        };
        let cmd = format!(
            "ip -n {netns} route del {shown}{}{}",
            via.map(|v| format!(" via {v}")).unwrap_or_default(),
            dev.as_ref()
                .map(|d| format!(" dev {d}"))
                .unwrap_or_default()
        );
        undo.push(Undo::AddRoute {
            netns: netns.to_string(),
            to,
            via,
            dev,
            metric,
        });
        changes.push(Change::DelRoute(netns.to_string(), r, cmd));
    }
    Ok((changes, undo))
}

fn nat_change(lab: &Lab, index: usize, netns: &str) -> Result<Option<(Change, Undo)>, FaultError> {
    let ruleset = crate::nat::apply::ruleset(netns)?;
    Ok(
        nat::find(lab, index, netns, &ruleset).map(|(handle, saved)| {
            let saved = Box::new(saved);
            (Change::DelNat(saved.clone(), handle), Undo::NatRule(saved))
        }),
    )
}

/// Reads what planting `fault` changes: the changes, and what puts it all back.
pub(super) async fn prepare(
    lab: &Lab,
    fault: &Fault,
    nl: &mut Netlink,
) -> Result<(Vec<Change>, Vec<Undo>), FaultError> {
    let netns = netns_of(lab, fault.action.node());
    let h = nl
        .handle(&netns)
        .map_err(kernel_err(format!("open {netns}")))?;
    let (mut changes, mut undo) = (Vec::new(), Vec::new());
    match &fault.action {
        FaultAction::RemoveFdb { dev, mac, dst } => {
            (changes, undo) = fdb_changes(&h, &netns, dev, *mac, *dst).await?;
        }
        FaultAction::RemoveNeigh { dev, to } => {
            (changes, undo) = neigh_changes(&h, &netns, dev, *to).await?;
        }
        FaultAction::RemoveRoute { to, .. } => {
            (changes, undo) = route_changes(&h, &netns, *to).await?;
        }
        FaultAction::Sysctl { node, key, .. }
            if key.starts_with("net.ipv4.vs.") && lab.ipvs_emulated() =>
        {
            // The emulation keeps the sysctl's one visible effect: its `-m ipvs` SNAT
            // rules exist only with vs.conntrack = 1 (see crate::nat::emulate).
            for (i, _) in lab
                .nat
                .iter()
                .enumerate()
                .filter(|(_, r)| r.ipvs && &r.node == node)
            {
                if let Some((c, u)) = nat_change(lab, i, &netns)? {
                    changes.push(c);
                    undo.push(u);
                }
            }
        }
        FaultAction::Sysctl { key, value, .. } => {
            let old = netns::read_sysctl(&netns, key)?;
            if &old != value {
                undo.push(Undo::Sysctl {
                    netns: netns.clone(),
                    key: key.clone(),
                    value: old,
                });
                changes.push(Change::Sysctl {
                    netns: netns.clone(),
                    key: key.clone(),
                    value: value.clone(),
                });
            }
        }
        FaultAction::LinkDown { dev } | FaultAction::Mtu { dev, .. } => {
            let t = dump(&h).await.map_err(nl_err("dump links"))?;
            if let Some(l) = t.links.iter().find(|l| l.name == dev.name) {
                match &fault.action {
                    FaultAction::Mtu { mtu, .. } if l.mtu != *mtu => {
                        undo.push(Undo::Mtu {
                            netns: netns.clone(),
                            dev: dev.name.clone(),
                            mtu: l.mtu,
                        });
                        changes.push(Change::Mtu {
                            netns: netns.clone(),
                            dev: dev.name.clone(),
                            mtu: *mtu,
                        });
                    }
                    FaultAction::LinkDown { .. } if l.up => {
                        undo.push(Undo::LinkUp {
                            netns: netns.clone(),
                            dev: dev.name.clone(),
                        });
                        changes.push(Change::LinkDown {
                            netns: netns.clone(),
                            dev: dev.name.clone(),
                        });
                    }
                    _ => {}
                }
            }
        }
        FaultAction::Vxlan { dev, vni, dstport } => {
            let t = dump(&h).await.map_err(nl_err("dump tables"))?;
            if let Some(mut old) = vxlan::read(lab, &dev.node, &dev.name, &t) {
                let agent = lab.agent_of(dev);
                if agent.is_some() {
                    // The agent programs the device's entries again when it starts.
                    old.neighbours.clear();
                    old.fdb.clear();
                    old.routes.clear();
                }
                let mut new = old.clone();
                new.vni = vni.unwrap_or(old.vni);
                new.dstport = dstport.unwrap_or(old.dstport);
                let index = t
                    .links
                    .iter()
                    .find(|l| l.name == dev.name)
                    .map_or(0, |l| l.index);
                if new != old {
                    changes.push(Change::Recreate {
                        index,
                        state: Box::new(new),
                    });
                    undo.push(Undo::Vxlan(Box::new(old)));
                }
                if let (Some(a), false) = (agent, changes.is_empty()) {
                    // An agent goes on using the device it found at start: restart it
                    // around the change, both ways, so it uses the new one.
                    let argv = process::command_line(lab, a.process);
                    let ready = process::ready_marker(&argv);
                    changes.insert(
                        0,
                        Change::StopProcess {
                            netns: netns.clone(),
                            argv: argv.clone(),
                        },
                    );
                    changes.push(Change::StartProcess {
                        netns: netns.clone(),
                        argv: argv.clone(),
                        ready: ready.clone(),
                    });
                    undo.insert(
                        0,
                        Undo::StartProcess {
                            netns: netns.clone(),
                            argv: argv.clone(),
                            ready,
                        },
                    );
                    undo.push(Undo::StopProcess {
                        netns: netns.clone(),
                        argv,
                    });
                }
            }
        }
        FaultAction::RemoveNat { index, .. } => {
            if let Some((c, u)) = nat_change(lab, *index, &netns)? {
                changes.push(c);
                undo.push(u);
            }
        }
        FaultAction::StopProcess { index, .. } => {
            let argv = process::command_line(lab, *index);
            if !process::running(&netns, &argv).is_empty() {
                undo.push(Undo::StartProcess {
                    netns: netns.clone(),
                    ready: process::ready_marker(&argv),
                    argv: argv.clone(),
                });
                changes.push(Change::StopProcess { netns, argv });
            }
        }
        FaultAction::OvsSet {
            node,
            interface,
            column,
            value,
        } => {
            let db = lab
                .ovs_host(node)
                .map(|o| o.db(&lab.name))
                .unwrap_or_default();
            let old = ovs::get(&db, interface, column)?;
            if old.as_deref().map(|v| v.trim_matches('"')) != Some(value.trim_matches('"')) {
                undo.push(Undo::OvsSet {
                    db: db.clone(),
                    interface: interface.clone(),
                    column: column.clone(),
                    value: old,
                });
                changes.push(Change::OvsSet {
                    db,
                    interface: interface.clone(),
                    column: column.clone(),
                    value: value.clone(),
                });
            }
        }
    }
    Ok((changes, undo))
}

pub(super) async fn apply(change: &Change, nl: &mut Netlink) -> Result<(), FaultError> {
    let cmd = change.command();
    match change {
        Change::DelNeigh(ns, m, _) => {
            let h = nl.handle(ns).map_err(kernel_err(&cmd))?;
            h.neighbours()
                .del(m.clone())
                .execute()
                .await
                .map_err(nl_err(&cmd))?;
        }
        Change::DelRoute(ns, r, _) => {
            let h = nl.handle(ns).map_err(kernel_err(&cmd))?;
            h.route()
                .del(r.clone())
                .execute()
                .await
                .map_err(nl_err(&cmd))?;
        }
        Change::Sysctl { netns, key, value } => netns::write_sysctl(netns, key, value)?,
        Change::LinkDown { netns, dev } => {
            let h = nl.handle(netns).map_err(kernel_err(&cmd))?;
            let msg = LinkUnspec::new_with_name(dev).down().build();
            h.link().set(msg).execute().await.map_err(nl_err(&cmd))?;
        }
        Change::Mtu { netns, dev, mtu } => set_mtu(nl, netns, dev, *mtu).await?,
        Change::Recreate { index, state } => {
            let h = nl.handle(&state.netns).map_err(kernel_err(&cmd))?;
            h.link().del(*index).execute().await.map_err(nl_err(&cmd))?;
            for op in state.ops() {
                nl.apply(&op).await.map_err(kernel_err(op.command()))?;
            }
        }
        Change::DelNat(saved, handle) => nat::delete(saved, *handle)?,
        Change::StopProcess { netns, argv } => {
            process::stop(netns, argv);
        }
        Change::StartProcess { netns, argv, ready } => {
            process::start(nl, netns, argv, ready.as_deref()).await?;
        }
        Change::OvsSet {
            db,
            interface,
            column,
            value,
        } => ovs::set(db, interface, column, Some(value))?,
    }
    Ok(())
}

pub(super) async fn set_mtu(
    nl: &mut Netlink,
    netns: &str,
    dev: &str,
    mtu: u32,
) -> Result<(), FaultError> {
    let cmd = format!("ip -n {netns} link set {dev} mtu {mtu}");
    let h = nl.handle(netns).map_err(kernel_err(&cmd))?;
    let msg = LinkUnspec::new_with_name(dev).mtu(mtu).build();
    h.link().set(msg).execute().await.map_err(nl_err(&cmd))
}
