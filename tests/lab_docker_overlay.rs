//! labs/docker-overlay.toml (seed 000) on the real kernel: the overlay path between the
//! two machines' containers, the write-up's VXLAN details, and a clean teardown.

mod common;

use common::{TestLab, root_snapshot};

#[test]
fn containers_reach_each_other_across_the_overlay() {
    require_root!();
    let before = root_snapshot();
    let lab = TestLab::up_file("docker-overlay.toml");

    // Container A (10.0.0.4) pings container B (10.0.0.14) and B's sandbox_1 (10.0.0.12).
    assert!(
        lab.pings("hostA/container", "10.0.0.14"),
        "10.0.0.4 -> 10.0.0.14 across the overlay"
    );
    assert!(
        lab.pings("hostA/container", "10.0.0.12"),
        "10.0.0.4 -> hostB's sandbox_1"
    );
    assert!(
        lab.pings("hostB/container", "10.0.0.4"),
        "10.0.0.14 -> 10.0.0.4"
    );

    // The answer really crossed: B's HTTP server names itself and sees A's container.
    let body = lab.ok(
        "hostA/container",
        &["curl", "-s", "-m", "3", "http://10.0.0.14/"],
    );
    assert!(
        body.starts_with("hostB/container (client 10.0.0.4)"),
        "{body}"
    );

    // vxlan0 lives in sandbox_2 but its UDP socket stayed in the host namespace.
    let host_sockets = lab.ok("hostA", &["ss", "-Huan"]);
    assert!(
        host_sockets.contains(":4789"),
        "host has the VXLAN socket: {host_sockets}"
    );
    let sandbox_sockets = lab.ok("hostA/sandbox_2", &["ss", "-Huan"]);
    assert!(
        !sandbox_sockets.contains(":4789"),
        "sandbox_2 has no socket: {sandbox_sockets}"
    );
    let link = lab.ok("hostA/sandbox_2", &["ip", "-d", "link", "show", "vxlan0"]);
    assert!(
        link.contains("vxlan id 100") && link.contains("dstport 4789") && link.contains("proxy"),
        "{link}"
    );
    assert!(link.contains("master edge_bridge"), "{link}");

    // Static ARP and FDB for hostB's container, with hostB's real MAC.
    let mac_b = lab.ok(
        "hostB/container",
        &["cat", "/sys/class/net/veth105/address"],
    );
    let neigh = lab.ok("hostA/sandbox_2", &["ip", "neigh", "show", "dev", "vxlan0"]);
    assert!(
        neigh.contains(&format!("10.0.0.14 lladdr {} PERMANENT", mac_b.trim())),
        "{neigh}"
    );
    let fdb = lab.ok(
        "hostA/sandbox_2",
        &["bridge", "fdb", "show", "dev", "vxlan0"],
    );
    let entry = fdb
        .lines()
        .find(|l| l.starts_with(mac_b.trim()) && l.contains("dst 192.168.228.149"));
    assert!(
        entry.is_some_and(|l| l.trim_end().ends_with("self permanent")),
        "{fdb}"
    );

    lab.down();
    assert_eq!(before, root_snapshot(), "the root namespace changed");
}

#[test]
fn proxy_without_static_arp_swallows_the_request() {
    require_root!();
    let lab = TestLab::up_file("docker-overlay.toml");
    lab.ok(
        "hostA/sandbox_2",
        &["ip", "neigh", "del", "10.0.0.14", "dev", "vxlan0"],
    );
    assert!(
        !lab.pings("hostA/container", "10.0.0.14"),
        "no static ARP entry: proxy answers nothing"
    );
    let n = lab.ok("hostA/container", &["ip", "neigh", "show", "10.0.0.14"]);
    assert!(n.contains("FAILED") || n.contains("INCOMPLETE"), "{n}");
}
