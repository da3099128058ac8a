//! One rule of a lab's nat table, independent of how it is written: as the `iptables`
//! command of the write-ups ([`Rule::iptables`]), as nft text ([`Rule::nft`]) or as the
//! nft JSON vxlab applies ([`Rule::json`]).

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde::Serialize;

use crate::model::{Hook, Proto};

/// The nft table (family `ip`) that holds everything vxlab's NAT puts in a namespace.
/// Deleting the namespace deletes it; nothing else is ever touched.
pub const TABLE: &str = "vxlab";

/// kube-proxy's packet mark for "masquerade this connection" (`KUBE-MARK-MASQ`).
pub const MASQ_MARK: u32 = 0x4000;

/// Conntrack mark bit the IPVS emulation puts on the connections it balanced, so the
/// emulation of `-m ipvs --ipvs` recognises them.
pub const IPVS_CT_MARK: u32 = 0x0100_0000;

/// Denominator of `-m statistic --mode random` probabilities (the kernel compares 31
/// random bits).
pub const RANDOM_SCALE: u64 = 1 << 31;

/// A chain of the nat table: a built-in one (a hook) or a user chain such as
/// `KUBE-SERVICES`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Chain {
    /// `PREROUTING`, `POSTROUTING`, …
    Base(Hook),
    /// A user chain, reached by jumps.
    Custom(String),
}

impl Chain {
    /// Name as iptables shows it.
    pub fn iptables(&self) -> &str {
        match self {
            Self::Base(h) => h.iptables(),
            Self::Custom(c) => c,
        }
    }

    /// Name in vxlab's nft table.
    pub fn nft(&self) -> &str {
        match self {
            Self::Base(h) => h.nft(),
            Self::Custom(c) => c,
        }
    }
}

/// What a rule matches; a rule matches when all of its matches do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Match {
    /// Source address in (or, negated, outside) a prefix.
    Saddr {
        /// The prefix.
        net: Ipv4Net,
        /// Negated.
        negated: bool,
    },
    /// Destination address in (or outside) a prefix.
    Daddr {
        /// The prefix.
        net: Ipv4Net,
        /// Negated.
        negated: bool,
    },
    /// Transport protocol.
    Proto(Proto),
    /// Destination port of that protocol.
    Dport(Proto, u16),
    /// Input interface.
    Iif {
        /// Name.
        name: String,
        /// Negated.
        negated: bool,
    },
    /// Output interface.
    Oif {
        /// Name.
        name: String,
        /// Negated.
        negated: bool,
    },
    /// Packet mark has all bits of `mask` (or, negated, not all of them).
    Mark {
        /// The bits.
        mask: u32,
        /// Negated.
        negated: bool,
    },
    /// Destination is an address of this node (`-m addrtype --dst-type LOCAL`).
    LocalDst,
    /// Random, with probability `threshold / 2^31` (`-m statistic --mode random`).
    Random {
        /// Probability scaled by 2^31, as the kernel stores it.
        threshold: u32,
    },
    /// Packet of an IPVS connection (`-m ipvs --ipvs`): only the kernel's xt match can say
    /// this, so such rules are applied with iptables (nft compat), not nft.
    Ipvs,
    /// The IPVS emulation's stand-in for [`Match::Ipvs`]: a connection whose destination
    /// the emulation rewrote (`ct status dnat`, and [`IPVS_CT_MARK`] in the conntrack
    /// mark).
    IpvsEmulated,
}

impl Match {
    /// `-m statistic --mode random --probability P` for probability `p`, stored as the
    /// kernel does (`lround(p * 2^31)`).
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "p is in 0..=1, so p * 2^31 fits in u32"
    )]
    pub fn random(p: f64) -> Self {
        Self::Random {
            threshold: (p.clamp(0.0, 1.0) * RANDOM_SCALE as f64).round() as u32,
        }
    }
}

/// How the IPVS emulation picks a backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Picker {
    /// `numgen inc`: round robin, one step per new connection.
    RoundRobin,
    /// `jhash ip saddr`: the same client always gets the same backend.
    SourceHash,
}

/// What a rule does with a matching packet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// Rewrite the destination.
    Dnat {
        /// New address.
        addr: Ipv4Addr,
        /// New port.
        port: Option<u16>,
    },
    /// Rewrite the source.
    Snat {
        /// New address.
        addr: Ipv4Addr,
        /// New port.
        port: Option<u16>,
    },
    /// Rewrite the source to the output interface's address.
    Masquerade {
        /// Randomise source ports fully (`--random-fully`).
        fully_random: bool,
    },
    /// Continue in a user chain.
    Jump(String),
    /// Back to the calling chain.
    Return,
    /// Set bits of the packet mark (`-j MARK --or-mark`).
    OrMark(u32),
    /// Flip bits of the packet mark (`-j MARK --xor-mark`).
    XorMark(u32),
    /// The IPVS emulation: mark the connection and DNAT it to one of `backends`.
    Balance {
        /// How the backend is chosen.
        picker: Picker,
        /// Backends, repeated by weight.
        backends: Vec<(Ipv4Addr, u16)>,
    },
}

/// A rule of vxlab's nat table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// The chain it goes in.
    pub chain: Chain,
    /// Its matches.
    pub matches: Vec<Match>,
    /// Its target.
    pub target: Target,
    /// Comment (`-m comment`), at most 128 bytes without `"`.
    pub comment: Option<String>,
    /// Part of the IPVS emulation: shown as nft, never as iptables.
    pub emulated: bool,
}

fn net_text(net: Ipv4Net) -> String {
    if net.prefix_len() == 32 {
        net.addr().to_string()
    } else {
        net.to_string()
    }
}

fn to_text(addr: Ipv4Addr, port: Option<u16>) -> String {
    port.map_or_else(|| addr.to_string(), |p| format!("{addr}:{p}"))
}

impl Rule {
    /// A rule without comment.
    pub fn new(chain: Chain, matches: Vec<Match>, target: Target) -> Self {
        Self {
            chain,
            matches,
            target,
            comment: None,
            emulated: false,
        }
    }

    /// The same rule with a comment.
    #[must_use]
    pub fn with_comment(mut self, comment: impl Into<String>) -> Self {
        self.comment = Some(comment.into());
        self
    }

    /// Whether only iptables (nft's xt compat) can express it.
    pub fn needs_xt(&self) -> bool {
        self.matches.contains(&Match::Ipvs)
    }

    /// The `iptables` arguments (after the program name) that add this rule: `-I` at
    /// the top of the chain if `insert`, else `-A`. `None` for the emulation's
    /// balancing rule, which iptables has no single rule for.
    pub fn iptables(&self, insert: bool) -> Option<Vec<String>> {
        let mut w: Vec<String> = vec!["-t".into(), "nat".into()];
        w.push(if insert { "-I" } else { "-A" }.into());
        w.push(self.chain.iptables().into());
        let words = |w: &mut Vec<String>, neg: bool, flag: &str, v: String| {
            if neg {
                w.push("!".into());
            }
            w.push(flag.into());
            w.push(v);
        };
        // Basic matches first, as iptables-save orders them.
        for m in &self.matches {
            match m {
                Match::Saddr { net, negated } => words(&mut w, *negated, "-s", net_text(*net)),
                Match::Daddr { net, negated } => words(&mut w, *negated, "-d", net_text(*net)),
                Match::Iif { name, negated } => words(&mut w, *negated, "-i", name.clone()),
                Match::Oif { name, negated } => words(&mut w, *negated, "-o", name.clone()),
                Match::Proto(p) => words(&mut w, false, "-p", p.name().into()),
                Match::Dport(p, _) if !self.matches.contains(&Match::Proto(*p)) => {
                    words(&mut w, false, "-p", p.name().into());
                }
                _ => {}
            }
        }
        if let Some(c) = &self.comment {
            w.extend(["-m".into(), "comment".into(), "--comment".into(), c.clone()]);
        }
        for m in &self.matches {
            match m {
                Match::Dport(_, port) => w.extend(["--dport".into(), port.to_string()]),
                Match::Mark { mask, negated } => {
                    w.extend(["-m".into(), "mark".into()]);
                    words(&mut w, *negated, "--mark", format!("{mask:#x}/{mask:#x}"));
                }
                Match::LocalDst => {
                    w.extend(["-m", "addrtype", "--dst-type", "LOCAL"].map(String::from));
                }
                Match::Random { threshold } => {
                    let p = f64::from(*threshold) / f64::from(1u32 << 31);
                    w.extend(
                        ["-m", "statistic", "--mode", "random", "--probability"].map(String::from),
                    );
                    w.push(format!("{p:.11}"));
                }
                Match::Ipvs => w.extend(["-m", "ipvs", "--ipvs"].map(String::from)),
                Match::IpvsEmulated => {
                    w.extend(
                        [
                            "-m",
                            "conntrack",
                            "--ctstate",
                            "DNAT",
                            "-m",
                            "connmark",
                            "--mark",
                        ]
                        .map(String::from),
                    );
                    w.push(format!("{IPVS_CT_MARK:#x}/{IPVS_CT_MARK:#x}"));
                }
                _ => {}
            }
        }
        w.push("-j".into());
        match &self.target {
            Target::Dnat { addr, port } => {
                w.extend([
                    "DNAT".into(),
                    "--to-destination".into(),
                    to_text(*addr, *port),
                ]);
            }
            Target::Snat { addr, port } => {
                w.extend(["SNAT".into(), "--to-source".into(), to_text(*addr, *port)]);
            }
            Target::Masquerade { fully_random } => {
                w.push("MASQUERADE".into());
                if *fully_random {
                    w.push("--random-fully".into());
                }
            }
            Target::Jump(c) => w.push(c.clone()),
            Target::Return => w.push("RETURN".into()),
            Target::OrMark(m) => w.extend(["MARK".into(), "--or-mark".into(), format!("{m:#x}")]),
            Target::XorMark(m) => {
                w.extend(["MARK".into(), "--xor-mark".into(), format!("{m:#x}")]);
            }
            Target::Balance { .. } => return None,
        }
        Some(w)
    }

    /// The rule in nft syntax (what follows `add rule ip vxlab CHAIN`). `None` if it
    /// needs the `ipvs` xt match.
    pub fn nft(&self) -> Option<String> {
        let mut s = String::new();
        let op = |neg: bool| if neg { "!= " } else { "" };
        for m in &self.matches {
            let _ = match m {
                Match::Saddr { net, negated } => {
                    write!(s, "ip saddr {}{} ", op(*negated), net_text(*net))
                }
                Match::Daddr { net, negated } => {
                    write!(s, "ip daddr {}{} ", op(*negated), net_text(*net))
                }
                Match::Proto(p) => {
                    if self
                        .matches
                        .iter()
                        .any(|x| matches!(x, Match::Dport(q, _) if q == p))
                    {
                        continue;
                    }
                    write!(s, "meta l4proto {p} ")
                }
                Match::Dport(p, port) => write!(s, "{p} dport {port} "),
                Match::Iif { name, negated } => write!(s, "iifname {}\"{name}\" ", op(*negated)),
                Match::Oif { name, negated } => write!(s, "oifname {}\"{name}\" ", op(*negated)),
                Match::Mark { mask, negated } => write!(
                    s,
                    "meta mark & {mask:#010x} {} {mask:#010x} ",
                    if *negated { "!=" } else { "==" }
                ),
                Match::LocalDst => write!(s, "fib daddr type local "),
                Match::Random { threshold } => {
                    write!(s, "numgen random mod {RANDOM_SCALE} < {threshold} ")
                }
                Match::Ipvs => return None,
                Match::IpvsEmulated => write!(
                    s,
                    "ct status dnat ct mark & {IPVS_CT_MARK:#010x} == {IPVS_CT_MARK:#010x} "
                ),
            };
        }
        let _ = match &self.target {
            Target::Dnat { addr, port } => write!(s, "dnat to {}", to_text(*addr, *port)),
            Target::Snat { addr, port } => write!(s, "snat to {}", to_text(*addr, *port)),
            Target::Masquerade { fully_random } => write!(
                s,
                "masquerade{}",
                if *fully_random { " fully-random" } else { "" }
            ),
            Target::Jump(c) => write!(s, "jump {c}"),
            Target::Return => write!(s, "return"),
            Target::OrMark(m) => write!(s, "meta mark set meta mark | {m:#010x}"),
            Target::XorMark(m) => write!(s, "meta mark set meta mark ^ {m:#010x}"),
            Target::Balance { picker, backends } => {
                let key = match picker {
                    Picker::RoundRobin => "numgen inc",
                    Picker::SourceHash => "jhash ip saddr",
                };
                let map: Vec<String> = backends
                    .iter()
                    .enumerate()
                    .map(|(i, (a, p))| format!("{i} : {a} . {p}"))
                    .collect();
                write!(
                    s,
                    "ct mark set ct mark | {IPVS_CT_MARK:#010x} dnat to {key} mod {} map {{ {} }}",
                    backends.len(),
                    map.join(", ")
                )
            }
        };
        if let Some(c) = &self.comment {
            let _ = write!(s, " comment \"{c}\"");
        }
        Some(s)
    }

    /// An nft command line adding this rule to a fresh namespace: the table and the base
    /// chain are added first (`add` of an existing one changes nothing).
    pub fn nft_command(&self) -> Option<String> {
        let rule = self.nft()?;
        let mut s = format!("add table ip {TABLE}; ");
        if let Chain::Base(h) = &self.chain {
            let _ = write!(
                s,
                "add chain ip {TABLE} {0} {{ type nat hook {0} priority {1}; }}; ",
                h.nft(),
                h.priority()
            );
        }
        let _ = write!(s, "add rule ip {TABLE} {} {rule}", self.chain.nft());
        Some(s)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn dnat_rule() -> Rule {
        Rule::new(
            Chain::Base(Hook::Prerouting),
            vec![
                Match::Daddr {
                    net: "192.168.228.148/32".parse().unwrap(),
                    negated: false,
                },
                Match::Proto(Proto::Tcp),
                Match::Dport(Proto::Tcp, 80),
            ],
            Target::Dnat {
                addr: "172.18.0.2".parse().unwrap(),
                port: None,
            },
        )
    }

    #[test]
    fn iptables_form_is_the_write_ups() {
        assert_eq!(
            dnat_rule().iptables(true).unwrap().join(" "),
            "-t nat -I PREROUTING -d 192.168.228.148 -p tcp --dport 80 -j DNAT --to-destination 172.18.0.2"
        );
        let snat = Rule::new(
            Chain::Base(Hook::Postrouting),
            vec![
                Match::Daddr {
                    net: "10.0.0.0/24".parse().unwrap(),
                    negated: false,
                },
                Match::Ipvs,
            ],
            Target::Snat {
                addr: "10.0.0.2".parse().unwrap(),
                port: None,
            },
        );
        assert_eq!(
            snat.iptables(true).unwrap().join(" "),
            "-t nat -I POSTROUTING -d 10.0.0.0/24 -m ipvs --ipvs -j SNAT --to-source 10.0.0.2"
        );
        assert!(snat.needs_xt() && snat.nft().is_none());
    }

    #[test]
    fn kube_proxy_probabilities_print_as_iptables_does() {
        let r = Rule::new(
            Chain::Custom("KUBE-SVC-X".into()),
            vec![Match::random(1.0 / 3.0)],
            Target::Jump("KUBE-SEP-Y".into()),
        );
        let text = r.iptables(false).unwrap().join(" ");
        assert!(
            text.ends_with("-m statistic --mode random --probability 0.33333333349 -j KUBE-SEP-Y"),
            "{text}"
        );
        assert_eq!(
            r.nft().unwrap(),
            "numgen random mod 2147483648 < 715827883 jump KUBE-SEP-Y"
        );
        // kube-proxy formats 1/3 as 0.3333333333 first; the kernel keeps the same value.
        assert_eq!(Match::random(0.333_333_333_3), Match::random(1.0 / 3.0));
        assert_eq!(Match::random(0.5), Match::Random { threshold: 1 << 30 });
    }

    #[test]
    fn nft_json_has_table_base_chain_and_rule() {
        let cmds = dnat_rule().with_comment("host port 80").json();
        assert_eq!(cmds.len(), 3);
        assert_eq!(cmds[1]["add"]["chain"]["prio"], -100);
        let rule = &cmds[2]["add"]["rule"];
        assert_eq!(rule["chain"], "prerouting");
        assert_eq!(rule["comment"], "host port 80");
        assert_eq!(rule["expr"][3], json!({ "counter": null }));
        assert_eq!(rule["expr"][4], json!({ "dnat": { "addr": "172.18.0.2" } }));
    }

    #[test]
    fn balance_is_an_nft_map() {
        let r = Rule::new(
            Chain::Base(Hook::Prerouting),
            vec![Match::Dport(Proto::Tcp, 80)],
            Target::Balance {
                picker: Picker::RoundRobin,
                backends: vec![
                    ("10.0.0.4".parse().unwrap(), 80),
                    ("10.0.0.14".parse().unwrap(), 80),
                ],
            },
        );
        assert!(r.iptables(false).is_none());
        assert_eq!(
            r.nft().unwrap(),
            "tcp dport 80 ct mark set ct mark | 0x01000000 dnat to numgen inc mod 2 map { 0 : 10.0.0.4 . 80, 1 : 10.0.0.14 . 80 }"
        );
    }
}
