//! A namespace's [`Tables`] as the rows of the panel's five tabs: each row a key (what
//! identifies it between two dumps) and the cells shown.

use std::fmt::Write as _;

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
}

impl Tab {
    /// Every tab, in display order.
    pub const ALL: [Self; 5] = [
        Self::Links,
        Self::Addresses,
        Self::Routes,
        Self::Neighbours,
        Self::Fdb,
    ];

    /// Title on the tab bar.
    pub fn title(self) -> &'static str {
        match self {
            Self::Links => "links",
            Self::Addresses => "addresses",
            Self::Routes => "routes",
            Self::Neighbours => "neighbours",
            Self::Fdb => "fdb",
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
        }
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

fn link(l: &LinkRow) -> Row {
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

fn route(r: &RouteRow) -> Row {
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

fn neigh(n: &NeighRow) -> Row {
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

fn fdb(f: &FdbRow) -> Row {
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

/// The rows of tab `tab` of `t`, in the kernel's order.
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
    }
}

/// The label of `tab` on the tab bar: ` 1 links `.
pub fn tab_label(tab: Tab) -> String {
    format!(" {} {} ", tab.index() + 1, tab.title())
}

/// The tab whose label is at column `x` of the tab bar.
pub fn tab_at(x: u16) -> Option<Tab> {
    let mut start = 0usize;
    for t in Tab::ALL {
        let end = start + tab_label(t).chars().count();
        if (start..end).contains(&usize::from(x)) {
            return Some(t);
        }
        start = end;
    }
    None
}
