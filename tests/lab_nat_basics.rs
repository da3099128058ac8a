//! labs/nat-basics.toml (seed 004): ns1/ns2 on br3 reach an outside machine through the
//! host's MASQUERADE, the outside reaches ns1's web server through the host's port 90
//! (DNAT), and each of the write-up's faults, planted with `vxlab break`, breaks exactly
//! what the write-up says until `vxlab fix` undoes it.

mod common;

use std::process::Output;
use std::time::Duration;

use common::wire::Capture;
use common::{TestLab, root_snapshot, vxlab};

const OWN: &str = "170.19.0.1";
const NS2: &str = "170.19.0.2";
const BRIDGE: &str = "170.19.0.3";
const HOST_ETH0: &str = "10.0.4.13";
const OUTSIDE: &str = "180.76.76.76";

/// `curl` from `node`, 2 s at most.
fn curl(lab: &TestLab, node: &str, url: &str) -> Output {
    lab.exec(node, &["curl", "-sS", "-m", "2", url])
}

/// The answer of the web server at `url`, fetched from `node`.
fn fetch(lab: &TestLab, node: &str, url: &str) -> String {
    let out = curl(lab, node, url);
    assert!(
        out.status.success(),
        "{node}: curl {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The host's port 90, as the outside machine sees it.
fn port_90() -> String {
    format!("http://{HOST_ETH0}:90/")
}

/// Everything the working lab reaches, as `(what, reached)`.
fn reachability(lab: &TestLab) -> Vec<(&'static str, bool)> {
    vec![
        ("ns1 -> own address", lab.pings("host/ns1", OWN)),
        ("ns1 -> ns2", lab.pings("host/ns1", NS2)),
        ("ns1 -> br3", lab.pings("host/ns1", BRIDGE)),
        ("ns1 -> host eth0", lab.pings("host/ns1", HOST_ETH0)),
        ("ns1 -> outside", lab.pings("host/ns1", OUTSIDE)),
        (
            "outside -> :90",
            curl(lab, "outside", &port_90()).status.success(),
        ),
    ]
}

/// `reachability` with the entries named in `broken` false and every other one true.
fn expect_reachability(lab: &TestLab, broken: &[&str]) {
    for (what, reached) in reachability(lab) {
        assert_eq!(reached, !broken.contains(&what), "{what}");
    }
}

#[test]
fn ns1_reaches_itself_the_host_and_outside_and_outside_reaches_ns1() {
    require_root!();
    let before = root_snapshot();
    let lab = TestLab::up_file("nat-basics.toml");

    expect_reachability(&lab, &[]);
    assert!(lab.pings("host/ns2", OUTSIDE), "ns2 -> outside");

    // The outside machine sees the host's eth0 address, not 170.19.0.x: MASQUERADE.
    assert_eq!(
        fetch(&lab, "host/ns1", &format!("http://{OUTSIDE}/")),
        format!("outside (client {HOST_ETH0})")
    );
    assert_eq!(
        fetch(&lab, "host/ns2", &format!("http://{OUTSIDE}/")),
        format!("outside (client {HOST_ETH0})")
    );
    // And on the outside machine's wire, the ping comes from the host too.
    if let Some(cap) = Capture::start(&lab, "outside", "eth0", &["icmp"]) {
        assert!(lab.pings("host/ns1", OUTSIDE));
        let lines = cap.until(Duration::from_secs(3), |l| l.len() >= 2);
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(&format!("IP {HOST_ETH0} > {OUTSIDE}: ICMP echo request"))),
            "{lines:?}"
        );
        assert!(!lines.iter().any(|l| l.contains("170.19.0.")), "{lines:?}");
    }

    // Port mapping: the host's port 90 is ns1's port 80; ns1 sees the real client.
    assert_eq!(
        fetch(&lab, "outside", &port_90()),
        format!("host/ns1 (client {OUTSIDE})")
    );

    // The host's nat table holds the write-up's two rules.
    let rules = lab.ok("host", &["nft", "list", "ruleset"]);
    assert!(rules.contains("masquerade"), "{rules}");
    assert!(rules.contains("dnat to 170.19.0.1:80"), "{rules}");
    let fwd = lab.ok("host", &["sysctl", "-n", "net.ipv4.ip_forward"]);
    assert_eq!(fwd.trim(), "1");

    lab.down();
    assert_eq!(before, root_snapshot());
}

/// Plants `fault`, checks `broken`, fixes it and checks everything works again.
fn break_and_fix(lab: &TestLab, fault: &str, broken: &[&str], check: impl FnOnce(&TestLab)) {
    let name = lab.lab.name.as_str();
    vxlab(&["break", name, fault]);
    expect_reachability(lab, broken);
    check(lab);
    vxlab(&["fix", name, fault]);
    expect_reachability(lab, &[]);
}

#[test]
fn fault_1_lo_down_cannot_ping_own_address() {
    require_root!();
    let before = root_snapshot();
    let lab = TestLab::up_file("nat-basics.toml");
    break_and_fix(&lab, "lo-down", &["ns1 -> own address"], |lab| {
        let lo = lab.ok("host/ns1", &["ip", "-o", "link", "show", "lo"]);
        assert!(!lo.contains(",UP"), "{lo}");
    });
    let lo = lab.ok("host/ns1", &["ip", "-o", "link", "show", "lo"]);
    assert!(lo.contains(",UP"), "{lo}");
    lab.down();
    assert_eq!(before, root_snapshot());
}

#[test]
fn fault_2_no_default_route_network_is_unreachable() {
    require_root!();
    let before = root_snapshot();
    let lab = TestLab::up_file("nat-basics.toml");
    break_and_fix(
        &lab,
        "no-default-route",
        // ns1 cannot answer the outside machine either: no way back to 180.76.76.76.
        &["ns1 -> host eth0", "ns1 -> outside", "outside -> :90"],
        |lab| {
            for ip in [HOST_ETH0, OUTSIDE] {
                let out = lab.exec("host/ns1", &["ping", "-c", "1", "-W", "1", ip]);
                let err = String::from_utf8_lossy(&out.stderr);
                assert!(err.contains("Network is unreachable"), "ping {ip}: {err}");
            }
        },
    );
    let routes = lab.ok("host/ns1", &["ip", "route", "show", "default"]);
    assert!(
        routes.contains("default via 170.19.0.3 dev veth00"),
        "{routes}"
    );
    lab.down();
    assert_eq!(before, root_snapshot());
}

#[test]
fn fault_3a_no_forwarding_cannot_reach_outside() {
    require_root!();
    let before = root_snapshot();
    let lab = TestLab::up_file("nat-basics.toml");
    break_and_fix(
        &lab,
        "no-forwarding",
        &["ns1 -> outside", "outside -> :90"],
        |lab| {
            let fwd = lab.ok("host", &["sysctl", "-n", "net.ipv4.ip_forward"]);
            assert_eq!(fwd.trim(), "0");
            // Nothing leaves the host: the outside machine sees no ping at all.
            if let Some(cap) = Capture::start(lab, "outside", "eth0", &["icmp"]) {
                assert!(!lab.pings("host/ns1", OUTSIDE));
                let lines = cap.until(Duration::from_millis(500), |l| !l.is_empty());
                assert!(lines.is_empty(), "{lines:?}");
            }
        },
    );
    let fwd = lab.ok("host", &["sysctl", "-n", "net.ipv4.ip_forward"]);
    assert_eq!(fwd.trim(), "1");
    lab.down();
    assert_eq!(before, root_snapshot());
}

#[test]
fn fault_3b_no_masquerade_outside_cannot_answer() {
    require_root!();
    let before = root_snapshot();
    let lab = TestLab::up_file("nat-basics.toml");
    break_and_fix(&lab, "no-masquerade", &["ns1 -> outside"], |lab| {
        // The ping reaches the outside machine with the container's source address, which
        // the outside machine has no route back to.
        if let Some(cap) = Capture::start(lab, "outside", "eth0", &["icmp"]) {
            assert!(!lab.pings("host/ns1", OUTSIDE));
            let lines = cap.until(Duration::from_secs(3), |l| !l.is_empty());
            assert!(
                lines
                    .iter()
                    .any(|l| l.starts_with(&format!("IP {OWN} > {OUTSIDE}: ICMP echo request"))),
                "{lines:?}"
            );
            assert!(!lines.iter().any(|l| l.contains("echo reply")), "{lines:?}");
        }
    });
    assert_eq!(
        fetch(&lab, "host/ns1", &format!("http://{OUTSIDE}/")),
        format!("outside (client {HOST_ETH0})")
    );
    lab.down();
    assert_eq!(before, root_snapshot());
}

#[test]
fn fault_4_no_port_mapping_outside_cannot_reach_the_container() {
    require_root!();
    let before = root_snapshot();
    let lab = TestLab::up_file("nat-basics.toml");
    break_and_fix(&lab, "no-port-mapping", &["outside -> :90"], |lab| {
        let out = curl(lab, "outside", &port_90());
        let err = String::from_utf8_lossy(&out.stderr);
        // Nothing listens on the host's port 90 itself: refused at once.
        assert_eq!(out.status.code(), Some(7), "{err}");
        // ns1's server is still there, for the host.
        assert_eq!(
            fetch(lab, "host", &format!("http://{OWN}/")),
            format!("host/ns1 (client {BRIDGE})")
        );
    });
    assert_eq!(
        fetch(&lab, "outside", &port_90()),
        format!("host/ns1 (client {OUTSIDE})")
    );
    lab.down();
    assert_eq!(before, root_snapshot());
}
