//! labs/k8s-iptables.toml (seed 001) on the real kernel: kube-proxy's chains spread a
//! `ClusterIP` and a `NodePort` over every endpoint (real HTTP from a client namespace, a
//! bounded number of requests), masquerade what comes from outside the cluster, keep a
//! pod's own address, and `vxlab script`'s iptables version does the same.

mod common;

use std::process::{Command, Stdio};

use common::{TestLab, runtime, unique_name};
use vxlab::lifecycle;
use vxlab::model::Lab;
use vxlab::nat::hash::{endpoint_chain, service_chain};
use vxlab::plan::plan;
use vxlab::plan::script::up_script;

const PODS: [&str; 3] = ["node1/pod-a", "node1/pod-b", "node2/pod-c"];

/// At most this many requests to see every endpoint: with three endpoints picked at random,
/// missing one after 60 tries has a probability of 3 × (2/3)^60 ≈ 10^-10.
const MAX_REQUESTS: usize = 60;

fn text() -> String {
    std::fs::read_to_string(format!(
        "{}/labs/k8s-iptables.toml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// Fetches `url` from namespace `ns`, a new connection each time, until every pod has
/// answered (or `MAX_REQUESTS`); returns the answers.
fn until_every_pod_answers(ns: &str, url: &str) -> Vec<String> {
    let mut answers: Vec<String> = Vec::new();
    for _ in 0..MAX_REQUESTS {
        let out = Command::new("ip")
            .args(["netns", "exec", ns, "curl", "-s", "-m", "3", url])
            .output()
            .unwrap();
        let body = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert!(
            out.status.success(),
            "{ns}: curl {url}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        answers.push(body);
        if PODS
            .iter()
            .all(|p| answers.iter().any(|a| a.starts_with(&format!("{p} "))))
        {
            return answers;
        }
    }
    panic!("{url}: not every pod answered in {MAX_REQUESTS} requests: {answers:#?}");
}

/// The client address a pod reported in its answer.
fn client_of(answer: &str) -> &str {
    answer
        .split("(client ")
        .nth(1)
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or("")
}

#[test]
fn cluster_ip_and_node_ports_reach_every_endpoint() {
    require_root!();
    let lab = TestLab::up(&text());
    let client = lab.netns("client");
    let answers = until_every_pod_answers(&client, "http://10.96.0.10/");
    println!("ClusterIP, {} requests: {answers:?}", answers.len());
    for a in &answers {
        // From outside the cluster CIDR: masqueraded to node1 (its cni0 or eth0 address).
        assert!(
            ["10.244.1.1", "192.168.50.11"].contains(&client_of(a)),
            "{a}"
        );
    }
    for node in ["192.168.50.11", "192.168.50.12"] {
        let answers = until_every_pod_answers(&client, &format!("http://{node}:30080/"));
        println!("NodePort on {node}, {} requests", answers.len());
        assert!(
            answers.iter().all(|a| client_of(a) != "192.168.50.100"),
            "NodePort traffic is masqueraded: {answers:?}"
        );
    }
}

#[test]
fn a_pod_calling_the_cluster_ip_keeps_its_address() {
    require_root!();
    let lab = TestLab::up(&text());
    // pod-c's requests that land on pod-c itself (hairpin) get no answer in this lab:
    // they are routed back out of the bridge port they came from, which real clusters
    // make work with br_netfilter and bridge hairpin mode. Those to the other pods must
    // all succeed, unmasqueraded.
    let mut seen = Vec::new();
    for _ in 0..MAX_REQUESTS {
        let out = lab.exec(
            "node2/pod-c",
            &["curl", "-s", "-m", "2", "http://10.96.0.10/"],
        );
        if out.status.success() {
            seen.push(String::from_utf8_lossy(&out.stdout).trim().to_string());
        }
        if ["node1/pod-a ", "node1/pod-b "]
            .iter()
            .all(|p| seen.iter().any(|a| a.starts_with(p)))
        {
            break;
        }
    }
    for p in ["node1/pod-a ", "node1/pod-b "] {
        assert!(
            seen.iter().any(|a| a.starts_with(p)),
            "{p}never answered: {seen:?}"
        );
    }
    for a in &seen {
        assert_eq!(
            client_of(a),
            "10.244.2.2",
            "inside the cluster CIDR: no masquerade: {a}"
        );
    }
}

#[test]
fn the_chains_are_kube_proxys() {
    require_root!();
    let lab = TestLab::up(&text());
    let svc = service_chain("default/web", "tcp");
    let seps: Vec<String> = ["10.244.1.2:80", "10.244.1.3:80", "10.244.2.2:80"]
        .iter()
        .map(|e| endpoint_chain("default/web", "tcp", e))
        .collect();
    for node in ["node1", "node2"] {
        let table = lab.ok(
            node,
            &["nft", "--stateless", "list", "table", "ip", "vxlab"],
        );
        for c in [
            "KUBE-SERVICES",
            "KUBE-NODEPORTS",
            "KUBE-MARK-MASQ",
            "KUBE-POSTROUTING",
        ]
        .iter()
        .copied()
        .chain(std::iter::once(svc.as_str()))
        .chain(seps.iter().map(String::as_str))
        {
            assert!(
                table.contains(&format!("chain {c} {{")),
                "{node}: {c}\n{table}"
            );
        }
        // 1/3, then 1/2 of the rest, then the last one unconditionally.
        assert!(table.contains(&format!(
            "numgen random mod 2147483648 < 715827883 counter jump {}",
            seps[0]
        )));
        assert!(table.contains(&format!(
            "numgen random mod 2147483648 < 1073741824 counter jump {}",
            seps[1]
        )));
        assert!(
            table.contains(&format!("\t\tcounter jump {} comment", seps[2])),
            "{table}"
        );
        assert!(
            table.contains("fib daddr type local counter jump KUBE-NODEPORTS"),
            "{table}"
        );
    }
    // After a request, node1's conntrack shows the DNAT and the masquerade.
    lab.ok("client", &["curl", "-s", "-m", "3", "http://10.96.0.10/"]);
    let rows = vxlab::conntrack::dump(&lab.netns("node1")).unwrap();
    assert!(
        rows.iter().any(|r| r.dst_nat
            && r.src_nat
            && r.original.dst.to_string() == "10.96.0.10"
            && r.reply.src.to_string().starts_with("10.244.")),
        "{rows:#?}"
    );
}

#[test]
fn the_script_prints_iptables_as_kube_proxy_writes_it() {
    let lab = Lab::from_source(&text()).unwrap();
    let script = up_script(&lab, &plan(&lab));
    let svc = service_chain("default/web", "tcp");
    let line = format!(
        "ip netns exec vx.k8s-iptables.node1 iptables -t nat -A {svc} -m comment --comment 'default/web -> 10.244.1.2:80' -m statistic --mode random --probability 0.33333333349 -j {}\n",
        endpoint_chain("default/web", "tcp", "10.244.1.2:80")
    );
    assert!(script.contains(&line), "{script}");
    assert!(script.contains("--probability 0.50000000000 -j KUBE-SEP-"));
    assert!(script.contains(
        "iptables -t nat -A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN\n"
    ));
}

/// `vxlab script | bash`: iptables (with the real `-m statistic`) balances the same way.
#[test]
fn the_iptables_script_balances_the_same() {
    require_root!();
    let name = unique_name("k8ssh");
    let lab = Lab::from_source(&text()).unwrap().renamed(&name);
    let mut bash = Command::new("bash")
        .env("VXLAB", env!("CARGO_BIN_EXE_vxlab"))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let script = up_script(&lab, &plan(&lab));
    std::io::Write::write_all(bash.stdin.as_mut().unwrap(), script.as_bytes()).unwrap();
    drop(bash.stdin.take());
    let ok = bash.wait().unwrap().success();
    let client = vxlab::model::netns_name(&name, "client");
    let result = std::panic::catch_unwind(|| {
        assert!(ok, "the script failed");
        until_every_pod_answers(&client, "http://192.168.50.12:30080/")
    });
    runtime()
        .block_on(lifecycle::down(&name, &mut common::kernel()))
        .unwrap();
    let answers = result.unwrap_or_else(|e| std::panic::resume_unwind(e));
    println!("{} requests", answers.len());
}
