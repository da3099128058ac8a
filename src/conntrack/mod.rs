//! The conntrack table of a lab namespace, read over netlink (`NETLINK_NETFILTER`,
//! `IPCTNL_MSG_CT_GET` dump) into plain rows for `vxlab status --json` and the live panel:
//! both tuples, the protocol state, the NAT status bits and the timeout, as
//! `conntrack -L` shows them.

pub mod message;

use std::io;
use std::net::IpAddr;

use serde::Serialize;

use crate::kernel::NlSocket;
use crate::netns;

/// Why reading the conntrack table failed.
#[derive(Debug, thiserror::Error)]
#[error("conntrack: cannot read the table of namespace {netns}: {source}")]
pub struct ConntrackError {
    /// Namespace.
    pub netns: String,
    /// Cause (e.g. `nfnetlink_conntrack` missing).
    pub source: io::Error,
}

/// Names of the `IPS_*` status bits, bit 0 first.
const STATUS_BITS: [&str; 16] = [
    "EXPECTED",
    "SEEN_REPLY",
    "ASSURED",
    "CONFIRMED",
    "SRC_NAT",
    "DST_NAT",
    "SEQ_ADJUST",
    "SRC_NAT_DONE",
    "DST_NAT_DONE",
    "DYING",
    "FIXED_TIMEOUT",
    "TEMPLATE",
    "UNTRACKED",
    "HELPER",
    "OFFLOAD",
    "HW_OFFLOAD",
];

/// `IPS_SRC_NAT`.
pub const IPS_SRC_NAT: u32 = 1 << 4;
/// `IPS_DST_NAT`.
pub const IPS_DST_NAT: u32 = 1 << 5;

/// TCP states, as `conntrack -L` names them.
const TCP_STATES: [&str; 10] = [
    "NONE",
    "SYN_SENT",
    "SYN_RECV",
    "ESTABLISHED",
    "FIN_WAIT",
    "CLOSE_WAIT",
    "LAST_ACK",
    "TIME_WAIT",
    "CLOSE",
    "SYN_SENT2",
];

/// SCTP states, as `conntrack -L` names them.
const SCTP_STATES: [&str; 10] = [
    "NONE",
    "CLOSED",
    "COOKIE_WAIT",
    "COOKIE_ECHOED",
    "ESTABLISHED",
    "SHUTDOWN_SENT",
    "SHUTDOWN_RECD",
    "SHUTDOWN_ACK_SENT",
    "HEARTBEAT_SENT",
    "HEARTBEAT_ACKED",
];

/// One direction of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Tuple {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Source port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sport: Option<u16>,
    /// Destination port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dport: Option<u16>,
    /// ICMP type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icmp_type: Option<u8>,
    /// ICMP code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icmp_code: Option<u8>,
    /// ICMP echo id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icmp_id: Option<u16>,
}

impl From<message::RawTuple> for Tuple {
    fn from(t: message::RawTuple) -> Self {
        Self {
            src: t.src,
            dst: t.dst,
            sport: t.sport,
            dport: t.dport,
            icmp_type: t.icmp_type,
            icmp_code: t.icmp_code,
            icmp_id: t.icmp_id,
        }
    }
}

/// A connection of the conntrack table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CtRow {
    /// `ipv4` or `ipv6`.
    pub family: &'static str,
    /// Protocol name (`tcp`, `udp`, `icmp`, …) or number.
    pub proto: String,
    /// IP protocol number.
    pub proto_num: u8,
    /// Original direction: as the first packet was seen.
    pub original: Tuple,
    /// Reply direction: what replies look like (after NAT).
    pub reply: Tuple,
    /// TCP or SCTP state, e.g. `TIME_WAIT`.
    pub state: Option<String>,
    /// Names of the status bits set, e.g. `ASSURED`, `DST_NAT`.
    pub status: Vec<&'static str>,
    /// The source was translated (SNAT or MASQUERADE).
    pub src_nat: bool,
    /// The destination was translated (DNAT).
    pub dst_nat: bool,
    /// Seconds until it expires.
    pub timeout: Option<u32>,
    /// Conntrack mark.
    pub mark: u32,
    /// Kernel id of the entry.
    pub id: Option<u32>,
    /// Zone, if any.
    pub zone: Option<u16>,
}

fn proto_name(n: u8) -> String {
    match n {
        1 => "icmp".into(),
        6 => "tcp".into(),
        17 => "udp".into(),
        58 => "icmpv6".into(),
        132 => "sctp".into(),
        33 => "dccp".into(),
        136 => "udplite".into(),
        47 => "gre".into(),
        n => n.to_string(),
    }
}

impl From<message::RawConn> for CtRow {
    fn from(c: message::RawConn) -> Self {
        let n = c.original.proto;
        let states: &[&str] = match n {
            6 => &TCP_STATES,
            132 => &SCTP_STATES,
            _ => &[],
        };
        Self {
            family: if c.original.src.is_ipv4() {
                "ipv4"
            } else {
                "ipv6"
            },
            proto: proto_name(n),
            proto_num: n,
            original: c.original.into(),
            reply: c.reply.into(),
            state: c.state.map(|s| {
                states
                    .get(usize::from(s))
                    .map_or_else(|| s.to_string(), |x| (*x).to_string())
            }),
            status: STATUS_BITS
                .iter()
                .enumerate()
                .filter(|(i, _)| c.status & (1 << i) != 0)
                .map(|(_, name)| *name)
                .collect(),
            src_nat: c.status & IPS_SRC_NAT != 0,
            dst_nat: c.status & IPS_DST_NAT != 0,
            timeout: c.timeout,
            mark: c.mark,
            id: c.id,
            zone: c.zone,
        }
    }
}

/// The conntrack table of namespace `ns`, every family. Empty if conntrack never ran
/// there.
pub fn dump(ns: &str) -> Result<Vec<CtRow>, ConntrackError> {
    let rows = netns::run_in(ns, || {
        let mut sock = NlSocket::open(netlink_sys::protocols::NETLINK_NETFILTER)?;
        sock.request(message::dump_request(), netlink_packet_core::NLM_F_DUMP)
    })
    .map_err(|source| ConntrackError {
        netns: ns.to_string(),
        source,
    })?;
    Ok(rows
        .iter()
        .filter_map(message::conn)
        .map(CtRow::from)
        .collect())
}
