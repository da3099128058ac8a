//! `[[nat]]` on the real kernel: seed 004's port mapping (DNAT) and way out (MASQUERADE,
//! SNAT), interface and negated matches, the rules' home (table `ip vxlab` of the node,
//! nothing else), and `vxlab script`'s iptables commands building the same thing.

mod common;

use std::process::{Command, Stdio};

use common::{TestLab, root_snapshot, runtime, unique_name};
use vxlab::lifecycle;
use vxlab::model::Lab;
use vxlab::plan::plan;
use vxlab::plan::script::up_script;

/// A host `gw` with a container behind its bridge, and an `outside` machine that has no
/// route to the container network.
const LAB: &str = r#"
[lab]
name = "natrules"

[[host]]
name = "gw"
underlay = "192.168.10.1/24"
[[host]]
name = "outside"
underlay = "192.168.10.2/24"
[[namespace]]
name = "gw/c"

[[bridge]]
name = "gw:br0"
ports = ["v0"]
[[veth]]
name = "gw:v0"
peer = "gw/c:eth0"
[[address]]
dev = "gw:br0"
address = "172.17.0.1/16"
[[address]]
dev = "gw/c:eth0"
address = "172.17.0.2/16"
[[route]]
node = "gw/c"
to = "default"
via = "172.17.0.1"
[[sysctl]]
node = "gw"
key = "net.ipv4.ip_forward"
value = 1

[[process]]
node = "gw/c"
http = 80
[[process]]
node = "outside"
http = 80

# seed 004, fault 4: iptables -t nat -A PREROUTING -i eth0 -p tcp --dport 90 -j DNAT --to 172.17.0.2:80
[[nat]]
node = "gw"
type = "dnat"
in = "eth0"
proto = "tcp"
dport = 90
to = "172.17.0.2:80"
comment = "port mapping"

# seed 003/004: iptables -t nat -A POSTROUTING -s 172.17.0.0/16 ! -d 172.17.0.0/16 -o eth0 -j MASQUERADE
[[nat]]
node = "gw"
type = "masquerade"
src = "172.17.0.0/16"
dst = "! 172.17.0.0/16"
out = "eth0"
"#;

fn curl(lab: &TestLab, node: &str, url: &str) -> Option<String> {
    let out = lab.exec(node, &["curl", "-s", "-m", "2", url]);
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[test]
fn dnat_maps_a_host_port_to_the_container() {
    require_root!();
    let before = root_snapshot();
    let lab = TestLab::up(LAB);
    let body = curl(&lab, "outside", "http://192.168.10.1:90/");
    assert_eq!(
        body.as_deref(),
        Some("gw/c (client 192.168.10.2)"),
        "the container answers, and sees the real client"
    );
    // The connection in gw's conntrack table: DNATed, replies from the container.
    let rows = vxlab::conntrack::dump(&lab.netns("gw")).unwrap();
    let row = rows
        .iter()
        .find(|r| r.proto == "tcp" && r.original.dport == Some(90))
        .unwrap_or_else(|| panic!("no DNAT row: {rows:#?}"));
    assert!(row.dst_nat && !row.src_nat, "{row:?}");
    assert_eq!(row.reply.src.to_string(), "172.17.0.2");
    assert_eq!(row.reply.sport, Some(80));
    // The rules live in gw's own table, and only there.
    let gw = lab.ok(
        "gw",
        &["nft", "--stateless", "list", "table", "ip", "vxlab"],
    );
    assert!(
        gw.contains(
            "iifname \"eth0\" tcp dport 90 counter dnat to 172.17.0.2:80 comment \"port mapping\""
        ),
        "{gw}"
    );
    assert!(
        gw.contains(
            "ip saddr 172.17.0.0/16 ip daddr != 172.17.0.0/16 oifname \"eth0\" counter masquerade"
        ),
        "{gw}"
    );
    assert_eq!(lab.ok("outside", &["nft", "list", "ruleset"]), "");
    assert_eq!(lab.ok("gw/c", &["nft", "list", "ruleset"]), "");
    lab.down();
    assert_eq!(before, root_snapshot(), "the root namespace changed");
}

#[test]
fn masquerade_hides_the_container_and_in_restricts_the_mapping() {
    require_root!();
    let lab = TestLab::up(LAB);
    assert_eq!(
        curl(&lab, "gw/c", "http://192.168.10.2/").as_deref(),
        Some("outside (client 192.168.10.1)"),
        "outside sees gw's address, and its reply finds its way back"
    );
    let rows = vxlab::conntrack::dump(&lab.netns("gw")).unwrap();
    assert!(
        rows.iter()
            .any(|r| r.src_nat && r.original.src.to_string() == "172.17.0.2"),
        "{rows:#?}"
    );
    // The mapping is for eth0 only: from the container's side, port 90 is gw's own,
    // where nothing listens.
    assert_eq!(curl(&lab, "gw/c", "http://172.17.0.1:90/"), None);
}

#[test]
fn snat_to_a_fixed_address() {
    require_root!();
    let text = LAB.replace(
        "type = \"masquerade\"",
        "type = \"snat\"\nto = \"192.168.10.1\"",
    );
    let lab = TestLab::up(&text);
    assert_eq!(
        curl(&lab, "gw/c", "http://192.168.10.2/").as_deref(),
        Some("outside (client 192.168.10.1)")
    );
    let gw = lab.ok(
        "gw",
        &["nft", "--stateless", "list", "table", "ip", "vxlab"],
    );
    assert!(gw.contains("snat to 192.168.10.1"), "{gw}");
}

#[test]
fn without_the_masquerade_the_reply_is_lost() {
    require_root!();
    let cut = LAB.find("# seed 003/004").unwrap();
    let lab = TestLab::up(&LAB[..cut]);
    assert_eq!(
        curl(&lab, "gw/c", "http://192.168.10.2/"),
        None,
        "outside has no route back to 172.17.0.2 (seed 004, fault 3)"
    );
}

#[test]
fn script_prints_the_write_ups_iptables_commands() {
    let lab = Lab::from_source(LAB).unwrap();
    let script = up_script(&lab, &plan(&lab));
    assert!(
        script.contains(
            "ip netns exec vx.natrules.gw iptables -t nat -I PREROUTING -i eth0 -p tcp -m comment --comment 'port mapping' --dport 90 -j DNAT --to-destination 172.17.0.2:80\n"
        ),
        "{script}"
    );
    assert!(
        script.contains(
            "ip netns exec vx.natrules.gw iptables -t nat -I POSTROUTING -s 172.17.0.0/16 ! -d 172.17.0.0/16 -o eth0 -j MASQUERADE\n"
        ),
        "{script}"
    );
}

/// Runs `vxlab script`'s output with bash: iptables builds what vxlab builds with nft.
#[test]
fn the_script_builds_an_equivalent_lab() {
    require_root!();
    let name = unique_name("natsh");
    let lab = Lab::from_source(LAB).unwrap().renamed(&name);
    let script = up_script(&lab, &plan(&lab));
    let mut bash = Command::new("bash")
        .env("VXLAB", env!("CARGO_BIN_EXE_vxlab"))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::io::Write::write_all(bash.stdin.as_mut().unwrap(), script.as_bytes()).unwrap();
    drop(bash.stdin.take());
    let ok = bash.wait().unwrap().success();
    let ns = |n: &str| vxlab::model::netns_name(&name, n);
    let fetch = |node: &str, url: &str| {
        let out = Command::new("ip")
            .args(["netns", "exec", &ns(node), "curl", "-s", "-m", "2", url])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let mapped = fetch("outside", "http://192.168.10.1:90/");
    let out = fetch("gw/c", "http://192.168.10.2/");
    let rules = Command::new("ip")
        .args(["netns", "exec", &ns("gw"), "iptables", "-t", "nat", "-S"])
        .output()
        .unwrap();
    runtime()
        .block_on(lifecycle::down(&name, &mut common::kernel()))
        .unwrap();
    assert!(ok, "the script failed");
    assert_eq!(mapped, "gw/c (client 192.168.10.2)");
    assert_eq!(out, "outside (client 192.168.10.1)");
    let rules = String::from_utf8_lossy(&rules.stdout);
    assert!(
        rules.contains("-A POSTROUTING -s 172.17.0.0/16 ! -d 172.17.0.0/16 -o eth0 -j MASQUERADE"),
        "{rules}"
    );
}
