//! The real kernel: every operation through rtnetlink, in the operation's namespace.

use std::collections::HashMap;
use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::time::Duration;

use futures::TryStreamExt;
use netlink_packet_core::{
    DecodeError, Emitable, NLA_F_NESTED, NetlinkDeserializable, NetlinkMessage,
    NetlinkSerializable, Nla, NlasIterator,
};
use rtnetlink::packet_route::link::{InfoBridge, InfoData, InfoKind, InfoVeth};
use rtnetlink::packet_route::neighbour::{NeighbourFlags, NeighbourMessage, NeighbourState};
use rtnetlink::{
    Handle, LinkBridge, LinkMessageBuilder, LinkUnspec, LinkVeth, LinkVxlan, RouteMessageBuilder,
};

use super::{Kernel, KernelError, Teardown, connect};
use crate::model::netns_prefix;
use crate::plan::Op;
use crate::{netns, process};

/// Applies operations to the running kernel over netlink, one connection per namespace.
#[derive(Default)]
pub struct Netlink {
    handles: HashMap<String, Handle>,
    /// Directory for process logs; processes log to /dev/null without it.
    pub log_dir: Option<std::path::PathBuf>,
    /// The vxlab executable that runs built-in programs (default: this one).
    pub exe: Option<std::path::PathBuf>,
}

impl Netlink {
    /// A backend with no connection open yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The connection to namespace `ns`, opened on first use.
    pub fn handle(&mut self, ns: &str) -> Result<Handle, KernelError> {
        if let Some(h) = self.handles.get(ns) {
            return Ok(h.clone());
        }
        let h = connect(ns)?;
        self.handles.insert(ns.to_string(), h.clone());
        Ok(h)
    }

    async fn index(&mut self, ns: &str, dev: &str) -> Result<u32, KernelError> {
        let h = self.handle(ns)?;
        let mut links = h.link().get().match_name(dev).execute();
        match links.try_next().await {
            Ok(Some(msg)) => Ok(msg.header.index),
            Ok(None) | Err(rtnetlink::Error::NetlinkError(_)) => Err(KernelError::NoDevice {
                netns: ns.to_string(),
                dev: dev.to_string(),
            }),
            Err(e) => Err(e.into()),
        }
    }

    async fn await_up(&mut self, ns: &str, dev: &str) -> Result<(), KernelError> {
        use rtnetlink::packet_route::link::{LinkAttribute, State};
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let h = self.handle(ns)?;
            let mut links = h.link().get().match_name(dev).execute();
            let up = matches!(links.try_next().await, Ok(Some(m)) if m.attributes.iter().any(|a| matches!(a, LinkAttribute::OperState(State::Up))));
            if up {
                return Ok(());
            }
            if std::time::Instant::now() > deadline {
                return Err(KernelError::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("{dev} in {ns} has no carrier after 5 s"),
                )));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn apply_op(&mut self, op: &Op) -> Result<(), KernelError> {
        let ns = op.netns().to_string();
        match op {
            Op::AddNetns { netns } => {
                netns::create(netns)?;
                self.handle(netns)?;
            }
            Op::AddBridge {
                name,
                mac,
                mtu,
                snooping,
                ..
            } => {
                let mut b = LinkBridge::new(name).address(mac.0.to_vec());
                if !snooping {
                    b = b.append_info_data(InfoBridge::MulticastSnooping(false));
                }
                if let Some(m) = mtu {
                    b = b.mtu(*m);
                }
                self.handle(&ns)?.link().add(b.build()).execute().await?;
            }
            Op::AddVeth {
                name,
                mac,
                peer_netns,
                peer,
                peer_mac,
                mtu,
                ..
            } => {
                let target = netns::open(peer_netns)?;
                let mut p = LinkMessageBuilder::<LinkUnspec>::new()
                    .name(peer.clone())
                    .address(peer_mac.0.to_vec())
                    .setns_by_fd(target.as_raw_fd());
                let mut v = LinkMessageBuilder::<LinkVeth>::new_with_info_kind(InfoKind::Veth)
                    .name(name.clone())
                    .address(mac.0.to_vec());
                if let Some(m) = mtu {
                    p = p.mtu(*m);
                    v = v.mtu(*m);
                }
                let v = v.set_info_data(InfoData::Veth(InfoVeth::Peer(p.build())));
                self.handle(&ns)?.link().add(v.build()).execute().await?;
                drop(target);
            }
            Op::AddVxlan {
                name,
                mac,
                mtu,
                vni,
                dstport,
                local,
                remote,
                group,
                dev,
                proxy,
                learning,
                ..
            } => {
                let mut v = LinkVxlan::new(name, *vni)
                    .address(mac.0.to_vec())
                    .proxy(*proxy)
                    .learning(*learning);
                if let Some(p) = dstport {
                    v = v.port(*p);
                }
                match local {
                    Some(IpAddr::V4(a)) => v = v.local(*a),
                    Some(IpAddr::V6(a)) => v = v.local6(*a),
                    None => {}
                }
                match remote.or(*group) {
                    Some(IpAddr::V4(a)) if remote.is_some() => v = v.remote(a),
                    Some(IpAddr::V6(a)) if remote.is_some() => v = v.remote6(a),
                    Some(IpAddr::V4(a)) => v = v.group(a),
                    Some(IpAddr::V6(a)) => v = v.group6(a),
                    None => {}
                }
                if let Some(d) = dev {
                    v = v.dev(self.index(&ns, d).await?);
                }
                if let Some(m) = mtu {
                    v = v.mtu(*m);
                }
                self.handle(&ns)?.link().add(v.build()).execute().await?;
            }
            Op::MoveLink { name, to, .. } => {
                let target = netns::open(to)?;
                let msg = LinkUnspec::new_with_name(name)
                    .setns_by_fd(target.as_raw_fd())
                    .build();
                self.handle(&ns)?.link().set(msg).execute().await?;
            }
            Op::SetMaster { dev, master, .. } => {
                let m = self.index(&ns, master).await?;
                let msg = LinkUnspec::new_with_name(dev).controller(m).build();
                self.handle(&ns)?.link().set(msg).execute().await?;
            }
            Op::Sysctl { key, value, .. } => netns::write_sysctl(&ns, key, value)?,
            Op::AddAddress { dev, address, .. } => {
                let i = self.index(&ns, dev).await?;
                self.handle(&ns)?
                    .address()
                    .add(i, address.addr(), address.prefix_len())
                    .execute()
                    .await?;
            }
            Op::LinkUp { dev, .. } => {
                let msg = LinkUnspec::new_with_name(dev).up().build();
                self.handle(&ns)?.link().set(msg).execute().await?;
            }
            Op::AddRoute {
                to,
                via,
                dev,
                metric,
                ..
            } => {
                let mut r = RouteMessageBuilder::<IpAddr>::new()
                    .destination_prefix(to.network(), to.prefix_len())
                    .map_err(|e| std::io::Error::other(e.to_string()))?;
                if let Some(g) = via {
                    r = r
                        .gateway(*g)
                        .map_err(|e| std::io::Error::other(e.to_string()))?;
                }
                if let Some(d) = dev {
                    r = r.output_interface(self.index(&ns, d).await?);
                }
                if let Some(m) = metric {
                    r = r.priority(*m);
                }
                self.handle(&ns)?.route().add(r.build()).execute().await?;
            }
            Op::AddNeigh {
                dev, to, lladdr, ..
            } => {
                let i = self.index(&ns, dev).await?;
                self.handle(&ns)?
                    .neighbours()
                    .add(i, *to)
                    .link_layer_address(&lladdr.0)
                    .state(NeighbourState::Permanent)
                    .execute()
                    .await?;
            }
            Op::AddFdb {
                dev,
                mac,
                dst,
                self_,
                ..
            } => {
                let i = self.index(&ns, dev).await?;
                let flags = if *self_ {
                    NeighbourFlags::Own
                } else {
                    NeighbourFlags::Controller
                };
                let mut req = self
                    .handle(&ns)?
                    .neighbours()
                    .add_bridge(i, &mac.0)
                    .flags(flags);
                if let Some(d) = dst {
                    req = req.destination(*d);
                }
                if mac.is_zero() {
                    // Flooding entries: one all-zero entry per remote, each appended as
                    // `bridge fdb append` does; a plain add would refuse the second.
                    append(self.handle(&ns)?, req.message_mut().clone()).await?;
                    return Ok(());
                }
                req.execute().await?;
            }
            Op::Spawn { program, .. } => {
                let log = self.log_dir.as_ref().map_or_else(
                    || std::path::PathBuf::from("/dev/null"),
                    |d| d.join(process::log_name(&ns, &crate::plan::script::argv(program))),
                );
                process::spawn(&ns, program, &log, self.exe.as_deref())?;
            }
            Op::AddNatChain { chain, .. } => {
                crate::nat::apply::nft(
                    &ns,
                    &[
                        crate::nat::json::table_json(),
                        crate::nat::json::user_chain_json(chain),
                    ],
                )?;
            }
            Op::AddNatRule { rule, insert, .. } => match rule.iptables(*insert) {
                Some(args) if rule.needs_xt() => crate::nat::apply::iptables(&ns, &args)?,
                _ => crate::nat::apply::nft(&ns, &rule.json())?,
            },
            Op::AddIpvsService {
                proto,
                addr,
                port,
                scheduler,
                ..
            } => {
                let v = crate::ipvs::Virtual {
                    proto: *proto,
                    addr: *addr,
                    port: *port,
                };
                crate::ipvs::add_service(&ns, v, scheduler)?;
            }
            Op::AddIpvsReal {
                proto,
                addr,
                port,
                real,
                ..
            } => {
                let v = crate::ipvs::Virtual {
                    proto: *proto,
                    addr: *addr,
                    port: *port,
                };
                crate::ipvs::add_real(&ns, v, real)?;
            }
            Op::Note { .. } => {}
            Op::AwaitUp { dev, .. } => self.await_up(&ns, dev).await?,
        }
        Ok(())
    }
}

async fn append(mut handle: Handle, msg: NeighbourMessage) -> Result<(), rtnetlink::Error> {
    use rtnetlink::packet_core::{
        NLM_F_ACK, NLM_F_APPEND, NLM_F_CREATE, NLM_F_REQUEST, NetlinkMessage, NetlinkPayload,
    };
    use rtnetlink::packet_route::RouteNetlinkMessage;
    let mut req = NetlinkMessage::from(RouteNetlinkMessage::NewNeighbour(msg));
    req.header.flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_APPEND;
    let mut resp = handle.request(req)?;
    while let Some(m) = futures::StreamExt::next(&mut resp).await {
        if let NetlinkPayload::Error(e) = m.payload {
            return Err(rtnetlink::Error::NetlinkError(e));
        }
    }
    Ok(())
}

impl Kernel for Netlink {
    async fn apply(&mut self, op: &Op) -> Result<(), KernelError> {
        self.apply_op(op).await
    }

    async fn teardown(&mut self, lab: &str) -> Teardown {
        self.handles
            .retain(|ns, _| !ns.starts_with(&netns_prefix(lab)));
        teardown(lab)
    }
}

/// Removes lab `lab` from the machine: stops every process in its namespaces, then deletes
/// the namespaces (and with them every device, address, route and table in them).
pub fn teardown(lab: &str) -> Teardown {
    let prefix = netns_prefix(lab);
    let mut t = Teardown::default();
    let names: Vec<String> = netns::list()
        .into_iter()
        .filter(|n| n.starts_with(&prefix))
        .collect();
    for ns in &names {
        t.processes += process::stop_all(ns, Duration::from_millis(500));
    }
    for ns in names {
        match netns::delete(&ns) {
            Ok(()) => t.namespaces.push(ns),
            Err(e) => t.errors.push(format!("delete namespace {ns}: {e}")),
        }
    }
    t
}

/// A netlink attribute with its value as raw bytes (a nested attribute's value is its
/// children, encoded): the hand-rolled encoding of the generic-netlink (IPVS) and
/// nfnetlink (conntrack) messages, which rtnetlink's crates do not cover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attr {
    /// Attribute type, without the `NLA_F_*` flags.
    pub kind: u16,
    /// Whether `NLA_F_NESTED` is (to be) set.
    pub nested: bool,
    /// The value, unpadded.
    pub data: Vec<u8>,
}

impl Attr {
    /// An attribute holding `data`.
    pub fn bytes(kind: u16, data: impl Into<Vec<u8>>) -> Self {
        Self {
            kind,
            nested: false,
            data: data.into(),
        }
    }

    /// A native-endian `u16`.
    pub fn u16(kind: u16, v: u16) -> Self {
        Self::bytes(kind, v.to_ne_bytes())
    }

    /// A native-endian `u32`.
    pub fn u32(kind: u16, v: u32) -> Self {
        Self::bytes(kind, v.to_ne_bytes())
    }

    /// A network-order (big-endian) `u16`, e.g. a port.
    pub fn be16(kind: u16, v: u16) -> Self {
        Self::bytes(kind, v.to_be_bytes())
    }

    /// A NUL-terminated string.
    pub fn string(kind: u16, s: &str) -> Self {
        let mut d = s.as_bytes().to_vec();
        d.push(0);
        Self::bytes(kind, d)
    }

    /// A nested attribute holding `children`.
    pub fn nest(kind: u16, children: &[Attr]) -> Self {
        Self {
            kind,
            nested: true,
            data: encode_attrs(children),
        }
    }

    /// The attributes inside this one.
    pub fn children(&self) -> Result<Vec<Attr>, DecodeError> {
        decode_attrs(&self.data)
    }

    /// The value as a native-endian integer of up to 8 bytes (`None` if longer).
    pub fn ne_uint(&self) -> Option<u64> {
        int(&self.data, false)
    }

    /// The value as a big-endian integer of up to 8 bytes (`None` if longer).
    pub fn be_uint(&self) -> Option<u64> {
        int(&self.data, true)
    }

    /// The value as a string, without its trailing NULs.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.data)
            .trim_end_matches('\0')
            .to_string()
    }
}

fn int(d: &[u8], big: bool) -> Option<u64> {
    if d.is_empty() || d.len() > 8 {
        return None;
    }
    let mut b = [0u8; 8];
    if big {
        b[8 - d.len()..].copy_from_slice(d);
        Some(u64::from_be_bytes(b))
    } else if cfg!(target_endian = "little") {
        b[..d.len()].copy_from_slice(d);
        Some(u64::from_le_bytes(b))
    } else {
        b[8 - d.len()..].copy_from_slice(d);
        Some(u64::from_be_bytes(b))
    }
}

impl Nla for Attr {
    fn value_len(&self) -> usize {
        self.data.len()
    }

    fn kind(&self) -> u16 {
        if self.nested {
            self.kind | NLA_F_NESTED
        } else {
            self.kind
        }
    }

    fn emit_value(&self, buffer: &mut [u8]) {
        buffer.copy_from_slice(&self.data);
    }
}

/// Encodes attributes back to back, each padded to 4 bytes.
pub fn encode_attrs(attrs: &[Attr]) -> Vec<u8> {
    let mut buf = vec![0; attrs.buffer_len()];
    attrs.emit(&mut buf);
    buf
}

/// Decodes back-to-back attributes.
pub fn decode_attrs(buf: &[u8]) -> Result<Vec<Attr>, DecodeError> {
    NlasIterator::new(buf)
        .map(|a| {
            let a = a?;
            Ok(Attr {
                kind: a.kind(),
                nested: a.nested_flag(),
                data: a.value().to_vec(),
            })
        })
        .collect()
}

/// A blocking netlink socket of any protocol (generic netlink, netfilter). Opened on a
/// thread inside a namespace (see [`crate::netns::run_in`]), it talks to that
/// namespace's kernel state for its whole life.
pub struct NlSocket {
    socket: netlink_sys::Socket,
    seq: u32,
}

impl NlSocket {
    /// Opens and binds a socket of `protocol` (e.g. `NETLINK_GENERIC`) in the calling
    /// thread's namespace.
    pub fn open(protocol: isize) -> std::io::Result<Self> {
        let mut socket = netlink_sys::Socket::new(protocol)?;
        socket.bind_auto()?;
        socket.connect(&netlink_sys::SocketAddr::new(0, 0))?;
        Ok(Self { socket, seq: 0 })
    }

    /// Sends `payload` with `flags` (`NLM_F_REQUEST | NLM_F_ACK` are added) and collects
    /// the answer: with `NLM_F_DUMP`, every message up to `NLMSG_DONE`; otherwise the
    /// replies up to the acknowledgement. A kernel error becomes the `io::Error` of its
    /// errno.
    pub fn request<T>(&mut self, payload: T, flags: u16) -> std::io::Result<Vec<T>>
    where
        T: NetlinkSerializable + NetlinkDeserializable + std::fmt::Debug,
    {
        use netlink_packet_core::{NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, NetlinkPayload};
        self.seq = self.seq.wrapping_add(1);
        let mut msg = NetlinkMessage::new(
            netlink_packet_core::NetlinkHeader::default(),
            NetlinkPayload::InnerMessage(payload),
        );
        msg.header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        msg.header.sequence_number = self.seq;
        msg.finalize();
        let mut buf = vec![0; msg.buffer_len()];
        msg.serialize(&mut buf);
        self.socket.send(&buf, 0)?;
        let dump = flags & NLM_F_DUMP == NLM_F_DUMP;
        let mut out = Vec::new();
        loop {
            let (data, _) = self.socket.recv_from_full()?;
            let mut off = 0;
            while off + 16 <= data.len() {
                let m = NetlinkMessage::<T>::deserialize(&data[off..])
                    .map_err(|e| std::io::Error::other(e.to_string()))?;
                let len = usize::try_from(m.header.length).unwrap_or(usize::MAX);
                off += len.max(16).div_ceil(4) * 4;
                if m.header.sequence_number != self.seq {
                    continue;
                }
                match m.payload {
                    NetlinkPayload::InnerMessage(x) => out.push(x),
                    NetlinkPayload::Error(e) if e.code.is_some() => return Err(e.to_io()),
                    NetlinkPayload::Error(_) if !dump => return Ok(out),
                    NetlinkPayload::Done(_) => return Ok(out),
                    _ => {}
                }
            }
        }
    }
}
