//! A generated lab of 200 namespaces (1000 with `VXLAB_SCALE=1000`) builds, carries traffic
//! across hosts and tears down. Times are printed for the record, not asserted.

mod common;

use std::time::Instant;

use common::{TestLab, root_snapshot, unique_name};

#[test]
fn two_hundred_namespaces_build_work_and_leave_nothing() {
    require_root!();
    let n: usize = std::env::var("VXLAB_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let before = root_snapshot();
    let text = vxlab::labs::generated(&unique_name("scale"), n);
    let t = Instant::now();
    let lab = TestLab::up(&text);
    let up = t.elapsed();
    let nodes = lab.lab.nodes.len();
    let last = format!("10.0.{}.{}", (n - 1) / 250, (n - 1) % 250 + 2);
    assert!(
        lab.pings("h0/c0", &last) || lab.pings("h0/c0", &last),
        "c0 -> c{} across the VXLAN",
        n - 1
    );
    let t = Instant::now();
    lab.down();
    let down = t.elapsed();
    assert_eq!(before, root_snapshot());
    println!("scale: {n} containers ({nodes} namespaces): up {up:.2?}, down {down:.2?}");
}
