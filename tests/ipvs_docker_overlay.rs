//! The load balancer of labs/docker-overlay.toml (seed 000): a client fetches
//! `http://192.168.228.148/` and is answered by both containers in turn (the remote one
//! across the VXLAN overlay), each seeing the SNAT source 10.0.0.2; and without
//! `net.ipv4.vs.conntrack = 1` the lab fails as the write-up says.
//!
//! `kernel_*` tests need the kernel's IPVS: outside the VM they skip (saying why) when
//! `/proc/sys/net/ipv4/vs` is missing; inside it (`VXLAB_IN_VM=1`, `tests/vm/guest-tests`)
//! they fail instead. `emulated_*` tests run the nftables emulation everywhere.

mod common;

use std::process::Command;

use common::{TestLab, runtime, unique_name};
use vxlab::lifecycle;
use vxlab::model::Lab;

fn text() -> String {
    std::fs::read_to_string(format!(
        "{}/labs/docker-overlay.toml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// The lab with `net.ipv4.vs.conntrack = 0` in both `sandbox_1`s.
fn without_vs_conntrack() -> String {
    let t = text().replace(
        "key = \"net.ipv4.vs.conntrack\"\nvalue = 1",
        "key = \"net.ipv4.vs.conntrack\"\nvalue = 0",
    );
    assert_eq!(t.matches("net.ipv4.vs.conntrack\"\nvalue = 0").count(), 2);
    t
}

/// Brings up `source` with the kernel's IPVS (`emulate = false`) or the emulation.
fn up(source: &str, emulate: bool) -> TestLab {
    if !emulate {
        return TestLab::up(source);
    }
    let lab = Lab::from_source(source).unwrap().emulate_ipvs();
    let lab = lab.renamed(&unique_name("ipvsem"));
    runtime()
        .block_on(lifecycle::up(
            &lab,
            source,
            &mut common::kernel(),
            |_, _, _| {},
        ))
        .unwrap_or_else(|e| panic!("up failed: {e}"));
    TestLab { lab }
}

/// `curl` from the client, at most `n` times; the answers (`None` for a failed request).
fn fetch(lab: &TestLab, url: &str, n: usize) -> Vec<Option<String>> {
    (0..n)
        .map(|_| {
            let out = lab.exec("client", &["curl", "-s", "-m", "3", url]);
            out.status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        })
        .collect()
}

/// Both containers answer, in turn (round robin), each seeing `snat` as the client.
fn assert_balanced(lab: &TestLab, host_ip: &str, snat: &str) {
    let answers = fetch(lab, &format!("http://{host_ip}/"), 4);
    println!("{host_ip}: {answers:?}");
    let answers: Vec<String> = answers
        .into_iter()
        .map(|a| a.unwrap_or_else(|| panic!("a request to {host_ip} failed")))
        .collect();
    for c in ["hostA/container", "hostB/container"] {
        assert!(
            answers.contains(&format!("{c} (client {snat})")),
            "{c} did not answer through {host_ip} with client {snat}: {answers:?}"
        );
    }
    // Round robin: consecutive connections go to different containers.
    for w in answers.windows(2) {
        assert_ne!(w[0], w[1], "not round robin: {answers:?}");
    }
}

/// Without vs.conntrack the backends see the real client, whose replies they send to
/// their default gateway (`sandbox_2`, which cannot route them): every request times out.
fn assert_replies_lost(lab: &TestLab) {
    let answers = fetch(lab, "http://192.168.228.148/", 4);
    println!("without vs.conntrack: {answers:?}");
    assert!(
        answers.iter().all(Option::is_none),
        "requests must time out without SNAT: {answers:?}"
    );
}

#[test]
fn emulated_ipvs_balances_both_containers_with_snat() {
    require_root!();
    let lab = up(&text(), true);
    assert!(lab.lab.ipvs.iter().all(|s| s.emulated));
    assert_balanced(&lab, "192.168.228.148", "10.0.0.2");
    assert_balanced(&lab, "192.168.228.149", "10.0.0.12");
    let table = lab.ok("hostA/sandbox_1", &["nft", "list", "table", "ip", "vxlab"]);
    assert!(
        table.contains("dnat ip to numgen inc mod 2 map { 0 : 10.0.0.4 . 80, 1 : 10.0.0.14 . 80 }"),
        "{table}"
    );
    assert!(table.contains("comment \"emulated IPVS tcp 172.18.0.2:80 rr\""));
    // The balanced connections in sandbox_1's conntrack: DNAT by the emulation, SNAT by
    // the `-m ipvs` stand-in, and the emulation's conntrack mark.
    let rows = vxlab::conntrack::dump(&lab.netns("hostA/sandbox_1")).unwrap();
    let balanced: Vec<_> = rows
        .iter()
        .filter(|r| r.original.dst.to_string() == "172.18.0.2")
        .collect();
    assert!(balanced.len() >= 4, "{rows:#?}");
    for r in balanced {
        assert!(r.dst_nat && r.src_nat, "{r:?}");
        assert_eq!(r.mark, vxlab::nat::IPVS_CT_MARK);
        assert_eq!(r.reply.dst.to_string(), "10.0.0.2");
    }
}

#[test]
fn emulated_ipvs_without_vs_conntrack_loses_the_replies() {
    require_root!();
    let lab = up(&without_vs_conntrack(), true);
    assert_replies_lost(&lab);
    let table = lab.ok("hostA/sandbox_1", &["nft", "list", "table", "ip", "vxlab"]);
    assert!(!table.contains("snat"), "no SNAT rule: {table}");
}

#[test]
fn kernel_ipvs_balances_both_containers_with_snat() {
    require_ipvs!();
    let lab = up(&text(), false);
    assert!(lab.lab.ipvs.iter().all(|s| !s.emulated));
    assert_balanced(&lab, "192.168.228.148", "10.0.0.2");
    assert_balanced(&lab, "192.168.228.149", "10.0.0.12");
    // ipvsadm, the oracle, sees what vxlab programmed over netlink.
    let l = lab.ok("hostA/sandbox_1", &["ipvsadm", "-Ln"]);
    println!("{l}");
    assert!(l.contains("TCP  172.18.0.2:80 rr"), "{l}");
    for r in ["10.0.0.4:80", "10.0.0.14:80"] {
        assert!(
            l.lines().any(|x| x.contains(r) && x.contains("Masq")),
            "{r}: {l}"
        );
    }
    let rows = vxlab::ipvs::list(&lab.netns("hostA/sandbox_1")).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].reals.len(), 2);
    // The SNAT rule went through iptables, with the ipvs xt match.
    let rules = lab.ok(
        "hostA/sandbox_1",
        &["iptables", "-t", "nat", "-S", "POSTROUTING"],
    );
    assert!(
        rules.contains("-d 10.0.0.0/24 -m ipvs --ipvs -j SNAT --to-source 10.0.0.2"),
        "{rules}"
    );
}

#[test]
fn kernel_ipvs_without_vs_conntrack_fails_as_the_write_up_says() {
    require_ipvs!();
    let lab = up(&without_vs_conntrack(), false);
    assert_eq!(
        lab.ok(
            "hostA/sandbox_1",
            &["sysctl", "-n", "net.ipv4.vs.conntrack"]
        )
        .trim(),
        "0"
    );
    assert_replies_lost(&lab);
}

#[test]
fn without_ipvs_up_stops_before_touching_anything() {
    require_root!();
    if vxlab::ipvs::kernel_has_ipvs() {
        common::skip(format_args!("this kernel has IPVS"));
        return;
    }
    let name = unique_name("noipvs");
    let path = format!("{}/labs/docker-overlay.toml", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(env!("CARGO_BIN_EXE_vxlab"))
        .args(["up", "--name", &name, &path])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("ip_vs") && err.contains("nothing was changed"),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "sudo vxlab up --emulate-ipvs --name {name} {path}"
        )),
        "{err}"
    );
    assert!(lifecycle::namespaces_of(&name).is_empty());
    assert!(!lifecycle::state_dir(&name).exists());
    // The library's preflight says the same, for callers other than the CLI.
    let lab = Lab::from_source(&text()).unwrap().renamed(&name);
    let e = runtime()
        .block_on(lifecycle::up(
            &lab,
            &text(),
            &mut common::kernel(),
            |_, _, _| {},
        ))
        .unwrap_err();
    assert!(
        matches!(e, lifecycle::UpError::Preflight(ref m) if m.contains("ip_vs") && m.contains("--emulate-ipvs")),
        "{e}"
    );
    assert!(lifecycle::namespaces_of(&name).is_empty());
}

/// `up --emulate-ipvs` marks the lab: `status --json` says so, per service, and carries
/// each node's conntrack table.
#[test]
fn status_shows_the_emulation_and_conntrack() {
    require_root!();
    let exe = env!("CARGO_BIN_EXE_vxlab");
    let name = unique_name("ipvsst");
    let path = format!("{}/labs/docker-overlay.toml", env!("CARGO_MANIFEST_DIR"));
    let up = Command::new(exe)
        .args(["up", "-q", "--emulate-ipvs", "--name", &name, &path])
        .output()
        .unwrap();
    let result = std::panic::catch_unwind(|| {
        assert!(
            up.status.success(),
            "{:?}: {}",
            up.status,
            String::from_utf8_lossy(&up.stderr)
        );
        let client = vxlab::model::netns_name(&name, "client");
        let curl = Command::new("ip")
            .args([
                "netns",
                "exec",
                &client,
                "curl",
                "-s",
                "-m",
                "3",
                "http://192.168.228.148/",
            ])
            .output()
            .unwrap();
        assert!(curl.status.success());
        let out = Command::new(exe)
            .args(["status", "--json", &name])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let lab = &v["labs"][0];
        assert_eq!(lab["ipvs_emulated"], true);
        let nodes = lab["nodes"].as_array().unwrap();
        let sb = nodes
            .iter()
            .find(|n| n["node"] == "hostA/sandbox_1")
            .unwrap();
        assert_eq!(sb["ipvs"][0]["emulated"], true);
        assert_eq!(sb["ipvs"][0]["scheduler"], "rr");
        assert!(nodes.iter().all(|n| n["conntrack"].is_array()));
        let ct = sb["conntrack"].as_array().unwrap();
        assert!(
            ct.iter().any(|r| r["dst_nat"] == true
                && r["src_nat"] == true
                && r["original"]["dst"] == "172.18.0.2"
                && r["state"].is_string()),
            "{ct:#?}"
        );
        let text = Command::new(exe).args(["status", &name]).output().unwrap();
        let text = String::from_utf8_lossy(&text.stdout);
        assert!(
            text.contains("ipvs tcp 172.18.0.2:80 rr  [EMULATED"),
            "{text}"
        );
    });
    let down = Command::new(exe).args(["down", &name]).output().unwrap();
    assert!(down.status.success());
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}
