//! A namespace's [`Tables`] (and its polled netfilter state, [`Polled`]) as the rows of
//! the panel's tabs: each row a key (what identifies it between two dumps) and the cells
//! shown.

use std::fmt::Write as _;
use std::net::IpAddr;

use super::netfilter::{NftRule, Polled};
use crate::conntrack::{CtRow, Tuple};
use crate::ipvs::{RealRow, ServiceRow};
use crate::model::Forward;
use crate::observe::{FdbRow, LinkRow, NeighRow, RouteRow, Tables};

/// One tab of the Tables pane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tab {
    /// `ip link`.
    Links,
    /// `ip addr`.
    Addresses,
    /// `ip route`.
    Routes,
    /// `ip neigh`.
    Neighbours,
    /// `bridge fdb`.
    Fdb,
    /// nftables rules and their counters (`nft list ruleset`), polled.
    Nat,
    /// IPVS services and real servers (`ipvsadm -Ln`), or their emulation, polled.
    Ipvs,
    /// The conntrack table (`conntrack -L`), polled.
    Conntrack,
}

impl Tab {
    /// Every tab, in display order.
    pub const ALL: [Self; 8] = [
        Self::Links,
        Self::Addresses,
        Self::Routes,
        Self::Neighbours,
        Self::Fdb,
        Self::Nat,
        Self::Ipvs,
        Self::Conntrack,
    ];

    /// The tabs read by the netlink watcher on every notification.
    pub const WATCHED: [Self; 5] = [
        Self::Links,
        Self::Addresses,
        Self::Routes,
        Self::Neighbours,
        Self::Fdb,
    ];

    /// Whether the tab is polled (only for the selected node) rather than watched.
    pub fn polled(self) -> bool {
        !Self::WATCHED.contains(&self)
    }

    /// Title on the tab bar.
    pub fn title(self) -> &'static str {
        match self {
            Self::Links => "links",
            Self::Addresses => "addresses",
            Self::Routes => "routes",
            Self::Neighbours => "neighbours",
            Self::Fdb => "fdb",
            Self::Nat => "nat",
            Self::Ipvs => "ipvs",
            Self::Conntrack => "conntrack",
        }
    }

    /// Shorter title, for a narrow tab bar.
    pub fn short(self) -> &'static str {
        match self {
            Self::Addresses => "addr",
            Self::Neighbours => "neigh",
            Self::Conntrack => "ct",
            t => t.title(),
        }
    }

    /// Position in [`Tab::ALL`].
    pub fn index(self) -> usize {
        Self::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }

    /// The tab at position `i` of [`Tab::ALL`], wrapping around.
    pub fn nth(i: usize) -> Self {
        Self::ALL[i % Self::ALL.len()]
    }

    /// Column headers.
    pub fn headers(self) -> &'static [&'static str] {
        match self {
            Self::Links => &["name", "kind", "state", "mtu", "mac", "master / details"],
            Self::Addresses => &["dev", "address"],
            Self::Routes => &["to", "via", "dev", "proto"],
            Self::Neighbours => &["to", "dev", "lladdr", "state"],
            Self::Fdb => &["mac", "dev", "dst", "vni", "self/master", "state"],
            Self::Nat => &["chain", "pkts", "bytes", "rule"],
            Self::Ipvs => &[
                "service / real server",
                "sched",
                "weight",
                "actv",
                "inact",
                "",
            ],
            Self::Conntrack => &["proto", "timeout", "state", "nat", "original", "reply"],
        }
    }

    /// Width of each column (the last one takes the rest).
    pub fn widths(self) -> &'static [u16] {
        match self {
            Self::Links => &[14, 6, 11, 5, 17, 20],
            Self::Addresses => &[16, 30],
            Self::Routes => &[18, 15, 14, 8],
            Self::Neighbours => &[15, 12, 17, 10],
            Self::Fdb => &[17, 11, 15, 3, 6, 9],
            Self::Nat => &[12, 5, 5, 30],
            Self::Ipvs => &[22, 6, 6, 4, 5, 19],
            Self::Conntrack => &[5, 7, 11, 4, 28, 28],
        }
    }

    /// The columns that change without it being news (a conntrack entry's timeout counts
    /// down on every poll): they are shown but do not mark the row changed.
    pub fn volatile(self) -> &'static [usize] {
        if self == Self::Conntrack { &[1] } else { &[] }
    }
}

/// A row ready for display: `key` identifies it across dumps, `cells` are shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Identity across dumps.
    pub key: String,
    /// Cells, one per column of the tab.
    pub cells: Vec<String>,
}

fn opt<T: ToString>(v: Option<&T>) -> String {
    v.map(ToString::to_string).unwrap_or_default()
}

pub(super) fn link(l: &LinkRow) -> Row {
    let state = if l.up {
        l.state.clone()
    } else {
        "DOWN (admin)".into()
    };
    let details = match (&l.master, &l.vxlan) {
        (Some(m), _) => format!("master {m}"),
        (None, Some(v)) => {
            let mut s = format!("vni {} port {}", v.vni, v.dstport);
            if let Some(r) = v.remote {
                let _ = write!(s, " remote {r}");
            }
            if v.proxy {
                s.push_str(" proxy");
            }
            if !v.learning {
                s.push_str(" nolearning");
            }
            s
        }
        (None, None) => String::new(),
    };
    Row {
        key: l.name.clone(),
        cells: vec![
            l.name.clone(),
            l.kind.clone(),
            state,
            l.mtu.to_string(),
            l.mac.clone(),
            details,
        ],
    }
}

pub(super) fn route(r: &RouteRow) -> Row {
    Row {
        key: format!("{} {} {}", r.to, opt(r.dev.as_ref()), opt(r.via.as_ref())),
        cells: vec![
            r.to.clone(),
            opt(r.via.as_ref()),
            opt(r.dev.as_ref()),
            r.proto.clone(),
        ],
    }
}

pub(super) fn neigh(n: &NeighRow) -> Row {
    Row {
        key: format!("{} {}", n.to, n.dev),
        cells: vec![
            n.to.to_string(),
            n.dev.clone(),
            opt(n.lladdr.as_ref()),
            n.state.clone(),
        ],
    }
}

pub(super) fn fdb(f: &FdbRow) -> Row {
    let owner = if f.self_ { "self" } else { "master" };
    let state = match f.state.as_str() {
        "dynamic" => "learned".to_string(),
        s => s.to_string(),
    };
    Row {
        // One MAC has one entry per device, but the all-zeros MAC (flooding) one per remote.
        key: if f.mac == "00:00:00:00:00:00" {
            format!("{} {} {} {}", f.mac, f.dev, opt(f.dst.as_ref()), f.self_)
        } else {
            format!("{} {} {}", f.mac, f.dev, f.self_)
        },
        cells: vec![
            f.mac.clone(),
            f.dev.clone(),
            opt(f.dst.as_ref()),
            opt(f.vni.as_ref()),
            owner.to_string(),
            state,
        ],
    }
}

/// A counter as `iptables -L -v` shows it: `999`, `12K`, `3M` (`-` if there is none).
fn counter(n: Option<u64>) -> String {
    let Some(mut n) = n else {
        return "-".into();
    };
    for unit in ["", "K", "M", "G", "T"] {
        if n < 100_000 {
            return format!("{n}{unit}");
        }
        n /= 1000;
    }
    format!("{n}P")
}

pub(super) fn nft_rule(r: &NftRule) -> Row {
    Row {
        key: format!(
            "{} {} {} {}",
            r.family,
            r.table,
            r.chain,
            r.handle.map_or_else(|| r.text.clone(), |h| h.to_string())
        ),
        cells: vec![
            if r.family == "ip" && r.table == crate::nat::TABLE {
                r.chain.clone()
            } else {
                format!("{} {} {}", r.family, r.table, r.chain)
            },
            counter(r.packets),
            counter(r.bytes),
            r.text.clone(),
        ],
    }
}

fn forward(f: Forward) -> &'static str {
    match f {
        Forward::Masq => "Masq",
        Forward::Droute => "Route",
        Forward::Tunnel => "Tunnel",
    }
}

fn ipvs(services: &[ServiceRow]) -> Vec<Row> {
    let mut out = Vec::new();
    for s in services {
        let name = service_name(s);
        let key = service_key(s);
        let note = if s.emulated {
            "EMULATED (nftables)"
        } else {
            ""
        };
        out.push(Row {
            key: key.clone(),
            cells: vec![
                name,
                s.scheduler.clone(),
                String::new(),
                String::new(),
                String::new(),
                note.into(),
            ],
        });
        for r in &s.reals {
            let (active, inactive) = if s.emulated {
                ("-".to_string(), "-".to_string())
            } else {
                (r.active.to_string(), r.inactive.to_string())
            };
            let real = format!("{}:{}", r.addr, r.port);
            out.push(Row {
                key: real_key(s, r),
                cells: vec![
                    format!("  -> {real}"),
                    forward(r.forward).into(),
                    r.weight.to_string(),
                    active,
                    inactive,
                    String::new(),
                ],
            });
        }
    }
    out
}

fn endpoint(addr: IpAddr, port: Option<u16>) -> String {
    match (addr, port) {
        (IpAddr::V6(a), Some(p)) => format!("[{a}]:{p}"),
        (a, Some(p)) => format!("{a}:{p}"),
        (a, None) => a.to_string(),
    }
}

/// A tuple as `src:sport→dst:dport` (ICMP: `src→dst id N`).
pub(super) fn tuple(t: &Tuple) -> String {
    let mut s = format!("{}→{}", endpoint(t.src, t.sport), endpoint(t.dst, t.dport));
    if let Some(id) = t.icmp_id {
        let _ = write!(s, " id {id}");
    }
    s
}

fn service_name(s: &ServiceRow) -> String {
    format!("{} {}:{}", s.proto.name().to_uppercase(), s.addr, s.port)
}

/// The key of an IPVS service's row.
pub(super) fn service_key(s: &ServiceRow) -> String {
    format!(
        "{}{}",
        service_name(s),
        if s.emulated { " emulated" } else { "" }
    )
}

/// The key of the row of real server `r` of service `s`.
pub(super) fn real_key(s: &ServiceRow, r: &RealRow) -> String {
    format!("{} -> {}:{}", service_key(s), r.addr, r.port)
}

pub(super) fn ct(c: &CtRow) -> Row {
    let original = tuple(&c.original);
    let state = match &c.state {
        Some(s) => s.clone(),
        None if !c.status.contains(&"SEEN_REPLY") => "UNREPLIED".into(),
        None if c.status.contains(&"ASSURED") => "ASSURED".into(),
        None => String::new(),
    };
    let nat = match (c.dst_nat, c.src_nat) {
        (true, true) => "both",
        (true, false) => "DNAT",
        (false, true) => "SNAT",
        (false, false) => "",
    };
    Row {
        key: format!("{} {original} {}", c.proto, opt(c.zone.as_ref())),
        cells: vec![
            c.proto.clone(),
            c.timeout.map(|t| format!("{t}s")).unwrap_or_default(),
            state,
            nat.into(),
            original,
            tuple(&c.reply),
        ],
    }
}

/// The rows of polled tab `tab` from `p`; `None` for a watched tab, or what could not be
/// read (`Err`).
pub fn polled_rows(p: &Polled, tab: Tab) -> Option<Result<Vec<Row>, String>> {
    Some(
        match tab {
            Tab::Nat => p.nat.as_ref().map(|v| v.iter().map(nft_rule).collect()),
            Tab::Ipvs => p.ipvs.as_ref().map(|v| ipvs(v)),
            Tab::Conntrack => p.conntrack.as_ref().map(|v| v.iter().map(ct).collect()),
            _ => return None,
        }
        .map_err(Clone::clone),
    )
}

/// The rows of watched tab `tab` of `t`, in the kernel's order (none for a polled tab).
pub fn rows(t: &Tables, tab: Tab) -> Vec<Row> {
    match tab {
        Tab::Links => t.links.iter().map(link).collect(),
        Tab::Addresses => t
            .addresses
            .iter()
            .map(|a| Row {
                key: format!("{} {}", a.dev, a.address),
                cells: vec![a.dev.clone(), a.address.clone()],
            })
            .collect(),
        Tab::Routes => t.routes.iter().map(route).collect(),
        Tab::Neighbours => t.neighbours.iter().map(neigh).collect(),
        Tab::Fdb => t.fdb.iter().map(fdb).collect(),
        Tab::Nat | Tab::Ipvs | Tab::Conntrack => Vec::new(),
    }
}

/// Whether the tab bar, `width` columns wide, uses the short titles: when the long ones
/// do not fit.
fn short_bar(width: u16) -> bool {
    let long: usize = Tab::ALL
        .iter()
        .map(|&t| tab_label(t, false).chars().count())
        .sum();
    long > usize::from(width)
}

/// The label of `tab` on the tab bar: ` 1 links ` (or, `short`, ` 1 link `).
pub fn tab_label(tab: Tab, short: bool) -> String {
    let title = if short { tab.short() } else { tab.title() };
    format!(" {} {title} ", tab.index() + 1)
}

/// The labels of the tab bar, `width` columns wide.
pub fn tab_labels(width: u16) -> Vec<(Tab, String)> {
    let short = short_bar(width);
    Tab::ALL.iter().map(|&t| (t, tab_label(t, short))).collect()
}

/// The tab whose label is at column `x` of the tab bar, `width` columns wide.
pub fn tab_at(x: u16, width: u16) -> Option<Tab> {
    let mut start = 0usize;
    for (t, label) in tab_labels(width) {
        let end = start + label.chars().count();
        if (start..end).contains(&usize::from(x)) {
            return Some(t);
        }
        start = end;
    }
    None
}
