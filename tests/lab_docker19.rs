//! labs/docker-1.9-overlay.toml (seed 001) on the real kernel: Docker 1.9's overlay
//! networks net1 and net2 share the subnet 10.0.0.0/24 across two machines; containers of
//! one network reach each other, the two networks stay apart (shown by traffic, and by
//! which container answers an address both networks use), and teardown leaves nothing.

mod common;

use common::{TestLab, root_snapshot};

const NET1: &str = "1-da3d1b5fcb";
const NET2: &str = "1-283b96845c";

/// The body of `http://ip/` fetched from `node`, or `None` if nothing answered.
fn http_from(lab: &TestLab, node: &str, ip: &str) -> Option<String> {
    let out = lab.exec(node, &["curl", "-s", "-m", "2", &format!("http://{ip}/")]);
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[test]
fn overlay_networks_connect_their_containers_and_stay_isolated() {
    require_root!();
    let before = root_snapshot();
    let lab = TestLab::up_file("docker-1.9-overlay.toml");

    // net1: net1c1 (101, 10.0.0.7) and net1c2 (71, 10.0.0.5) reach each other.
    assert!(
        lab.pings("host101/net1c1", "10.0.0.5"),
        "net1c1 -> net1c2 across the overlay"
    );
    assert!(
        lab.pings("host71/net1c2", "10.0.0.7"),
        "net1c2 -> net1c1 across the overlay"
    );
    // net2 works too: net2c1 (101) reaches net2c2 and net2c3 (71).
    assert!(lab.pings("host101/net2c1", "10.0.0.6"), "net2c1 -> net2c2");
    assert!(lab.pings("host101/net2c1", "10.0.0.5"), "net2c1 -> net2c3");

    // Isolation: net1c1 gets no answer from net2's containers, on the other machine
    // (net2c2, 10.0.0.6) or its own (net2c1, 10.0.0.4) — the write-up's `ping 10.0.0.4`.
    assert!(
        !lab.pings("host101/net1c1", "10.0.0.6"),
        "net1c1 must not reach net2c2"
    );
    assert!(
        !lab.pings("host101/net1c1", "10.0.0.4"),
        "net1c1 must not reach net2c1"
    );
    assert_eq!(http_from(&lab, "host101/net1c1", "10.0.0.6"), None);
    assert_eq!(http_from(&lab, "host71/net1c2", "10.0.0.4"), None);

    // 10.0.0.5 (and MAC 02:42:0a:00:00:05) is net1c2 on net1 and net2c3 on net2, both on
    // machine 71: the VNI alone picks who answers.
    assert_eq!(
        http_from(&lab, "host101/net1c1", "10.0.0.5").as_deref(),
        Some("host71/net1c2 (client 10.0.0.7)")
    );
    assert_eq!(
        http_from(&lab, "host101/net2c1", "10.0.0.5").as_deref(),
        Some("host71/net2c3 (client 10.0.0.4)")
    );
    assert_eq!(
        http_from(&lab, "host71/net2c3", "10.0.0.4").as_deref(),
        Some("host101/net2c1 (client 10.0.0.5)")
    );

    // Outside traffic leaves through eth1 and docker_gwbridge, masqueraded by the host:
    // machine 71 answers net1c1 although it has its own 172.19.0.0/16.
    let route = lab.ok("host101/net1c1", &["ip", "route", "get", "10.10.126.71"]);
    assert!(route.contains("via 172.19.0.1 dev eth1"), "{route}");
    assert!(
        lab.pings("host101/net1c1", "10.10.126.71"),
        "net1c1 -> machine 71 through docker_gwbridge"
    );

    lab.down();
    assert_eq!(before, root_snapshot(), "the root namespace changed");
}

#[test]
fn devices_and_tables_are_docker_1_9s() {
    require_root!();
    let lab = TestLab::up_file("docker-1.9-overlay.toml");
    let net1 = format!("host101/{NET1}");

    // The container's eth0 has MTU 1450: a 1422-byte DF ping fits, 1423 does not.
    let mtu = lab.ok("host101/net1c1", &["cat", "/sys/class/net/eth0/mtu"]);
    assert_eq!(mtu.trim(), "1450");
    let ping = |size: &str| {
        lab.exec(
            "host101/net1c1",
            &[
                "ping", "-c", "1", "-W", "1", "-M", "do", "-s", size, "10.0.0.5",
            ],
        )
        .status
        .success()
    };
    assert!(ping("1422"), "1450-byte packets cross the overlay");
    assert!(!ping("1423"), "1451 bytes do not fit eth0");

    // The network's namespace: br0 (10.0.0.1/24, MTU 1450) with vxlan1 and veth2.
    let br0 = lab.ok(&net1, &["ip", "-o", "addr", "show", "dev", "br0"]);
    assert!(br0.contains("inet 10.0.0.1/24"), "{br0}");
    let links = lab.ok(&net1, &["ip", "-o", "link", "show"]);
    for want in [" br0: <", " vxlan1@", " veth2@"] {
        assert!(links.contains(want), "{want} in {links}");
    }
    assert!(
        links
            .lines()
            .any(|l| l.contains(" br0: ") && l.contains("mtu 1450")),
        "{links}"
    );
    let vx = lab.ok(&net1, &["ip", "-d", "link", "show", "vxlan1"]);
    assert!(
        vx.contains("vxlan id 256") && vx.contains("dstport 4789") && vx.contains("proxy"),
        "{vx}"
    );
    assert!(vx.contains("master br0") && vx.contains("mtu 1500"), "{vx}");
    let vx2 = lab.ok(
        &format!("host101/{NET2}"),
        &["ip", "-d", "link", "show", "vxlan1"],
    );
    assert!(vx2.contains("vxlan id 257"), "{vx2}");

    // Both VTEPs' UDP socket is in the host namespace, shared on port 4789.
    let host = lab.ok("host101", &["ss", "-Huan"]);
    assert!(host.contains(":4789"), "{host}");
    let inner = lab.ok(&net1, &["ss", "-Huan"]);
    assert!(!inner.contains(":4789"), "{inner}");

    // Static ARP (the write-up's `arp -a`: "10.0.0.5 at 02:42:0a:00:00:05 PERM on vxlan1")
    // and the FDB entry towards machine 71.
    let neigh = lab.ok(&net1, &["ip", "neigh", "show", "dev", "vxlan1"]);
    assert!(
        neigh.contains("10.0.0.5 lladdr 02:42:0a:00:00:05 PERMANENT"),
        "{neigh}"
    );
    let fdb = lab.ok(&net1, &["bridge", "fdb", "show", "dev", "vxlan1"]);
    assert!(
        fdb.lines().any(|l| l.starts_with("02:42:0a:00:00:05")
            && l.contains("dst 10.10.126.71")
            && l.trim_end().ends_with("self permanent")),
        "{fdb}"
    );
    // net1's namespace knows nothing of net2's containers.
    assert!(!neigh.contains("10.0.0.6"), "{neigh}");

    // The container: eth0 on the overlay, eth1 on docker_gwbridge, default via 172.19.0.1.
    let routes = lab.ok("host101/net1c1", &["ip", "route", "show"]);
    assert!(
        routes.contains("default via 172.19.0.1 dev eth1"),
        "{routes}"
    );
    assert!(routes.contains("10.0.0.0/24 dev eth0"), "{routes}");
    let gw = lab.ok(
        "host101",
        &["ip", "-o", "link", "show", "master", "docker_gwbridge"],
    );
    assert_eq!(gw.lines().count(), 2, "{gw}");
}
