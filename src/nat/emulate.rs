//! IPVS emulated with nftables, for kernels without `ip_vs` (`vxlab up --emulate-ipvs`).
//!
//! A virtual service becomes a DNAT rule in the node's `prerouting` and `output` chains
//! that picks a real server from an nft map (`numgen inc` for round robin, weights by
//! repeating entries; `jhash ip saddr` for source hashing) and sets
//! [`IPVS_CT_MARK`](super::IPVS_CT_MARK) in the connection's conntrack mark. A `-m ipvs
//! --ipvs` NAT rule becomes `ct status dnat ct mark & MARK == MARK`.
//!
//! How it differs from the kernel's IPVS:
//! - IPVS takes packets for the virtual address in `LOCAL_IN`; the emulation DNATs them in
//!   PREROUTING, so they are routed: the node needs `net.ipv4.ip_forward = 1` (the plan
//!   sets it, and says so).
//! - Every emulated connection goes through conntrack, whatever `net.ipv4.vs.conntrack`
//!   says. The one visible effect of that sysctl, that IPVS-forwarded packets skip the nat
//!   POSTROUTING chain (the write-up's pitfall), is reproduced at plan time: the emulated
//!   `ipvs` SNAT rules are installed only if the scenario sets `net.ipv4.vs.conntrack = 1`
//!   in that node.
//! - Schedulers other than rr, wrr and sh are approximated by weighted round robin;
//!   `droute` and `tunnel` forwarding become NAT (DNAT); `ipvsadm -L` shows nothing.

use super::rule::{Chain, Match, Picker, Rule, Target};
use crate::model::{Forward, Hook, IpvsService};

/// The largest map the emulation builds for a weighted scheduler.
const MAX_SLOTS: u32 = 256;

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// The emulation of one virtual service: its rules (for `prerouting` and `output`), and
/// what it does differently from the kernel's IPVS, one sentence each.
pub fn service(s: &IpvsService) -> (Vec<Rule>, Vec<String>) {
    let mut notes = Vec::new();
    let live: Vec<_> = s.reals.iter().filter(|r| r.weight > 0).collect();
    let (picker, weighted) = match s.scheduler.as_str() {
        "rr" => (Picker::RoundRobin, false),
        "wrr" => (Picker::RoundRobin, true),
        "sh" => (Picker::SourceHash, false),
        other => {
            notes.push(format!(
                "scheduler {other} is approximated by weighted round robin"
            ));
            (Picker::RoundRobin, true)
        }
    };
    let g = live.iter().fold(0, |g, r| gcd(g, r.weight)).max(1);
    let slots: u32 = live.iter().map(|r| r.weight / g).sum();
    let weighted = weighted && slots <= MAX_SLOTS;
    let mut backends = Vec::new();
    for r in &live {
        let times = if weighted { r.weight / g } else { 1 };
        for _ in 0..times {
            backends.push((r.addr, r.port));
        }
    }
    if s.reals.iter().any(|r| r.forward != Forward::Masq) {
        notes.push("droute and tunnel forwarding are emulated as masq (DNAT)".to_string());
    }
    if backends.is_empty() {
        notes.push(format!(
            "{} has no real server with a weight above 0: nothing is balanced",
            s.key()
        ));
        return (Vec::new(), notes);
    }
    let rules = [Hook::Prerouting, Hook::Output]
        .into_iter()
        .map(|h| {
            let mut r = Rule::new(
                Chain::Base(h),
                vec![
                    Match::Daddr {
                        net: s.addr.into(),
                        negated: false,
                    },
                    Match::Proto(s.proto),
                    Match::Dport(s.proto, s.port),
                ],
                Target::Balance {
                    picker,
                    backends: backends.clone(),
                },
            )
            .with_comment(format!("emulated IPVS {} {}", s.key(), s.scheduler));
            r.emulated = true;
            r
        })
        .collect();
    (rules, notes)
}

/// The emulation of a NAT rule using `-m ipvs --ipvs`.
pub fn ipvs_match(rule: &Rule) -> Rule {
    let mut r = rule.clone();
    for m in &mut r.matches {
        if *m == Match::Ipvs {
            *m = Match::IpvsEmulated;
        }
    }
    r.emulated = true;
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{IpvsReal, Proto};

    fn svc(scheduler: &str, weights: &[u32]) -> IpvsService {
        IpvsService {
            node: "n".into(),
            proto: Proto::Tcp,
            addr: "172.18.0.2".parse().unwrap(),
            port: 80,
            scheduler: scheduler.into(),
            reals: weights
                .iter()
                .enumerate()
                .map(|(i, &weight)| IpvsReal {
                    addr: format!("10.0.0.{}", i + 1).parse().unwrap(),
                    port: 8080,
                    forward: Forward::Masq,
                    weight,
                })
                .collect(),
            emulated: true,
        }
    }

    fn backends(r: &Rule) -> usize {
        match &r.target {
            Target::Balance { backends, .. } => backends.len(),
            _ => 0,
        }
    }

    #[test]
    fn weights_repeat_map_entries_and_zero_weights_drop_out() {
        let (rules, notes) = service(&svc("rr", &[1, 5, 0]));
        assert_eq!(rules.len(), 2);
        assert_eq!(backends(&rules[0]), 2);
        assert!(notes.is_empty());
        let (rules, _) = service(&svc("wrr", &[2, 4]));
        assert_eq!(backends(&rules[0]), 3, "weights 2:4 reduce to 1:2");
        let (rules, notes) = service(&svc("lc", &[1, 1]));
        assert_eq!(backends(&rules[0]), 2);
        assert_eq!(notes.len(), 1);
        let (rules, notes) = service(&svc("rr", &[0]));
        assert!(rules.is_empty() && notes.len() == 1);
    }

    #[test]
    fn rules_are_marked_emulated() {
        let (rules, _) = service(&svc("sh", &[1, 1]));
        assert!(rules.iter().all(|r| r.emulated));
        assert!(rules[0].nft().unwrap().contains("jhash ip saddr mod 2"));
    }
}
