//! Sizes on the predicted path: the packet's length against each egress device's MTU
//! (and the path MTU the sender learned), VXLAN's 50 bytes of headers against its
//! underlay's MTU, and what the don't-fragment bit makes of a packet that is too big.
//!
//! What the kernel does in each case was measured on this project's kernel (6.18) with
//! real namespaces, `ping -M do|dont -s SIZE` and tcpdump on the underlay:
//! - a namespace's own packet bigger than its route's MTU: with DF, `sendmsg` fails
//!   (`ping: local error: message too long, mtu=N`) and nothing leaves; without, the
//!   stack fragments it;
//! - a router: with DF, dropped and answered with ICMP "frag needed (mtu N)" from the
//!   router; without, fragmented;
//! - a bridge port or the receiving end of a veth: a frame whose IP packet exceeds the
//!   device's MTU by more than 4 bytes (`is_skb_forwardable` allows a VLAN tag's worth)
//!   is dropped, silently;
//! - a VXLAN whose outer packet (inner + 50) exceeds the MTU towards the remote VTEP: the
//!   outer packet never carries DF, so it is fragmented on the underlay, except for an
//!   inner DF packet on a VXLAN that is a bridge port: the VXLAN driver drops it and
//!   answers ICMP "frag needed (mtu UNDERLAY - 50)" as if from the inner destination. A
//!   VXLAN that is not a bridge port sends it anyway (fragmented) and only records the
//!   path MTU for its own later packets.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use serde::Serialize;

use super::End;
use super::sim::{Pkt, Sim, culprit};
use crate::doctor::VXLAN_OVERHEAD;
use crate::doctor::snapshot::NodeState;

/// IPv4 header without options.
const IPV4_HEADER: u32 = 20;

/// The slack `is_skb_forwardable` gives a bridged or veth-received frame over the
/// device's MTU: room for one VLAN tag.
const VLAN_HLEN: u32 = 4;

/// What the sending program is told when its packet is too big (besides silence).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Notice {
    /// Refused by the sender's own stack before anything left.
    MessageTooLong {
        /// The MTU it was refused at.
        mtu: u32,
    },
    /// An ICMP "fragmentation needed and DF set" came back.
    FragNeeded {
        /// Its source address.
        from: Ipv4Addr,
        /// The MTU it announces.
        mtu: u32,
    },
}

impl fmt::Display for Notice {
    /// As `ping` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MessageTooLong { mtu } => {
                write!(f, "ping: local error: message too long, mtu={mtu}")
            }
            Self::FragNeeded { from, mtu } => {
                write!(
                    f,
                    "From {from} icmp_seq=1 Frag needed and DF set (mtu = {mtu})"
                )
            }
        }
    }
}

/// What `ping` said about the probe.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PingOutcome {
    /// An echo reply came back.
    pub answered: bool,
    /// It was told the packet was too big.
    pub notice: Option<Notice>,
    /// Its output, the lines about the packet.
    pub lines: Vec<String>,
}

fn number_after(line: &str, key: &str) -> Option<u32> {
    let rest = &line[line.find(key)? + key.len()..];
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// Reads `ping`'s output (stdout and stderr together).
pub fn parse_ping(text: &str) -> PingOutcome {
    let mut out = PingOutcome::default();
    for line in text.lines().map(str::trim) {
        if line.contains(" bytes from ") {
            out.answered = true;
        } else if line.contains("message too long") {
            out.notice = number_after(line, "mtu=").map(|mtu| Notice::MessageTooLong { mtu });
        } else if line.contains("Frag needed") {
            let from = line
                .strip_prefix("From ")
                .and_then(|r| r.split_whitespace().next())
                .and_then(|a| a.parse().ok());
            if let (Some(from), Some(mtu)) = (from, number_after(line, "mtu =")) {
                out.notice = Some(Notice::FragNeeded { from, mtu });
            }
        } else {
            continue;
        }
        out.lines.push(line.to_string());
    }
    out
}

/// The length of the biggest fragment of a packet cut for `mtu`: fragment payloads are
/// multiples of 8 bytes.
pub(super) fn piece(mtu: u32) -> u32 {
    IPV4_HEADER + (mtu.saturating_sub(IPV4_HEADER) / 8) * 8
}

/// Whether a frame carrying `p` passes a bridge port or a veth's receiving end of MTU
/// `mtu`.
pub(super) fn l2_fits(p: &Pkt, mtu: u32) -> bool {
    p.len <= mtu + VLAN_HLEN
}

/// The MTU towards `dst` for packets `st` sends itself, and where that number is: the
/// device's, or a smaller path MTU it learned.
fn local_mtu(st: &NodeState, dev: &str, dst: Ipv4Addr) -> (u32, String) {
    let link_mtu = st.link(dev).map_or(u32::MAX, |l| l.mtu);
    match st.pmtu(IpAddr::V4(dst)) {
        Some(c) if c.mtu < link_mtu => (
            c.mtu,
            format!(
                "ip -n {} route show cache: {dst} mtu {} (a path MTU learned from an ICMP 'frag needed', kept for 10 minutes)",
                st.netns, c.mtu
            ),
        ),
        _ => (
            link_mtu,
            format!("ip -n {} link show {dev}: mtu {link_mtu}", st.netns),
        ),
    }
}

fn too_big(node: &str, dev: &str, reason: String, entry: String, notice: Option<Notice>) -> End {
    End::Dropped {
        node: node.to_string(),
        iface: Some(dev.to_string()),
        reason,
        culprit: culprit(node, dev, entry),
        notice,
    }
}

impl Sim<'_> {
    /// The IP layer of `node` sends `p` out of `dev`: fragmented if it must and may be,
    /// or dropped (with what the sender is told) if it must and may not.
    pub(super) fn egress(
        &mut self,
        node: &str,
        iif: Option<&str>,
        dev: &str,
        p: &mut Pkt,
    ) -> Option<End> {
        let st = self.snap.node(node)?;
        let (mtu, entry) = if iif.is_none() {
            local_mtu(st, dev, p.dst)
        } else {
            let m = st.link(dev)?.mtu;
            (m, format!("ip -n {} link show {dev}: mtu {m}", st.netns))
        };
        if p.len <= mtu {
            return None;
        }
        if !p.df {
            let cut = piece(mtu);
            self.notes.push(format!(
                "{node}: the {}-byte packet is bigger than the MTU {mtu} towards {} by {dev}: {} it into fragments of at most {cut} bytes",
                p.len,
                p.dst,
                if iif.is_some() {
                    "DF is clear, so the router cuts"
                } else {
                    "DF is clear, so the stack cuts"
                }
            ));
            p.len = cut;
            return None;
        }
        Some(match iif {
            None => too_big(
                node,
                dev,
                format!(
                    "the {}-byte packet with DF set is bigger than the MTU {mtu} towards {} by {dev}: {node}'s own stack refuses to send it (EMSGSIZE), nothing leaves",
                    p.len, p.dst
                ),
                entry,
                Some(Notice::MessageTooLong { mtu }),
            ),
            Some(i) => {
                let from = st
                    .source_towards(p.src)
                    .or_else(|| st.ipv4().first().map(|(_, n)| n.addr()))
                    .unwrap_or(p.dst);
                too_big(
                    node,
                    dev,
                    format!(
                        "{node} routes the {}-byte packet from {i} to {dev} (MTU {mtu}), but DF is set: it drops it and answers ICMP 'frag needed (mtu {mtu})' from {from}",
                        p.len
                    ),
                    entry,
                    Some(Notice::FragNeeded { from, mtu }),
                )
            }
        })
    }

    /// A frame carrying `p` leaves bridge port, or reaches veth end, `dev` of `node`:
    /// dropped if it does not fit.
    pub(super) fn l2_mtu(&self, node: &str, dev: &str, p: &Pkt, what: &str) -> Option<End> {
        let st = self.snap.node(node)?;
        let mtu = st.link(dev)?.mtu;
        if l2_fits(p, mtu) {
            return None;
        }
        Some(too_big(
            node,
            dev,
            format!(
                "the {}-byte packet is bigger than the MTU {mtu} of {dev} in {node}: {what} drops the frame, silently",
                p.len
            ),
            format!("ip -n {} link show {dev}: mtu {mtu}", st.netns),
            None,
        ))
    }

    /// VXLAN `v` of `node` (a bridge port or not) wraps `p` for `target`, sending from
    /// namespace `socket`: the outer packet's length, or where `p` dies.
    pub(super) fn encap_mtu(
        &mut self,
        node: &str,
        v: &str,
        socket: &str,
        target: Ipv4Addr,
        p: &Pkt,
    ) -> Result<u32, Box<End>> {
        let outer = p.len + VXLAN_OVERHEAD;
        let Some(sst) = self.snap.node(socket) else {
            return Ok(outer);
        };
        let Some(dev) = sst.lookup(IpAddr::V4(target)).and_then(|r| r.dev.clone()) else {
            return Ok(outer);
        };
        let (mtu, entry) = local_mtu(sst, &dev, target);
        if outer <= mtu {
            return Ok(outer);
        }
        let room = mtu.saturating_sub(VXLAN_OVERHEAD);
        let bridged = self
            .snap
            .node(node)
            .and_then(|s| s.link(v))
            .is_some_and(|l| l.master.is_some());
        if p.df && bridged {
            let vmtu = self
                .snap
                .node(node)
                .and_then(|s| s.link(v))
                .map_or(0, |l| l.mtu);
            return Err(Box::new(too_big(
                node,
                v,
                format!(
                    "{v} wraps the {}-byte packet in {VXLAN_OVERHEAD} bytes of VXLAN headers: {outer} bytes, more than the MTU {mtu} of {dev} in {socket} towards {target}; DF is set, so the VXLAN driver drops it and answers ICMP 'frag needed (mtu {room})' as if from {}",
                    p.len, p.dst
                ),
                format!(
                    "{v} in {node}: mtu {vmtu}, {VXLAN_OVERHEAD} bytes more than its underlay carries ({entry})"
                ),
                Some(Notice::FragNeeded {
                    from: p.dst,
                    mtu: room,
                }),
            )));
        }
        let cut = piece(mtu);
        self.notes.push(format!(
            "{node}: {v} wraps the {}-byte packet into {outer} bytes, more than the MTU {mtu} of {dev} in {socket}: the outer packet (never DF) is cut into fragments of at most {cut} bytes and put together again by {target}{}",
            p.len,
            if p.df {
                format!(
                    "; {v} is no bridge port, so it sends this DF packet anyway and only records path MTU {room} for {}",
                    p.dst
                )
            } else {
                String::new()
            }
        ));
        Ok(cut)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ping_output_says_what_happened() {
        let frag = parse_ping(
            "PING 10.9.0.2 (10.9.0.2) 1400(1428) bytes of data.\nFrom 10.9.0.2 icmp_seq=1 Frag needed and DF set (mtu = 1400)\n\n--- 10.9.0.2 ping statistics ---\n1 packets transmitted, 0 received, +1 errors, 100% packet loss, time 0ms\n",
        );
        assert_eq!(
            frag.notice,
            Some(Notice::FragNeeded {
                from: "10.9.0.2".parse().unwrap(),
                mtu: 1400
            })
        );
        assert!(!frag.answered);
        assert_eq!(frag.notice.unwrap().to_string(), frag.lines[0]);
        let local = parse_ping("ping: local error: message too long, mtu=1450\n");
        assert_eq!(local.notice, Some(Notice::MessageTooLong { mtu: 1450 }));
        assert_eq!(local.notice.unwrap().to_string(), local.lines[0]);
        let ok = parse_ping("1430 bytes from 10.9.0.2: icmp_seq=1 ttl=64 time=0.073 ms\n");
        assert!(ok.answered && ok.notice.is_none());
    }

    #[test]
    fn fragments_carry_multiples_of_eight() {
        assert_eq!(piece(1450), 1444);
        assert_eq!(piece(1500), 1500);
    }
}
