//! The IPVS generic-netlink messages (family `IPVS`, `linux/ip_vs.h`), encoded by hand:
//! a genl header (command, version) followed by nested `IPVS_CMD_ATTR_SERVICE` and
//! `IPVS_CMD_ATTR_DEST` attributes. Also the controller request that resolves the
//! family's id.

use std::net::Ipv4Addr;

use netlink_packet_core::{DecodeError, NetlinkDeserializable, NetlinkHeader, NetlinkSerializable};

use crate::kernel::{Attr, decode_attrs, encode_attrs};
use crate::model::{Forward, IpvsReal, Proto};

/// Name of the IPVS generic-netlink family.
pub const FAMILY_NAME: &str = "IPVS";
/// `IPVS_GENL_VERSION`.
pub const GENL_VERSION: u8 = 1;
/// `AF_INET`.
const AF_INET: u16 = 2;

/// The generic-netlink controller (`GENL_ID_CTRL`) and its attributes.
mod ctrl {
    pub const ID: u16 = 0x10;
    pub const CMD_GETFAMILY: u8 = 3;
    pub const ATTR_FAMILY_ID: u16 = 1;
    pub const ATTR_FAMILY_NAME: u16 = 2;
}

/// `IPVS_CMD_*`.
pub mod cmd {
    /// Add a virtual service.
    pub const NEW_SERVICE: u8 = 1;
    /// Get (dump) virtual services.
    pub const GET_SERVICE: u8 = 4;
    /// Add a real server.
    pub const NEW_DEST: u8 = 5;
    /// Get (dump) a service's real servers.
    pub const GET_DEST: u8 = 8;
    /// `IPVS_CMD_ATTR_SERVICE` (nested).
    pub const ATTR_SERVICE: u16 = 1;
    /// `IPVS_CMD_ATTR_DEST` (nested).
    pub const ATTR_DEST: u16 = 2;
}

/// `IPVS_SVC_ATTR_*`.
pub mod svc {
    /// Address family, u16.
    pub const AF: u16 = 1;
    /// IP protocol, u16.
    pub const PROTOCOL: u16 = 2;
    /// Address, `union nf_inet_addr` (16 bytes).
    pub const ADDR: u16 = 3;
    /// Port, network order.
    pub const PORT: u16 = 4;
    /// Scheduler name, string.
    pub const SCHED_NAME: u16 = 6;
    /// `struct ip_vs_flags { u32 flags; u32 mask; }`.
    pub const FLAGS: u16 = 7;
    /// Persistence timeout, u32.
    pub const TIMEOUT: u16 = 8;
    /// Persistence netmask, u32.
    pub const NETMASK: u16 = 9;
}

/// `IPVS_DEST_ATTR_*`.
pub mod dest {
    /// Address, `union nf_inet_addr`.
    pub const ADDR: u16 = 1;
    /// Port, network order.
    pub const PORT: u16 = 2;
    /// Forwarding method (`IP_VS_CONN_F_*`), u32.
    pub const FWD_METHOD: u16 = 3;
    /// Weight, u32.
    pub const WEIGHT: u16 = 4;
    /// Upper connection threshold, u32.
    pub const U_THRESH: u16 = 5;
    /// Lower connection threshold, u32.
    pub const L_THRESH: u16 = 6;
    /// Active connections, u32.
    pub const ACTIVE_CONNS: u16 = 7;
    /// Inactive connections, u32.
    pub const INACT_CONNS: u16 = 8;
    /// Address family, u16.
    pub const ADDR_FAMILY: u16 = 11;
}

/// A generic-netlink message: the family id is the netlink message type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenlMessage {
    /// Family id (netlink message type).
    pub family: u16,
    /// Command.
    pub cmd: u8,
    /// Family version.
    pub version: u8,
    /// Attributes.
    pub attrs: Vec<Attr>,
}

impl NetlinkSerializable for GenlMessage {
    fn message_type(&self) -> u16 {
        self.family
    }

    fn buffer_len(&self) -> usize {
        4 + encode_attrs(&self.attrs).len()
    }

    fn serialize(&self, buffer: &mut [u8]) {
        buffer[0] = self.cmd;
        buffer[1] = self.version;
        buffer[2] = 0;
        buffer[3] = 0;
        buffer[4..].copy_from_slice(&encode_attrs(&self.attrs));
    }
}

impl NetlinkDeserializable for GenlMessage {
    type Error = DecodeError;

    fn deserialize(header: &NetlinkHeader, payload: &[u8]) -> Result<Self, DecodeError> {
        if payload.len() < 4 {
            return Err(DecodeError::from(
                "generic netlink message shorter than its header",
            ));
        }
        Ok(Self {
            family: header.message_type,
            cmd: payload[0],
            version: payload[1],
            attrs: decode_attrs(&payload[4..])?,
        })
    }
}

/// `CTRL_CMD_GETFAMILY` for the IPVS family.
pub fn resolve_family() -> GenlMessage {
    GenlMessage {
        family: ctrl::ID,
        cmd: ctrl::CMD_GETFAMILY,
        version: 1,
        attrs: vec![Attr::string(ctrl::ATTR_FAMILY_NAME, FAMILY_NAME)],
    }
}

/// The family id in the controller's answer.
pub fn family_id(answer: &GenlMessage) -> Option<u16> {
    answer
        .attrs
        .iter()
        .find(|a| a.kind == ctrl::ATTR_FAMILY_ID)
        .and_then(Attr::ne_uint)
        .and_then(|v| u16::try_from(v).ok())
}

fn inet_addr(a: Ipv4Addr) -> Vec<u8> {
    let mut v = a.octets().to_vec();
    v.resize(16, 0);
    v
}

/// What identifies a virtual service: protocol, address, port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Virtual {
    /// Protocol.
    pub proto: Proto,
    /// Address.
    pub addr: Ipv4Addr,
    /// Port.
    pub port: u16,
}

fn service_attrs(v: Virtual, scheduler: Option<&str>) -> Vec<Attr> {
    let mut a = vec![
        Attr::u16(svc::AF, AF_INET),
        Attr::u16(svc::PROTOCOL, u16::from(v.proto.number())),
        Attr::bytes(svc::ADDR, inet_addr(v.addr)),
        Attr::be16(svc::PORT, v.port),
    ];
    if let Some(s) = scheduler {
        // A full service: the kernel wants flags, timeout and netmask too.
        let mut flags = 0u32.to_ne_bytes().to_vec();
        flags.extend_from_slice(&u32::MAX.to_ne_bytes());
        a.extend([
            Attr::string(svc::SCHED_NAME, s),
            Attr::bytes(svc::FLAGS, flags),
            Attr::u32(svc::TIMEOUT, 0),
            Attr::u32(svc::NETMASK, u32::MAX),
        ]);
    }
    a
}

/// `IPVS_CMD_NEW_SERVICE` (`ipvsadm -A`).
pub fn new_service(family: u16, v: Virtual, scheduler: &str) -> GenlMessage {
    GenlMessage {
        family,
        cmd: cmd::NEW_SERVICE,
        version: GENL_VERSION,
        attrs: vec![Attr::nest(
            cmd::ATTR_SERVICE,
            &service_attrs(v, Some(scheduler)),
        )],
    }
}

/// `IPVS_CMD_NEW_DEST` (`ipvsadm -a`).
pub fn new_dest(family: u16, v: Virtual, r: &IpvsReal) -> GenlMessage {
    let d = vec![
        Attr::bytes(dest::ADDR, inet_addr(r.addr)),
        Attr::be16(dest::PORT, r.port),
        Attr::u32(dest::FWD_METHOD, r.forward.kernel()),
        Attr::u32(dest::WEIGHT, r.weight),
        Attr::u32(dest::U_THRESH, 0),
        Attr::u32(dest::L_THRESH, 0),
        Attr::u16(dest::ADDR_FAMILY, AF_INET),
    ];
    GenlMessage {
        family,
        cmd: cmd::NEW_DEST,
        version: GENL_VERSION,
        attrs: vec![
            Attr::nest(cmd::ATTR_SERVICE, &service_attrs(v, None)),
            Attr::nest(cmd::ATTR_DEST, &d),
        ],
    }
}

/// `IPVS_CMD_GET_SERVICE`, to be sent as a dump.
pub fn get_services(family: u16) -> GenlMessage {
    GenlMessage {
        family,
        cmd: cmd::GET_SERVICE,
        version: GENL_VERSION,
        attrs: Vec::new(),
    }
}

/// `IPVS_CMD_GET_DEST` of one service, to be sent as a dump.
pub fn get_dests(family: u16, v: Virtual) -> GenlMessage {
    GenlMessage {
        family,
        cmd: cmd::GET_DEST,
        version: GENL_VERSION,
        attrs: vec![Attr::nest(cmd::ATTR_SERVICE, &service_attrs(v, None))],
    }
}

fn nested(m: &GenlMessage, kind: u16) -> Vec<Attr> {
    m.attrs
        .iter()
        .find(|a| a.kind == kind)
        .and_then(|a| a.children().ok())
        .unwrap_or_default()
}

fn get(attrs: &[Attr], kind: u16) -> Option<&Attr> {
    attrs.iter().find(|a| a.kind == kind)
}

fn addr(attrs: &[Attr], kind: u16) -> Option<Ipv4Addr> {
    let d = &get(attrs, kind)?.data;
    (d.len() >= 4).then(|| Ipv4Addr::new(d[0], d[1], d[2], d[3]))
}

fn port(attrs: &[Attr], kind: u16) -> Option<u16> {
    get(attrs, kind)?
        .be_uint()
        .and_then(|p| u16::try_from(p).ok())
}

fn ne_u32(attrs: &[Attr], kind: u16) -> Option<u32> {
    get(attrs, kind)?
        .ne_uint()
        .and_then(|v| u32::try_from(v).ok())
}

/// A virtual service of a `GET_SERVICE` answer, with its scheduler; `None` for IPv6 or
/// firewall-mark services.
pub fn parse_service(m: &GenlMessage) -> Option<(Virtual, String)> {
    let a = nested(m, cmd::ATTR_SERVICE);
    if ne_u32(&a, svc::AF).and_then(|v| u16::try_from(v).ok()) != Some(AF_INET) {
        return None;
    }
    let proto = match ne_u32(&a, svc::PROTOCOL)? {
        6 => Proto::Tcp,
        17 => Proto::Udp,
        132 => Proto::Sctp,
        _ => return None,
    };
    let v = Virtual {
        proto,
        addr: addr(&a, svc::ADDR)?,
        port: port(&a, svc::PORT)?,
    };
    Some((
        v,
        get(&a, svc::SCHED_NAME).map(Attr::text).unwrap_or_default(),
    ))
}

/// A real server of a `GET_DEST` answer, with its active and inactive connections.
pub fn parse_dest(m: &GenlMessage) -> Option<(IpvsReal, u32, u32)> {
    let a = nested(m, cmd::ATTR_DEST);
    let forward = match ne_u32(&a, dest::FWD_METHOD)? & 7 {
        0 => Forward::Masq,
        2 => Forward::Tunnel,
        3 => Forward::Droute,
        _ => return None,
    };
    let real = IpvsReal {
        addr: addr(&a, dest::ADDR)?,
        port: port(&a, dest::PORT)?,
        forward,
        weight: ne_u32(&a, dest::WEIGHT)?,
    };
    Some((
        real,
        ne_u32(&a, dest::ACTIVE_CONNS).unwrap_or(0),
        ne_u32(&a, dest::INACT_CONNS).unwrap_or(0),
    ))
}

#[cfg(all(test, target_endian = "little"))]
mod tests {
    use super::*;

    fn bytes(m: &GenlMessage) -> Vec<u8> {
        let mut b = vec![0; m.buffer_len()];
        m.serialize(&mut b);
        b
    }

    const VIP: Virtual = Virtual {
        proto: Proto::Tcp,
        addr: Ipv4Addr::new(172, 18, 0, 2),
        port: 80,
    };

    #[test]
    fn family_lookup_names_ipvs() {
        assert_eq!(
            bytes(&resolve_family()),
            [3, 1, 0, 0, 9, 0, 2, 0, b'I', b'P', b'V', b'S', 0, 0, 0, 0]
        );
        let answer = GenlMessage {
            family: 0x10,
            cmd: 1,
            version: 2,
            attrs: vec![Attr::u16(1, 0x1d)],
        };
        assert_eq!(family_id(&answer), Some(0x1d));
    }

    #[test]
    fn new_service_is_ipvsadm_dash_a() {
        let b = bytes(&new_service(0x1d, VIP, "rr"));
        #[rustfmt::skip]
        let want: Vec<u8> = vec![
            1, 1, 0, 0,                         // NEW_SERVICE, version 1
            84, 0, 1, 0x80,                     // SERVICE, nested, 84 bytes
            6, 0, 1, 0, 2, 0, 0, 0,             // AF = AF_INET
            6, 0, 2, 0, 6, 0, 0, 0,             // PROTOCOL = 6 (tcp)
            20, 0, 3, 0, 172, 18, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // ADDR
            6, 0, 4, 0, 0, 80, 0, 0,            // PORT = 80, network order
            7, 0, 6, 0, b'r', b'r', 0, 0,       // SCHED_NAME = "rr"
            12, 0, 7, 0, 0, 0, 0, 0, 255, 255, 255, 255, // FLAGS {0, mask ~0}
            8, 0, 8, 0, 0, 0, 0, 0,             // TIMEOUT = 0
            8, 0, 9, 0, 255, 255, 255, 255,     // NETMASK = ~0
        ];
        assert_eq!(b, want);
    }

    #[test]
    fn new_dest_carries_the_service_and_the_real_server() {
        let r = IpvsReal {
            addr: Ipv4Addr::new(10, 0, 0, 4),
            port: 80,
            forward: Forward::Masq,
            weight: 1,
        };
        let m = new_dest(0x1d, VIP, &r);
        let b = bytes(&m);
        assert_eq!(&b[..4], &[5, 1, 0, 0]);
        // The identifying part of the service only: AF, protocol, address, port.
        assert_eq!(&b[4..8], &[48, 0, 1, 0x80]);
        #[rustfmt::skip]
        let dest_part: Vec<u8> = vec![
            72, 0, 2, 0x80,                     // DEST, nested
            20, 0, 1, 0, 10, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // ADDR
            6, 0, 2, 0, 0, 80, 0, 0,            // PORT
            8, 0, 3, 0, 0, 0, 0, 0,             // FWD_METHOD = masq
            8, 0, 4, 0, 1, 0, 0, 0,             // WEIGHT = 1
            8, 0, 5, 0, 0, 0, 0, 0,             // U_THRESH
            8, 0, 6, 0, 0, 0, 0, 0,             // L_THRESH
            6, 0, 11, 0, 2, 0, 0, 0,            // ADDR_FAMILY = AF_INET
        ];
        assert_eq!(&b[52..], &dest_part[..]);
        // And it reads back.
        let hdr = NetlinkHeader::default();
        let back = GenlMessage::deserialize(&hdr, &b).unwrap();
        assert_eq!(parse_dest(&back), Some((r, 0, 0)));
    }

    #[test]
    fn services_read_back() {
        let mut m = new_service(0x1d, VIP, "wrr");
        m.cmd = cmd::NEW_SERVICE;
        assert_eq!(parse_service(&m), Some((VIP, "wrr".to_string())));
    }
}
