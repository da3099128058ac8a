//! labs/bridge-basics.toml (seed 004): two namespaces on br3.

mod common;

use common::{TestLab, root_snapshot};

#[test]
fn namespaces_ping_each_other_and_the_bridge() {
    require_root!();
    let before = root_snapshot();
    let lab = TestLab::up_file("bridge-basics.toml");
    assert!(lab.pings("host/ns1", "170.19.0.2"), "ns1 -> ns2");
    assert!(lab.pings("host/ns2", "170.19.0.1"), "ns2 -> ns1");
    assert!(lab.pings("host/ns1", "170.19.0.3"), "ns1 -> br3");
    assert!(
        lab.pings("host/ns1", "170.19.0.1"),
        "ns1 -> itself (lo is up)"
    );
    let ports = lab.ok("host", &["bridge", "link", "show"]);
    assert!(
        ports.contains("veth01") && ports.contains("veth11") && ports.contains("master br3"),
        "{ports}"
    );
    lab.down();
    assert_eq!(before, root_snapshot());
}
