//! NAT in a lab's namespaces: `[[nat]]` rules, kube-proxy services and the IPVS emulation,
//! all as rules of one nftables table per namespace, `ip vxlab` ([`TABLE`]).
//!
//! - Applying: nft JSON through `nft -j -f -` run inside the namespace ([`apply`]). Rules
//!   with `-m ipvs --ipvs` cannot be written in nft; they go through the system's
//!   `iptables` (iptables-nft: table `ip nat`, the `ipvs` xt match through nft compat).
//! - Showing: `vxlab script` prints each rule as the `iptables -t nat` command the
//!   write-ups use ([`Rule::iptables`]); emulated IPVS rules, which have no iptables
//!   form, as `nft` commands ([`Rule::nft_command`]).
//! - Removing: deleting the namespace deletes its tables; nothing outside it is touched.

pub mod apply;
pub mod emulate;
pub mod hash;
pub mod json;
pub mod kube;
pub mod rule;

pub use apply::NatError;
pub use rule::{Chain, IPVS_CT_MARK, MASQ_MARK, Match, Picker, Rule, TABLE, Target};

use crate::model::{NatKind, NatRule};

/// The rule a `[[nat]]` entry stands for.
pub fn from_model(n: &NatRule) -> Rule {
    let mut m = Vec::new();
    if let Some(a) = n.src {
        m.push(Match::Saddr {
            net: a.net,
            negated: a.negated,
        });
    }
    if let Some(a) = n.dst {
        m.push(Match::Daddr {
            net: a.net,
            negated: a.negated,
        });
    }
    if let Some(i) = &n.iif {
        m.push(Match::Iif {
            name: i.name.clone(),
            negated: i.negated,
        });
    }
    if let Some(o) = &n.oif {
        m.push(Match::Oif {
            name: o.name.clone(),
            negated: o.negated,
        });
    }
    if let Some(p) = n.proto {
        m.push(Match::Proto(p));
        if let Some(port) = n.dport {
            m.push(Match::Dport(p, port));
        }
    }
    if n.ipvs {
        m.push(Match::Ipvs);
    }
    let to = n.to.unwrap_or(crate::model::NatTo {
        addr: std::net::Ipv4Addr::UNSPECIFIED,
        port: None,
    });
    let target = match n.kind {
        NatKind::Dnat => Target::Dnat {
            addr: to.addr,
            port: to.port,
        },
        NatKind::Snat => Target::Snat {
            addr: to.addr,
            port: to.port,
        },
        NatKind::Masquerade => Target::Masquerade {
            fully_random: false,
        },
    };
    let mut r = Rule::new(Chain::Base(n.hook), m, target);
    r.comment.clone_from(&n.comment);
    r
}
