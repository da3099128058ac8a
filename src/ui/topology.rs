//! What the Topology pane shows, derived once from the lab: hosts as boxes holding their
//! namespaces, each namespace with its interfaces and what they connect to; and where each
//! node lands on screen ([`geometry`]), shared by the drawing and by mouse hit-testing.

use ratatui::layout::Rect;

use crate::model::{Lab, NodeKind};

/// One interface of a node and what it is wired to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfaceView {
    /// Interface name.
    pub name: String,
    /// The chip shown: `veth101↔hostA:veth100`, `edge_bridge[veth103 veth104]`, `vxlan0 vni 100`.
    pub chip: String,
}

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
    /// Its interfaces.
    pub ifaces: Vec<IfaceView>,
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
}

/// The lab's topology as the pane draws it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopoView {
    /// Hosts, in lab order.
    pub hosts: Vec<HostView>,
    /// Every node, host by host, the underlay last.
    pub nodes: Vec<NodeView>,
    /// The underlay switch node, if any.
    pub underlay: Option<usize>,
    /// One line per VXLAN network: who tunnels to whom over the underlay.
    pub tunnels: Vec<String>,
}

fn host_of(id: &str) -> &str {
    id.split('/').next().unwrap_or(id)
}

/// How node `to` is named from inside node `from`'s host box.
fn relative(from: &str, to: &str) -> String {
    if host_of(from) == host_of(to) {
        to.rsplit('/').next().unwrap_or(to).to_string()
    } else {
        to.to_string()
    }
}

impl TopoView {
    /// The topology of `lab`.
    pub fn of_lab(lab: &Lab) -> Self {
        let mut t = Self::default();
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
            let i = t.nodes.len();
            t.nodes.push(NodeView {
                id: n.id.clone(),
                netns: n.netns.clone(),
                kind: n.kind,
                label: n.id.rsplit('/').next().unwrap_or(&n.id).to_string(),
                ifaces: ifaces(lab, &n.id),
            });
            if n.kind == NodeKind::Underlay {
                t.underlay = Some(i);
                continue;
            }
            let host = host_of(&n.id);
            match t.hosts.iter_mut().find(|h| h.name == host) {
                Some(h) => h.nodes.push(i),
                None => t.hosts.push(HostView {
                    name: host.to_string(),
                    underlay: lab
                        .addresses
                        .iter()
                        .find(|a| a.dev.node == host && a.origin == crate::model::Origin::Underlay)
                        .map(|a| a.address.addr().to_string()),
                    nodes: vec![i],
                }),
            }
        }
        let mut vnis: Vec<u32> = lab.vxlans.iter().map(|v| v.vni).collect();
        vnis.sort_unstable();
        vnis.dedup();
        for vni in vnis {
            let ends: Vec<&crate::model::Vxlan> =
                lab.vxlans.iter().filter(|v| v.vni == vni).collect();
            let names: Vec<String> = ends.iter().map(|v| v.dev.to_string()).collect();
            let port = ends
                .iter()
                .find_map(|v| v.dstport)
                .map_or("8472 (kernel default)".to_string(), |p| p.to_string());
            let how = match ends.iter().find_map(|v| v.group) {
                Some(g) => format!("multicast {g}"),
                None => "unicast".to_string(),
            };
            t.tunnels.push(format!(
                "VXLAN vni {vni}: {} over the underlay, udp {port}, {how}",
                names.join(" ⇄ ")
            ));
        }
        t
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
}

fn ifaces(lab: &Lab, node: &str) -> Vec<IfaceView> {
    let mut out = Vec::new();
    for b in lab.bridges.iter().filter(|b| b.dev.node == node) {
        out.push(IfaceView {
            name: b.dev.name.clone(),
            chip: format!("{}[{}]", b.dev.name, b.ports.join(" ")),
        });
    }
    for v in &lab.veths {
        for (me, peer) in [(&v.a, &v.b), (&v.b, &v.a)] {
            if me.node == node {
                let chip = if lab
                    .node(&peer.node)
                    .is_some_and(|n| n.kind == NodeKind::Underlay)
                {
                    format!("{}↔underlay", me.name)
                } else {
                    format!("{}↔{}:{}", me.name, relative(node, &peer.node), peer.name)
                };
                out.push(IfaceView {
                    name: me.name.clone(),
                    chip,
                });
            }
        }
    }
    for v in lab.vxlans.iter().filter(|v| v.dev.node == node) {
        let mut chip = format!("{} vni {}", v.dev.name, v.vni);
        if let Some(r) = v.remote.or(v.group) {
            chip.push('→');
            chip.push_str(&r.to_string());
        }
        out.push(IfaceView {
            name: v.dev.name.clone(),
            chip,
        });
    }
    out
}

/// Where one node is drawn: its rectangle and its chips, line by line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSpot {
    /// Node index.
    pub node: usize,
    /// Rows it occupies (label column included).
    pub rect: Rect,
    /// Indices of its interfaces on each line.
    pub lines: Vec<Vec<usize>>,
    /// Width of the label column.
    pub label_width: u16,
}

/// Where everything of the Topology pane is drawn.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Geometry {
    /// Each host's box.
    pub boxes: Vec<Rect>,
    /// Each node's spot.
    pub spots: Vec<NodeSpot>,
    /// Lines below the boxes: the underlay and the tunnels.
    pub footer: Rect,
}

fn width(s: &str) -> u16 {
    u16::try_from(s.chars().count()).unwrap_or(u16::MAX)
}

/// Wraps chips (by index) into lines at most `w` columns wide, one space apart.
fn wrap(node: &NodeView, w: u16) -> Vec<Vec<usize>> {
    let mut lines: Vec<Vec<usize>> = vec![Vec::new()];
    let mut used = 0u16;
    for (i, f) in node.ifaces.iter().enumerate() {
        let cw = width(&f.chip);
        let line = lines.last_mut().expect("never empty");
        if !line.is_empty() && used + 1 + cw > w {
            lines.push(vec![i]);
            used = cw;
        } else {
            used += cw + u16::from(!line.is_empty());
            line.push(i);
        }
    }
    lines
}

/// Lines the footer needs.
fn footer_lines(t: &TopoView) -> u16 {
    u16::try_from(t.tunnels.len()).unwrap_or(0) + u16::from(t.underlay.is_some())
}

/// Lays the pane's inner `area` out.
pub fn geometry(t: &TopoView, area: Rect) -> Geometry {
    let mut geo = Geometry::default();
    let hosts = u16::try_from(t.hosts.len().max(1)).unwrap_or(1);
    let bw = area.width / hosts;
    let footer = footer_lines(t).min(area.height);
    let box_h = area.height - footer;
    for (hi, h) in t.hosts.iter().enumerate() {
        let left = area.x + bw * u16::try_from(hi).unwrap_or(0);
        let host_box = Rect::new(left, area.y, bw, box_h);
        geo.boxes.push(host_box);
        let inner_w = bw.saturating_sub(2);
        let label_w = h
            .nodes
            .iter()
            .map(|&i| width(&t.nodes[i].label) + 2)
            .max()
            .unwrap_or(0)
            .min(inner_w / 3);
        let mut top = host_box.y + 1;
        for &i in &h.nodes {
            let lines = wrap(&t.nodes[i], inner_w.saturating_sub(label_w));
            let hgt = u16::try_from(lines.len()).unwrap_or(1);
            if top + hgt > host_box.bottom().saturating_sub(1) {
                break;
            }
            geo.spots.push(NodeSpot {
                node: i,
                rect: Rect::new(left + 1, top, inner_w, hgt),
                lines,
                label_width: label_w,
            });
            top += hgt;
        }
    }
    geo.footer = Rect::new(area.x, area.y + box_h, area.width, footer);
    if let Some(u) = t.underlay
        && footer > 0
    {
        let label_w = width(&t.nodes[u].label) + 2;
        geo.spots.push(NodeSpot {
            node: u,
            rect: Rect::new(area.x, geo.footer.y, area.width, 1),
            lines: vec![(0..t.nodes[u].ifaces.len()).collect()],
            label_width: label_w,
        });
    }
    geo
}

/// Rows the pane needs (borders included) to show everything at `width` columns.
pub fn desired_height(t: &TopoView, columns: u16) -> u16 {
    let hosts = u16::try_from(t.hosts.len().max(1)).unwrap_or(1);
    let inner_w = (columns.saturating_sub(2) / hosts).saturating_sub(2);
    let tallest = t
        .hosts
        .iter()
        .map(|h| {
            let label_w = h
                .nodes
                .iter()
                .map(|&i| width(&t.nodes[i].label) + 2)
                .max()
                .unwrap_or(0)
                .min(inner_w / 3);
            h.nodes
                .iter()
                .map(|&i| {
                    u16::try_from(wrap(&t.nodes[i], inner_w.saturating_sub(label_w)).len())
                        .unwrap_or(1)
                })
                .sum::<u16>()
        })
        .max()
        .unwrap_or(0);
    tallest + 2 + footer_lines(t) + 2
}
