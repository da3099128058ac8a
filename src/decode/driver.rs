//! The decode loop: parses one layer at a time, choosing the next parser from the fields
//! of the last one, and tracks the end of valid data as length fields narrow it.

use super::DecodeOptions;
use super::arp::parse_arp;
use super::error::{DecodeError, ErrorReason};
use super::ethernet::{EtherType, parse_ethernet, parse_sll, parse_sll2, parse_vlan};
use super::icmp::{parse_icmp, parse_icmpv6, parse_igmp};
use super::ip::{IpProto, parse_ipv4};
use super::ipv6::{IPV6_FIXED_LEN, parse_ipv6};
use super::packet::{Layer, Packet, Span};
use super::transport::{UDP_LEN, parse_tcp, parse_udp};
use super::vxlan::parse_vxlan;

/// What to decode next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    Ethernet,
    Sll,
    Sll2,
    Vlan(EtherType),
    Arp,
    Ipv4,
    Ipv6,
    Icmp,
    Icmpv6,
    Igmp,
    Udp,
    Tcp,
    Vxlan,
    Payload,
    Done,
}

impl Step {
    fn name(self) -> &'static str {
        match self {
            Self::Ethernet => "Ethernet",
            Self::Sll | Self::Sll2 => "SLL",
            Self::Vlan(_) => "VLAN",
            Self::Arp => "ARP",
            Self::Ipv4 => "IPv4",
            Self::Ipv6 => "IPv6",
            Self::Icmp => "ICMP",
            Self::Icmpv6 => "ICMPv6",
            Self::Igmp => "IGMP",
            Self::Udp => "UDP",
            Self::Tcp => "TCP",
            Self::Vxlan => "VXLAN",
            Self::Payload | Self::Done => "Payload",
        }
    }

    /// The parser for a payload of the given EtherType.
    pub(crate) fn for_ethertype(t: EtherType) -> Self {
        match t {
            EtherType::IPV4 => Self::Ipv4,
            EtherType::IPV6 => Self::Ipv6,
            EtherType::ARP => Self::Arp,
            t if t.is_vlan_tag() => Self::Vlan(t),
            _ => Self::Payload,
        }
    }

    fn for_ip_proto(p: IpProto) -> Self {
        match p {
            IpProto::ICMP => Self::Icmp,
            IpProto::IGMP => Self::Igmp,
            IpProto::TCP => Self::Tcp,
            IpProto::UDP => Self::Udp,
            IpProto::ICMPV6 => Self::Icmpv6,
            IpProto::IPIP => Self::Ipv4,
            IpProto::IPV6 => Self::Ipv6,
            _ => Self::Payload,
        }
    }
}

/// One parsed layer and what it implies for the rest.
struct Parsed<'a> {
    layer: Layer<'a>,
    /// Header length consumed.
    len: usize,
    next: Step,
    /// Length of this layer plus its payload, if a length field says so.
    claimed: Option<usize>,
    /// The next layer is an encapsulated packet or frame.
    encap: bool,
}

impl<'a> Parsed<'a> {
    fn new(layer: Layer<'a>, len: usize, next: Step) -> Self {
        Self {
            layer,
            len,
            next,
            claimed: None,
            encap: false,
        }
    }
}

/// Decodes `frame` starting with the parser `first`.
pub(crate) fn run<'a>(frame: &'a [u8], opts: &DecodeOptions, first: Step) -> Packet<'a> {
    let mut packet = Packet {
        layers: Vec::new(),
        spans: Vec::new(),
        error: None,
        len: frame.len(),
    };
    // A length field that claimed more bytes than present; reported unless a harder error
    // comes first.
    let mut pending: Option<DecodeError> = None;
    let (mut off, mut end, mut step, mut depth) = (0usize, frame.len(), first, 0usize);
    loop {
        let data = frame.get(off..end).unwrap_or_default();
        match step {
            Step::Done => break,
            Step::Payload => {
                if !data.is_empty() {
                    packet.layers.push(Layer::Payload(data));
                    packet.spans.push(Span {
                        offset: off,
                        len: data.len(),
                    });
                }
                break;
            }
            _ => {}
        }
        let parsed = match parse(step, data, opts) {
            Ok(p) => p,
            Err(reason) => {
                packet.error = Some(DecodeError {
                    layer: step.name(),
                    offset: off,
                    reason,
                });
                break;
            }
        };
        packet.layers.push(parsed.layer);
        packet.spans.push(Span {
            offset: off,
            len: parsed.len,
        });
        if let Some(claimed) = parsed.claimed {
            if claimed > data.len() {
                pending.get_or_insert(DecodeError {
                    layer: step.name(),
                    offset: off,
                    reason: ErrorReason::Truncated {
                        needed: claimed,
                        available: data.len(),
                    },
                });
            } else {
                end = off + claimed;
            }
        }
        off = off.saturating_add(parsed.len);
        step = parsed.next;
        if parsed.encap {
            depth += 1;
            if depth > opts.max_depth {
                packet.error = Some(DecodeError {
                    layer: step.name(),
                    offset: off,
                    reason: ErrorReason::TooDeep {
                        limit: opts.max_depth,
                    },
                });
                break;
            }
        }
    }
    if packet.error.is_none() {
        packet.error = pending;
    }
    packet
}

fn parse<'a>(step: Step, data: &'a [u8], opts: &DecodeOptions) -> Result<Parsed<'a>, ErrorReason> {
    Ok(match step {
        Step::Ethernet => {
            let (h, n) = parse_ethernet(data)?;
            Parsed::new(Layer::Ethernet(h), n, Step::for_ethertype(h.ethertype))
        }
        Step::Sll | Step::Sll2 => {
            let (h, n) = if step == Step::Sll {
                parse_sll(data)?
            } else {
                parse_sll2(data)?
            };
            let next = if h.protocol.0 >= 0x0600 {
                Step::for_ethertype(h.protocol)
            } else {
                Step::Payload
            };
            Parsed::new(Layer::Sll(h), n, next)
        }
        Step::Vlan(tpid) => {
            let (h, n) = parse_vlan(data, tpid)?;
            Parsed::new(Layer::Vlan(h), n, Step::for_ethertype(h.ethertype))
        }
        Step::Arp => {
            let (h, n) = parse_arp(data)?;
            // Whatever follows an ARP packet is Ethernet padding.
            Parsed::new(Layer::Arp(h), n, Step::Done)
        }
        Step::Ipv4 => ipv4(data)?,
        Step::Ipv6 => ipv6(data)?,
        Step::Icmp => {
            let (h, n) = parse_icmp(data)?;
            Parsed::new(Layer::Icmp(h), n, Step::Payload)
        }
        Step::Icmpv6 => {
            let (h, n) = parse_icmpv6(data)?;
            Parsed::new(Layer::Icmpv6(h), n, Step::Payload)
        }
        Step::Igmp => {
            let (h, n) = parse_igmp(data)?;
            Parsed::new(Layer::Igmp(h), n, Step::Payload)
        }
        Step::Udp => udp(data, opts)?,
        Step::Tcp => {
            let (h, n) = parse_tcp(data)?;
            Parsed::new(Layer::Tcp(h), n, Step::Payload)
        }
        Step::Vxlan => {
            let (h, n) = parse_vxlan(data)?;
            Parsed {
                encap: true,
                ..Parsed::new(Layer::Vxlan(h), n, Step::Ethernet)
            }
        }
        Step::Payload | Step::Done => unreachable_step(),
    })
}

fn ipv4(data: &[u8]) -> Result<Parsed<'_>, ErrorReason> {
    let (h, n) = parse_ipv4(data)?;
    let next = if h.fragment_offset == 0 {
        Step::for_ip_proto(h.protocol)
    } else {
        Step::Payload
    };
    // A total length of 0 is what TSO/BIG TCP captures carry: use all the data.
    let claimed = (h.total_len != 0).then_some(usize::from(h.total_len));
    Ok(Parsed {
        encap: matches!(next, Step::Ipv4 | Step::Ipv6),
        claimed,
        ..Parsed::new(Layer::Ipv4(h), n, next)
    })
}

fn ipv6(data: &[u8]) -> Result<Parsed<'_>, ErrorReason> {
    let (h, n) = parse_ipv6(data)?;
    // A payload length of 0 is used by jumbograms and BIG TCP captures: use all the data.
    let claimed = (h.payload_len != 0).then_some(IPV6_FIXED_LEN + usize::from(h.payload_len));
    if claimed.is_some_and(|c| c < n) {
        return Err(ErrorReason::BadTotalLength {
            value: usize::from(h.payload_len),
            min: n - IPV6_FIXED_LEN,
        });
    }
    let next = if h.fragment.is_some_and(|f| f.offset != 0) {
        Step::Payload
    } else {
        Step::for_ip_proto(h.protocol)
    };
    Ok(Parsed {
        encap: matches!(next, Step::Ipv4 | Step::Ipv6),
        claimed,
        ..Parsed::new(Layer::Ipv6(h), n, next)
    })
}

fn udp<'a>(data: &'a [u8], opts: &DecodeOptions) -> Result<Parsed<'a>, ErrorReason> {
    let (h, n) = parse_udp(data)?;
    let len = usize::from(h.length);
    // Length 0 is used by IPv6 jumbograms and GSO captures: use all the data.
    if len != 0 && len < UDP_LEN {
        return Err(ErrorReason::BadTotalLength {
            value: len,
            min: UDP_LEN,
        });
    }
    let next = if opts.vxlan_ports.contains(&h.dst_port) {
        Step::Vxlan
    } else {
        Step::Payload
    };
    Ok(Parsed {
        claimed: (len != 0).then_some(len),
        ..Parsed::new(Layer::Udp(h), n, next)
    })
}

/// `Payload` and `Done` are handled by the loop before calling the parser.
#[cold]
fn unreachable_step() -> Parsed<'static> {
    Parsed::new(Layer::Payload(&[]), 0, Step::Done)
}
