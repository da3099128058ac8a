//! One-line, tcpdump-like summaries of decoded packets.
//!
//! Encapsulated packets print one segment per frame, outermost first, joined by ` | `:
//!
//! ```text
//! 192.168.228.148:51234 > 192.168.228.149:4789 VXLAN vni 100 | 10.0.0.4 > 10.0.0.14: ICMP echo request id 7 seq 1 ttl 64
//! ```

use std::fmt::Write as _;
use std::net::IpAddr;

use super::ethernet::EtherType;
use super::icmp::{Icmp, Icmpv6, Igmp};
use super::packet::{IpRef, Layer, Packet};
use super::transport::TcpFlags;

impl Packet<'_> {
    /// A one-line human summary, e.g. `10.0.0.4 > 10.0.0.14: ICMP echo request id 7 seq 1
    /// ttl 64`, `ARP who-has 10.0.0.14 tell 10.0.0.4`, or for VXLAN the outer and inner
    /// frames joined by ` | `. A decode error is appended in brackets.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        let mut start = 0;
        for (i, layer) in self.layers.iter().enumerate() {
            let boundary = match layer {
                Layer::Vxlan(_) => true,
                Layer::Ipv4(_) | Layer::Ipv6(_) => matches!(
                    self.layers.get(i + 1),
                    Some(Layer::Ipv4(_) | Layer::Ipv6(_))
                ),
                _ => false,
            };
            if boundary {
                parts.push(describe(self.layers.get(start..=i).unwrap_or_default()));
                start = i + 1;
            }
        }
        if start < self.layers.len() || parts.is_empty() {
            parts.push(describe(self.layers.get(start..).unwrap_or_default()));
        }
        let mut s = parts.join(" | ");
        if let Some(e) = &self.error {
            let _ = write!(s, " [{e}]");
        }
        s
    }
}

/// Formats an address with an optional port; IPv6 addresses with a port get brackets.
fn endpoint(addr: IpAddr, port: Option<u16>) -> String {
    match (addr, port) {
        (IpAddr::V6(a), Some(p)) => format!("[{a}]:{p}"),
        (a, Some(p)) => format!("{a}:{p}"),
        (a, None) => a.to_string(),
    }
}

/// Describes the layers of one frame (no VXLAN inside, at most one IP header).
fn describe(seg: &[Layer<'_>]) -> String {
    let mut out = String::new();
    let mut ip: Option<IpRef<'_, '_>> = None;
    let mut ethertype: Option<EtherType> = None;
    let mut link = None;
    for layer in seg {
        match layer {
            Layer::Ethernet(e) => {
                link = Some(format!("{} > {}", e.src, e.dst));
                ethertype = Some(e.ethertype);
            }
            Layer::Sll(s) => {
                link = Some(format!("{} {}", s.direction(), s.addr));
                ethertype = Some(s.protocol);
            }
            Layer::Vlan(v) => {
                let _ = write!(out, "vlan {}, ", v.vid);
                ethertype = Some(v.ethertype);
            }
            Layer::Arp(a) => {
                let _ = match a.op {
                    1 if a.is_gratuitous() => write!(out, "ARP announce {}", a.sender_ip),
                    1 => write!(out, "ARP who-has {} tell {}", a.target_ip, a.sender_ip),
                    2 => write!(out, "ARP {} is-at {}", a.sender_ip, a.sender_mac),
                    op => write!(out, "ARP op {op} {} > {}", a.sender_ip, a.target_ip),
                };
                return out;
            }
            Layer::Ipv4(h) => ip = Some(IpRef::V4(h)),
            Layer::Ipv6(h) => ip = Some(IpRef::V6(h)),
            _ => {}
        }
    }
    let Some(ip) = ip else {
        match (link, ethertype) {
            (Some(l), Some(t)) => {
                let _ = write!(out, "{l} ethertype {t}");
            }
            _ => out.push_str("(nothing decoded)"),
        }
        return out;
    };
    describe_ip(&mut out, ip, seg);
    out
}

fn describe_ip(out: &mut String, ip: IpRef<'_, '_>, seg: &[Layer<'_>]) {
    let ports = seg.iter().find_map(|l| match l {
        Layer::Udp(u) => Some((u.src_port, u.dst_port)),
        Layer::Tcp(t) => Some((t.src_port, t.dst_port)),
        _ => None,
    });
    let src = endpoint(ip.src(), ports.map(|p| p.0));
    let dst = endpoint(ip.dst(), ports.map(|p| p.1));
    if let Some(vx) = seg.iter().find_map(|l| match l {
        Layer::Vxlan(v) => Some(v),
        _ => None,
    }) {
        let _ = write!(out, "{src} > {dst} VXLAN vni {}", vx.vni);
        if !vx.vni_valid {
            out.push_str(" (I flag clear)");
        }
        return;
    }
    let _ = write!(out, "{src} > {dst}: ");
    let payload_len = seg
        .iter()
        .find_map(|l| match l {
            Layer::Payload(p) => Some(p.len()),
            _ => None,
        })
        .unwrap_or(0);
    let l4 = seg.iter().find(|l| {
        matches!(
            l,
            Layer::Icmp(_) | Layer::Icmpv6(_) | Layer::Igmp(_) | Layer::Udp(_) | Layer::Tcp(_)
        )
    });
    let _ = match l4 {
        Some(Layer::Icmp(h)) => write_icmp(out, h),
        Some(Layer::Icmpv6(h)) => write_icmpv6(out, h),
        Some(Layer::Igmp(h)) => write_igmp(out, h),
        Some(Layer::Udp(u)) => write!(out, "UDP len {}", u.length.saturating_sub(8)),
        Some(Layer::Tcp(t)) => {
            let _ = write!(out, "TCP {} seq {}", t.flags, t.seq);
            if t.flags.contains(TcpFlags::ACK) {
                let _ = write!(out, " ack {}", t.ack);
            }
            write!(out, " win {} len {payload_len}", t.window)
        }
        _ if ip.is_later_fragment() => write!(out, "{} fragment", ip.protocol()),
        _ => write!(out, "{}", ip.protocol()),
    };
    let _ = match ip {
        IpRef::V4(h) => write!(out, " ttl {}", h.ttl),
        IpRef::V6(h) => write!(out, " hlim {}", h.hop_limit),
    };
}

fn write_icmp(out: &mut String, h: &Icmp) -> std::fmt::Result {
    match h.type_name() {
        Some(n) => write!(out, "ICMP {n}")?,
        None => write!(out, "ICMP type {}", h.icmp_type)?,
    }
    match h.code_name() {
        Some(c) => write!(out, " {c}")?,
        None if h.code != 0 => write!(out, " code {}", h.code)?,
        None => {}
    }
    if let (Some(id), Some(seq)) = (h.id, h.seq) {
        write!(out, " id {id} seq {seq}")?;
    }
    Ok(())
}

fn write_icmpv6(out: &mut String, h: &Icmpv6) -> std::fmt::Result {
    match h.type_name() {
        Some(n) => write!(out, "ICMP6 {n}")?,
        None => write!(out, "ICMP6 type {}", h.icmp_type)?,
    }
    if h.code != 0 {
        write!(out, " code {}", h.code)?;
    }
    if let (Some(id), Some(seq)) = (h.id, h.seq) {
        write!(out, " id {id} seq {seq}")?;
    }
    match (h.icmp_type, h.target) {
        (Icmpv6::NEIGHBOR_SOLICITATION, Some(t)) => write!(out, " who-has {t}")?,
        (Icmpv6::NEIGHBOR_ADVERTISEMENT, Some(t)) => write!(out, " tgt is {t}")?,
        _ => {}
    }
    if let Some(mac) = h.link_addr {
        write!(out, " lladdr {mac}")?;
    }
    Ok(())
}

fn write_igmp(out: &mut String, h: &Igmp) -> std::fmt::Result {
    write!(out, "IGMP")?;
    if h.version != 0 {
        write!(out, " v{}", h.version)?;
    }
    match h.type_name() {
        Some(n) => write!(out, " {n}")?,
        None => write!(out, " type 0x{:02x}", h.igmp_type)?,
    }
    if let Some(g) = h.group {
        write!(out, " {g}")?;
    }
    if !h.records.is_empty() {
        let groups: Vec<String> = h.records.iter().map(|r| r.group.to_string()).collect();
        write!(out, " {}", groups.join(","))?;
    }
    Ok(())
}
