//! `[[fault]]` in scenarios: what is accepted, and the exact text of what is rejected
//! (message, position, caret, hint), held as a contract. No root needed.

#![allow(clippy::needless_raw_string_hashes)]

use vxlab::diag::render;
use vxlab::model::{FaultAction, Lab};

/// Two hosts, a VXLAN each, a bridge, a route and a NAT rule to aim faults at.
const BASE: &str = r#"[lab]
name = "t"
[[host]]
name = "hostA"
underlay = "192.168.0.1/24"
[[host]]
name = "hostB"
underlay = "192.168.0.2/24"
[[vxlan]]
name = "hostA:vxlan0"
vni = 5
dstport = 4789
remote = "192.168.0.2"
[[address]]
dev = "hostA:vxlan0"
address = "10.0.0.1/24"
[[route]]
node = "hostA"
to = "10.9.0.0/16"
via = "10.0.0.2"
[[nat]]
node = "hostA"
type = "masquerade"
src = "10.0.0.0/24"
"#;

fn errors(extra: &str) -> String {
    let source = format!("{BASE}{extra}");
    match Lab::from_source(&source) {
        Ok(_) => panic!("accepted:\n{source}"),
        Err(diags) => render("lab.toml", &source, &diags),
    }
}

#[test]
fn every_action_is_accepted_and_modelled() {
    let lab = Lab::from_source(&format!(
        r#"{BASE}
[[fault]]
name = "a"
description = "x"
remove_fdb = {{ dev = "hostA:vxlan0", mac = "@hostB:eth0" }}
[[fault]]
name = "b"
description = "x"
remove_neigh = {{ dev = "hostA:vxlan0", to = "10.0.0.2" }}
[[fault]]
name = "c"
description = "x"
sysctl = {{ node = "hostA", key = "net.ipv4.ip_forward", value = 0 }}
[[fault]]
name = "d"
description = "x"
link_down = {{ dev = "hostB:lo" }}
[[fault]]
name = "e"
description = "x"
remove_route = {{ node = "hostA", to = "10.9.0.0/16" }}
[[fault]]
name = "f"
description = "x"
mtu = {{ dev = "hostA:eth0", mtu = 1400 }}
[[fault]]
name = "g"
description = "x"
vxlan = {{ dev = "hostA:vxlan0", vni = 6, dstport = 8472 }}
[[fault]]
name = "h"
description = "x"
remove_nat = {{ node = "hostA", rule = 1 }}
"#
    ))
    .expect("valid");
    let shown: Vec<String> = lab.faults.iter().map(|f| f.action.to_string()).collect();
    assert_eq!(
        shown,
        [
            format!(
                "remove the FDB entries of {} on hostA:vxlan0",
                lab.interfaces()
                    .iter()
                    .find(|(r, _)| r.to_string() == "hostB:eth0")
                    .unwrap()
                    .1
            ),
            "remove the neighbour (ARP) entry of 10.0.0.2 on hostA:vxlan0".to_string(),
            "set net.ipv4.ip_forward = 0 in hostA".to_string(),
            "set hostB:lo down".to_string(),
            "remove the route to 10.9.0.0/16 of hostA".to_string(),
            "set the MTU of hostA:eth0 to 1400".to_string(),
            "recreate hostA:vxlan0 with VNI 6 and UDP port 8472".to_string(),
            "remove NAT rule #1 of the lab, in hostA".to_string(),
        ]
    );
    assert!(matches!(
        lab.faults[7].action,
        FaultAction::RemoveNat { index: 0, .. }
    ));
}

#[test]
fn a_fault_needs_exactly_one_action() {
    assert_eq!(
        errors(
            r#"[[fault]]
name = "nothing"
description = "x"
"#
        ),
        r#"error: fault `nothing` has no action
  --> lab.toml:26:8
   |
26 | name = "nothing"
   |        ^^^^^^^^^
   = help: give exactly one of remove_fdb, remove_neigh, sysctl, link_down, remove_route, mtu, vxlan, remove_nat, stop_process, ovs_set

"#
    );
    assert_eq!(
        errors(
            r#"[[fault]]
name = "two"
description = "x"
link_down = { dev = "hostA:eth0" }
mtu = { dev = "hostA:eth0", mtu = 1400 }
"#
        ),
        r#"error: fault `two` has more than one action
  --> lab.toml:29:7
   |
29 | mtu = { dev = "hostA:eth0", mtu = 1400 }
   |       ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
   = help: one fault, one change: declare another [[fault]] for the second

"#
    );
}

#[test]
fn references_must_exist() {
    let e = errors(
        r#"[[fault]]
name = "a"
description = "x"
vxlan = { dev = "hostA:eth0", vni = 6 }
[[fault]]
name = "b"
description = "x"
remove_route = { node = "hostB", to = "default" }
[[fault]]
name = "c"
description = "x"
remove_nat = { node = "hostA", rule = 2 }
[[fault]]
name = "a"
description = " "
link_down = { dev = "hostC:lo" }
"#,
    );
    for want in [
        "error: `eth0` is not a VXLAN device",
        "error: `hostB` has no [[route]] to default",
        "error: `hostA` has no [[nat]] rule #2",
        "= help: it has 1 (counted from 1, in file order)",
        "error: fault `a` is declared twice",
    ] {
        assert!(e.contains(want), "{want}\n{e}");
    }
    let e = errors(
        r#"[[fault]]
name = "d"
description = ""
link_down = { dev = "hostC:lo" }
"#,
    );
    assert!(e.contains("error: a fault needs a description"), "{e}");
    assert!(e.contains("error: there is no node `hostC`"), "{e}");
}

#[test]
fn every_shipped_fault_names_an_object_of_its_lab() {
    let mut n = 0;
    for (name, text) in vxlab::labs::BUILTIN {
        let lab = Lab::from_source(text).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        for f in &lab.faults {
            assert!(lab.node(f.action.node()).is_some(), "{name} {}", f.name);
            assert!(!f.description.is_empty());
            n += 1;
        }
    }
    assert!(n >= 20, "{n} faults shipped");
}

/// A host running an agent (which makes `flannel.1`), a web server, a one-shot command,
/// and an Open vSwitch (`vxlab ovs-host`) with a VXLAN port.
const PROCESSES: &str = r#"
[[process]]
node = "hostA"
command = ["vxlab", "agent", "--etcd", "http://192.168.0.9:2379", "--subnet", "10.244.1.0/24"]
[[process]]
node = "hostA"
http = 80
[[process]]
node = "hostB"
command = ["ethtool", "-K", "eth0", "tx", "off"]
[[process]]
node = "hostB"
command = ["vxlab", "ovs-host", "--dir", "{state}/ovs-hostB", "--",
    "add-br", "br1", "--", "add-port", "br1", "vxlan1", "--",
    "set", "interface", "vxlan1", "type=vxlan", "options:remote_ip=192.168.0.1", "options:key=flow"]
"#;

#[test]
fn process_and_open_vswitch_faults_are_accepted_and_modelled() {
    let lab = Lab::from_source(&format!(
        r#"{BASE}{PROCESSES}
[[fault]]
name = "a"
description = "x"
stop_process = {{ node = "hostA", process = 2 }}
[[fault]]
name = "b"
description = "x"
ovs_set = {{ node = "hostB", interface = "vxlan1", column = "options:key", value = "200" }}
[[fault]]
name = "c"
description = "x"
remove_fdb = {{ dev = "hostA:flannel.1", dst = "192.168.0.2" }}
[[fault]]
name = "d"
description = "x"
vxlan = {{ dev = "hostA:flannel.1", vni = 2 }}
"#
    ))
    .expect("valid");
    let shown: Vec<String> = lab.faults.iter().map(|f| f.action.to_string()).collect();
    assert_eq!(
        shown,
        [
            "stop `http 80` in hostA",
            "set options:key=200 on Open vSwitch interface vxlan1 of hostB",
            "remove the FDB entries towards 192.168.0.2 on hostA:flannel.1",
            "recreate hostA:flannel.1 with VNI 2",
        ]
    );
    assert!(matches!(
        lab.faults[0].action,
        FaultAction::StopProcess { index: 1, .. }
    ));
}

#[test]
fn process_and_open_vswitch_faults_name_what_exists() {
    let e = errors(&format!(
        r#"{PROCESSES}
[[fault]]
name = "a"
description = "x"
stop_process = {{ node = "hostA", process = 3 }}
[[fault]]
name = "b"
description = "x"
stop_process = {{ node = "hostB", process = 1 }}
[[fault]]
name = "c"
description = "x"
ovs_set = {{ node = "hostA", interface = "vxlan1", column = "options:key", value = "2" }}
[[fault]]
name = "d"
description = "x"
ovs_set = {{ node = "hostB", interface = "vxlan9", column = "options:key", value = "2" }}
[[fault]]
name = "e"
description = "x"
ovs_set = {{ node = "hostB", interface = "vxlan1", column = "options key", value = "2" }}
[[fault]]
name = "f"
description = "x"
remove_fdb = {{ dev = "hostA:vxlan0", mac = "@hostB:eth0", dst = "192.168.0.2" }}
[[fault]]
name = "g"
description = "x"
remove_fdb = {{ dev = "hostB:flannel.1", dst = "192.168.0.1" }}
"#
    ));
    assert!(
        e.contains(
            r#"error: `hostA` has no [[process]] #3
  --> lab.toml:44:44
   |
44 | stop_process = { node = "hostA", process = 3 }
   |                                            ^
   = help: it has 2 (counted from 1, in file order)
"#
        ),
        "{e}"
    );
    for want in [
        "error: process #1 of `hostB` is not a server that keeps running",
        "= help: stop_process stops a server: an `http` process, `vxlab agent` or etcd",
        "error: `hostA` runs no Open vSwitch",
        "error: the Open vSwitch of `hostB` has no interface `vxlan9`",
        "= help: its interfaces: br1, vxlan1",
        "error: `options key` is not an Open vSwitch column",
        "error: remove_fdb names the entries by `mac` or by `dst`, not both or neither",
        "error: there is no interface `flannel.1` in `hostB`",
    ] {
        assert!(e.contains(want), "{want}\n{e}");
    }
}
