//! The NAT and load-balancing part of the plan: IPVS services (real or emulated),
//! `[[nat]]` rules, then kube-proxy's chains on each kube-proxy node.

use std::collections::HashMap;

use super::Op;
use crate::model::{IpvsService, Lab, Sysctl};
use crate::nat::{self, emulate, kube};

/// The sysctl that makes IPVS-forwarded packets go through conntrack (and so through the
/// nat POSTROUTING chain).
const VS_CONNTRACK: &str = "net.ipv4.vs.conntrack";

/// Why an emulated lab does not write sysctl `s` (`net.ipv4.vs.*` exist only with
/// `ip_vs`), or `None` if it is written as usual.
pub(super) fn emulated_sysctl(lab: &Lab, s: &Sysctl) -> Option<String> {
    if !(lab.ipvs_emulated() && s.key.starts_with("net.ipv4.vs.")) {
        return None;
    }
    let effect = if s.key != VS_CONNTRACK {
        "it has no equivalent in the emulation".to_string()
    } else if s.value == "1" {
        format!(
            "its effect is kept: the `-m ipvs` SNAT rules of {} are installed",
            s.node
        )
    } else {
        format!(
            "its effect is kept: IPVS-forwarded packets would skip nat POSTROUTING, so the `-m ipvs` SNAT rules of {} are left out",
            s.node
        )
    };
    Some(format!(
        "EMULATED IPVS: sysctl {}={} not set (no ip_vs in this kernel); {effect}",
        s.key, s.value
    ))
}

fn vs_conntrack(lab: &Lab, node: &str) -> bool {
    lab.sysctls
        .iter()
        .rfind(|s| s.node == node && s.key == VS_CONNTRACK)
        .is_some_and(|s| s.value == "1")
}

fn forwards(lab: &Lab, node: &str) -> bool {
    lab.sysctls
        .iter()
        .rfind(|s| {
            s.node == node
                && matches!(
                    s.key.as_str(),
                    "net.ipv4.ip_forward" | "net.ipv4.conf.all.forwarding"
                )
        })
        .is_some_and(|s| s.value == "1")
}

/// Tracks which chains already have rules, so `-I` is used only on an empty chain.
#[derive(Default)]
struct Rules {
    ops: Vec<Op>,
    used: HashMap<(String, String), usize>,
}

impl Rules {
    fn push(&mut self, netns: &str, rule: nat::Rule, prefer_insert: bool) {
        let n = self
            .used
            .entry((netns.to_string(), rule.chain.nft().to_string()))
            .or_default();
        let insert = prefer_insert && *n == 0;
        *n += 1;
        self.ops.push(Op::AddNatRule {
            netns: netns.to_string(),
            rule,
            insert,
        });
    }

    fn note(&mut self, netns: &str, text: String) {
        self.ops.push(Op::Note {
            netns: netns.to_string(),
            text,
        });
    }
}

fn ipvs(out: &mut Rules, lab: &Lab, s: &IpvsService, netns: &str) {
    if !s.emulated {
        out.ops.push(Op::AddIpvsService {
            netns: netns.to_string(),
            proto: s.proto,
            addr: s.addr,
            port: s.port,
            scheduler: s.scheduler.clone(),
        });
        for r in &s.reals {
            out.ops.push(Op::AddIpvsReal {
                netns: netns.to_string(),
                proto: s.proto,
                addr: s.addr,
                port: s.port,
                real: r.clone(),
            });
        }
        return;
    }
    let reals: Vec<String> = s
        .reals
        .iter()
        .map(|r| format!("{}:{}", r.addr, r.port))
        .collect();
    out.note(
        netns,
        format!(
            "EMULATED IPVS (no ip_vs in this kernel): {} -> {} as nftables DNAT; ipvsadm -A {} -s {}",
            s,
            reals.join(", "),
            ipvsadm_service(s),
            s.scheduler
        ),
    );
    let (rules, notes) = emulate::service(s);
    for n in notes {
        out.note(netns, format!("EMULATED IPVS: {n}"));
    }
    let already = out.ops.iter().any(
        |o| matches!(o, Op::Sysctl { netns: n, key, .. } if n == netns && key == "net.ipv4.ip_forward"),
    );
    if !forwards(lab, &s.node) && !already {
        out.note(
            netns,
            "EMULATED IPVS: DNAT makes balanced packets routed ones, so forwarding is turned on"
                .into(),
        );
        out.ops.push(Op::Sysctl {
            netns: netns.to_string(),
            key: "net.ipv4.ip_forward".into(),
            value: "1".into(),
        });
    }
    for r in rules {
        out.push(netns, r, false);
    }
}

/// `-t 172.18.0.2:80` (or `-u`, `--sctp-service`), as ipvsadm names a service.
pub fn ipvsadm_service(s: &IpvsService) -> String {
    super::script::ipvsadm_service(s.proto, s.addr, s.port)
}

/// The IPVS and NAT operations of `lab`; `ns` gives a node's namespace.
pub(super) fn ops(lab: &Lab, ns: &dyn Fn(&str) -> String) -> Vec<Op> {
    let mut out = Rules::default();
    for s in &lab.ipvs {
        ipvs(&mut out, lab, s, &ns(&s.node));
    }
    for n in &lab.nat {
        let netns = ns(&n.node);
        let rule = nat::from_model(n);
        if !(n.ipvs && lab.ipvs_emulated()) {
            out.push(&netns, rule, true);
        } else if vs_conntrack(lab, &n.node) {
            out.push(&netns, emulate::ipvs_match(&rule), true);
        } else {
            let text = rule.iptables(true).unwrap_or_default().join(" ");
            out.note(
                &netns,
                format!(
                    "EMULATED IPVS: {VS_CONNTRACK} is not 1 in {}: IPVS-forwarded packets skip nat POSTROUTING, so `iptables {text}` never applies; left out",
                    n.node
                ),
            );
        }
    }
    if let Some(kp) = &lab.kube_proxy
        && !lab.services.is_empty()
    {
        let t = kube::table(kp, &lab.services);
        for node in &kp.nodes {
            let netns = ns(node);
            for c in &t.chains {
                out.ops.push(Op::AddNatChain {
                    netns: netns.clone(),
                    chain: c.clone(),
                });
            }
            for (r, prepend) in &t.rules {
                out.push(&netns, r.clone(), *prepend);
            }
        }
    }
    out.ops
}
