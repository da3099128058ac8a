//! Each [`Op`] as the shell command a person would type: teaching material, and a script
//! that bash runs to build the same lab.

use std::fmt::Write as _;

use super::Op;
use crate::model::{Lab, Program, Proto};

/// Quotes `s` for a POSIX shell, only when needed.
pub fn quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(c, '_' | '-' | '.' | '/' | ':' | '=' | '@' | ',' | '+')
        });
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

fn opt<T: std::fmt::Display>(word: &str, v: Option<&T>) -> String {
    v.map(|v| format!(" {word} {v}")).unwrap_or_default()
}

/// `-t ADDR:PORT` (`-u` for UDP, `--sctp-service` for SCTP): how ipvsadm names a
/// virtual service.
pub fn ipvsadm_service(proto: Proto, addr: std::net::Ipv4Addr, port: u16) -> String {
    let flag = match proto {
        Proto::Udp => "-u",
        Proto::Sctp => "--sctp-service",
        Proto::Tcp | Proto::Icmp => "-t",
    };
    format!("{flag} {addr}:{port}")
}

fn nat_rule_command(netns: &str, rule: &crate::nat::Rule, insert: bool) -> String {
    match (rule.emulated, rule.iptables(insert), rule.nft_command()) {
        (false, Some(words), _) | (true, Some(words), None) => {
            // A lone `!` (negation) needs no quotes: bash expands `!` only before a word.
            let words: Vec<String> = words
                .iter()
                .map(|w| if w == "!" { w.clone() } else { quote(w) })
                .collect();
            format!("ip netns exec {netns} iptables {}", words.join(" "))
        }
        (_, _, Some(cmd)) => format!("ip netns exec {netns} nft {}", quote(&cmd)),
        (_, None, None) => format!("# (no command for a rule of {netns})"),
    }
}

/// The argv vxlab runs for `program` (the first word is the program to execute).
pub fn argv(program: &Program) -> Vec<String> {
    match program {
        Program::Http { port, text } => {
            vec![
                "vxlab".into(),
                "serve-http".into(),
                "--port".into(),
                port.to_string(),
                "--text".into(),
                text.clone(),
            ]
        }
        Program::Command(args) => args.clone(),
    }
}

impl Op {
    /// The equivalent shell command.
    pub fn command(&self) -> String {
        match self {
            Op::AddNetns { netns } => format!("ip netns add {netns}"),
            Op::AddBridge {
                netns,
                name,
                mac,
                mtu,
                snooping,
            } => {
                format!(
                    "ip -n {netns} link add {name} address {mac}{} type bridge{}",
                    opt("mtu", mtu.as_ref()),
                    if *snooping { "" } else { " mcast_snooping 0" }
                )
            }
            Op::AwaitUp { netns, dev } => format!(
                "until ip -n {netns} -o link show {dev} | grep -q 'state UP'; do sleep 0.02; done"
            ),
            Op::AddVeth {
                netns,
                name,
                mac,
                peer_netns,
                peer,
                peer_mac,
                mtu,
            } => {
                let m = opt("mtu", mtu.as_ref());
                format!(
                    "ip -n {netns} link add {name} address {mac}{m} type veth peer name {peer} address {peer_mac}{m} netns {peer_netns}"
                )
            }
            Op::AddVxlan {
                netns,
                name,
                mac,
                mtu,
                vni,
                dstport,
                local,
                remote,
                group,
                dev,
                proxy,
                learning,
            } => {
                let mut s = format!(
                    "ip -n {netns} link add {name} address {mac}{} type vxlan id {vni}",
                    opt("mtu", mtu.as_ref())
                );
                s += &opt("dstport", dstport.as_ref());
                s += &opt("local", local.as_ref());
                s += &opt("remote", remote.as_ref());
                s += &opt("group", group.as_ref());
                s += &opt("dev", dev.as_ref());
                if *proxy {
                    s += " proxy";
                }
                if !learning {
                    s += " nolearning";
                }
                s
            }
            Op::MoveLink { netns, name, to } => format!("ip -n {netns} link set {name} netns {to}"),
            Op::SetMaster { netns, dev, master } => {
                format!("ip -n {netns} link set {dev} master {master}")
            }
            Op::Sysctl { netns, key, value } => {
                format!(
                    "ip netns exec {netns} sysctl -qw {}",
                    quote(&format!("{key}={value}"))
                )
            }
            Op::AddAddress {
                netns,
                dev,
                address,
            } => format!("ip -n {netns} addr add {address} dev {dev}"),
            Op::LinkUp { netns, dev } => format!("ip -n {netns} link set {dev} up"),
            Op::AddRoute {
                netns,
                to,
                via,
                dev,
                metric,
            } => {
                let to = if to.prefix_len() == 0 {
                    "default".to_string()
                } else {
                    to.to_string()
                };
                format!(
                    "ip -n {netns} route add {to}{}{}{}",
                    opt("via", via.as_ref()),
                    opt("dev", dev.as_ref()),
                    opt("metric", metric.as_ref())
                )
            }
            Op::AddNeigh {
                netns,
                dev,
                to,
                lladdr,
            } => {
                format!("ip -n {netns} neigh add {to} lladdr {lladdr} dev {dev} nud permanent")
            }
            Op::AddFdb {
                netns,
                dev,
                mac,
                dst,
                self_,
            } => format!(
                // Several all-zero (flooding) entries can coexist: they are appended.
                "bridge -n {netns} fdb {} {mac} dev {dev}{} {} permanent",
                if mac.is_zero() { "append" } else { "add" },
                opt("dst", dst.as_ref()),
                if *self_ { "self" } else { "master" }
            ),
            Op::Spawn { netns, program } => {
                let mut words = argv(program);
                if matches!(program, Program::Http { .. }) || words[0] == "vxlab" {
                    words[0] = "\"${VXLAB:-vxlab}\"".into();
                } else {
                    words[0] = quote(&words[0]);
                }
                let rest: Vec<String> = words[1..].iter().map(|w| quote(w)).collect();
                let start = format!(
                    "ip netns exec {netns} setsid {} {} </dev/null >/dev/null 2>&1 &",
                    words[0],
                    rest.join(" ")
                );
                match program {
                    // As `up` does: the lab is ready once the server listens.
                    Program::Http { port, .. } => format!(
                        "{start}\nuntil ip netns exec {netns} ss -Hltn 'sport = :{port}' | grep -q .; do sleep 0.02; done"
                    ),
                    Program::Command(_) => start,
                }
            }
            Op::AddNatChain { netns, chain } => {
                format!("ip netns exec {netns} iptables -t nat -N {}", quote(chain))
            }
            Op::AddNatRule {
                netns,
                rule,
                insert,
            } => nat_rule_command(netns, rule, *insert),
            Op::AddIpvsService {
                netns,
                proto,
                addr,
                port,
                scheduler,
            } => format!(
                "ip netns exec {netns} ipvsadm -A {} -s {}",
                ipvsadm_service(*proto, *addr, *port),
                quote(scheduler)
            ),
            Op::AddIpvsReal {
                netns,
                proto,
                addr,
                port,
                real,
            } => format!(
                "ip netns exec {netns} ipvsadm -a {} -r {}:{} {} -w {}",
                ipvsadm_service(*proto, *addr, *port),
                real.addr,
                real.port,
                real.forward.flag(),
                real.weight
            ),
            Op::Note { text, .. } => format!("# {text}"),
        }
    }
}

/// A bash script that builds `lab` with `ip`, `bridge` and `sysctl`.
pub fn up_script(lab: &Lab, ops: &[Op]) -> String {
    let mut s = String::from("#!/bin/bash\n");
    let _ = writeln!(
        s,
        "# vxlab lab `{}`{}",
        lab.name,
        lab.title
            .as_ref()
            .map(|t| format!(": {t}"))
            .unwrap_or_default()
    );
    if let Some(src) = &lab.source {
        let _ = writeln!(s, "# Reproduces: {src}");
    }
    s.push_str("# Generated by `vxlab script`; tear down with `vxlab script --down`.\nset -euo pipefail\n\n");
    let mut last = "";
    for op in ops {
        let section = section(op);
        if section != last && !section.is_empty() {
            let _ = writeln!(s, "\n# {section}");
            last = section;
        }
        s.push_str(&op.command());
        s.push('\n');
    }
    s
}

/// A bash script that removes every namespace of `lab` and the processes in them.
pub fn down_script(lab: &Lab) -> String {
    let mut s = format!("#!/bin/bash\n# Tear down vxlab lab `{}`.\n", lab.name);
    for n in lab.nodes.iter().rev() {
        let _ = writeln!(
            s,
            "if ip netns list | grep -qx '{0}\\( .*\\)\\?'; then ip netns pids {0} | xargs -r kill -9; ip netns del {0}; fi",
            n.netns
        );
    }
    s
}

fn section(op: &Op) -> &'static str {
    match op {
        Op::AddNetns { .. } => "Namespaces",
        Op::AddBridge { .. } | Op::AddVeth { .. } | Op::AddVxlan { .. } | Op::MoveLink { .. } => {
            "Devices"
        }
        Op::SetMaster { .. } => "Bridge ports",
        Op::Sysctl { .. } => "Sysctls",
        Op::AddAddress { .. } => "Addresses",
        Op::LinkUp { .. } => "Links up",
        Op::AddRoute { .. } => "Routes",
        Op::AddNeigh { .. } => "Static ARP (neighbour) entries",
        Op::AddFdb { .. } => "Static FDB entries",
        Op::Spawn { .. } => "Processes",
        Op::AddIpvsService { .. } | Op::AddIpvsReal { .. } => "IPVS (ipvsadm)",
        Op::AddNatChain { .. } | Op::AddNatRule { .. } => {
            "NAT (vxlab applies these as nftables table `ip vxlab`)"
        }
        Op::Note { .. } => "",
        Op::AwaitUp { .. } => "Wait for carrier",
    }
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn quoting_leaves_plain_words_and_guards_the_rest() {
        assert_eq!(quote("net.ipv4.ip_forward=1"), "net.ipv4.ip_forward=1");
        assert_eq!(quote("; rm -rf /"), "'; rm -rf /'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
    }
}
