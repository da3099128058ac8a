//! Capture follows the lab: an interface added after the capture started is captured once
//! `follow` sees it, and one that disappears ends its capture point with the reason.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{TestLab, runtime};
use vxlab::capture::{Capture, Options, lab_points};

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn new_interfaces_are_captured_and_gone_ones_reported() {
    require_root!();
    let lab = TestLab::up_file("bridge-basics.toml");
    let rt = runtime();
    let mut cap = Capture::start(
        rt.block_on(lab_points(&lab.lab.name)).unwrap(),
        &Options::default(),
    );
    let before = cap.points.len();
    let (host, ns1) = (lab.netns("host"), lab.netns("host/ns1"));
    ip(&[
        "-n", &host, "link", "add", "extra0", "type", "veth", "peer", "name", "extra1", "netns",
        &ns1,
    ]);
    ip(&["-n", &host, "addr", "add", "10.9.9.1/24", "dev", "extra0"]);
    ip(&["-n", &ns1, "addr", "add", "10.9.9.2/24", "dev", "extra1"]);
    ip(&["-n", &host, "link", "set", "extra0", "up"]);
    ip(&["-n", &ns1, "link", "set", "extra1", "up"]);
    let added = cap.follow(rt.block_on(lab_points(&lab.lab.name)).unwrap());
    assert_eq!(added.len(), 4, "extra0 and extra1, both directions");
    assert_eq!(cap.points.len(), before + 4);
    let extra0_in = added
        .iter()
        .copied()
        .find(|&i| cap.points[i].iface == "extra0" && cap.points[i].dir.as_str() == "in")
        .unwrap();
    assert!(lab.pings("host/ns1", "10.9.9.1"));
    let mut seen = false;
    while let Some(f) = cap.next_timeout(Duration::from_millis(300)) {
        seen |= f.point == extra0_in;
    }
    assert!(seen, "frames from the new interface were captured");
    ip(&["-n", &host, "link", "del", "extra0"]);
    std::thread::sleep(Duration::from_millis(200));
    let (_, stats) = cap.stop();
    assert!(
        stats[extra0_in].error.is_some(),
        "the vanished interface is reported: {:?}",
        stats[extra0_in]
    );
    assert!(
        stats[..before].iter().all(|s| s.error.is_none()),
        "the others captured to the end"
    );
    lab.down();
}
