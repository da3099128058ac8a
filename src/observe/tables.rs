//! One dump of a namespace's tables over rtnetlink, turned into plain rows.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

use futures::TryStreamExt;
use rtnetlink::Handle;
use rtnetlink::RouteMessageBuilder;
use rtnetlink::packet_route::AddressFamily;
use rtnetlink::packet_route::address::AddressAttribute;
use rtnetlink::packet_route::link::{
    InfoData, InfoKind, InfoVxlan, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use rtnetlink::packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourFlags, NeighbourMessage, NeighbourState,
};
use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute, RouteType};
use serde::Serialize;

/// VXLAN settings of a link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VxlanInfo {
    /// VNI.
    pub vni: u32,
    /// UDP destination port.
    pub dstport: u16,
    /// Outer source.
    pub local: Option<IpAddr>,
    /// Unicast remote or multicast group.
    pub remote: Option<IpAddr>,
    /// `proxy`.
    pub proxy: bool,
    /// `learning`.
    pub learning: bool,
}

/// A row of `ip link`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkRow {
    /// Interface index.
    pub index: u32,
    /// Name.
    pub name: String,
    /// Kind (`veth`, `bridge`, `vxlan`, …), empty for `lo`.
    pub kind: String,
    /// Administratively up.
    pub up: bool,
    /// Operational state (`UP`, `DOWN`, `LOWERLAYERDOWN`, `UNKNOWN`).
    pub state: String,
    /// MTU.
    pub mtu: u32,
    /// MAC.
    pub mac: String,
    /// Bridge it is a port of.
    pub master: Option<String>,
    /// VXLAN settings.
    pub vxlan: Option<VxlanInfo>,
}

/// A row of `ip addr`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddrRow {
    /// Device.
    pub dev: String,
    /// Address with prefix.
    pub address: String,
}

/// A row of `ip route` (main table).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteRow {
    /// Destination, `default` or a prefix.
    pub to: String,
    /// Gateway.
    pub via: Option<IpAddr>,
    /// Output device.
    pub dev: Option<String>,
    /// Protocol (`kernel`, `boot`, …).
    pub proto: String,
}

/// A row of `ip neigh`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NeighRow {
    /// Device.
    pub dev: String,
    /// IP address.
    pub to: IpAddr,
    /// MAC, if known.
    pub lladdr: Option<String>,
    /// State: PERMANENT, REACHABLE, STALE, INCOMPLETE, FAILED, …
    pub state: String,
}

/// A row of `bridge fdb`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FdbRow {
    /// Device.
    pub dev: String,
    /// MAC.
    pub mac: String,
    /// Remote VTEP.
    pub dst: Option<IpAddr>,
    /// VNI, when the kernel reports one.
    pub vni: Option<u32>,
    /// The device's own table (`self`) rather than its bridge's.
    pub self_: bool,
    /// Bridge, for `master` entries.
    pub master: Option<String>,
    /// `permanent`, `static` or learned (`dynamic`).
    pub state: String,
}

/// Every table of one namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Tables {
    /// Links.
    pub links: Vec<LinkRow>,
    /// Addresses.
    pub addresses: Vec<AddrRow>,
    /// Routes of the main table.
    pub routes: Vec<RouteRow>,
    /// IPv4 neighbours.
    pub neighbours: Vec<NeighRow>,
    /// Bridge FDB.
    pub fdb: Vec<FdbRow>,
}

fn mac(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn upper(state: impl std::fmt::Debug) -> String {
    format!("{state:?}").to_uppercase()
}

fn link_row(m: &LinkMessage) -> (LinkRow, Option<u32>) {
    let mut r = LinkRow {
        index: m.header.index,
        name: String::new(),
        kind: String::new(),
        up: m.header.flags.contains(LinkFlags::Up),
        state: String::new(),
        mtu: 0,
        mac: String::new(),
        master: None,
        vxlan: None,
    };
    let mut master = None;
    for a in &m.attributes {
        match a {
            LinkAttribute::IfName(n) => r.name.clone_from(n),
            LinkAttribute::Mtu(v) => r.mtu = *v,
            LinkAttribute::Address(a) => r.mac = mac(a),
            LinkAttribute::OperState(s) => r.state = upper(s),
            LinkAttribute::Controller(i) => master = Some(*i),
            LinkAttribute::LinkInfo(infos) => {
                for i in infos {
                    match i {
                        LinkInfo::Kind(k) => r.kind = kind_name(k),
                        LinkInfo::Data(InfoData::Vxlan(v)) => r.vxlan = Some(vxlan_info(v)),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    (r, master)
}

fn kind_name(k: &InfoKind) -> String {
    match k {
        InfoKind::Other(s) => s.clone(),
        k => format!("{k:?}").to_lowercase(),
    }
}

fn vxlan_info(attrs: &[InfoVxlan]) -> VxlanInfo {
    let mut v = VxlanInfo {
        vni: 0,
        dstport: 0,
        local: None,
        remote: None,
        proxy: false,
        learning: true,
    };
    for a in attrs {
        match a {
            InfoVxlan::Id(i) => v.vni = *i,
            InfoVxlan::Port(p) => v.dstport = *p,
            InfoVxlan::Local(a) => v.local = Some(IpAddr::V4(*a)),
            InfoVxlan::Local6(a) => v.local = Some(IpAddr::V6(*a)),
            InfoVxlan::Group(a) => v.remote = Some(IpAddr::V4(*a)),
            InfoVxlan::Group6(a) => v.remote = Some(IpAddr::V6(*a)),
            InfoVxlan::Proxy(p) => v.proxy = *p,
            InfoVxlan::Learning(l) => v.learning = *l,
            _ => {}
        }
    }
    v
}

fn neigh_ip(a: &NeighbourAddress) -> Option<IpAddr> {
    match a {
        NeighbourAddress::Inet(v) => Some(IpAddr::V4(*v)),
        NeighbourAddress::Inet6(v) => Some(IpAddr::V6(*v)),
        // Bridge-family (FDB) messages carry NDA_DST as raw bytes.
        NeighbourAddress::Other(b) => match b.len() {
            4 => <[u8; 4]>::try_from(b.as_slice()).ok().map(IpAddr::from),
            16 => <[u8; 16]>::try_from(b.as_slice()).ok().map(IpAddr::from),
            _ => None,
        },
        _ => None,
    }
}

fn neigh_state(s: NeighbourState) -> String {
    match s {
        NeighbourState::Noarp => "NOARP".into(),
        NeighbourState::Permanent => "PERMANENT".into(),
        s => upper(s),
    }
}

/// Dumps every table of the namespace `handle` is connected to.
pub async fn dump(handle: &Handle) -> Result<Tables, rtnetlink::Error> {
    let msgs: Vec<LinkMessage> = handle.link().get().execute().try_collect().await?;
    let rows: Vec<(LinkRow, Option<u32>)> = msgs.iter().map(link_row).collect();
    let names: HashMap<u32, String> = rows
        .iter()
        .map(|(r, _)| (r.index, r.name.clone()))
        .collect();
    let name = |i: u32| names.get(&i).cloned().unwrap_or_else(|| format!("if{i}"));
    let mut t = Tables {
        links: rows
            .into_iter()
            .map(|(mut r, m)| {
                r.master = m.map(&name);
                r
            })
            .collect(),
        ..Tables::default()
    };
    let addrs: Vec<_> = handle.address().get().execute().try_collect().await?;
    for a in addrs {
        if let Some(ip) = a.attributes.iter().find_map(|x| match x {
            AddressAttribute::Local(ip) => Some(*ip),
            AddressAttribute::Address(ip) if a.header.family == AddressFamily::Inet6 => Some(*ip),
            _ => None,
        }) {
            t.addresses.push(AddrRow {
                dev: name(a.header.index),
                address: format!("{ip}/{}", a.header.prefix_len),
            });
        }
    }
    let filter = RouteMessageBuilder::<Ipv4Addr>::new().build();
    let routes: Vec<_> = handle.route().get(filter).execute().try_collect().await?;
    for r in routes {
        // Cached exceptions (learned path MTUs, redirects) are not routes: `ip route` hides them.
        let cached = r
            .header
            .flags
            .contains(rtnetlink::packet_route::route::RouteFlags::Cloned);
        if r.header.table != 254 || r.header.kind != RouteType::Unicast || cached {
            continue;
        }
        let mut row = RouteRow {
            to: "default".into(),
            via: None,
            dev: None,
            proto: format!("{:?}", r.header.protocol).to_lowercase(),
        };
        for a in &r.attributes {
            match a {
                RouteAttribute::Destination(RouteAddress::Inet(d)) => {
                    row.to = format!("{d}/{}", r.header.destination_prefix_length);
                }
                RouteAttribute::Gateway(RouteAddress::Inet(g)) => row.via = Some(IpAddr::V4(*g)),
                RouteAttribute::Oif(i) => row.dev = Some(name(*i)),
                _ => {}
            }
        }
        t.routes.push(row);
    }
    let neighs: Vec<NeighbourMessage> = handle.neighbours().get().execute().try_collect().await?;
    for n in neighs {
        let (mut ip, mut ll) = (None, None);
        for a in &n.attributes {
            match a {
                NeighbourAttribute::Destination(d) => ip = neigh_ip(d),
                NeighbourAttribute::LinkLayerAddress(l) => ll = Some(mac(l)),
                _ => {}
            }
        }
        if let Some(to @ IpAddr::V4(_)) = ip {
            t.neighbours.push(NeighRow {
                dev: name(n.header.ifindex),
                to,
                lladdr: ll,
                state: neigh_state(n.header.state),
            });
        }
    }
    let mut req = handle.neighbours().get();
    req.message_mut().header.family = AddressFamily::Bridge;
    let fdb: Vec<NeighbourMessage> = req.execute().try_collect().await?;
    for n in fdb {
        let mut row = FdbRow {
            dev: name(n.header.ifindex),
            mac: String::new(),
            dst: None,
            vni: None,
            self_: n.header.flags.contains(NeighbourFlags::Own),
            master: None,
            // VXLAN devices report their static entries as PERMANENT|NOARP: test bits.
            state: match u16::from(n.header.state) {
                s if s & 0x80 != 0 => "permanent".into(),
                s if s & 0x40 != 0 => "static".into(),
                _ => "dynamic".into(),
            },
        };
        for a in &n.attributes {
            match a {
                NeighbourAttribute::LinkLayerAddress(l) => row.mac = mac(l),
                NeighbourAttribute::Destination(d) => row.dst = neigh_ip(d),
                NeighbourAttribute::Vni(v) => row.vni = Some(*v),
                NeighbourAttribute::Controller(m) => row.master = Some(name(*m)),
                _ => {}
            }
        }
        t.fdb.push(row);
    }
    Ok(t)
}
