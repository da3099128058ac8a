//! kube-proxy's iptables mode: the KUBE-* chains a node's nat table gets for a set of
//! services, rule for rule as kube-proxy writes them (names, comments, probabilities).
//!
//! ```text
//! PREROUTING, OUTPUT ─► KUBE-SERVICES ─► KUBE-SVC-<hash> ─► KUBE-SEP-<hash> (DNAT)
//!                           └─ dst LOCAL ─► KUBE-NODEPORTS ─► KUBE-MARK-MASQ, KUBE-SVC-…
//! POSTROUTING ─► KUBE-POSTROUTING: MASQUERADE what KUBE-MARK-MASQ marked
//! ```

use std::net::SocketAddrV4;

use ipnet::Ipv4Net;

use super::hash::{endpoint_chain, service_chain};
use super::rule::{Chain, MASQ_MARK, Match, Rule, Target};
use crate::model::{Hook, KubeProxy, Service};

/// `KUBE-SERVICES`: every `ClusterIP`, then the `NodePort`s.
pub const SERVICES: &str = "KUBE-SERVICES";
/// `KUBE-NODEPORTS`: traffic to a `NodePort` of this node.
pub const NODEPORTS: &str = "KUBE-NODEPORTS";
/// `KUBE-POSTROUTING`: masquerades marked connections.
pub const POSTROUTING: &str = "KUBE-POSTROUTING";
/// `KUBE-MARK-MASQ`: marks a connection for masquerading.
pub const MARK_MASQ: &str = "KUBE-MARK-MASQ";

/// The KUBE-* chains and rules of one kube-proxy node, in the order to create them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeTable {
    /// User chains, created before any rule.
    pub chains: Vec<String>,
    /// Rules, each with whether kube-proxy prepends it (`-I`, the jumps from the built-in
    /// chains) rather than appends it.
    pub rules: Vec<(Rule, bool)>,
}

fn custom(c: &str) -> Chain {
    Chain::Custom(c.to_string())
}

fn jump(c: &str) -> Target {
    Target::Jump(c.to_string())
}

fn host(ip: std::net::Ipv4Addr) -> Ipv4Net {
    Ipv4Net::from(ip)
}

/// kube-proxy's probability of picking endpoint `i` of `n` (0-based): 1/(n-i), written
/// with ten decimals as kube-proxy does before iptables reads it back.
fn probability(i: usize, n: usize) -> f64 {
    #[expect(clippy::cast_precision_loss, reason = "endpoint counts are small")]
    let p = 1.0 / (n - i) as f64;
    format!("{p:.10}").parse().unwrap_or(p)
}

/// The chains and rules kube-proxy installs for `services`.
pub fn table(kp: &KubeProxy, services: &[Service]) -> KubeTable {
    let mut chains: Vec<String> = [SERVICES, NODEPORTS, POSTROUTING, MARK_MASQ]
        .map(String::from)
        .to_vec();
    let mut rules: Vec<(Rule, bool)> = Vec::new();
    let portals = "kubernetes service portals";
    for hook in [Hook::Prerouting, Hook::Output] {
        let r = Rule::new(Chain::Base(hook), vec![], jump(SERVICES)).with_comment(portals);
        rules.push((r, true));
    }
    rules.push((
        Rule::new(Chain::Base(Hook::Postrouting), vec![], jump(POSTROUTING))
            .with_comment("kubernetes postrouting rules"),
        true,
    ));
    let append = |rules: &mut Vec<(Rule, bool)>, r: Rule| rules.push((r, false));
    append(
        &mut rules,
        Rule::new(
            custom(POSTROUTING),
            vec![Match::Mark {
                mask: MASQ_MARK,
                negated: true,
            }],
            Target::Return,
        ),
    );
    append(
        &mut rules,
        Rule::new(custom(POSTROUTING), vec![], Target::XorMark(MASQ_MARK)),
    );
    append(
        &mut rules,
        Rule::new(
            custom(POSTROUTING),
            vec![],
            Target::Masquerade { fully_random: true },
        )
        .with_comment("kubernetes service traffic requiring SNAT"),
    );
    append(
        &mut rules,
        Rule::new(custom(MARK_MASQ), vec![], Target::OrMark(MASQ_MARK)),
    );
    for s in services {
        let id = s.port_id();
        let proto = s.proto;
        let svc = service_chain(&id, proto.name());
        chains.push(svc.clone());
        let vip = vec![
            Match::Daddr {
                net: host(s.cluster_ip),
                negated: false,
            },
            Match::Proto(proto),
            Match::Dport(proto, s.port),
        ];
        let cluster_ip = format!("{id} cluster IP");
        append(
            &mut rules,
            Rule::new(custom(SERVICES), vip.clone(), jump(&svc)).with_comment(&cluster_ip),
        );
        if let Some(cidr) = kp.cluster_cidr {
            let mut m = vec![Match::Saddr {
                net: cidr,
                negated: true,
            }];
            m.extend(vip);
            append(
                &mut rules,
                Rule::new(custom(&svc), m, jump(MARK_MASQ)).with_comment(&cluster_ip),
            );
        }
        if let Some(np) = s.node_port {
            let m = vec![Match::Proto(proto), Match::Dport(proto, np)];
            for target in [MARK_MASQ, svc.as_str()] {
                append(
                    &mut rules,
                    Rule::new(custom(NODEPORTS), m.clone(), jump(target)).with_comment(&id),
                );
            }
        }
        let n = s.endpoints.len();
        let mut seps: Vec<(String, SocketAddrV4)> = Vec::new();
        for (i, ep) in s.endpoints.iter().enumerate() {
            let sep = endpoint_chain(&id, proto.name(), &ep.to_string());
            let m = if i + 1 < n {
                vec![Match::random(probability(i, n))]
            } else {
                vec![]
            };
            append(
                &mut rules,
                Rule::new(custom(&svc), m, jump(&sep)).with_comment(format!("{id} -> {ep}")),
            );
            seps.push((sep, *ep));
        }
        for (sep, ep) in seps {
            chains.push(sep.clone());
            append(
                &mut rules,
                Rule::new(
                    custom(&sep),
                    vec![Match::Saddr {
                        net: host(*ep.ip()),
                        negated: false,
                    }],
                    jump(MARK_MASQ),
                )
                .with_comment(&id),
            );
            append(
                &mut rules,
                Rule::new(
                    custom(&sep),
                    vec![Match::Proto(proto)],
                    Target::Dnat {
                        addr: *ep.ip(),
                        port: Some(ep.port()),
                    },
                )
                .with_comment(&id),
            );
        }
    }
    append(
        &mut rules,
        Rule::new(custom(SERVICES), vec![Match::LocalDst], jump(NODEPORTS)).with_comment(
            "kubernetes service nodeports; NOTE: this must be the last rule in this chain",
        ),
    );
    // Rules of a chain are applied in order; chains must exist before rules jump there.
    KubeTable { chains, rules }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Proto;

    fn web() -> Service {
        Service {
            name: "default/web".into(),
            port_name: None,
            cluster_ip: "10.96.0.10".parse().unwrap(),
            port: 80,
            proto: Proto::Tcp,
            node_port: Some(30080),
            endpoints: ["10.244.1.2:80", "10.244.1.3:80", "10.244.2.2:80"]
                .iter()
                .map(|e| e.parse().unwrap())
                .collect(),
        }
    }

    #[test]
    fn endpoints_get_one_over_n_then_unconditional() {
        let kp = KubeProxy {
            nodes: vec!["node1".into()],
            cluster_cidr: Some("10.244.0.0/16".parse().unwrap()),
        };
        let t = table(&kp, &[web()]);
        let svc = service_chain("default/web", "tcp");
        let lines: Vec<String> = t
            .rules
            .iter()
            .filter(|(r, _)| r.chain == Chain::Custom(svc.clone()))
            .map(|(r, ins)| r.iptables(*ins).unwrap().join(" "))
            .collect();
        assert_eq!(lines.len(), 4, "{lines:#?}");
        assert!(lines[0].contains("! -s 10.244.0.0/16 -d 10.96.0.10 -p tcp"));
        assert!(lines[1].contains("--probability 0.33333333349 -j KUBE-SEP-"));
        assert!(lines[2].contains("--probability 0.50000000000 -j KUBE-SEP-"));
        assert!(!lines[3].contains("statistic"), "{}", lines[3]);
        // Chains exist before the rules that use them, and every jump has a target.
        for (r, _) in &t.rules {
            if let Target::Jump(c) = &r.target {
                assert!(t.chains.contains(c), "{c}");
            }
        }
        let last = t
            .rules
            .iter()
            .rfind(|(r, _)| r.chain == Chain::Custom(SERVICES.into()))
            .unwrap();
        assert_eq!(last.0.matches, vec![Match::LocalDst]);
    }
}
