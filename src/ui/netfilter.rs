//! The selected node's netfilter state, polled (conntrack and nftables send no cheap
//! notifications here): its nftables rules with their counters (`nft -a list ruleset`),
//! its IPVS services (the kernel's, and the lab's emulated ones, marked) and its conntrack
//! table, read every [`POLL`] on a plain thread and sent as [`Msg::Polled`].
//!
//! One node is polled at a time: [`follow`] starts a poller for a node and retires the one
//! before it.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;

use super::msg::Msg;
use crate::conntrack::CtRow;
use crate::ipvs::ServiceRow;
use crate::model::Lab;
use crate::netns;

/// Time between two polls of the selected node.
pub const POLL: Duration = Duration::from_millis(1500);

/// One nftables rule as `nft -a list ruleset` prints it, its counter taken out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NftRule {
    /// Table family (`ip`, `inet`, …).
    pub family: String,
    /// Table name (`vxlab`, or `nat` for the rules iptables-nft wrote).
    pub table: String,
    /// Chain name.
    pub chain: String,
    /// Rule handle, if listed.
    pub handle: Option<u64>,
    /// The rule in nft syntax, without its counter and handle.
    pub text: String,
    /// Packets counted, if the rule has a counter.
    pub packets: Option<u64>,
    /// Bytes counted, if the rule has a counter.
    pub bytes: Option<u64>,
}

/// What one poll of a node read; each part can fail on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Polled {
    /// Its nftables rules.
    pub nat: Result<Vec<NftRule>, String>,
    /// Its IPVS services (emulated ones from the lab, marked).
    pub ipvs: Result<Vec<ServiceRow>, String>,
    /// Its conntrack table.
    pub conntrack: Result<Vec<CtRow>, String>,
}

/// Takes `counter packets N bytes M` out of a rule's text.
fn take_counter(text: &str) -> (String, Option<u64>, Option<u64>) {
    let Some(at) = text.find("counter packets ") else {
        return (text.to_string(), None, None);
    };
    let rest = &text[at + "counter packets ".len()..];
    let mut words = rest.splitn(4, ' ');
    let packets = words.next().and_then(|w| w.parse().ok());
    let bytes = match (words.next(), words.next()) {
        (Some("bytes"), Some(b)) => b.parse().ok(),
        _ => None,
    };
    let tail = words.next().unwrap_or_default();
    let out = format!("{} {tail}", text[..at].trim_end());
    (out.trim().to_string(), packets, bytes)
}

/// The rules of `nft -a list ruleset`'s output, in order. Sets, maps and chain headers
/// are skipped.
pub fn parse_listing(text: &str) -> Vec<NftRule> {
    enum Block {
        Table(String, String),
        Chain(String),
        Other,
    }
    let mut stack: Vec<Block> = Vec::new();
    let mut out = Vec::new();
    for line in text.lines() {
        let (body, handle) = match line.rsplit_once(" # handle ") {
            Some((b, h)) => (b.trim(), h.trim().parse::<u64>().ok()),
            None => (line.trim(), None),
        };
        if body.is_empty() || body.starts_with('#') {
            continue;
        }
        let words: Vec<&str> = body.split_whitespace().collect();
        match words.as_slice() {
            ["table", family, name, "{"] => {
                stack.push(Block::Table((*family).into(), (*name).into()));
                continue;
            }
            ["chain", name, "{"] => {
                stack.push(Block::Chain((*name).into()));
                continue;
            }
            _ => {}
        }
        let opened = body.matches('{').count();
        let closed = body.matches('}').count();
        if opened == closed
            && let [.., Block::Table(family, table), Block::Chain(chain)] = stack.as_slice()
        {
            if words[0] == "type" || words[0] == "policy" {
                continue;
            }
            let (text, packets, bytes) = take_counter(body);
            out.push(NftRule {
                family: family.clone(),
                table: table.clone(),
                chain: chain.clone(),
                handle,
                text,
                packets,
                bytes,
            });
            continue;
        }
        for _ in closed..opened {
            stack.push(Block::Other);
        }
        for _ in opened..closed {
            stack.pop();
        }
    }
    out
}

fn nft_rules(ns: &str) -> Result<Vec<NftRule>, String> {
    if !crate::nat::apply::in_path("nft") {
        return Err("nft is not installed".into());
    }
    let out = netns::run_in(ns, || {
        Command::new("nft")
            .args(["-a", "list", "ruleset"])
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .output()
    })
    .map_err(|e| format!("cannot run nft in {ns}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "nft list ruleset: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(parse_listing(&String::from_utf8_lossy(&out.stdout)))
}

fn ipvs(lab: &Lab, node: &str, ns: &str) -> Result<Vec<ServiceRow>, String> {
    let mut rows: Vec<ServiceRow> = lab
        .ipvs
        .iter()
        .filter(|s| s.node == node && s.emulated)
        .map(ServiceRow::emulated)
        .collect();
    if crate::ipvs::kernel_has_ipvs() {
        rows.extend(crate::ipvs::list(ns).map_err(|e| e.to_string())?);
    }
    Ok(rows)
}

/// Reads node `node`'s (namespace `ns`) rules, IPVS services and conntrack table.
pub fn poll(lab: &Lab, node: &str, ns: &str) -> Polled {
    Polled {
        nat: nft_rules(ns),
        ipvs: ipvs(lab, node, ns),
        conntrack: crate::conntrack::dump(ns).map_err(|e| e.to_string()),
    }
}

/// The poller that runs; older ones stop at their next wake-up.
static CURRENT: AtomicU64 = AtomicU64::new(0);

/// Polls node `node` (namespace `netns`) of `lab` every [`POLL`] on a new thread, until
/// another node is followed or `tx` closes; the poller of the node followed before stops.
pub fn follow(lab: &Lab, node: String, netns: String, tx: &UnboundedSender<Msg>) {
    let node_id = node.clone();
    let me = CURRENT.fetch_add(1, Ordering::SeqCst) + 1;
    let lab = lab.clone();
    let poll_tx = tx.clone();
    let started = std::thread::Builder::new()
        .name("netfilter poll".into())
        .spawn(move || {
            while CURRENT.load(Ordering::SeqCst) == me {
                let polled = poll(&lab, &node, &netns);
                if CURRENT.load(Ordering::SeqCst) != me
                    || poll_tx
                        .send(Msg::Polled {
                            node: node.clone(),
                            polled: Box::new(polled),
                        })
                        .is_err()
                {
                    break;
                }
                std::thread::sleep(POLL);
            }
        });
    if let Err(e) = started {
        let _ = tx.send(Msg::Polled {
            node: node_id,
            polled: Box::new(Polled {
                nat: Err(e.to_string()),
                ipvs: Err(e.to_string()),
                conntrack: Err(e.to_string()),
            }),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Seen<'a> = (
        &'a str,
        &'a str,
        Option<u64>,
        &'a str,
        Option<u64>,
        Option<u64>,
    );

    const LISTING: &str = "\
table ip vxlab { # handle 7
\tchain prerouting { # handle 1
\t\ttype nat hook prerouting priority dstnat; policy accept;
\t\ttcp dport 8080 counter packets 3 bytes 180 dnat to 172.18.0.2:80 comment \"host port 80\" # handle 4
\t}
\tset backends { # handle 2
\t\ttype ipv4_addr
\t\telements = { 10.0.0.4, 10.0.0.5,
\t\t\t     10.0.0.6 }
\t}
\tchain postrouting { # handle 3
\t\ttype nat hook postrouting priority srcnat; policy accept;
\t\tip saddr 10.0.0.0/24 oifname != \"edge_bridge\" masquerade # handle 5
\t\ttcp dport { 80, 443 } counter packets 0 bytes 0 # handle 6
\t}
}
# Warning: table ip nat is managed by iptables-nft, do not touch!
table ip nat { # handle 8
\tchain POSTROUTING { # handle 1
\t\ttype nat hook postrouting priority srcnat; policy accept;
\t\txt match \"ipvs\" counter packets 12 bytes 720 snat to 10.0.0.12 # handle 2
\t}
}
";

    #[test]
    fn listing_gives_each_rule_with_its_counter() {
        let rules = parse_listing(LISTING);
        let got: Vec<Seen> = rules
            .iter()
            .map(|r| {
                (
                    r.table.as_str(),
                    r.chain.as_str(),
                    r.handle,
                    r.text.as_str(),
                    r.packets,
                    r.bytes,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "vxlab",
                    "prerouting",
                    Some(4),
                    "tcp dport 8080 dnat to 172.18.0.2:80 comment \"host port 80\"",
                    Some(3),
                    Some(180)
                ),
                (
                    "vxlab",
                    "postrouting",
                    Some(5),
                    "ip saddr 10.0.0.0/24 oifname != \"edge_bridge\" masquerade",
                    None,
                    None
                ),
                (
                    "vxlab",
                    "postrouting",
                    Some(6),
                    "tcp dport { 80, 443 }",
                    Some(0),
                    Some(0)
                ),
                (
                    "nat",
                    "POSTROUTING",
                    Some(2),
                    "xt match \"ipvs\" snat to 10.0.0.12",
                    Some(12),
                    Some(720)
                ),
            ]
        );
        assert!(rules.iter().all(|r| r.family == "ip"));
    }
}
