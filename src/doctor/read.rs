//! Reading a running lab's [`Snapshot`] from the kernel: each namespace's tables over
//! rtnetlink, its sysctls from `/proc/sys` (read on a thread inside it), its nftables
//! ruleset and its IPVS table. Reads only; never changes anything.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use std::net::{IpAddr, Ipv4Addr};

use futures::TryStreamExt;
use rtnetlink::packet_route::route::{
    RouteAddress, RouteAttribute, RouteFlags, RouteMessage, RouteMetric,
};
use rtnetlink::{Handle, RouteMessageBuilder};
use serde_json::Value;

use super::snapshot::{NatRow, NodeState, PmtuRow, ProcessRow, Snapshot};
use crate::kernel::connect;
use crate::model::Lab;
use crate::nat::IPVS_CT_MARK;
use crate::netns;
use crate::observe::dump;

/// The sysctls the rules look at, besides the per-interface `rp_filter`s.
const SYSCTLS: &[&str] = &[
    "net.ipv4.ip_forward",
    "net.ipv4.conf.all.rp_filter",
    "net.ipv4.conf.default.rp_filter",
    "net.ipv4.vs.conntrack",
    "net.bridge.bridge-nf-call-iptables",
];

fn sysctls(ns: &str, links: &[String]) -> std::io::Result<BTreeMap<String, String>> {
    let mut want: Vec<(String, PathBuf)> = SYSCTLS
        .iter()
        .map(|k| {
            (
                (*k).to_string(),
                PathBuf::from("/proc/sys").join(k.replace('.', "/")),
            )
        })
        .collect();
    for l in links {
        want.push((
            format!("net.ipv4.conf.{l}.rp_filter"),
            PathBuf::from("/proc/sys/net/ipv4/conf")
                .join(l)
                .join("rp_filter"),
        ));
    }
    netns::run_in(ns, move || {
        Ok(want
            .into_iter()
            .filter_map(|(k, p)| Some((k, std::fs::read_to_string(p).ok()?.trim().to_string())))
            .collect())
    })
}

fn is_ipvs_match(e: &Value) -> bool {
    if e.pointer("/xt/name").and_then(Value::as_str) == Some("ipvs") {
        return true;
    }
    // The emulation's `ct mark & IPVS_CT_MARK == IPVS_CT_MARK`.
    e.pointer("/match/left/&")
        .and_then(Value::as_array)
        .is_some_and(|a| {
            a.iter()
                .any(|x| x.pointer("/ct/key").and_then(Value::as_str) == Some("mark"))
                && a.iter()
                    .any(|x| x.as_u64() == Some(u64::from(IPVS_CT_MARK)))
        })
}

/// The kind (`snat`, `dnat`, `masquerade`) and address of a NAT statement. A rule that
/// iptables-nft wrote with a match nftables has no native form for (`-m ipvs`) keeps its
/// target in the kernel's `x_tables` form: JSON shows it as `{"xt": {"type": "target",
/// "name": "SNAT"}}`, without the address.
fn nat_statement(e: &Value) -> Option<(String, Option<String>)> {
    let (k, v) = e.as_object()?.iter().next()?;
    match k.as_str() {
        "snat" | "dnat" | "masquerade" => Some((
            k.clone(),
            v.get("addr").and_then(Value::as_str).map(str::to_string),
        )),
        "xt" if v["type"] == "target" => {
            let kind = v["name"].as_str()?.to_ascii_lowercase();
            matches!(kind.as_str(), "snat" | "dnat" | "masquerade").then_some((kind, None))
        }
        _ => None,
    }
}

/// NAT rules and the number of filter rules in a ruleset, as `nft -j list ruleset`
/// prints it.
pub fn parse_nft(ruleset: &Value) -> (Vec<NatRow>, usize) {
    let items = ruleset
        .get("nftables")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let key = |o: &Value, name: &str| {
        (
            o["family"].as_str().unwrap_or_default().to_string(),
            o["table"].as_str().unwrap_or_default().to_string(),
            o[name].as_str().unwrap_or_default().to_string(),
        )
    };
    let types: HashMap<(String, String, String), String> = items
        .iter()
        .filter_map(|i| i.get("chain"))
        .filter_map(|c| Some((key(c, "name"), c["type"].as_str()?.to_string())))
        .collect();
    let (mut nat, mut filter) = (Vec::new(), 0);
    for r in items.iter().filter_map(|i| i.get("rule")) {
        let k = key(r, "chain");
        let exprs = r["expr"].as_array().cloned().unwrap_or_default();
        match types.get(&k).map(String::as_str) {
            Some("filter") => filter += 1,
            Some("nat") | None => {
                let Some((kind, to)) = exprs.iter().find_map(nat_statement) else {
                    continue;
                };
                nat.push(NatRow {
                    table: k.1.clone(),
                    chain: k.2.clone(),
                    kind,
                    to,
                    ipvs_only: exprs.iter().any(is_ipvs_match),
                });
            }
            _ => {}
        }
    }
    (nat, filter)
}

/// One route cache exception as a row, if it carries a path MTU.
fn pmtu_row(m: &RouteMessage, links: &[crate::observe::LinkRow]) -> Option<PmtuRow> {
    let mut row = PmtuRow {
        to: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        dev: None,
        mtu: 0,
    };
    for a in &m.attributes {
        match a {
            RouteAttribute::Destination(RouteAddress::Inet(d)) => row.to = IpAddr::V4(*d),
            RouteAttribute::Oif(i) => {
                row.dev = links.iter().find(|l| l.index == *i).map(|l| l.name.clone());
            }
            RouteAttribute::Metrics(ms) => {
                for x in ms {
                    if let RouteMetric::Mtu(v) = x {
                        row.mtu = *v;
                    }
                }
            }
            _ => {}
        }
    }
    (row.mtu > 0).then_some(row)
}

/// The IPv4 path MTUs a namespace learned, as `ip route show cache` lists them: a dump
/// of the routes with `RTM_F_CLONED`, which the kernel answers with its exceptions.
async fn pmtu_cache(
    h: &Handle,
    links: &[crate::observe::LinkRow],
) -> Result<Vec<PmtuRow>, rtnetlink::Error> {
    let mut req = h
        .route()
        .get(RouteMessageBuilder::<Ipv4Addr>::new().build());
    req.message_mut().header.flags = RouteFlags::Cloned;
    let msgs: Vec<RouteMessage> = req.execute().try_collect().await?;
    Ok(msgs
        .iter()
        .filter(|m| m.header.flags.contains(RouteFlags::Cloned))
        .filter_map(|m| pmtu_row(m, links))
        .collect())
}

/// Reads the live state of every namespace of running lab `lab`. What cannot be read is
/// noted in the node's `errors`. Must run inside a tokio runtime.
pub async fn read(lab: &Lab) -> Snapshot {
    let mut snap = Snapshot::wiring_of(lab);
    let nft = crate::nat::apply::in_path("nft");
    for node in &lab.nodes {
        if !netns::exists(&node.netns) {
            continue;
        }
        let tables = match connect(&node.netns) {
            Ok(h) => match dump(&h).await {
                Ok(t) => {
                    let cache = pmtu_cache(&h, &t.links).await.unwrap_or_default();
                    Ok((t, cache))
                }
                Err(e) => Err(e.to_string()),
            },
            Err(e) => Err(e.to_string()),
        };
        let mut st = match tables {
            Ok((t, pmtu)) => NodeState {
                pmtu,
                ..NodeState::from_tables(&node.id, &node.netns, t)
            },
            Err(e) => NodeState {
                node: node.id.clone(),
                netns: node.netns.clone(),
                errors: vec![format!("its tables: {e}")],
                ..NodeState::default()
            },
        };
        let links: Vec<String> = st.links.iter().map(|l| l.name.clone()).collect();
        match sysctls(&node.netns, &links) {
            Ok(s) => st.sysctls = s,
            Err(e) => st.errors.push(format!("its sysctls: {e}")),
        }
        if nft {
            match crate::nat::apply::ruleset(&node.netns) {
                Ok(v) => (st.nat, st.filter_rules) = parse_nft(&v),
                Err(e) => st.errors.push(format!("its nftables ruleset: {e}")),
            }
        }
        st.processes = crate::process::pids_in(&node.netns)
            .into_iter()
            .map(|pid| ProcessRow {
                pid,
                argv: crate::fault::process::cmdline(pid),
            })
            .filter(|p| !p.argv.is_empty())
            .collect();
        if let Some(host) = lab.ovs_host(&node.id) {
            st.ovs = Some(super::ovsdb::read(&lab.name, &host));
        }
        if crate::ipvs::kernel_has_ipvs() {
            match crate::ipvs::list(&node.netns) {
                Ok(v) => st.ipvs = Some(v),
                Err(e) => st.errors.push(format!("its IPVS table: {e}")),
            }
        }
        snap.nodes.push(st);
    }
    snap
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nat_rows_and_filter_counts_come_out_of_the_ruleset() {
        let v = json!({"nftables": [
            {"chain": {"family": "ip", "table": "vxlab", "name": "postrouting", "type": "nat"}},
            {"chain": {"family": "inet", "table": "f", "name": "forward", "type": "filter"}},
            {"rule": {"family": "ip", "table": "vxlab", "chain": "postrouting", "expr": [
                {"match": {"op": "==", "left": {"&": [{"ct": {"key": "mark"}}, 16_777_216]}, "right": 16_777_216}},
                {"snat": {"addr": "10.0.0.2"}}]}},
            {"rule": {"family": "ip", "table": "nat", "chain": "POSTROUTING", "expr": [
                {"xt": {"type": "match", "name": "ipvs"}}, {"snat": {"addr": "10.0.0.12"}}]}},
            {"rule": {"family": "ip", "table": "vxlab", "chain": "postrouting", "expr": [{"masquerade": null}]}},
            {"rule": {"family": "inet", "table": "f", "chain": "forward", "expr": [{"drop": null}]}}
        ]});
        let (nat, filter) = parse_nft(&v);
        assert_eq!(filter, 1);
        assert_eq!(nat.len(), 3);
        assert!(nat[0].ipvs_only && nat[1].ipvs_only && !nat[2].ipvs_only);
        assert_eq!(nat[0].to.as_deref(), Some("10.0.0.2"));
        assert_eq!(nat[2].kind, "masquerade");
    }

    /// `iptables -t nat -I POSTROUTING -d 10.0.0.0/24 -m ipvs --ipvs -j SNAT --to-source
    /// 10.0.0.2` through iptables-nft, as `nft -j list ruleset` (1.0.6) prints it.
    #[test]
    fn an_iptables_nft_snat_behind_an_xt_match_is_a_nat_row() {
        let v = json!({"nftables": [
            {"chain": {"family": "ip", "table": "nat", "name": "POSTROUTING", "type": "nat"}},
            {"rule": {"family": "ip", "table": "nat", "chain": "POSTROUTING", "expr": [
                {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}},
                           "right": {"prefix": {"addr": "10.0.0.0", "len": 24}}}},
                {"xt": {"type": "match", "name": "ipvs"}},
                {"counter": {"packets": 0, "bytes": 0}},
                {"xt": {"type": "target", "name": "SNAT"}}]}},
            {"rule": {"family": "ip", "table": "nat", "chain": "POSTROUTING", "expr": [
                {"xt": {"type": "target", "name": "LOG"}}]}}
        ]});
        let (nat, _) = parse_nft(&v);
        assert_eq!(nat.len(), 1);
        assert_eq!(nat[0].kind, "snat");
        assert!(nat[0].ipvs_only);
        assert_eq!(nat[0].to, None);
        assert_eq!(nat[0].chain, "POSTROUTING");
    }
}
