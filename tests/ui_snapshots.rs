//! The live panel driven by synthetic messages into ratatui's `TestBackend`: screens are
//! snapshotted (tests/snapshots/), and update's effects, colours and the loop are checked.
//! No root, no kernel: the lab is labs/docker-overlay.toml, tables and frames are made up
//! (frames with `vxlab::decode::build`).

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use futures::StreamExt;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::{Color, Modifier};
use vxlab::capture::{Dir, Frame, Point};
use vxlab::decode::build::{arp, ethernet, icmp_echo_frame, mac_for, vxlan_frame};
use vxlab::decode::{EtherType, MacAddr};
use vxlab::model::Lab;
use vxlab::observe::{AddrRow, FdbRow, LinkRow, NeighRow, RouteRow, Tables};
use vxlab::ui::{Build, Cmd, Effects, Focus, Mode, Model, Msg, Phase, init, update, view};

const W: u16 = 160;
const H: u16 = 45;

fn lab() -> Lab {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/labs/docker-overlay.toml");
    Lab::from_source(&std::fs::read_to_string(path).expect("read the lab")).expect("valid lab")
}

/// The capture points a ping from hostA/container to hostB/container crosses.
const PATH: [(&str, &str, Dir); 10] = [
    ("hostA/container", "veth105", Dir::Out),
    ("hostA/sandbox_2", "veth104", Dir::In),
    ("hostA/sandbox_2", "vxlan0", Dir::Out),
    ("hostA", "eth0", Dir::Out),
    ("underlay", "hostA", Dir::In),
    ("underlay", "hostB", Dir::Out),
    ("hostB", "eth0", Dir::In),
    ("hostB/sandbox_2", "vxlan0", Dir::In),
    ("hostB/sandbox_2", "veth104", Dir::Out),
    ("hostB/container", "veth105", Dir::In),
];

fn points() -> Vec<Point> {
    PATH.iter()
        .map(|(node, iface, dir)| Point {
            node: (*node).into(),
            netns: format!("vx.docker-overlay.{}", node.replace('/', ".")),
            iface: (*iface).into(),
            dir: *dir,
        })
        .collect()
}

const T0: u64 = 1_700_000_000_000_000_000;

/// An ARP exchange, then one echo request seen at every point of [`PATH`] (encapsulated
/// between the two VTEPs), then its reply at the first and last points.
fn frames() -> Vec<Frame> {
    let (a, b) = (Ipv4Addr::new(10, 0, 0, 4), Ipv4Addr::new(10, 0, 0, 14));
    let who_has = ethernet(
        MacAddr([0xff; 6]),
        mac_for(a),
        EtherType::ARP,
        &arp(1, mac_for(a), a, MacAddr([0; 6]), b),
    );
    let mut out = vec![Frame {
        point: 0,
        ts_ns: T0,
        len: 42,
        data: who_has,
    }];
    let request = icmp_echo_frame(a, b, true, 7, 1, b"vxlab");
    let outer = vxlan_frame(
        Ipv4Addr::new(192, 168, 228, 148),
        Ipv4Addr::new(192, 168, 228, 149),
        (40_000, 4789),
        100,
        &request,
    );
    for (i, _) in PATH.iter().enumerate() {
        let data = if (3..=6).contains(&i) {
            outer.clone()
        } else {
            request.clone()
        };
        out.push(Frame {
            point: i,
            ts_ns: T0 + 1_000_000 + 10_000 * u64::try_from(i).unwrap(),
            len: u32::try_from(data.len()).unwrap(),
            data,
        });
    }
    let reply = icmp_echo_frame(b, a, false, 7, 1, b"vxlab");
    for (p, t) in [(9, 2_000_000), (0, 2_500_000)] {
        out.push(Frame {
            point: p,
            ts_ns: T0 + t,
            len: u32::try_from(reply.len()).unwrap(),
            data: reply.clone(),
        });
    }
    out
}

fn link(index: u32, name: &str, kind: &str, master: Option<&str>) -> LinkRow {
    LinkRow {
        index,
        name: name.into(),
        kind: kind.into(),
        up: true,
        state: if kind.is_empty() { "UNKNOWN" } else { "UP" }.into(),
        mtu: if kind.is_empty() { 65536 } else { 1500 },
        mac: format!("02:42:0a:00:00:{index:02x}"),
        master: master.map(Into::into),
        vxlan: None,
    }
}

fn fdb(mac: &str, dst: Option<[u8; 4]>, state: &str) -> FdbRow {
    FdbRow {
        dev: "vxlan0".into(),
        mac: mac.into(),
        dst: dst.map(IpAddr::from),
        vni: None,
        self_: true,
        master: None,
        state: state.into(),
    }
}

/// The tables of `hostA/sandbox_2`, with FDB `fdb_rows`.
fn sandbox_2(fdb_rows: Vec<FdbRow>) -> Tables {
    Tables {
        links: vec![
            link(1, "lo", "", None),
            link(2, "edge_bridge", "bridge", None),
            link(3, "veth103", "veth", Some("edge_bridge")),
            link(4, "veth104", "veth", Some("edge_bridge")),
            link(5, "vxlan0", "vxlan", Some("edge_bridge")),
        ],
        addresses: vec![AddrRow {
            dev: "edge_bridge".into(),
            address: "10.0.0.1/24".into(),
        }],
        routes: vec![RouteRow {
            to: "10.0.0.0/24".into(),
            via: None,
            dev: Some("edge_bridge".into()),
            proto: "kernel".into(),
        }],
        neighbours: vec![NeighRow {
            dev: "vxlan0".into(),
            to: IpAddr::from([10, 0, 0, 14]),
            lladdr: Some("02:42:0a:00:00:0e".into()),
            state: "PERMANENT".into(),
        }],
        fdb: fdb_rows,
    }
}

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn chars(m: &mut Model, s: &str) -> Vec<Cmd> {
    s.chars()
        .flat_map(|c| update(m, key(KeyCode::Char(c))))
        .collect()
}

/// The panel attached to a running docker-overlay, capturing on [`PATH`], `hostA/sandbox_2`
/// selected with its tables dumped once.
fn attached(color: bool) -> Model {
    let mut m = Model::new(lab(), Phase::Attached, (W, H), color);
    let cmds = init(&mut m);
    assert!(cmds.contains(&Cmd::StartCapture));
    let _ = update(
        &mut m,
        Msg::CaptureStarted {
            points: points(),
            failed: Vec::new(),
        },
    );
    m.selected = m.topo.index("hostA/sandbox_2").expect("node");
    let rows = vec![
        fdb("02:42:0a:00:00:0e", Some([192, 168, 228, 149]), "permanent"),
        fdb("02:42:0a:00:00:0c", Some([192, 168, 228, 149]), "permanent"),
    ];
    let _ = update(&mut m, Msg::Tick(Duration::from_secs(1)));
    let _ = update(
        &mut m,
        Msg::Tables {
            node: "hostA/sandbox_2".into(),
            tables: sandbox_2(rows),
        },
    );
    m
}

fn draw(m: &Model) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(m.size.0, m.size.1)).expect("terminal");
    t.draw(|f| view(m, f)).expect("draw");
    t
}

#[test]
fn overview_with_packets() {
    let mut m = attached(false);
    let _ = update(&mut m, Msg::Frames(frames()));
    insta::assert_snapshot!("overview", draw(&m).backend());
}

#[test]
fn fdb_entry_removed_changed_and_added_are_highlighted_then_fade() {
    let mut m = attached(true);
    let _ = update(&mut m, key(KeyCode::Char('5')));
    let _ = update(&mut m, Msg::Tick(Duration::from_secs(10)));
    let rows = vec![
        // 02:42:0a:00:00:0e deleted (`bridge fdb del`), :0c moved, :10 learned.
        fdb("02:42:0a:00:00:0c", Some([192, 168, 228, 150]), "permanent"),
        fdb("02:42:0a:00:00:10", Some([192, 168, 228, 149]), "dynamic"),
    ];
    let _ = update(
        &mut m,
        Msg::Tables {
            node: "hostA/sandbox_2".into(),
            tables: sandbox_2(rows),
        },
    );
    let t = draw(&m);
    insta::assert_snapshot!("fdb_removed", t.backend());
    // The removed row is struck out and red, the changed one yellow, the new one green.
    let buf = t.backend().buffer();
    let row_of = |needle: &str| {
        (0..H)
            .find(|&y| {
                (0..W)
                    .map(|x| buf[(x, y)].symbol())
                    .collect::<String>()
                    .contains(needle)
            })
            .expect("row on screen")
    };
    let cell = |needle: &str| buf[(4, row_of(needle))].clone();
    assert!(
        cell("02:42:0a:00:00:0e")
            .modifier
            .contains(Modifier::CROSSED_OUT)
    );
    assert_eq!(cell("02:42:0a:00:00:0e").fg, Color::Red);
    assert_eq!(cell("02:42:0a:00:00:0c").fg, Color::Yellow);
    assert_eq!(cell("02:42:0a:00:00:10").fg, Color::Green);
    // A few seconds later the marks have faded and the removed row is gone.
    let _ = update(&mut m, Msg::Tick(Duration::from_secs(13)));
    assert!(m.dirty);
    let _ = update(&mut m, Msg::Tick(Duration::from_secs(17)));
    let text = format!("{}", draw(&m).backend());
    assert!(!text.contains("02:42:0a:00:00:0e"), "{text}");
    assert!(text.contains("  02:42:0a:00:00:0c"), "{text}");
}

#[test]
fn selecting_a_packet_shows_its_journey() {
    let mut m = attached(false);
    let _ = update(&mut m, Msg::Frames(frames()));
    let _ = update(&mut m, key(KeyCode::Tab));
    let _ = update(&mut m, key(KeyCode::Tab));
    assert_eq!(m.focus, Focus::Packets);
    // Up from the newest: the reply twice, then the request at hostB/container.
    for _ in 0..3 {
        let _ = update(&mut m, key(KeyCode::Up));
    }
    let j = m.journey.as_ref().expect("journey");
    assert_eq!(j.current().expect("one").hops.len(), 10);
    assert_eq!(j.hop, 9);
    insta::assert_snapshot!("journey_selected", draw(&m).backend());
    let _ = update(&mut m, key(KeyCode::Enter));
    assert!(matches!(m.mode, Mode::Detail { .. }));
    insta::assert_snapshot!("packet_detail", draw(&m).backend());
    let _ = update(&mut m, key(KeyCode::Esc));
    assert_eq!(m.mode, Mode::Normal);
}

#[test]
fn ping_prompt_sends_a_ping_and_its_journey_is_walked_hop_by_hop() {
    let mut m = attached(false);
    m.selected = m.topo.index("hostA/container").expect("node");
    let _ = update(&mut m, key(KeyCode::Char('p')));
    assert!(matches!(m.mode, Mode::Prompt(_)));
    let _ = chars(&mut m, "10.0.0.14");
    let cmds = update(&mut m, key(KeyCode::Enter));
    assert_eq!(
        cmds,
        [Cmd::Ping {
            node: "hostA/container".into(),
            netns: "vx.docker-overlay.hostA.container".into(),
            target: IpAddr::from([10, 0, 0, 14]),
            since: 0,
        }]
    );
    let _ = update(&mut m, Msg::Frames(frames()));
    let _ = update(
        &mut m,
        Msg::PingDone {
            node: "hostA/container".into(),
            target: IpAddr::from([10, 0, 0, 14]),
            since: 0,
            result: Ok(()),
        },
    );
    assert_eq!(m.journey.as_ref().map(|j| j.journeys.len()), Some(2));
    let _ = chars(&mut m, "nnnn");
    assert_eq!(m.hop_node(), m.topo.index("underlay"));
    insta::assert_snapshot!("ping_walk", draw(&m).backend());
    // Past the request's last hop comes the reply.
    let _ = chars(&mut m, "nnnnnn");
    assert_eq!(m.journey.as_ref().map(|j| (j.which, j.hop)), Some((1, 0)));
    let _ = chars(&mut m, "N");
    assert_eq!(m.journey.as_ref().map(|j| (j.which, j.hop)), Some((0, 9)));
}

#[test]
fn help_lists_the_binding_table() {
    let mut m = attached(false);
    let _ = update(&mut m, key(KeyCode::Char('?')));
    let t = draw(&m);
    insta::assert_snapshot!("help", t.backend());
    for b in vxlab::ui::keys::BINDINGS {
        assert!(format!("{}", t.backend()).contains(b.help), "{}", b.help);
    }
    let _ = update(&mut m, key(KeyCode::Char('x')));
    assert_eq!(m.mode, Mode::Normal);
}

#[test]
fn step_build_shows_the_plan_command_by_command() {
    let lab = lab();
    let mut m = Model::new(
        lab.clone(),
        Phase::Building(Build::of_lab(&lab, true)),
        (W, H),
        false,
    );
    assert_eq!(init(&mut m), [Cmd::Build { stepwise: true }]);
    let total = m.build().expect("building").commands.len();
    for step in 1..=3 {
        assert_eq!(update(&mut m, key(KeyCode::Char('s'))), [Cmd::Step]);
        // While a step runs, s does nothing.
        assert!(update(&mut m, key(KeyCode::Char('s'))).is_empty());
        let _ = update(&mut m, Msg::BuildStep { step, total });
        let cmds = update(&mut m, Msg::OpDone { step });
        // Each new namespace is watched as soon as it exists.
        assert!(matches!(cmds.as_slice(), [Cmd::Watch { .. }]), "{cmds:?}");
    }
    let _ = update(
        &mut m,
        Msg::Tables {
            node: "hostA".into(),
            tables: Tables {
                links: vec![link(1, "lo", "", None)],
                ..Tables::default()
            },
        },
    );
    insta::assert_snapshot!("step_build", draw(&m).backend());
    let cmds = update(&mut m, Msg::BuildDone(Ok(())));
    assert!(cmds.contains(&Cmd::StartCapture));
    assert_eq!(m.phase, Phase::Built);
}

#[test]
fn no_color_draws_without_colours() {
    let mut m = attached(false);
    let _ = update(&mut m, Msg::Frames(frames()));
    let t = draw(&m);
    let buf = t.backend().buffer();
    assert!(
        buf.content()
            .iter()
            .all(|c| c.fg == Color::Reset && c.bg == Color::Reset)
    );
    let m = attached(true);
    let t = draw(&m);
    assert!(
        t.backend()
            .buffer()
            .content()
            .iter()
            .any(|c| c.fg != Color::Reset)
    );
}

#[test]
fn small_terminal_and_resize() {
    let mut m = attached(false);
    let _ = update(&mut m, Msg::Frames(frames()));
    let _ = update(&mut m, Msg::Resize(100, 30));
    insta::assert_snapshot!("small", draw(&m).backend());
}

#[test]
fn mouse_selects_nodes_tabs_and_packets() {
    let mut m = attached(false);
    let _ = update(&mut m, Msg::Frames(frames()));
    let click = |column, row| {
        Msg::Mouse(MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column,
            row,
            modifiers: KeyModifiers::NONE,
        })
    };
    let before = format!("{}", draw(&m).backend());
    let find = |needle: &str| {
        before
            .lines()
            .enumerate()
            .find_map(|(y, l)| {
                l.find(needle).map(|x| {
                    (
                        u16::try_from(l[..x].chars().count()).unwrap() - 1,
                        u16::try_from(y).unwrap(),
                    )
                })
            })
            .expect("on screen")
    };
    let (x, y) = find("─ container");
    let _ = update(&mut m, click(x + 3, y));
    assert_eq!(m.node().map(|n| n.id.as_str()), Some("hostA/container"));
    // A link: the tables show its first end's links, the packets only its own.
    let (x, y) = find("veth104═veth105");
    let _ = update(&mut m, click(x + 3, y));
    let l = m.link.expect("a link selected");
    assert_eq!(m.topo.links[l].label, "veth104═veth105");
    assert_eq!(m.node().map(|n| n.id.as_str()), Some("hostA/sandbox_2"));
    assert_eq!(m.tab, vxlab::ui::Tab::Links);
    let shown = screen(&m);
    assert!(
        shown.contains("Packets — 13, 4 on link veth104═veth105"),
        "{shown}"
    );
    // The tunnel's line under the bus.
    let (x, y) = find("◈═══");
    let _ = update(&mut m, click(x + 3, y));
    let l = m.link.expect("the tunnel selected");
    assert_eq!(m.topo.links[l].label, "vni 100");
    assert!(screen(&m).contains("on link vni 100"));
    let _ = update(&mut m, key(KeyCode::Esc));
    assert_eq!(m.link, None);
    let (x, y) = find("4 neigh");
    let _ = update(&mut m, click(x + 1, y));
    assert_eq!(m.tab, vxlab::ui::Tab::Neighbours);
    assert_eq!(m.focus, Focus::Tables);
    let (x, y) = find("hostB:eth0 in");
    let _ = update(&mut m, click(x, y));
    assert_eq!(m.focus, Focus::Packets);
    let seq = m.packets.selected.expect("selected");
    assert_eq!(
        m.points[m.packets.get(seq).expect("in ring").frame.point].iface,
        "eth0"
    );
    assert!(m.journey.is_some());
}

#[test]
fn quit_keys() {
    let mut m = attached(false);
    assert_eq!(update(&mut m, key(KeyCode::Char('q'))), [Cmd::Quit]);
    let ctrl_c = Msg::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert_eq!(update(&mut m, ctrl_c.clone()), [Cmd::Quit]);
    let _ = update(&mut m, key(KeyCode::Char('/')));
    // In a prompt q is text, Ctrl-C still quits.
    assert!(update(&mut m, key(KeyCode::Char('q'))).is_empty());
    assert_eq!(update(&mut m, ctrl_c), [Cmd::Quit]);
}

#[derive(Default)]
struct Recorder(Vec<Cmd>);

impl Effects for Recorder {
    fn run(&mut self, cmd: Cmd) {
        self.0.push(cmd);
    }
}

#[test]
fn the_loop_runs_on_a_test_backend_until_quit() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut m = Model::new(lab(), Phase::Attached, (W, H), false);
    let mut term = Terminal::new(TestBackend::new(W, H)).expect("terminal");
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tx.send(Msg::CaptureStarted {
        points: points(),
        failed: Vec::new(),
    })
    .expect("send");
    tx.send(Msg::Frames(frames())).expect("send");
    // Keys 100 ms apart, so frames are drawn in between.
    let keys = vec![
        key(KeyCode::Char('?')),
        key(KeyCode::Esc),
        key(KeyCode::Char('q')),
    ];
    let events = Box::pin(futures::stream::iter(keys).then(|k| async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        k
    }));
    let mut fx = Recorder::default();
    rt.block_on(vxlab::ui::run(&mut term, &mut m, events, rx, &mut fx))
        .expect("runs");
    assert!(fx.0.contains(&Cmd::StartCapture));
    assert_eq!(
        fx.0.iter()
            .filter(|c| matches!(c, Cmd::Watch { .. }))
            .count(),
        m.topo.nodes.len()
    );
    assert_eq!(m.packets.len(), frames().len());
    assert!(format!("{}", term.backend()).contains("Packets — 13"));
}

fn nft(chain: &str, handle: u64, text: &str, packets: Option<u64>) -> vxlab::ui::NftRule {
    vxlab::ui::NftRule {
        family: "ip".into(),
        table: "vxlab".into(),
        chain: chain.into(),
        handle: Some(handle),
        text: text.into(),
        packets,
        bytes: packets.map(|p| p * 84),
    }
}

fn ct(
    proto: &str,
    (src, sport): ([u8; 4], u16),
    (dst, dport): ([u8; 4], u16),
    reply_src: [u8; 4],
    state: Option<&str>,
    timeout: u32,
) -> vxlab::conntrack::CtRow {
    let t = |src: [u8; 4], sport, dst: [u8; 4], dport| vxlab::conntrack::Tuple {
        src: IpAddr::from(src),
        dst: IpAddr::from(dst),
        sport: Some(sport),
        dport: Some(dport),
        icmp_type: None,
        icmp_code: None,
        icmp_id: None,
    };
    vxlab::conntrack::CtRow {
        family: "ipv4",
        proto: proto.into(),
        proto_num: if proto == "tcp" { 6 } else { 17 },
        original: t(src, sport, dst, dport),
        reply: t(reply_src, dport, src, sport),
        state: state.map(Into::into),
        status: vec!["SEEN_REPLY", "ASSURED", "DST_NAT"],
        src_nat: false,
        dst_nat: reply_src != dst,
        timeout: Some(timeout),
        mark: 0,
        id: None,
        zone: None,
    }
}

fn service(emulated: bool, port: u16) -> vxlab::ipvs::ServiceRow {
    use vxlab::model::{Forward, Proto};
    let real = |last: u8, active| vxlab::ipvs::RealRow {
        addr: std::net::Ipv4Addr::new(10, 0, 0, last),
        port: 80,
        forward: Forward::Masq,
        weight: 1,
        active,
        inactive: 2,
    };
    vxlab::ipvs::ServiceRow {
        proto: Proto::Tcp,
        addr: std::net::Ipv4Addr::new(10, 96, 0, 10),
        port,
        scheduler: "rr".into(),
        reals: vec![real(4, 1), real(14, 0)],
        emulated,
    }
}

/// A poll of `hostA/sandbox_2`: two NAT rules, two services (one emulated), connections.
fn polled(packets: u64, conns: Vec<vxlab::conntrack::CtRow>) -> Msg {
    Msg::Polled {
        node: "hostA/sandbox_2".into(),
        polled: Box::new(vxlab::ui::Polled {
            nat: Ok(vec![
                nft(
                    "prerouting",
                    4,
                    "ip daddr 10.96.0.10 tcp dport 80 dnat to 10.0.0.4:80",
                    Some(packets),
                ),
                nft(
                    "postrouting",
                    5,
                    "ip saddr 10.0.0.0/24 oifname != \"edge_bridge\" masquerade",
                    None,
                ),
            ]),
            ipvs: Ok(vec![service(false, 80), service(true, 8080)]),
            conntrack: Ok(conns),
        }),
    }
}

fn screen(m: &Model) -> String {
    format!("{}", draw(m).backend())
}

#[test]
fn netfilter_tabs_poll_the_selected_node_and_highlight_changes() {
    let mut m = attached(true);
    // The selected node is polled once the lab is up, and again when the selection moves.
    assert_eq!(m.polling.as_deref(), Some("hostA/sandbox_2"));
    let _ = update(&mut m, key(KeyCode::Char('6')));
    assert_eq!(m.tab, vxlab::ui::Tab::Nat);
    assert!(screen(&m).contains("waiting for the first poll…"));
    let web = ct(
        "tcp",
        ([10, 0, 0, 2], 40_000),
        ([10, 96, 0, 10], 80),
        [10, 0, 0, 4],
        Some("ESTABLISHED"),
        431_999,
    );
    let dns = ct(
        "udp",
        ([10, 0, 0, 2], 53_000),
        ([10, 0, 0, 1], 53),
        [10, 0, 0, 1],
        None,
        29,
    );
    let _ = update(&mut m, polled(3, vec![web.clone(), dns.clone()]));
    let text = screen(&m);
    assert!(text.contains("6 nat") && text.contains("8 ct"), "{text}");
    insta::assert_snapshot!("nat_rules", draw(&m).backend());
    let _ = update(&mut m, key(KeyCode::Char('7')));
    insta::assert_snapshot!("ipvs_services", draw(&m).backend());
    let _ = update(&mut m, key(KeyCode::Char('8')));
    insta::assert_snapshot!("conntrack_entries", draw(&m).backend());

    // A second poll: the DNAT rule counted two more packets, the web connection's
    // timeout ticked (not news), the DNS one expired and a new one appeared.
    let _ = update(&mut m, Msg::Tick(Duration::from_secs(10)));
    let mut web2 = web.clone();
    web2.timeout = Some(431_998);
    let syn = ct(
        "tcp",
        ([10, 0, 0, 2], 40_002),
        ([10, 96, 0, 10], 8080),
        [10, 0, 0, 14],
        Some("SYN_SENT"),
        119,
    );
    let _ = update(&mut m, polled(5, vec![web2, syn]));
    let t = draw(&m);
    insta::assert_snapshot!("conntrack_changed", t.backend());
    let buf = t.backend().buffer();
    let row_of = |needle: &str| {
        (0..H)
            .find(|&y| {
                (0..W)
                    .map(|x| buf[(x, y)].symbol())
                    .collect::<String>()
                    .contains(needle)
            })
            .expect("row on screen")
    };
    assert_eq!(buf[(4, row_of("10.0.0.2:53000"))].fg, Color::Red);
    assert_eq!(buf[(4, row_of("10.0.0.2:40002"))].fg, Color::Green);
    assert_eq!(buf[(4, row_of("10.0.0.2:40000"))].fg, Color::Reset);
    assert!(screen(&m).contains("431998s"));
    let _ = update(&mut m, key(KeyCode::Char('6')));
    let nat = draw(&m);
    let y = screen(&m)
        .lines()
        .position(|l| l.contains("10.96.0.10 tcp dport 80"))
        .expect("rule on screen");
    let cell = &nat.backend().buffer()[(4, u16::try_from(y).expect("row"))];
    assert_eq!(cell.fg, Color::Yellow);

    // A part that cannot be read says why; the others still show.
    let _ = update(
        &mut m,
        Msg::Polled {
            node: "hostA/sandbox_2".into(),
            polled: Box::new(vxlab::ui::Polled {
                nat: Err("nft is not installed".into()),
                ipvs: Ok(Vec::new()),
                conntrack: Ok(Vec::new()),
            }),
        },
    );
    assert!(screen(&m).contains("cannot read: nft is not installed"));

    // Another node selected: it is polled instead.
    m.focus = Focus::Topology;
    let cmds = update(&mut m, key(KeyCode::Down));
    let node = m.node().expect("node").clone();
    assert_ne!(node.id, "hostA/sandbox_2");
    assert_eq!(
        cmds,
        [Cmd::Poll {
            node: node.id.clone(),
            netns: node.netns.clone(),
        }]
    );
    assert!(screen(&m).contains("waiting for the first poll…"));
}

#[test]
fn long_nat_rules_scroll_sideways() {
    let mut m = attached(false);
    let _ = update(&mut m, Msg::Resize(100, 30));
    let _ = update(&mut m, key(KeyCode::Char('6')));
    let long = "ip saddr 10.0.0.0/24 ip daddr != 10.0.0.0/24 oifname != \"edge_bridge\" \
                meta l4proto tcp th dport { 80, 443, 8080, 8443 } ct state new \
                log prefix \"vxlab masquerade: \" masquerade random,persistent";
    let _ = update(
        &mut m,
        Msg::Polled {
            node: "hostA/sandbox_2".into(),
            polled: Box::new(vxlab::ui::Polled {
                nat: Ok(vec![nft("postrouting", 9, long, Some(7))]),
                ipvs: Ok(Vec::new()),
                conntrack: Ok(Vec::new()),
            }),
        },
    );
    let text = screen(&m);
    assert!(!text.contains("random,persistent"), "{text}");
    assert!(text.contains("</> columns 1-"), "{text}");
    // `>` scrolls a third of the pane at a time, up to the end of the longest row.
    for _ in 0..20 {
        let _ = update(&mut m, key(KeyCode::Char('>')));
    }
    let text = screen(&m);
    assert!(text.contains("random,persistent"), "{text}");
    assert!(!text.contains("postrouting"), "{text}");
    insta::assert_snapshot!("nat_scrolled", draw(&m).backend());
    for _ in 0..20 {
        let _ = update(&mut m, key(KeyCode::Char('<')));
    }
    assert_eq!(m.table_hscroll, 0);
    assert!(screen(&m).contains("postrouting"));
    // Another tab starts at the left again.
    let _ = update(&mut m, key(KeyCode::Char('>')));
    let _ = update(&mut m, key(KeyCode::Char('8')));
    assert_eq!(m.table_hscroll, 0);
}

#[test]
fn exercise_under_way_is_shown_and_follows_its_progress() {
    use vxlab::fault::exercise::{Outcome, Progress};
    let mut m = attached(false);
    assert!(init(&mut m).contains(&Cmd::WatchExercises));
    assert!(!screen(&m).contains("exercise 1"));
    let mut p = Progress {
        current: Some("arp-across-the-overlay".into()),
        ..Progress::default()
    };
    let _ = update(&mut m, Msg::Exercise(Box::new(p.clone())));
    let text = screen(&m);
    assert!(
        text.contains("exercise 1 of 3: arp-across-the-overlay (under way)"),
        "{text}"
    );
    assert!(
        text.contains("The container on machine A (10.0.0.4)"),
        "{text}"
    );
    assert!(text.contains("not checked yet"), "{text}");
    assert!(!text.contains("hint 1"), "{text}");
    // Another terminal asks for a hint and checks: the strip follows.
    p.hints.insert("arp-across-the-overlay".into(), 2);
    p.failed_checks.insert("arp-across-the-overlay".into(), 1);
    let _ = update(&mut m, Msg::Exercise(Box::new(p.clone())));
    let text = screen(&m);
    assert!(text.contains("hint 1: Run `ip neigh`"), "{text}");
    assert!(text.contains("hint 2: vxlan0 in hostA/sandbox_2"), "{text}");
    assert!(
        text.contains("last check failed") && text.contains("hints 2/3"),
        "{text}"
    );
    insta::assert_snapshot!("exercise_under_way", draw(&m).backend());
    // It passes.
    p.current = None;
    p.results
        .insert("arp-across-the-overlay".into(), Outcome::Passed);
    let _ = update(&mut m, Msg::Exercise(Box::new(p)));
    let text = screen(&m);
    assert!(text.contains("arp-across-the-overlay ✓ passed"), "{text}");
    assert!(text.contains("1 of 3 passed"), "{text}");
}

/// The tables of the nodes a ping from hostA/container crosses on machine A, with the
/// entries that send it on (MACs as [`frames`] builds them).
fn path_tables(m: &mut Model) {
    use vxlab::observe::VxlanInfo;
    let mac = |ip: [u8; 4]| mac_for(Ipv4Addr::from(ip)).to_string();
    let neigh = |dev: &str, to: [u8; 4], state: &str| NeighRow {
        dev: dev.into(),
        to: IpAddr::from(to),
        lladdr: Some(mac(to)),
        state: state.into(),
    };
    let route = |to: &str, dev: &str| RouteRow {
        to: to.into(),
        via: None,
        dev: Some(dev.into()),
        proto: "kernel".into(),
    };
    let mut veth105 = link(2, "veth105", "veth", None);
    veth105.mac = mac([10, 0, 0, 4]);
    let container = Tables {
        links: vec![link(1, "lo", "", None), veth105],
        routes: vec![route("10.0.0.0/24", "veth105")],
        neighbours: vec![
            neigh("veth105", [10, 0, 0, 1], "STALE"),
            neigh("veth105", [10, 0, 0, 14], "REACHABLE"),
        ],
        ..Tables::default()
    };
    let mut sandbox = sandbox_2(vec![
        fdb("02:42:0a:00:00:0c", Some([192, 168, 228, 149]), "permanent"),
        fdb("02:42:0a:00:00:0e", Some([192, 168, 228, 149]), "permanent"),
        FdbRow {
            self_: false,
            master: Some("edge_bridge".into()),
            ..fdb("02:42:0a:00:00:0e", None, "permanent")
        },
    ]);
    sandbox.links[4].vxlan = Some(VxlanInfo {
        vni: 100,
        dstport: 4789,
        local: None,
        remote: None,
        proxy: true,
        learning: false,
    });
    let mut eth0 = link(2, "eth0", "veth", None);
    eth0.mac = mac([192, 168, 228, 148]);
    let host = Tables {
        links: vec![link(1, "lo", "", None), eth0],
        routes: vec![route("default", "eth0"), route("192.168.228.0/24", "eth0")],
        neighbours: vec![neigh("eth0", [192, 168, 228, 149], "REACHABLE")],
        ..Tables::default()
    };
    for (node, tables) in [
        ("hostA/container", container),
        ("hostA/sandbox_2", sandbox),
        ("hostA", host),
    ] {
        let _ = update(
            m,
            Msg::Tables {
                node: node.into(),
                tables,
            },
        );
    }
}

/// The screen lines marked `▶` in the Tables pane (its left half).
fn decided_rows(m: &Model) -> Vec<String> {
    screen(m)
        .lines()
        .filter_map(|l| {
            let l = l.trim_matches('"');
            let left: String = l.chars().take(70).collect();
            left.starts_with("│▶")
                .then(|| left.trim_end_matches('│').trim().to_string())
        })
        .collect()
}

fn what_decided(m: &Model) -> Vec<String> {
    vxlab::ui::decisions(m)
        .into_iter()
        .map(|d| d.what)
        .collect()
}

#[test]
fn walking_a_ping_highlights_the_rows_that_decided_each_hop() {
    let mut m = attached(true);
    path_tables(&mut m);
    m.selected = m.topo.index("hostA/container").expect("node");
    let _ = update(&mut m, key(KeyCode::Char('p')));
    let _ = chars(&mut m, "10.0.0.14");
    let _ = update(&mut m, key(KeyCode::Enter));
    let _ = update(&mut m, Msg::Frames(frames()));
    let _ = update(
        &mut m,
        Msg::PingDone {
            node: "hostA/container".into(),
            target: IpAddr::from([10, 0, 0, 14]),
            since: 0,
            result: Ok(()),
        },
    );
    // Hop 1, the container sends it: its route and its neighbour entry for 10.0.0.14.
    assert_eq!(m.node().map(|n| n.id.as_str()), Some("hostA/container"));
    assert_eq!(m.tab, vxlab::ui::Tab::Routes);
    let rows = decided_rows(&m);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0].starts_with("│▶ 10.0.0.0/24"), "{rows:?}");
    assert_eq!(
        what_decided(&m),
        [
            "route 10.0.0.0/24 dev veth105",
            "neighbour 10.0.0.14 lladdr 02:42:0a:00:00:0e REACHABLE"
        ]
    );
    let text = screen(&m);
    assert!(
        text.contains("▶ hostA/container decided by: route 10.0.0.0/24 dev veth105 ·"),
        "{text}"
    );
    let _ = update(&mut m, key(KeyCode::Char('4')));
    let rows = decided_rows(&m);
    assert!(
        rows.len() == 1 && rows[0].contains("10.0.0.14") && !rows[0].contains("10.0.0.1 "),
        "{rows:?}"
    );
    // Hop 2 arrives in sandbox_2: nothing is decided by receiving.
    let _ = chars(&mut m, "n");
    assert_eq!(m.node().map(|n| n.id.as_str()), Some("hostA/sandbox_2"));
    assert!(decided_rows(&m).is_empty());
    // Hop 3, edge_bridge forwards it to vxlan0 (its fdb entry), and vxlan0 sends it to
    // 192.168.228.149 (its own fdb entry, not the other MAC's).
    let _ = chars(&mut m, "n");
    assert_eq!(m.tab, vxlab::ui::Tab::Fdb);
    let rows = decided_rows(&m);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(
        rows.iter().all(|r| r.contains("02:42:0a:00:00:0e")),
        "{rows:?}"
    );
    assert!(rows.iter().any(|r| r.contains("master")) && rows.iter().any(|r| r.contains("self")));
    let t = draw(&m);
    insta::assert_snapshot!("decided_fdb", t.backend());
    let buf = t.backend().buffer();
    let y = (0..H)
        .find(|&y| buf[(1, y)].symbol() == "▶")
        .expect("a marked row");
    assert_eq!(buf[(1, y)].bg, Color::Magenta);
    // Hop 4, the host routes the encapsulated packet: the underlay route, not the default.
    let _ = chars(&mut m, "n");
    assert_eq!(m.node().map(|n| n.id.as_str()), Some("hostA"));
    let rows = decided_rows(&m);
    assert!(
        rows.len() == 1 && rows[0].starts_with("│▶ 192.168.228.0/24"),
        "{rows:?}"
    );
    assert_eq!(
        what_decided(&m),
        [
            "route 192.168.228.0/24 dev eth0",
            "neighbour 192.168.228.149 lladdr 02:42:c0:a8:e4:95 REACHABLE"
        ]
    );
    // On a small terminal the hop and what decided it still show; a click on the hop
    // above walks back to it.
    let _ = update(&mut m, Msg::Resize(100, 30));
    let text = screen(&m);
    assert!(text.contains("4 hostA:eth0 out"), "{text}");
    assert!(
        text.contains("▶ hostA decided by: route 192.168.228.0/24"),
        "{text}"
    );
    let y = text
        .lines()
        .position(|l| l.contains("3 hostA/sandbox_2:vxlan0 out"))
        .expect("hop 3 listed");
    let x = text
        .lines()
        .nth(y)
        .and_then(|l| l.find("3 hostA/sandbox_2"))
        .expect("x");
    let _ = update(
        &mut m,
        Msg::Mouse(MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column: u16::try_from(text.lines().nth(y).expect("line")[..x].chars().count())
                .expect("x")
                - 1,
            row: u16::try_from(y).expect("y"),
            modifiers: KeyModifiers::NONE,
        }),
    );
    assert_eq!(m.journey.as_ref().map(|j| j.hop), Some(2));
    assert_eq!(m.node().map(|n| n.id.as_str()), Some("hostA/sandbox_2"));
}

/// The Topology pane of `lab` on a `w`×`h` terminal, as text.
fn topology_of(lab: Lab, size: (u16, u16)) -> String {
    let m = Model::new(lab, Phase::Attached, size, false);
    let pane = vxlab::ui::Areas::new(&m).topology;
    let t = draw(&m);
    let buf = t.backend().buffer();
    (pane.y..pane.bottom())
        .map(|y| {
            (pane.x..pane.right())
                .map(|x| buf[(x, y)].symbol())
                .collect::<String>()
                .trim_end()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn builtin(name: &str) -> Lab {
    Lab::from_source(vxlab::labs::builtin(name).expect("built in")).expect("valid")
}

#[test]
#[ignore = "prints every lab's topology, to look at"]
fn print_every_topology() {
    let mut labs: Vec<(String, Lab)> = vxlab::labs::BUILTIN
        .iter()
        .map(|(n, _)| ((*n).to_string(), builtin(n)))
        .collect();
    labs.push((
        "scale-200".into(),
        Lab::from_source(&vxlab::labs::generated("scale", 200)).expect("valid"),
    ));
    for (name, lab) in labs {
        for size in [(100, 30), (200, 50)] {
            println!("== {name} {size:?}\n{}", topology_of(lab.clone(), size));
        }
    }
}

fn scale_lab() -> Lab {
    Lab::from_source(&vxlab::labs::generated("scale", 200)).expect("valid")
}

#[test]
fn topology_is_a_graph_of_hosts_namespaces_links_and_tunnels() {
    insta::assert_snapshot!(
        "topology_docker_overlay_100x30",
        topology_of(lab(), (100, 30))
    );
    insta::assert_snapshot!(
        "topology_docker_overlay_200x50",
        topology_of(lab(), (200, 50))
    );
    insta::assert_snapshot!(
        "topology_docker_19_overlay_200x50",
        topology_of(builtin("docker-19-overlay"), (200, 50))
    );
    insta::assert_snapshot!(
        "topology_flannel_100x30",
        topology_of(builtin("flannel"), (100, 30))
    );
    insta::assert_snapshot!("topology_scale_100x30", topology_of(scale_lab(), (100, 30)));
    insta::assert_snapshot!("topology_scale_200x50", topology_of(scale_lab(), (200, 50)));
}

#[test]
fn every_lab_stays_readable_at_100x30_and_200x50() {
    let mut labs: Vec<Lab> = vxlab::labs::BUILTIN
        .iter()
        .map(|(n, _)| builtin(n))
        .collect();
    labs.push(scale_lab());
    assert_eq!(labs.len(), 12);
    for lab in labs {
        let names: Vec<String> = lab
            .nodes
            .iter()
            .map(|n| n.id.rsplit('/').next().unwrap_or(&n.id).to_string())
            .collect();
        let hosts: Vec<String> = lab
            .nodes
            .iter()
            .filter(|n| n.kind == vxlab::model::NodeKind::Host)
            .map(|n| n.id.clone())
            .collect();
        for size in [(100, 30), (200, 50)] {
            let text = topology_of(lab.clone(), size);
            let words: Vec<&str> = text
                .split(|c: char| c.is_whitespace() || "─═┄│└├┐┘┌┼╧⟦⟧◈▸↪".contains(c))
                .collect();
            // Every host has its box; every namespace is named whole, or its box says how
            // many lines are scrolled out.
            for h in &hosts {
                assert!(
                    words.contains(&h.as_str()),
                    "{} {size:?}: host {h}\n{text}",
                    lab.name
                );
            }
            let missing: Vec<&String> = names
                .iter()
                .filter(|n| !words.contains(&n.as_str()))
                .collect();
            assert!(
                missing.is_empty() || text.contains(" more "),
                "{} {size:?}: {missing:?} not shown\n{text}",
                lab.name
            );
            if size == (200, 50) {
                assert!(
                    missing.is_empty(),
                    "{} {size:?}: {missing:?}\n{text}",
                    lab.name
                );
            }
        }
    }
}

#[test]
fn links_show_their_state_and_are_selected_with_brackets() {
    let mut m = attached(true);
    let mut down = link(2, "veth105", "veth", None);
    down.up = false;
    let _ = update(
        &mut m,
        Msg::Tables {
            node: "hostA/container".into(),
            tables: Tables {
                links: vec![link(1, "lo", "", None), down],
                ..Tables::default()
            },
        },
    );
    let t = draw(&m);
    let text = format!("{}", t.backend());
    assert!(text.contains("veth104✗veth105"), "{text}");
    let buf = t.backend().buffer();
    let (x, y) = (0..H)
        .find_map(|y| {
            let line: String = (0..W).map(|x| buf[(x, y)].symbol()).collect();
            line.find("veth104✗")
                .map(|i| (u16::try_from(line[..i].chars().count()).unwrap(), y))
        })
        .expect("on screen");
    assert_eq!(buf[(x, y)].fg, Color::Red);
    // sandbox_2's edge_bridge ports are up, its other links unknown (their peers unread).
    let text = screen(&m);
    assert!(text.contains("veth102═veth103"), "{text}");
    // `]` walks the links from the selected node's first; Up/Down go back to nodes.
    let _ = update(&mut m, key(KeyCode::Char(']')));
    let first = m.link.expect("a link");
    assert!(
        m.topo.links[first]
            .ends
            .iter()
            .any(|(n, _)| m.topo.nodes[*n].id == "hostA/sandbox_2")
    );
    let _ = update(&mut m, key(KeyCode::Char(']')));
    assert_eq!(m.link, Some(first + 1));
    let _ = update(&mut m, key(KeyCode::Char('[')));
    assert_eq!(m.link, Some(first));
    assert!(m.packets.scope().is_some());
    let _ = update(&mut m, key(KeyCode::Down));
    assert_eq!(m.link, None);
    assert!(m.packets.scope().is_none());
}
