//! Checks of `[[nat]]` rules, and the small parsers (protocols, ports, IPv4 prefixes,
//! negated matches) that services and IPVS checks share.

use std::net::{IpAddr, Ipv4Addr};

use ipnet::{IpNet, Ipv4Net};
use toml::Spanned;

use super::Checker;
use crate::model::{AddrMatch, Hook, IfMatch, IfRef, Lab, NatKind, NatRule, NatTo, Proto};
use crate::scenario::{Nat, Scenario, Text};

/// Splits a leading `!` (and the blanks after it) off a match.
fn negation(s: &str) -> (bool, &str) {
    match s.strip_prefix('!') {
        Some(rest) => (true, rest.trim_start()),
        None => (false, s),
    }
}

impl Checker {
    pub(super) fn nat(&mut self, s: &Scenario, lab: &mut Lab) {
        for n in &s.nat {
            if let Some(r) = self.nat_rule(n, lab) {
                lab.nat.push(r);
            }
        }
    }

    /// A protocol among `allowed`.
    pub(super) fn proto(&mut self, t: &Text, allowed: &[Proto]) -> Option<Proto> {
        let p = Proto::parse(t.get_ref()).filter(|p| allowed.contains(p));
        if p.is_none() {
            let names: Vec<&str> = allowed.iter().map(|p| p.name()).collect();
            self.err_help(
                t.span(),
                format!("`{}` is not a protocol here", t.get_ref()),
                format!("use {}", names.join(", ")),
            );
        }
        p
    }

    /// A TCP/UDP port, 1..=65535.
    pub(super) fn port(&mut self, p: &Spanned<i64>) -> Option<u16> {
        let port = u16::try_from(*p.get_ref()).ok().filter(|&p| p != 0);
        if port.is_none() {
            self.err(
                p.span(),
                format!("port {} is outside 1..=65535", p.get_ref()),
            );
        }
        port
    }

    /// An IPv4 address.
    pub(super) fn ipv4(&mut self, t: &Text, what: &str) -> Option<Ipv4Addr> {
        match t.get_ref().parse::<IpAddr>() {
            Ok(IpAddr::V4(a)) => Some(a),
            Ok(IpAddr::V6(_)) => {
                self.err(t.span(), format!("{what} must be IPv4"));
                None
            }
            Err(_) => {
                self.err(t.span(), format!("`{}` is not an IP address", t.get_ref()));
                None
            }
        }
    }

    /// `ADDR` or `ADDR:PORT`, IPv4.
    pub(super) fn addr_port(&mut self, t: &Text, what: &str) -> Option<(Ipv4Addr, Option<u16>)> {
        let v = t.get_ref();
        if let Ok(a) = v.parse::<Ipv4Addr>() {
            return Some((a, None));
        }
        if let Ok(sa) = v.parse::<std::net::SocketAddrV4>() {
            if sa.port() == 0 {
                self.err(t.span(), "port 0 is outside 1..=65535");
                return None;
            }
            return Some((*sa.ip(), Some(sa.port())));
        }
        self.err_help(
            t.span(),
            format!("`{v}` is not an IPv4 {what}"),
            "write ADDR or ADDR:PORT, e.g. 172.18.0.2 or 172.18.0.2:8080",
        );
        None
    }

    /// An IPv4 prefix; a bare address is a /32.
    pub(super) fn ipv4_net(&mut self, t: &Text, text: &str) -> Option<Ipv4Net> {
        let net = if text.contains('/') {
            text.parse::<IpNet>().ok()
        } else {
            text.parse::<IpAddr>().ok().map(IpNet::from)
        };
        match net {
            Some(IpNet::V4(n)) if n.network() == n.addr() => Some(n),
            Some(IpNet::V4(n)) => {
                self.err_help(
                    t.span(),
                    format!("`{n}` has host bits set"),
                    format!("write {}", n.trunc()),
                );
                None
            }
            Some(IpNet::V6(_)) => {
                self.err(
                    t.span(),
                    "NAT matches are IPv4 (vxlab's table is `ip vxlab`)",
                );
                None
            }
            None => {
                self.err_help(
                    t.span(),
                    format!("`{text}` is not an address or prefix"),
                    "write e.g. 10.0.0.0/24 or 192.168.228.148; `!` in front negates",
                );
                None
            }
        }
    }

    fn addr_match(&mut self, t: &Text) -> Option<AddrMatch> {
        let (negated, text) = negation(t.get_ref());
        let net = self.ipv4_net(t, text)?;
        Some(AddrMatch { net, negated })
    }

    fn if_match(&mut self, t: &Text, node: &str) -> Option<IfMatch> {
        let (negated, name) = negation(t.get_ref());
        let exists = name == "lo"
            || self
                .ifaces
                .contains_key(&IfRef::new(node.to_string(), name.to_string()));
        if !exists {
            let mut known: Vec<&str> = self
                .ifaces
                .keys()
                .filter(|r| r.node == node)
                .map(|r| r.name.as_str())
                .collect();
            known.sort_unstable();
            known.insert(0, "lo");
            self.err_help(
                t.span(),
                format!("there is no interface `{name}` in `{node}`"),
                format!("its interfaces: {}", known.join(", ")),
            );
            return None;
        }
        Some(IfMatch {
            name: name.to_string(),
            negated,
        })
    }

    fn nat_kind(&mut self, t: &Text) -> Option<NatKind> {
        match t.get_ref().as_str() {
            "dnat" => Some(NatKind::Dnat),
            "snat" => Some(NatKind::Snat),
            "masquerade" => Some(NatKind::Masquerade),
            other => {
                self.err_help(
                    t.span(),
                    format!("`{other}` is not a NAT type"),
                    "use dnat, snat or masquerade",
                );
                None
            }
        }
    }

    fn nat_hook(&mut self, n: &Nat, kind: Option<NatKind>) -> Option<Hook> {
        let Some(t) = &n.hook else {
            return kind.map(|k| match k {
                NatKind::Dnat => Hook::Prerouting,
                NatKind::Snat | NatKind::Masquerade => Hook::Postrouting,
            });
        };
        let Some(h) = Hook::parse(t.get_ref()) else {
            self.err_help(
                t.span(),
                format!("`{}` is not a hook of the nat table", t.get_ref()),
                "use prerouting, input, output or postrouting",
            );
            return None;
        };
        let allowed: &[Hook] = match kind? {
            NatKind::Dnat => &[Hook::Prerouting, Hook::Output],
            NatKind::Snat => &[Hook::Postrouting, Hook::Input],
            NatKind::Masquerade => &[Hook::Postrouting],
        };
        if !allowed.contains(&h) {
            let names: Vec<&str> = allowed.iter().map(|h| h.nft()).collect();
            self.err_help(
                t.span(),
                format!("{} cannot be done in {}", n.kind.get_ref(), h.nft()),
                format!("use hook = {}", names.join(" or ")),
            );
            return None;
        }
        Some(h)
    }

    fn nat_rule(&mut self, n: &Nat, lab: &Lab) -> Option<NatRule> {
        let node = self.node_ref(&n.node);
        let kind = self.nat_kind(&n.kind);
        let hook = self.nat_hook(n, kind);
        let src = n.src.as_ref().and_then(|t| self.addr_match(t));
        let dst = n.dst.as_ref().and_then(|t| self.addr_match(t));
        let all = [Proto::Tcp, Proto::Udp, Proto::Sctp, Proto::Icmp];
        let proto = n.proto.as_ref().and_then(|t| self.proto(t, &all));
        let dport = n.dport.as_ref().and_then(|p| self.port(p));
        let ported = n.proto.is_none() || proto.is_some_and(Proto::has_ports);
        if let (Some(p), false) = (&n.dport, n.proto.is_some() && ported) {
            self.err_help(
                p.span(),
                "`dport` needs a protocol with ports",
                "add proto = \"tcp\" (or udp, sctp)",
            );
        }
        let (mut iif, mut oif) = (None, None);
        if let Some(node) = &node {
            iif = n.iif.as_ref().and_then(|t| self.if_match(t, node));
            oif = n.oif.as_ref().and_then(|t| self.if_match(t, node));
        }
        if let (Some(h), Some(t)) = (hook, &n.iif)
            && !h.has_input()
        {
            self.err_help(
                t.span(),
                format!("packets in {} have no input interface", h.nft()),
                "use `out`, or a prerouting/input rule",
            );
        }
        if let (Some(h), Some(t)) = (hook, &n.oif)
            && h.has_input()
        {
            self.err_help(
                t.span(),
                format!("packets in {} have no output interface yet", h.nft()),
                "use `in`, or an output/postrouting rule",
            );
        }
        let ipvs = n.ipvs.as_ref().is_some_and(|b| *b.get_ref());
        if let (Some(b), Some(node), true) = (&n.ipvs, &node, ipvs)
            && !lab.ipvs.iter().any(|s| &s.node == node)
        {
            self.err_help(
                b.span(),
                format!("`{node}` has no [[ipvs]] service, so `ipvs = true` never matches"),
                format!("add an [[ipvs]] service with node = \"{node}\""),
            );
        }
        let to = match (&n.to, kind) {
            (None, Some(k @ (NatKind::Dnat | NatKind::Snat))) => {
                let word = if k == NatKind::Dnat {
                    "destination"
                } else {
                    "source"
                };
                self.err_help(
                    n.kind.span(),
                    format!("a {} rule needs `to`, the new {word}", n.kind.get_ref()),
                    "add e.g. to = \"172.18.0.2\" or to = \"172.18.0.2:8080\"",
                );
                None
            }
            (Some(t), Some(NatKind::Masquerade)) => {
                self.err_help(
                    t.span(),
                    "masquerade takes the output interface's address; it has no `to`",
                    "remove `to`, or use type = \"snat\"",
                );
                None
            }
            (Some(t), _) => self
                .addr_port(t, "address")
                .map(|(addr, port)| NatTo { addr, port }),
            (None, _) => None,
        };
        if let (Some(t), Some(NatTo { port: Some(_), .. })) = (&n.to, to)
            && !proto.is_some_and(Proto::has_ports)
        {
            self.err_help(
                t.span(),
                "a port in `to` needs a protocol with ports",
                "add proto = \"tcp\" (or udp, sctp)",
            );
        }
        let comment = n.comment.as_ref().and_then(|t| self.comment(t));
        Some(NatRule {
            node: node?,
            kind: kind?,
            hook: hook?,
            src,
            dst,
            proto,
            dport,
            iif,
            oif,
            ipvs,
            to,
            comment,
        })
    }

    fn comment(&mut self, t: &Text) -> Option<String> {
        let c = t.get_ref();
        if c.len() > 128 || c.chars().any(|ch| ch.is_control() || ch == '"') {
            self.err(
                t.span(),
                "a comment is one line of at most 128 bytes, without `\"`",
            );
            return None;
        }
        Some(c.clone())
    }
}
