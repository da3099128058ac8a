//! The node's VTEP (`flannel.1`) and what flannel's vxlan backend programs on it for each
//! other node, through rtnetlink in the agent's own namespace:
//!
//! ```text
//! ip neigh replace 10.244.2.0 lladdr MAC2 dev flannel.1 nud permanent
//! bridge fdb replace MAC2 dev flannel.1 dst 10.211.55.12 self permanent
//! ip route replace 10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink
//! ```

use std::net::{IpAddr, Ipv4Addr};

use futures::TryStreamExt;
use rtnetlink::packet_route::AddressFamily;
use rtnetlink::packet_route::address::AddressAttribute;
use rtnetlink::packet_route::link::{InfoKind, LinkAttribute, LinkInfo};
use rtnetlink::packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourFlags, NeighbourMessage, NeighbourState,
};
use rtnetlink::packet_route::route::RouteMessage;
use rtnetlink::{Handle, LinkUnspec, LinkVxlan, RouteMessageBuilder};

use super::AgentError;
use super::lease::SubnetLease;
use crate::model::Mac;

/// `EEXIST`, `ENOENT` and `ESRCH` as netlink reports them (negated errno).
const EEXIST: i32 = -17;
const ENOENT: i32 = -2;
const ESRCH: i32 = -3;

/// How the VTEP is made if it does not exist: flannel's `id 1 dstport 8472 nolearning`.
#[derive(Debug, Clone)]
pub struct VtepSpec {
    /// Device name (`flannel.1`).
    pub name: String,
    /// VNI.
    pub vni: u32,
    /// UDP port.
    pub port: u16,
}

/// The VTEP device of this node.
pub struct Vtep {
    handle: Handle,
    /// Its name.
    pub name: String,
    index: u32,
    /// Its MAC, published to the other nodes.
    pub mac: Mac,
}

/// A link found by name: its index, MAC and kind.
struct Found {
    index: u32,
    mac: Option<Mac>,
    kind: Option<InfoKind>,
}

async fn find_link(handle: &Handle, name: &str) -> Result<Option<Found>, AgentError> {
    let mut links = handle.link().get().match_name(name.to_string()).execute();
    match links.try_next().await {
        Ok(Some(msg)) => {
            let mut found = Found {
                index: msg.header.index,
                mac: None,
                kind: None,
            };
            for a in msg.attributes {
                match a {
                    LinkAttribute::Address(b) => {
                        found.mac = <[u8; 6]>::try_from(b.as_slice()).ok().map(Mac);
                    }
                    LinkAttribute::LinkInfo(infos) => {
                        for i in infos {
                            if let LinkInfo::Kind(k) = i {
                                found.kind = Some(k);
                            }
                        }
                    }
                    _ => {}
                }
            }
            Ok(Some(found))
        }
        Ok(None) => Ok(None),
        Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -19 => Ok(None), // ENODEV
        Err(e) => Err(e.into()),
    }
}

/// The index of interface `name` and its first IPv4 address.
pub async fn interface_ipv4(handle: &Handle, name: &str) -> Result<(u32, Ipv4Addr), AgentError> {
    let link = find_link(handle, name)
        .await?
        .ok_or_else(|| AgentError::Setup(format!("no interface `{name}`")))?;
    let mut addrs = handle
        .address()
        .get()
        .set_link_index_filter(link.index)
        .execute();
    while let Some(msg) = addrs.try_next().await? {
        for a in msg.attributes {
            if let AddressAttribute::Address(IpAddr::V4(ip)) = a {
                return Ok((link.index, ip));
            }
        }
    }
    Err(AgentError::Setup(format!("`{name}` has no IPv4 address")))
}

fn exists_ok(r: Result<(), rtnetlink::Error>) -> Result<(), rtnetlink::Error> {
    match r {
        Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == EEXIST => Ok(()),
        r => r,
    }
}

fn gone_ok(r: Result<(), rtnetlink::Error>) -> Result<(), rtnetlink::Error> {
    match r {
        Err(rtnetlink::Error::NetlinkError(e)) if matches!(e.raw_code(), ENOENT | ESRCH) => Ok(()),
        r => r,
    }
}

impl Vtep {
    /// Finds the VTEP, or creates it as flannel does (`ip link add flannel.1 type vxlan id
    /// 1 local PUBLIC_IP dev IFACE dstport 8472 nolearning`), gives it `address` (the
    /// subnet's network address, `/32`) and brings it up. Returns it and whether it was
    /// created.
    pub async fn ensure(
        handle: Handle,
        spec: &VtepSpec,
        local: Ipv4Addr,
        underlay: u32,
        address: Ipv4Addr,
    ) -> Result<(Self, bool), AgentError> {
        let existing = find_link(&handle, &spec.name).await?;
        let created = existing.is_none();
        let found = if let Some(f) = existing {
            f
        } else {
            let msg = LinkVxlan::new(&spec.name, spec.vni)
                .port(spec.port)
                .learning(false)
                .local(local)
                .dev(underlay)
                .build();
            handle.link().add(msg).execute().await?;
            find_link(&handle, &spec.name).await?.ok_or_else(|| {
                AgentError::Setup(format!("`{}` vanished after its creation", spec.name))
            })?
        };
        if found.kind.as_ref().is_some_and(|k| *k != InfoKind::Vxlan) {
            return Err(AgentError::Setup(format!(
                "`{}` exists and is not a VXLAN device",
                spec.name
            )));
        }
        let mac = found
            .mac
            .ok_or_else(|| AgentError::Setup(format!("`{}` has no MAC", spec.name)))?;
        exists_ok(
            handle
                .address()
                .add(found.index, IpAddr::V4(address), 32)
                .execute()
                .await,
        )?;
        let up = LinkUnspec::new_with_index(found.index).up().build();
        handle.link().set(up).execute().await?;
        Ok((
            Self {
                handle,
                name: spec.name.clone(),
                index: found.index,
                mac,
            },
            created,
        ))
    }

    fn route(&self, peer: &SubnetLease) -> RouteMessage {
        RouteMessageBuilder::<Ipv4Addr>::new()
            .destination_prefix(peer.subnet.network(), peer.subnet.prefix_len())
            .gateway(peer.vtep_ip())
            .output_interface(self.index)
            .onlink()
            .build()
    }

    /// Programs the ARP, FDB and route entries that send traffic for `peer`'s subnet
    /// through the VTEP to `peer`'s underlay address (replacing stale ones).
    pub async fn add_peer(&self, peer: &SubnetLease) -> Result<(), AgentError> {
        let h = &self.handle;
        h.neighbours()
            .add(self.index, IpAddr::V4(peer.vtep_ip()))
            .link_layer_address(&peer.vtep_mac.0)
            .state(NeighbourState::Permanent)
            .replace()
            .execute()
            .await?;
        h.neighbours()
            .add_bridge(self.index, &peer.vtep_mac.0)
            .flags(NeighbourFlags::Own)
            .state(NeighbourState::Permanent)
            .destination(IpAddr::V4(peer.public_ip))
            .replace()
            .execute()
            .await?;
        h.route().add(self.route(peer)).replace().execute().await?;
        Ok(())
    }

    /// Removes what [`Vtep::add_peer`] programmed for `peer`; entries already gone are
    /// fine.
    pub async fn del_peer(&self, peer: &SubnetLease) -> Result<(), AgentError> {
        let h = &self.handle;
        gone_ok(h.route().del(self.route(peer)).execute().await)?;
        let mut arp = NeighbourMessage::default();
        arp.header.family = AddressFamily::Inet;
        arp.header.ifindex = self.index;
        arp.attributes
            .push(NeighbourAttribute::Destination(NeighbourAddress::Inet(
                peer.vtep_ip(),
            )));
        gone_ok(h.neighbours().del(arp).execute().await)?;
        let mut fdb = NeighbourMessage::default();
        fdb.header.family = AddressFamily::Bridge;
        fdb.header.ifindex = self.index;
        fdb.header.flags = NeighbourFlags::Own;
        fdb.header.state = NeighbourState::Permanent;
        fdb.attributes.push(NeighbourAttribute::LinkLayerAddress(
            peer.vtep_mac.0.to_vec(),
        ));
        fdb.attributes
            .push(NeighbourAttribute::Destination(NeighbourAddress::Inet(
                peer.public_ip,
            )));
        gone_ok(h.neighbours().del(fdb).execute().await)?;
        Ok(())
    }
}
