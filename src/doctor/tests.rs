//! The rules on every shipped lab, without root: a healthy lab has no finding, and each
//! of its faults, planted in memory, is named by the rule that should name it.

use super::expected::{expected, names_cause, plant};
use super::*;
use crate::labs::BUILTIN;

fn labs() -> Vec<Lab> {
    BUILTIN
        .iter()
        .map(|(name, text)| {
            let lab = Lab::from_source(text).unwrap_or_else(|e| panic!("{name}: {e:?}"));
            if lab.needs_kernel_ipvs() {
                lab.emulate_ipvs()
            } else {
                lab
            }
        })
        .collect()
}

#[test]
fn healthy_labs_have_no_finding() {
    for lab in labs() {
        let r = diagnose(&expected(&lab), &lab);
        assert!(
            r.findings.is_empty(),
            "{}: {}",
            lab.name,
            report_text(&r, lab.nodes.len())
        );
    }
}

#[test]
fn every_fault_is_named_by_its_rule_and_nothing_else() {
    let (mut planted, mut named, mut reported, mut right) = (0, 0, 0, 0);
    for lab in labs() {
        let healthy = expected(&lab);
        for f in &lab.faults {
            let r = diagnose(&plant(&healthy, &lab, f), &lab);
            planted += 1;
            reported += r.findings.len();
            let hits = r
                .findings
                .iter()
                .filter(|x| names_cause(&lab, f, x))
                .count();
            right += hits;
            if hits > 0 {
                named += 1;
            }
            assert!(hits > 0, "{} {}: {}", lab.name, f.name, report_text(&r, 0));
            assert_eq!(
                hits,
                r.findings.len(),
                "{} {}: {}",
                lab.name,
                f.name,
                report_text(&r, 0)
            );
        }
    }
    println!(
        "in-memory faults: {named}/{planted} named; {right}/{reported} findings name the cause"
    );
    assert!(planted >= 10);
}

#[test]
fn proxy_arp_finding_names_the_address_and_the_fix() {
    let lab = labs()
        .into_iter()
        .find(|l| l.name == "docker-overlay")
        .unwrap();
    let f = lab
        .faults
        .iter()
        .find(|f| f.name == "no-static-arp")
        .unwrap();
    let r = diagnose(&plant(&expected(&lab), &lab, f), &lab);
    let x = &r.findings[0];
    assert_eq!(
        (x.rule.as_str(), x.node.as_str(), x.object.as_str()),
        ("proxy-arp-missing", "hostA/sandbox_2", "10.0.0.14")
    );
    assert!(
        x.message.contains("proxy mode") && x.message.contains("hostB/container:veth105"),
        "{}",
        x.message
    );
    assert!(
        x.fix[0].starts_with("ip -n vx.docker-overlay.hostA.sandbox_2 neigh add 10.0.0.14 lladdr "),
        "{:?}",
        x.fix
    );
    assert!(
        x.fix[0].ends_with(" dev vxlan0 nud permanent"),
        "{:?}",
        x.fix
    );
}

#[test]
fn rp_filter_and_br_netfilter_fire_on_their_conditions() {
    let lab = labs()
        .into_iter()
        .find(|l| l.name == "k8s-iptables")
        .unwrap();
    let mut s = expected(&lab);
    let n = s.nodes.iter_mut().find(|n| n.node == "node1").unwrap();
    n.sysctls
        .insert("net.ipv4.conf.all.rp_filter".into(), "1".into());
    // pod-a's packets come in on cni0, but node1 now routes pod-a's subnet elsewhere.
    n.routes.retain(|r| r.to != "10.244.1.0/24");
    n.routes.push(crate::observe::RouteRow {
        to: "10.244.1.0/24".into(),
        via: None,
        dev: Some("eth0".into()),
        proto: "boot".into(),
    });
    n.filter_rules = 3;
    let r = diagnose(&s, &lab);
    let rules: Vec<&str> = r.findings.iter().map(|f| f.rule.as_str()).collect();
    assert!(rules.contains(&"rp-filter"), "{rules:?}");
    assert!(rules.contains(&"br-netfilter"), "{rules:?}");
}

#[test]
fn vxlan_mismatch_blames_the_side_that_differs_from_the_lab() {
    let lab = labs().into_iter().find(|l| l.name == "vxlan-p2p").unwrap();
    let f = lab
        .faults
        .iter()
        .find(|f| f.name == "vni-mismatch")
        .unwrap();
    let r = diagnose(&plant(&expected(&lab), &lab, f), &lab);
    let x = &r.findings[0];
    assert_eq!((x.node.as_str(), x.object.as_str()), ("host2", "vxlan0"));
    assert!(
        x.message.contains("VNI 6") && x.message.contains("VNI 5"),
        "{}",
        x.message
    );
    assert!(
        x.fix
            .iter()
            .any(|c| c.contains("type vxlan id 5 dstport 4789")),
        "{:?}",
        x.fix
    );
}

#[test]
fn kernel_ipvs_with_conntrack_off_and_reals_without_a_way_back() {
    let mut lab = Lab::from_source(crate::labs::builtin("docker-overlay").unwrap()).unwrap();
    let mut s = expected(&lab);
    assert!(diagnose(&s, &lab).findings.is_empty());
    let sb1 = s
        .nodes
        .iter_mut()
        .find(|n| n.node == "hostA/sandbox_1")
        .unwrap();
    assert!(sb1.ipvs.is_some(), "the kernel's IPVS table is read");
    sb1.sysctls
        .insert("net.ipv4.vs.conntrack".into(), "0".into());
    let r = diagnose(&s, &lab);
    let rules: Vec<(&str, &str)> = r
        .findings
        .iter()
        .map(|f| (f.rule.as_str(), f.node.as_str()))
        .collect();
    assert_eq!(rules, [("ipvs-conntrack", "hostA/sandbox_1")]);
    assert_eq!(
        r.findings[0].fix,
        ["ip netns exec vx.docker-overlay.hostA.sandbox_1 sysctl -w net.ipv4.vs.conntrack=1"]
    );
    // Without any SNAT for IPVS, the real servers answer through sandbox_2, not sandbox_1.
    lab.nat.retain(|n| !n.ipvs);
    let mut s = expected(&lab);
    for n in &mut s.nodes {
        n.nat.retain(|x| !x.ipvs_only);
    }
    let r = diagnose(&s, &lab);
    let objects: Vec<(&str, &str)> = r
        .findings
        .iter()
        .map(|f| (f.rule.as_str(), f.object.as_str()))
        .collect();
    assert!(
        objects.contains(&("ipvs-return-path", "10.0.0.4")),
        "{objects:?}"
    );
    assert!(
        objects.contains(&("ipvs-return-path", "10.0.0.14")),
        "{objects:?}"
    );
}

fn planted(lab: &str, fault: &str) -> (Lab, Report) {
    let lab = labs().into_iter().find(|l| l.name == lab).unwrap();
    let f = lab.faults.iter().find(|f| f.name == fault).unwrap().clone();
    let r = diagnose(&plant(&expected(&lab), &lab, &f), &lab);
    (lab, r)
}

#[test]
fn a_stopped_agent_is_named_with_what_its_peers_forgot_and_how_to_start_it() {
    let (_, r) = planted("flannel", "agent-stopped");
    let x = &r.findings[0];
    assert_eq!(
        (x.rule.as_str(), x.node.as_str(), x.object.as_str()),
        ("process-down", "node2", "vxlab agent")
    );
    assert!(
        x.evidence
            .iter()
            .any(|e| e.starts_with("node1: ip route: no route to 10.244.2.0/24")),
        "{:?}",
        x.evidence
    );
    let start = &x.fix[0];
    assert!(
        start.starts_with("ip netns exec vx.flannel.node2 setsid ")
            && start.contains(" agent --etcd http://10.211.55.10:2379 --subnet 10.244.2.0/24 ")
            && start.ends_with(" 2>&1 &"),
        "{start}"
    );
}

#[test]
fn an_agent_vtep_with_another_vni_is_made_again_by_its_agent() {
    let (_, r) = planted("flannel", "vni-mismatch");
    assert_eq!(r.findings.len(), 1, "one finding for node3's two peers");
    let x = &r.findings[0];
    assert_eq!((x.node.as_str(), x.object.as_str()), ("node3", "flannel.1"));
    assert_eq!(x.evidence.len(), 3, "{:?}", x.evidence);
    assert!(x.fix[0].starts_with("kill "), "{:?}", x.fix);
    assert_eq!(x.fix[1], "ip -n vx.flannel.node3 link del flannel.1");
    assert!(x.fix[2].contains(" agent "), "{:?}", x.fix);
}

#[test]
fn an_ovs_key_is_blamed_on_the_side_its_host_was_not_told_to_set() {
    let (_, r) = planted("ovs-vxlan", "key-mismatch");
    let x = &r.findings[0];
    assert_eq!(
        (x.rule.as_str(), x.node.as_str(), x.object.as_str()),
        ("ovs-tunnel", "host2", "vxlan1")
    );
    assert!(x.message.contains("sends VNI 100"), "{}", x.message);
    assert_eq!(
        x.fix,
        [
            "ovs-vsctl --db=unix:/run/vxlab/ovs-vxlan/ovs-host2/db.sock set Interface vxlan1 options:key=flow"
        ]
    );
    let (_, r) = planted("ovs-vxlan", "remote-ip-wrong");
    assert!(
        r.findings[0].fix[0].ends_with("options:remote_ip=192.168.1.10"),
        "{:?}",
        r.findings[0].fix
    );
}
