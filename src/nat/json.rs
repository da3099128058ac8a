//! Rules as the nft JSON vxlab applies (`nft -j`): each [`Rule`] as `add` commands for
//! its table, its base chain and itself.

use serde_json::{Value, json};

use super::rule::{Chain, IPVS_CT_MARK, Match, Picker, RANDOM_SCALE, Rule, TABLE, Target};
use crate::model::Hook;
use ipnet::Ipv4Net;
use std::net::Ipv4Addr;

impl Rule {
    /// The nft JSON commands adding this rule (with its table and base chain), with a
    /// counter before its target.
    pub fn json(&self) -> Vec<Value> {
        let mut cmds = vec![table_json()];
        if let Chain::Base(h) = &self.chain {
            cmds.push(base_chain_json(*h));
        }
        let mut expr: Vec<Value> = self.matches.iter().flat_map(match_json).collect();
        // Counted, so the live panel (and `nft list`) show how many packets each rule saw.
        expr.push(json!({ "counter": null }));
        expr.extend(target_json(&self.target));
        let mut rule = json!({
            "family": "ip", "table": TABLE, "chain": self.chain.nft(), "expr": expr
        });
        if let Some(c) = &self.comment {
            rule["comment"] = json!(c);
        }
        cmds.push(json!({ "add": { "rule": rule } }));
        cmds
    }
}

/// `add table ip vxlab`, as nft JSON.
pub fn table_json() -> Value {
    json!({ "add": { "table": { "family": "ip", "name": TABLE } } })
}

/// `add chain ip vxlab HOOK { type nat hook HOOK priority P; }`, as nft JSON.
pub fn base_chain_json(h: Hook) -> Value {
    json!({ "add": { "chain": {
        "family": "ip", "table": TABLE, "name": h.nft(),
        "type": "nat", "hook": h.nft(), "prio": h.priority(), "policy": "accept"
    } } })
}

/// `add chain ip vxlab NAME` (a user chain), as nft JSON.
pub fn user_chain_json(name: &str) -> Value {
    json!({ "add": { "chain": { "family": "ip", "table": TABLE, "name": name } } })
}

fn cmp(left: Value, negated: bool, right: Value) -> Value {
    let mut m = serde_json::Map::new();
    m.insert("op".into(), json!(if negated { "!=" } else { "==" }));
    m.insert("left".into(), left);
    m.insert("right".into(), right);
    json!({ "match": Value::Object(m) })
}

fn net_json(net: Ipv4Net) -> Value {
    if net.prefix_len() == 32 {
        json!(net.addr().to_string())
    } else {
        json!({ "prefix": { "addr": net.network().to_string(), "len": net.prefix_len() } })
    }
}

fn ip_field(field: &str) -> Value {
    json!({ "payload": { "protocol": "ip", "field": field } })
}

fn match_json(m: &Match) -> Vec<Value> {
    let meta = |key: &str| json!({ "meta": { "key": key } });
    vec![match m {
        Match::Saddr { net, negated } => cmp(ip_field("saddr"), *negated, net_json(*net)),
        Match::Daddr { net, negated } => cmp(ip_field("daddr"), *negated, net_json(*net)),
        Match::Proto(p) => cmp(meta("l4proto"), false, json!(p.name())),
        Match::Dport(p, port) => cmp(
            json!({ "payload": { "protocol": p.name(), "field": "dport" } }),
            false,
            json!(port),
        ),
        Match::Iif { name, negated } => cmp(meta("iifname"), *negated, json!(name)),
        Match::Oif { name, negated } => cmp(meta("oifname"), *negated, json!(name)),
        Match::Mark { mask, negated } => {
            cmp(json!({ "&": [meta("mark"), mask] }), *negated, json!(mask))
        }
        Match::LocalDst => cmp(
            json!({ "fib": { "result": "type", "flags": ["daddr"] } }),
            false,
            json!("local"),
        ),
        Match::Random { threshold } => json!({ "match": { "op": "<",
            "left": { "numgen": { "mode": "random", "mod": RANDOM_SCALE, "offset": 0 } },
            "right": threshold } }),
        // Never sent to nft: rules with it go through iptables.
        Match::Ipvs => return Vec::new(),
        Match::IpvsEmulated => {
            return vec![
                json!({ "match": { "op": "in", "left": { "ct": { "key": "status" } }, "right": "dnat" } }),
                cmp(
                    json!({ "&": [{ "ct": { "key": "mark" } }, IPVS_CT_MARK] }),
                    false,
                    json!(IPVS_CT_MARK),
                ),
            ];
        }
    }]
}

fn nat_json(kind: &str, addr: Ipv4Addr, port: Option<u16>) -> Value {
    let mut v = json!({ "addr": addr.to_string() });
    if let Some(p) = port {
        v["port"] = json!(p);
    }
    json!({ kind: v })
}

fn target_json(t: &Target) -> Vec<Value> {
    let mark = || json!({ "meta": { "key": "mark" } });
    vec![match t {
        Target::Dnat { addr, port } => nat_json("dnat", *addr, *port),
        Target::Snat { addr, port } => nat_json("snat", *addr, *port),
        Target::Masquerade { fully_random: true } => {
            json!({ "masquerade": { "flags": "fully-random" } })
        }
        Target::Masquerade {
            fully_random: false,
        } => json!({ "masquerade": null }),
        Target::Jump(c) => json!({ "jump": { "target": c } }),
        Target::Return => json!({ "return": null }),
        Target::OrMark(m) => json!({ "mangle": { "key": mark(), "value": { "|": [mark(), m] } } }),
        Target::XorMark(m) => json!({ "mangle": { "key": mark(), "value": { "^": [mark(), m] } } }),
        Target::Balance { picker, backends } => {
            let ctmark = json!({ "ct": { "key": "mark" } });
            let n = backends.len();
            let key = match picker {
                Picker::RoundRobin => json!({ "numgen": { "mode": "inc", "mod": n, "offset": 0 } }),
                Picker::SourceHash => json!({ "jhash": { "mod": n, "expr": ip_field("saddr") } }),
            };
            let set: Vec<Value> = backends
                .iter()
                .enumerate()
                .map(|(i, (a, p))| json!([i, { "concat": [a.to_string(), p] }]))
                .collect();
            return vec![
                json!({ "mangle": { "key": ctmark, "value": { "|": [ctmark, IPVS_CT_MARK] } } }),
                json!({ "dnat": { "family": "ip",
                    "addr": { "map": { "key": key, "data": { "set": set } } } } }),
            ];
        }
    }]
}
