//! Removing one of a lab's NAT rules from a namespace's nftables ruleset, and putting it
//! back at the same place in its chain.
//!
//! The live rule is found by its chain and its NAT statement (the same `snat`/`dnat`
//! address and port as the lab's rule). Rules vxlab applied through iptables (`-m ipvs`,
//! an xt match nft cannot re-read) are put back with iptables.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::model::{Lab, NatRule};
use crate::nat::{self, NatError, emulate};

/// A NAT rule taken out of a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedRule {
    /// Namespace.
    pub netns: String,
    /// nft family (`ip`).
    pub family: String,
    /// Table (`vxlab`, or iptables' `nat`).
    pub table: String,
    /// Chain.
    pub chain: String,
    /// Position in the chain, from 0.
    pub index: usize,
    /// The rule's expressions, as `nft -j list ruleset` printed them.
    pub expr: Value,
    /// Its comment.
    pub comment: Option<String>,
    /// iptables arguments that add it back, for rules with xt matches.
    pub iptables: Option<Vec<String>>,
}

impl SavedRule {
    /// The nft JSON command that puts the rule back at its index.
    pub fn restore_json(&self) -> Value {
        let mut rule = json!({
            "family": self.family, "table": self.table, "chain": self.chain, "expr": self.expr
        });
        if let Some(c) = &self.comment {
            rule["comment"] = json!(c);
        }
        if self.index == 0 {
            json!({ "insert": { "rule": rule } })
        } else {
            rule["index"] = json!(self.index - 1);
            json!({ "add": { "rule": rule } })
        }
    }

    /// The shell command that puts it back.
    pub fn restore_command(&self) -> String {
        if let Some(args) = &self.iptables {
            return format!("ip netns exec {} iptables {}", self.netns, args.join(" "));
        }
        let doc = json!({ "nftables": [self.restore_json()] }).to_string();
        format!("ip netns exec {} nft -j -f - <<< '{doc}'", self.netns)
    }

    /// Puts the rule back.
    pub fn restore(&self) -> Result<(), NatError> {
        match &self.iptables {
            Some(args) => nat::apply::iptables(&self.netns, args),
            None => nat::apply::nft(&self.netns, &[self.restore_json()]),
        }
    }
}

/// The NAT statement (`{"snat": …}`, `{"dnat": …}`, `{"masquerade": …}`) of an expression
/// list, reduced to what identifies it.
fn target(expr: &Value) -> Option<(String, Value, Value)> {
    expr.as_array()?.iter().find_map(|e| {
        let (k, v) = e.as_object()?.iter().next()?;
        matches!(k.as_str(), "snat" | "dnat" | "masquerade").then(|| {
            (
                k.clone(),
                v.get("addr").cloned().unwrap_or(Value::Null),
                v.get("port").cloned().unwrap_or(Value::Null),
            )
        })
    })
}

fn has_xt(expr: &Value) -> bool {
    expr.as_array()
        .is_some_and(|a| a.iter().any(|e| e.get("xt").is_some()))
}

/// The rule vxlab applied for `n`: its table, chain and expressions, and whether it went
/// through iptables.
fn applied(lab: &Lab, n: &NatRule) -> (String, String, Value, Option<Vec<String>>) {
    let mut rule = nat::from_model(n);
    if n.ipvs && lab.ipvs_emulated() {
        rule = emulate::ipvs_match(&rule);
    }
    let cmds = rule.json();
    let expr = cmds
        .last()
        .and_then(|c| c.pointer("/add/rule/expr"))
        .cloned()
        .unwrap_or(Value::Null);
    if rule.needs_xt() {
        (
            "nat".into(),
            rule.chain.iptables().to_string(),
            expr,
            rule.iptables(true),
        )
    } else {
        (nat::TABLE.into(), rule.chain.nft().to_string(), expr, None)
    }
}

/// The iptables arguments of every lab NAT rule vxlab applies through iptables: the only
/// ones a record may ask `fix` to run.
pub(super) fn lab_iptables_args(lab: &Lab) -> Vec<Vec<String>> {
    lab.nat.iter().filter_map(|n| applied(lab, n).3).collect()
}

/// Finds the live rule standing for lab rule `index` in ruleset `ruleset` (as `nft -j
/// list ruleset` prints it) of namespace `netns`: its handle and how to put it back.
pub fn find(lab: &Lab, index: usize, netns: &str, ruleset: &Value) -> Option<(u64, SavedRule)> {
    let n = lab.nat.get(index)?;
    let (table, chain, expr, iptables) = applied(lab, n);
    let want = target(&expr)?;
    let rules: Vec<&Value> = ruleset
        .get("nftables")?
        .as_array()?
        .iter()
        .filter_map(|o| o.get("rule"))
        .filter(|r| {
            r["family"] == "ip" && r["table"] == table.as_str() && r["chain"] == chain.as_str()
        })
        .collect();
    let (i, r) = rules
        .iter()
        .enumerate()
        .find(|(_, r)| target(&r["expr"]).as_ref() == Some(&want))?;
    let handle = r["handle"].as_u64()?;
    let xt = has_xt(&r["expr"]);
    Some((
        handle,
        SavedRule {
            netns: netns.to_string(),
            family: "ip".into(),
            table,
            chain,
            index: i,
            expr: r["expr"].clone(),
            comment: r["comment"].as_str().map(str::to_string),
            iptables: if xt { iptables } else { None },
        },
    ))
}

/// Deletes the rule with `handle` from `saved`'s chain.
pub fn delete(saved: &SavedRule, handle: u64) -> Result<(), NatError> {
    let cmd = json!({ "delete": { "rule": {
        "family": saved.family, "table": saved.table, "chain": saved.chain, "handle": handle
    } } });
    nat::apply::nft(&saved.netns, &[cmd])
}

/// The command that deletes it, for the record.
pub fn delete_command(saved: &SavedRule, handle: u64) -> String {
    format!(
        "ip netns exec {} nft delete rule {} {} {} handle {handle}",
        saved.netns, saved.family, saved.table, saved.chain
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lab() -> Lab {
        Lab::from_source(
            r#"
[lab]
name = "n"
[[host]]
name = "h"
[[nat]]
node = "h"
type = "snat"
dst = "10.0.0.0/24"
to = "10.0.0.2"
[[nat]]
node = "h"
type = "snat"
dst = "10.0.1.0/24"
to = "10.0.0.3"
"#,
        )
        .unwrap()
    }

    #[test]
    fn finds_the_rule_by_its_statement_and_restores_it_in_place() {
        let ruleset = json!({"nftables": [
            {"table": {"family": "ip", "name": "vxlab", "handle": 1}},
            {"rule": {"family": "ip", "table": "vxlab", "chain": "postrouting", "handle": 4,
                "expr": [{"snat": {"addr": "10.0.0.2"}}]}},
            {"rule": {"family": "ip", "table": "vxlab", "chain": "postrouting", "handle": 5,
                "expr": [{"snat": {"addr": "10.0.0.3"}}]}}
        ]});
        let (h, s) = find(&lab(), 1, "ns", &ruleset).unwrap();
        assert_eq!((h, s.index), (5, 1));
        assert_eq!(s.restore_json()["add"]["rule"]["index"], 0);
        let (h, s) = find(&lab(), 0, "ns", &ruleset).unwrap();
        assert_eq!((h, s.index), (4, 0));
        assert!(s.restore_json().get("insert").is_some());
        assert!(find(&lab(), 1, "ns", &json!({"nftables": []})).is_none());
    }
}
