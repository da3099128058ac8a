//! labs/flannel.toml (seed 002) on the real kernel and a real etcd: `vxlab agent` plays
//! flanneld on each node; pods on three nodes reach each other with no learning and no
//! multicast; a node whose agent starts later is programmed on the others within a
//! second, and a node whose key is deleted or whose lease expires is removed from them.
//! Skips (saying why) without root or without etcd.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{TestLab, root_snapshot};

const ETCD: &str = "http://10.211.55.10:2379";
const NODES: [&str; 3] = ["node1", "node2", "node3"];

/// Returns from the test, saying why, unless etcd and etcdctl are installed.
macro_rules! require_etcd {
    () => {
        let found = |argv: &[&str]| {
            Command::new(argv[0])
                .args(&argv[1..])
                .output()
                .is_ok_and(|o| o.status.success())
        };
        if !found(&["etcd", "--version"]) || !found(&["etcdctl", "version"]) {
            common::skip(format_args!(
                "etcd is not installed (Debian packages etcd-server and etcd-client; \
                 tests/install-deps installs them)"
            ));
            return;
        }
    };
}

/// Polls `done` every 2 ms until it holds (`Some(time taken)`) or `timeout` passes.
fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    loop {
        if done() {
            return Some(start.elapsed());
        }
        if start.elapsed() > timeout {
            return None;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Whether `node` has the route to `subnet` through flannel.1.
fn has_route(lab: &TestLab, node: &str, subnet: &str) -> bool {
    lab.ok(node, &["ip", "-o", "route", "show", subnet])
        .contains("dev flannel.1")
}

/// Whether `node`'s flannel.1 has an FDB entry towards `underlay`.
fn has_fdb(lab: &TestLab, node: &str, underlay: &str) -> bool {
    lab.ok(node, &["bridge", "fdb", "show", "dev", "flannel.1"])
        .contains(&format!("dst {underlay} "))
}

/// The MAC of `node`'s flannel.1.
fn vtep_mac(lab: &TestLab, node: &str) -> String {
    lab.ok(node, &["cat", "/sys/class/net/flannel.1/address"])
        .trim()
        .to_string()
}

/// Waits until nodes 1-3 each have routes to the other two (etcd and the agents start
/// with the lab).
fn wait_converged(lab: &TestLab) {
    let subnets = ["10.244.1.0/24", "10.244.2.0/24", "10.244.3.0/24"];
    let converged = wait_until(Duration::from_secs(30), || {
        NODES.iter().enumerate().all(|(i, n)| {
            subnets
                .iter()
                .enumerate()
                .all(|(j, s)| i == j || has_route(lab, n, s))
        })
    });
    assert!(
        converged.is_some(),
        "the agents never programmed each other"
    );
}

/// Starts `vxlab agent` for node4 (as `vxlab exec LAB node4 -- vxlab agent …` would).
fn start_node4_agent(lab: &TestLab, ttl: &str) -> Child {
    Command::new("ip")
        .args(["netns", "exec", &lab.netns("node4")])
        .args([env!("CARGO_BIN_EXE_vxlab"), "agent", "--etcd", ETCD])
        .args(["--subnet", "10.244.4.0/24", "--ttl", ttl])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start vxlab agent")
}

/// Netlink connections to nodes 1-3, to see node4's entries appear and go without the
/// cost of running `ip` (so the times measured are the agents', not the poller's).
struct Probe {
    rt: tokio::runtime::Runtime,
    nodes: Vec<rtnetlink::Handle>,
}

impl Probe {
    fn new(lab: &TestLab) -> Self {
        let rt = common::runtime();
        let nodes = rt.block_on(async {
            NODES
                .iter()
                .map(|n| vxlab::kernel::connect(&lab.netns(n)).expect("connect"))
                .collect()
        });
        Self { rt, nodes }
    }

    /// Whether node `h` has a route to 10.244.4.0/24.
    async fn route(h: &rtnetlink::Handle) -> bool {
        use futures::TryStreamExt;
        use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute};
        let msg = rtnetlink::RouteMessageBuilder::<std::net::Ipv4Addr>::new().build();
        let routes: Vec<_> = h
            .route()
            .get(msg)
            .execute()
            .try_collect()
            .await
            .expect("routes");
        routes.iter().any(|r| {
            r.header.destination_prefix_length == 24
                && r.attributes.iter().any(|a| {
                    matches!(a, RouteAttribute::Destination(RouteAddress::Inet(d))
                        if *d == std::net::Ipv4Addr::new(10, 244, 4, 0))
                })
        })
    }

    /// Whether node `h` has an FDB entry towards node4's underlay address.
    async fn fdb(h: &rtnetlink::Handle) -> bool {
        use futures::TryStreamExt;
        use rtnetlink::packet_route::AddressFamily;
        use rtnetlink::packet_route::neighbour::{NeighbourAddress, NeighbourAttribute};
        let entries: Vec<_> = h
            .neighbours()
            .get()
            .set_address_family(AddressFamily::Bridge)
            .execute()
            .try_collect()
            .await
            .expect("fdb");
        entries.iter().any(|e| {
            e.attributes.iter().any(|a| {
                // In an AF_BRIDGE message the VTEP address comes as raw bytes.
                matches!(a, NeighbourAttribute::Destination(NeighbourAddress::Other(d))
                    if d.as_slice() == [10, 211, 55, 14])
            })
        })
    }

    /// Whether every one of nodes 1-3 has node4's route (the agent programs it last) or,
    /// with `present == false`, none has node4's FDB entry (removed last).
    fn node4_everywhere(&self, present: bool) -> bool {
        self.rt.block_on(async {
            for h in &self.nodes {
                let there = if present {
                    Self::route(h).await
                } else {
                    Self::fdb(h).await
                };
                if there != present {
                    return false;
                }
            }
            true
        })
    }
}

#[test]
fn pods_reach_each_other_without_learning_or_multicast() {
    require_root!();
    require_etcd!();
    let before = root_snapshot();
    let lab = TestLab::up_file("flannel.toml");
    wait_converged(&lab);

    for (from, to) in [
        ("node1/pod", "10.244.2.2"),
        ("node1/pod", "10.244.3.2"),
        ("node2/pod", "10.244.3.2"),
        ("node3/pod", "10.244.1.2"),
    ] {
        assert!(lab.pings(from, to), "{from} -> {to}");
    }
    let body = lab.ok(
        "node1/pod",
        &["curl", "-s", "-m", "3", "http://10.244.3.2/"],
    );
    assert_eq!(body.trim(), "node3/pod (client 10.244.1.2)");

    // flannel.1 as flanneld makes it: VNI 1, port 8472, no learning, no group.
    let link = lab.ok("node1", &["ip", "-d", "link", "show", "flannel.1"]);
    for want in [
        "mtu 1450",
        "vxlan id 1 ",
        "local 10.211.55.11 dev eth0",
        "dstport 8472",
        "nolearning",
    ] {
        assert!(link.contains(want), "{want}: {link}");
    }
    let words: Vec<&str> = link.split_whitespace().collect();
    assert!(
        !words
            .windows(2)
            .any(|w| w[0] == "group" && w[1].parse::<std::net::IpAddr>().is_ok()),
        "no multicast group: {link}"
    );
    let addr = lab.ok("node1", &["ip", "-o", "addr", "show", "dev", "flannel.1"]);
    assert!(addr.contains("inet 10.244.1.0/32"), "{addr}");

    // Node 2 as node 1 knows it: ARP, FDB and route, all from etcd.
    let mac2 = vtep_mac(&lab, "node2");
    let neigh = lab.ok("node1", &["ip", "neigh", "show", "dev", "flannel.1"]);
    assert!(
        neigh.contains(&format!("10.244.2.0 lladdr {mac2} PERMANENT")),
        "{neigh}"
    );
    let fdb = lab.ok("node1", &["bridge", "fdb", "show", "dev", "flannel.1"]);
    assert!(
        fdb.contains(&format!("{mac2} dst 10.211.55.12 self permanent")),
        "{fdb}"
    );
    // Nothing learned and no flooding entry, even after the traffic above.
    assert!(!fdb.contains("00:00:00:00:00:00"), "{fdb}");
    assert!(
        fdb.lines().all(|l| l.trim_end().ends_with("permanent")),
        "{fdb}"
    );
    let routes = lab.ok("node1", &["ip", "route", "show"]);
    assert!(
        routes.lines().any(
            |l| l.starts_with("10.244.2.0/24 via 10.244.2.0 dev flannel.1") && l.contains("onlink")
        ),
        "{routes}"
    );

    // The record in etcd, in flannel's layout.
    let value = lab.ok(
        "etcd",
        &[
            "etcdctl",
            "get",
            "--print-value-only",
            "/coreos.com/network/subnets/10.244.2.0-24",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(value.trim()).expect("JSON record");
    assert_eq!(v["PublicIP"], "10.211.55.12");
    assert_eq!(v["BackendType"], "vxlan");
    assert_eq!(v["BackendData"]["VtepMAC"], mac2.as_str());

    let state = vxlab::lifecycle::state_dir(&lab.lab.name);
    assert!(
        state.join("etcd").is_dir(),
        "etcd's data dir is in the lab's record"
    );
    lab.down();
    assert!(!state.exists(), "etcd's data went with the lab");
    assert_eq!(before, root_snapshot(), "the root namespace changed");
}

#[test]
fn nodes_join_and_leave_through_etcd() {
    require_root!();
    require_etcd!();
    let lab = TestLab::up_file("flannel.toml");
    wait_converged(&lab);
    let probe = Probe::new(&lab);

    // node4's flanneld starts: the others program it from the watch.
    let start = Instant::now();
    let mut agent = start_node4_agent(&lab, "10");
    let joined = wait_until(Duration::from_secs(5), || probe.node4_everywhere(true))
        .map(|_| start.elapsed());
    let joined = joined.expect("node4 never programmed on nodes 1-3");
    eprintln!(
        "node4 joined: programmed on nodes 1-3 {} ms after its agent started",
        joined.as_millis()
    );
    assert!(joined < Duration::from_secs(1), "took {joined:?}");
    let mac4 = vtep_mac(&lab, "node4");
    for n in NODES {
        let neigh = lab.ok(
            n,
            &["ip", "neigh", "show", "10.244.4.0", "dev", "flannel.1"],
        );
        assert!(neigh.contains(&mac4), "{n}: {neigh}");
        assert!(has_fdb(&lab, n, "10.211.55.14"), "{n}");
    }
    assert!(
        lab.pings("node1/pod", "10.244.4.2"),
        "node1 pod -> node4 pod"
    );
    assert!(
        lab.pings("node4/pod", "10.244.3.2"),
        "node4 pod -> node3 pod"
    );

    // Its key is deleted: the others forget it, and its agent stops (lease revoked).
    let start = Instant::now();
    lab.ok(
        "etcd",
        &[
            "etcdctl",
            "del",
            "/coreos.com/network/subnets/10.244.4.0-24",
        ],
    );
    let left = wait_until(Duration::from_secs(5), || probe.node4_everywhere(false))
        .map(|_| start.elapsed())
        .expect("node4 never removed from nodes 1-3");
    eprintln!(
        "node4's key deleted: removed from nodes 1-3 within {} ms",
        left.as_millis()
    );
    assert!(left < Duration::from_secs(1), "took {left:?}");
    for n in NODES {
        assert!(!has_route(&lab, n, "10.244.4.0/24"), "{n}");
        let neigh = lab.ok(n, &["ip", "neigh", "show", "dev", "flannel.1"]);
        assert!(!neigh.contains("10.244.4.0"), "{n}: {neigh}");
    }
    let stopped = wait_until(Duration::from_secs(5), || {
        agent.try_wait().is_ok_and(|s| s.is_some())
    });
    assert!(
        stopped.is_some(),
        "node4's agent kept running without its lease"
    );
    assert!(
        !lab.pings("node1/pod", "10.244.4.2"),
        "node4 is unreachable"
    );

    // It comes back with a 3 s lease, which it renews: still there after 4 s.
    let mut agent = start_node4_agent(&lab, "3");
    assert!(
        wait_until(Duration::from_secs(5), || probe.node4_everywhere(true)).is_some(),
        "node4 back"
    );
    std::thread::sleep(Duration::from_secs(4));
    assert!(probe.node4_everywhere(true), "the lease was renewed");
    // Killed, it renews nothing: its lease expires and the others remove it.
    agent.kill().expect("kill node4's agent");
    let start = Instant::now();
    let _ = agent.wait();
    let expired = wait_until(Duration::from_secs(10), || probe.node4_everywhere(false))
        .map(|_| start.elapsed())
        .expect("node4 never removed after its lease expired");
    eprintln!(
        "node4's agent killed: lease (TTL 3 s) expired, removed from nodes 1-3 after {} ms",
        expired.as_millis()
    );
    assert!(
        expired > Duration::from_millis(1500),
        "removed before its lease could expire ({expired:?})"
    );
    lab.down();
}
