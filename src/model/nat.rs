//! NAT rules of the lab model (`[[nat]]`), and the small values they share with services
//! and IPVS: protocols and netfilter hooks. IPv4 only: vxlab's NAT table is `ip vxlab`.

use std::fmt;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde::Serialize;

/// A transport protocol, as NAT rules, services and IPVS name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Proto {
    /// TCP (6).
    Tcp,
    /// UDP (17).
    Udp,
    /// SCTP (132).
    Sctp,
    /// ICMP (1).
    Icmp,
}

impl Proto {
    /// Lower-case name, as `iptables -p` and nft take it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
            Self::Sctp => "sctp",
            Self::Icmp => "icmp",
        }
    }

    /// IP protocol number.
    pub fn number(self) -> u8 {
        match self {
            Self::Tcp => 6,
            Self::Udp => 17,
            Self::Sctp => 132,
            Self::Icmp => 1,
        }
    }

    /// Whether it has ports.
    pub fn has_ports(self) -> bool {
        !matches!(self, Self::Icmp)
    }

    /// Parses a lower-case name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "tcp" => Self::Tcp,
            "udp" => Self::Udp,
            "sctp" => Self::Sctp,
            "icmp" => Self::Icmp,
            _ => return None,
        })
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A netfilter hook of the `nat` table, i.e. an iptables built-in chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Hook {
    /// Before routing (DNAT of incoming traffic).
    Prerouting,
    /// Locally delivered (SNAT of incoming traffic).
    Input,
    /// Locally generated (DNAT of outgoing traffic).
    Output,
    /// After routing (SNAT, MASQUERADE).
    Postrouting,
}

impl Hook {
    /// Every hook, in packet order.
    pub const ALL: [Self; 4] = [
        Self::Prerouting,
        Self::Input,
        Self::Output,
        Self::Postrouting,
    ];

    /// The iptables chain name, e.g. `PREROUTING`.
    pub fn iptables(self) -> &'static str {
        match self {
            Self::Prerouting => "PREROUTING",
            Self::Input => "INPUT",
            Self::Output => "OUTPUT",
            Self::Postrouting => "POSTROUTING",
        }
    }

    /// The nft hook (and vxlab's base chain) name, e.g. `prerouting`.
    pub fn nft(self) -> &'static str {
        match self {
            Self::Prerouting => "prerouting",
            Self::Input => "input",
            Self::Output => "output",
            Self::Postrouting => "postrouting",
        }
    }

    /// Priority of vxlab's nat base chain: -100 (dstnat) before routing and on output,
    /// 100 (srcnat) after, as iptables' nat table.
    pub fn priority(self) -> i32 {
        match self {
            Self::Prerouting | Self::Output => -100,
            Self::Input | Self::Postrouting => 100,
        }
    }

    /// Whether packets there have an input interface (`-i`).
    pub fn has_input(self) -> bool {
        matches!(self, Self::Prerouting | Self::Input)
    }

    /// Parses a lower-case name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|h| h.nft() == s)
    }
}

/// What a NAT rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NatKind {
    /// Rewrite the destination (`-j DNAT --to-destination`).
    Dnat,
    /// Rewrite the source (`-j SNAT --to-source`).
    Snat,
    /// Rewrite the source to the outgoing interface's address (`-j MASQUERADE`).
    Masquerade,
}

/// An address match, possibly negated (`! -s 10.0.0.0/24`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AddrMatch {
    /// The prefix; a single address is a /32.
    pub net: Ipv4Net,
    /// Matches everything but `net`.
    pub negated: bool,
}

/// An interface match, possibly negated (`! -o eth0`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IfMatch {
    /// Interface name in the rule's node.
    pub name: String,
    /// Matches every other interface.
    pub negated: bool,
}

/// Where DNAT or SNAT sends the packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct NatTo {
    /// New address.
    pub addr: Ipv4Addr,
    /// New port; unchanged if `None`.
    pub port: Option<u16>,
}

impl fmt::Display for NatTo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            Some(p) => write!(f, "{}:{p}", self.addr),
            None => write!(f, "{}", self.addr),
        }
    }
}

/// A `[[nat]]` rule, installed in its node's `ip vxlab` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NatRule {
    /// Node whose nat table gets it.
    pub node: String,
    /// DNAT, SNAT or MASQUERADE.
    pub kind: NatKind,
    /// The hook (built-in chain).
    pub hook: Hook,
    /// Source match.
    pub src: Option<AddrMatch>,
    /// Destination match.
    pub dst: Option<AddrMatch>,
    /// Protocol match.
    pub proto: Option<Proto>,
    /// Destination port match (needs `proto`).
    pub dport: Option<u16>,
    /// Input interface match.
    pub iif: Option<IfMatch>,
    /// Output interface match.
    pub oif: Option<IfMatch>,
    /// Only packets of IPVS connections (`-m ipvs --ipvs`).
    pub ipvs: bool,
    /// New destination (DNAT) or source (SNAT).
    pub to: Option<NatTo>,
    /// Comment shown with the rule.
    pub comment: Option<String>,
}
