//! labs/vxlan-multicast.toml (seed 002, multicast) on the real kernel: vxlan1 (VNI 6)
//! joins group 239.1.1.1, its FDB starts with only the group as default destination, the
//! first ARP goes to the group, and the peer's MAC is then learned with its underlay IP.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use common::{TestLab, root_snapshot};

/// `tcpdump -l -t -nn -i IF FILTER` running in a lab node, ready (it said "listening on").
struct Capture {
    child: Child,
    lines: Receiver<String>,
}

impl Capture {
    /// Starts a capture, or returns `None` (saying why) when tcpdump is not installed.
    fn start(lab: &TestLab, node: &str, ifname: &str, filter: &[&str]) -> Option<Self> {
        if Command::new("tcpdump").arg("--version").output().is_err() {
            eprintln!("skipped the capture: tcpdump is not installed");
            return None;
        }
        let mut child = Command::new("ip")
            .args(["netns", "exec", &lab.netns(node)])
            .args(["tcpdump", "-l", "-t", "-nn", "-i", ifname])
            .args(filter)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn tcpdump");
        let (ready_tx, ready) = mpsc::channel();
        let stderr = child.stderr.take().expect("stderr");
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("listening on") {
                    let _ = ready_tx.send(());
                }
            }
        });
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout");
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let this = Self { child, lines };
        ready
            .recv_timeout(Duration::from_secs(10))
            .expect("tcpdump did not start listening within 10 s");
        Some(this)
    }

    /// Lines captured until `done` holds for them, or `timeout` passes.
    fn until(&self, timeout: Duration, done: impl Fn(&[String]) -> bool) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let mut got = Vec::new();
        while !done(&got) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => got.push(line),
                Err(_) => break,
            }
        }
        got
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Index of an outer VXLAN line `IP SRC.port > DST.4789: VXLAN ... vni VNI` directly
/// followed by the inner line starting with `inner`.
fn encapsulated(lines: &[String], src: &str, dst: &str, vni: u32, inner: &str) -> Option<usize> {
    lines.windows(2).position(|w| {
        w[0].starts_with(&format!("IP {src}."))
            && w[0].contains(&format!(" > {dst}.4789: VXLAN"))
            && w[0].ends_with(&format!("vni {vni}"))
            && w[1].starts_with(inner)
    })
}

/// Waits (at most 5 s) until every port of every bridge in `nodes` is forwarding.
///
/// `up` returns once the kernel accepted every step, but a bridge port whose carrier came
/// up shortly before its bridge stays `disabled` until the kernel's linkwatch work notices
/// (observed: a few ms usually, up to about a second). Frames sent meanwhile, including the
/// VTEPs' IGMP joins, are dropped by the switch. Reported as a lifecycle issue; the labs
/// themselves are checked once the links are ready.
fn wait_forwarding(lab: &TestLab, nodes: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(5);
    for node in nodes {
        loop {
            let links = lab.ok(node, &["bridge", "link", "show"]);
            let waiting: Vec<&str> = links
                .lines()
                .filter(|l| !l.contains(" state forwarding "))
                .collect();
            if waiting.is_empty() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{node}: bridge ports still not forwarding 5 s after up: {waiting:#?}"
            );
            thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The MAC of `ifname` in `node`, read from the node's own sysfs.
fn mac_of(lab: &TestLab, node: &str, ifname: &str) -> String {
    lab.ok(node, &["cat", &format!("/sys/class/net/{ifname}/address")])
        .trim()
        .to_string()
}

const GROUP_ENTRY: &str = "00:00:00:00:00:00 dst 239.1.1.1 via eth0 self permanent";

#[test]
fn vteps_find_each_other_through_the_group() {
    require_root!();
    let before = root_snapshot();
    let lab = TestLab::up_file("vxlan-multicast.toml");
    wait_forwarding(&lab, &["underlay"]);
    let hosts = [
        ("host1", "10.211.55.11", "192.168.1.1"),
        ("host2", "10.211.55.12", "192.168.1.2"),
    ];

    for (node, _, addr) in hosts {
        let link = lab.ok(node, &["ip", "-d", "link", "show", "vxlan1"]);
        assert!(
            link.contains("vxlan id 6 group 239.1.1.1 dev eth0 ")
                && link.contains(" dstport 4789 "),
            "{node}: {link}"
        );
        let a = lab.ok(node, &["ip", "-4", "-o", "addr", "show", "dev", "vxlan1"]);
        assert!(a.contains(&format!("inet {addr}/24 ")), "{node}: {a}");
        // No remote: the group is the default destination, the FDB's all-zeros entry.
        let fdb = lab.ok(node, &["bridge", "fdb", "show", "dev", "vxlan1"]);
        assert!(
            fdb.lines().any(|l| l.trim_end() == GROUP_ENTRY),
            "{node}: {fdb}"
        );
        // The VTEP joined the group on eth0 (IGMP).
        let maddr = lab.ok(node, &["ip", "-4", "maddr", "show", "dev", "eth0"]);
        assert!(maddr.contains("239.1.1.1"), "{node}: {maddr}");
    }

    // The underlay switch snooped both joins: the group is forwarded to both hosts' ports.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mdb = loop {
        let mdb = lab.ok("underlay", &["bridge", "mdb", "show"]);
        let joined = |p: &str| {
            mdb.lines()
                .any(|l| l.contains(&format!(" port {p} grp 239.1.1.1 ")))
        };
        if (joined("host1") && joined("host2")) || Instant::now() > deadline {
            break mdb;
        }
        thread::sleep(Duration::from_millis(200));
    };
    assert!(
        mdb.contains(" port host1 grp 239.1.1.1 ") && mdb.contains(" port host2 grp 239.1.1.1 "),
        "IGMP joins not seen by the switch: {mdb}"
    );

    // The first ping: its ARP request is flooded to the group; the reply, and the echo
    // request after it, go unicast to the VTEP that was learned. Seen on host2's eth0.
    let mac1 = mac_of(&lab, "host1", "vxlan1");
    let mac2 = mac_of(&lab, "host2", "vxlan1");
    let cap = Capture::start(&lab, "host2", "eth0", &["udp", "port", "4789"]);
    assert!(
        lab.pings("host1", "192.168.1.2"),
        "192.168.1.1 -> 192.168.1.2"
    );
    if let Some(cap) = cap {
        let flooded_request = |l: &[String]| {
            encapsulated(
                l,
                "10.211.55.11",
                "239.1.1.1",
                6,
                "ARP, Request who-has 192.168.1.2 tell 192.168.1.1",
            )
        };
        let unicast_reply = |l: &[String]| {
            encapsulated(
                l,
                "10.211.55.12",
                "10.211.55.11",
                6,
                &format!("ARP, Reply 192.168.1.2 is-at {mac2}"),
            )
        };
        let unicast_echo = |l: &[String]| {
            encapsulated(
                l,
                "10.211.55.11",
                "10.211.55.12",
                6,
                "IP 192.168.1.1 > 192.168.1.2: ICMP echo request",
            )
        };
        let lines = cap.until(Duration::from_secs(5), |l| {
            flooded_request(l).is_some() && unicast_reply(l).is_some() && unicast_echo(l).is_some()
        });
        println!("captured on host2's eth0:\n{}", lines.join("\n"));
        assert!(
            flooded_request(&lines).is_some(),
            "ARP not sent to the group: {lines:#?}"
        );
        assert!(
            unicast_reply(&lines).is_some(),
            "ARP reply not unicast: {lines:#?}"
        );
        assert!(
            unicast_echo(&lines).is_some(),
            "echo not unicast: {lines:#?}"
        );
        // Once learned, nothing more is flooded: no ICMP inside a packet to the group.
        assert!(
            !lines
                .windows(2)
                .any(|w| w[0].contains(" > 239.1.1.1.4789: ") && w[1].contains("ICMP echo")),
            "ICMP went to the group: {lines:#?}"
        );
    }
    assert!(
        lab.pings("host2", "192.168.1.1"),
        "192.168.1.2 -> 192.168.1.1"
    );

    // Each side learned the other's vxlan1 MAC, with the other's underlay IP as dst.
    for ((node, _, _), (peer_mac, peer_ip)) in hosts
        .iter()
        .zip([(&mac2, "10.211.55.12"), (&mac1, "10.211.55.11")])
    {
        let fdb = lab.ok(node, &["bridge", "fdb", "show", "dev", "vxlan1"]);
        let learned = fdb.lines().find(|l| l.starts_with(peer_mac.as_str()));
        assert!(
            learned.is_some_and(|l| l.trim_end() == format!("{peer_mac} dst {peer_ip} self")),
            "{node}: no learned entry for {peer_mac}: {fdb}"
        );
        assert!(
            fdb.lines().any(|l| l.trim_end() == GROUP_ENTRY),
            "{node}: {fdb}"
        );
        // And ARP resolved the peer's address to that MAC.
        let peer_addr = if *node == "host1" {
            "192.168.1.2"
        } else {
            "192.168.1.1"
        };
        let neigh = lab.ok(node, &["ip", "neigh", "show", peer_addr, "dev", "vxlan1"]);
        assert!(
            neigh.contains(&format!("lladdr {peer_mac} ")),
            "{node}: {neigh}"
        );
    }

    lab.down();
    assert_eq!(before, root_snapshot(), "the root namespace changed");
}
