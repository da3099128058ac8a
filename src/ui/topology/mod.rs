//! The lab as the Topology pane draws it, derived once from the lab: a graph whose nodes
//! are namespaces and whose links are veth pairs, the hosts' wires to the underlay switch
//! and the VXLAN tunnels between VTEPs. Each host's namespaces form a tree rooted at the
//! host's own namespace, its veths the branches ([`Row`]); where the pane lands each of
//! them is [`layout`].

pub mod layout;

use crate::model::{Lab, NodeKind};

pub use layout::{Target, desired_height, geometry};

/// One namespace of the lab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeView {
    /// Node id (`HOST`, `HOST/NAME` or `underlay`).
    pub id: String,
    /// Namespace name.
    pub netns: String,
    /// What it stands for.
    pub kind: NodeKind,
    /// Name shown in its host's box.
    pub label: String,
    /// Its bridges.
    pub bridges: Vec<String>,
    /// Its VXLAN devices.
    pub vteps: Vec<String>,
}

/// What a link is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    /// A veth pair between two namespaces.
    Veth,
    /// A veth pair from a host to the underlay switch.
    Underlay,
    /// A VXLAN network: its VTEPs, over the underlay.
    Tunnel,
}

/// A link between nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkView {
    /// What it is.
    pub kind: LinkKind,
    /// Its ends: node index and interface (a tunnel has one per VTEP).
    pub ends: Vec<(usize, String)>,
    /// How it is drawn: `veth104═veth105`, `eth0`, `vni 100`.
    pub label: String,
    /// More about it: the bridge a veth end is a port of, a tunnel's port and mode.
    pub detail: String,
}

impl LinkView {
    /// `node:iface` of each end, for the status line and the packet filter.
    pub fn ends_text(&self, t: &TopoView) -> String {
        self.ends
            .iter()
            .map(|(n, i)| format!("{}:{i}", t.nodes[*n].id))
            .collect::<Vec<_>>()
            .join(" ⇄ ")
    }
}

/// One line of a host's tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A namespace, reached from its parent by `link` (none for a root).
    Node {
        /// The node.
        node: usize,
        /// The link from its parent.
        link: Option<usize>,
    },
    /// A link to a node drawn elsewhere (the tree's other branches, another host).
    Cross {
        /// The link.
        link: usize,
        /// The node at its other end.
        node: usize,
    },
    /// Leaves of one parent, each reached by its own link, packed side by side (compact
    /// layout).
    Leaves(Vec<(usize, usize)>),
}

/// One line of a host's tree: its guides (`│ `, `  ` per level above it), whether it is
/// its parent's last child, and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Depth (0 for a root).
    pub depth: usize,
    /// Guides of the levels above.
    pub guides: String,
    /// Whether it is the last child of its parent.
    pub last: bool,
    /// What it holds.
    pub item: Item,
}

/// An emulated machine: a box holding its namespaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostView {
    /// Host name.
    pub name: String,
    /// Its underlay address, if it has one.
    pub underlay: Option<String>,
    /// Its nodes (indices into [`TopoView::nodes`]), the host's own namespace first.
    pub nodes: Vec<usize>,
    /// Its tree, one row per namespace or link.
    pub rows: Vec<Row>,
    /// The same with sibling leaves packed into shared rows.
    pub compact: Vec<Row>,
    /// Its links to the underlay switch.
    pub uplinks: Vec<usize>,
    /// Columns its box needs to show its full tree.
    pub demand: u16,
}

/// The lab's topology as the pane draws it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopoView {
    /// Hosts, in lab order.
    pub hosts: Vec<HostView>,
    /// Every node, host by host, the underlay last.
    pub nodes: Vec<NodeView>,
    /// Every link: veths, then uplinks, then tunnels.
    pub links: Vec<LinkView>,
    /// The underlay switch node, if any.
    pub underlay: Option<usize>,
    /// The tunnels (indices into [`TopoView::links`]), by VNI.
    pub tunnels: Vec<usize>,
    /// Nodes in the order they are drawn (host by host, down each tree), the underlay
    /// last: the order ↑↓ walks them in.
    pub order: Vec<usize>,
}

fn host_of(id: &str) -> &str {
    id.split('/').next().unwrap_or(id)
}

/// Leaves of one parent packed into one row when it has more than this many.
const PACK_OVER: usize = 3;

impl TopoView {
    /// The topology of `lab`.
    pub fn of_lab(lab: &Lab) -> Self {
        let mut t = Self::default();
        t.add_nodes(lab);
        t.add_links(lab);
        for h in 0..t.hosts.len() {
            let rows = t.tree(h);
            t.hosts[h].compact = pack(&t, &rows);
            t.order.extend(rows.iter().filter_map(|r| match r.item {
                Item::Node { node, .. } => Some(node),
                _ => None,
            }));
            t.hosts[h].rows = rows;
        }
        t.order.extend(t.underlay);
        for h in 0..t.hosts.len() {
            t.hosts[h].demand = layout::demand(&t, h);
        }
        t
    }

    fn add_nodes(&mut self, lab: &Lab) {
        let mut order: Vec<&crate::model::Node> = Vec::new();
        for h in lab.nodes.iter().filter(|n| n.kind == NodeKind::Host) {
            order.push(h);
            order.extend(
                lab.nodes
                    .iter()
                    .filter(|n| n.kind == NodeKind::Namespace && host_of(&n.id) == h.id),
            );
        }
        for n in &lab.nodes {
            if !order.iter().any(|o| o.id == n.id) && n.kind != NodeKind::Underlay {
                order.push(n);
            }
        }
        order.extend(lab.nodes.iter().filter(|n| n.kind == NodeKind::Underlay));
        for n in order {
            let i = self.nodes.len();
            self.nodes.push(NodeView {
                id: n.id.clone(),
                netns: n.netns.clone(),
                kind: n.kind,
                label: n.id.rsplit('/').next().unwrap_or(&n.id).to_string(),
                bridges: lab
                    .bridges
                    .iter()
                    .filter(|b| b.dev.node == n.id)
                    .map(|b| b.dev.name.clone())
                    .collect(),
                vteps: lab
                    .vxlans
                    .iter()
                    .filter(|v| v.dev.node == n.id)
                    .map(|v| v.dev.name.clone())
                    .collect(),
            });
            if n.kind == NodeKind::Underlay {
                self.underlay = Some(i);
                continue;
            }
            let host = host_of(&n.id);
            match self.hosts.iter_mut().find(|h| h.name == host) {
                Some(h) => h.nodes.push(i),
                None => self.hosts.push(HostView {
                    name: host.to_string(),
                    underlay: lab
                        .addresses
                        .iter()
                        .find(|a| a.dev.node == host && a.origin == crate::model::Origin::Underlay)
                        .map(|a| a.address.addr().to_string()),
                    nodes: vec![i],
                    rows: Vec::new(),
                    compact: Vec::new(),
                    uplinks: Vec::new(),
                    demand: 0,
                }),
            }
        }
    }

    fn add_links(&mut self, lab: &Lab) {
        let port_of = |node: &str, iface: &str| {
            lab.bridges
                .iter()
                .find(|b| b.dev.node == node && b.ports.iter().any(|p| p == iface))
                .map(|b| b.dev.name.clone())
        };
        let mut uplinks = Vec::new();
        for v in &lab.veths {
            let (Some(a), Some(b)) = (self.index(&v.a.node), self.index(&v.b.node)) else {
                continue;
            };
            let to_underlay = |i: usize| self.nodes[i].kind == NodeKind::Underlay;
            if to_underlay(a) || to_underlay(b) {
                let (me, sw) = if to_underlay(b) {
                    (&v.a, &v.b)
                } else {
                    (&v.b, &v.a)
                };
                uplinks.push(LinkView {
                    kind: LinkKind::Underlay,
                    ends: vec![
                        (self.index(&me.node).unwrap_or(a), me.name.clone()),
                        (self.index(&sw.node).unwrap_or(b), sw.name.clone()),
                    ],
                    label: me.name.clone(),
                    detail: "to the underlay switch".into(),
                });
                continue;
            }
            let bridges: Vec<String> = [(&v.a, "a"), (&v.b, "b")]
                .iter()
                .filter_map(|(e, _)| {
                    port_of(&e.node, &e.name).map(|br| format!("{} on {br}", e.name))
                })
                .collect();
            self.links.push(LinkView {
                kind: LinkKind::Veth,
                ends: vec![(a, v.a.name.clone()), (b, v.b.name.clone())],
                label: format!("{}═{}", v.a.name, v.b.name),
                detail: bridges.join(", "),
            });
        }
        for l in uplinks {
            let host = host_of(&self.nodes[l.ends[0].0].id).to_string();
            let i = self.links.len();
            self.links.push(l);
            if let Some(h) = self.hosts.iter_mut().find(|h| h.name == host) {
                h.uplinks.push(i);
            }
        }
        let mut vnis: Vec<u32> = lab.vxlans.iter().map(|v| v.vni).collect();
        vnis.sort_unstable();
        vnis.dedup();
        for vni in vnis {
            let ends: Vec<&crate::model::Vxlan> =
                lab.vxlans.iter().filter(|v| v.vni == vni).collect();
            let port = ends
                .iter()
                .find_map(|v| v.dstport)
                .map_or("8472 (kernel default)".to_string(), |p| p.to_string());
            let how = match (
                ends.iter().find_map(|v| v.group),
                ends.iter().find_map(|v| v.remote),
            ) {
                (Some(g), _) => format!("multicast {g}"),
                (None, Some(_)) => "unicast, fixed remote".to_string(),
                (None, None) => "unicast, FDB".to_string(),
            };
            self.tunnels.push(self.links.len());
            self.links.push(LinkView {
                kind: LinkKind::Tunnel,
                ends: ends
                    .iter()
                    .filter_map(|v| Some((self.index(&v.dev.node)?, v.dev.name.clone())))
                    .collect(),
                label: format!("vni {vni}"),
                detail: format!("udp {port}, {how}"),
            });
        }
    }

    /// Host `h`'s tree: from its own namespace along its veths, each namespace once; a
    /// veth to a namespace already drawn (or in another host) is a cross row.
    fn tree(&self, h: usize) -> Vec<Row> {
        let host = &self.hosts[h];
        let mut seen = vec![false; self.nodes.len()];
        let mut used = vec![false; self.links.len()];
        let mut rows = Vec::new();
        for &root in &host.nodes {
            if seen[root] {
                continue;
            }
            seen[root] = true;
            rows.push(Row {
                depth: 0,
                guides: String::new(),
                last: true,
                item: Item::Node {
                    node: root,
                    link: None,
                },
            });
            self.branch(root, 1, "", &mut seen, &mut used, &mut rows);
        }
        rows
    }

    /// The links of node `n` not drawn yet, each with the node at its other end.
    fn edges(&self, n: usize, used: &[bool]) -> Vec<(usize, usize)> {
        self.links
            .iter()
            .enumerate()
            .filter(|(i, l)| l.kind == LinkKind::Veth && !used[*i])
            .filter_map(|(i, l)| {
                let me = l.ends.iter().position(|(x, _)| *x == n)?;
                Some((i, l.ends[1 - me].0))
            })
            .collect()
    }

    fn branch(
        &self,
        n: usize,
        depth: usize,
        guides: &str,
        seen: &mut [bool],
        used: &mut [bool],
        rows: &mut Vec<Row>,
    ) {
        let edges = self.edges(n, used);
        for &(l, _) in &edges {
            used[l] = true;
        }
        let children: Vec<(usize, usize, bool)> = edges
            .iter()
            .map(|&(l, o)| {
                let child = !seen[o] && host_of(&self.nodes[o].id) == host_of(&self.nodes[n].id);
                if child {
                    seen[o] = true;
                }
                (l, o, child)
            })
            .collect();
        for (k, &(l, o, child)) in children.iter().enumerate() {
            let last = k + 1 == children.len();
            if !child {
                rows.push(Row {
                    depth,
                    guides: guides.to_string(),
                    last,
                    item: Item::Cross { link: l, node: o },
                });
                continue;
            }
            rows.push(Row {
                depth,
                guides: guides.to_string(),
                last,
                item: Item::Node {
                    node: o,
                    link: Some(l),
                },
            });
            let below = format!("{guides}{}", if last { "  " } else { "│ " });
            self.branch(o, depth + 1, &below, seen, used, rows);
        }
    }

    /// Index of node `id`.
    pub fn index(&self, id: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.id == id)
    }

    /// The host box holding node `i`, and its position there.
    pub fn host_of_node(&self, i: usize) -> Option<(usize, usize)> {
        self.hosts
            .iter()
            .enumerate()
            .find_map(|(h, host)| host.nodes.iter().position(|&n| n == i).map(|p| (h, p)))
    }

    /// The links of node `i`.
    pub fn links_of(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        self.links
            .iter()
            .enumerate()
            .filter(move |(_, l)| l.ends.iter().any(|(n, _)| *n == i))
            .map(|(k, _)| k)
    }
}

/// `rows` with the leaves of each parent (namespaces with no branch of their own, no
/// bridge, no VTEP) packed into one row when there are more than [`PACK_OVER`].
fn pack(t: &TopoView, rows: &[Row]) -> Vec<Row> {
    let leaf = |r: &Row, next: Option<&Row>| match r.item {
        Item::Node {
            node,
            link: Some(l),
        } => {
            let n = &t.nodes[node];
            let has_children = next.is_some_and(|x| x.depth > r.depth);
            (!has_children && n.bridges.is_empty() && n.vteps.is_empty()).then_some((l, node))
        }
        _ => None,
    };
    let mut out: Vec<Row> = Vec::new();
    let mut i = 0;
    while i < rows.len() {
        let r = &rows[i];
        let mut group = Vec::new();
        let mut j = i;
        while j < rows.len()
            && rows[j].depth == r.depth
            && rows[j].guides == r.guides
            && let Some(x) = leaf(&rows[j], rows.get(j + 1))
        {
            group.push(x);
            j += 1;
        }
        if group.len() > PACK_OVER {
            out.push(Row {
                depth: r.depth,
                guides: r.guides.clone(),
                last: rows[j - 1].last,
                item: Item::Leaves(group),
            });
            i = j;
        } else {
            out.push(r.clone());
            i += 1;
        }
    }
    out
}
