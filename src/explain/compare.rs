//! Lining a prediction up with the journeys a probe produced: the first predicted hop
//! the packet was not seen at, and the table entry that predicted it; or agreement, and
//! where and why the packet dies.

use std::fmt::Write as _;

use serde::Serialize;

use super::mtu::{Notice, PingOutcome};
use super::{Culprit, End, Prediction, Probe, Step};
use crate::trace::Journey;

/// One leg (request or reply), predicted and observed.
#[derive(Debug, Clone, Serialize)]
pub struct LegReport {
    /// `request` or `reply`.
    pub leg: String,
    /// What the tables say.
    pub predicted: Prediction,
    /// Sightings of the real packet (`NODE:IFACE DIR`), if it was seen.
    pub observed: Option<Vec<String>>,
    /// Whether the real packet reached a node owning its destination.
    pub observed_delivered: bool,
    /// Index of the first predicted step the real packet was not seen at.
    pub diverges_at: Option<usize>,
    /// One or two sentences.
    pub verdict: String,
}

/// The whole explanation.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    /// Lab.
    pub lab: String,
    /// What was sent.
    pub probe: Probe,
    /// Request, then reply.
    pub legs: Vec<LegReport>,
    /// The hop where the path breaks, if it does: the node, the object and the table
    /// entry responsible.
    pub culprit: Option<Culprit>,
    /// One line.
    pub summary: String,
    /// The kernel's drop reasons recorded during the probe (whole machine), if tracefs
    /// could record them.
    pub kernel_drops: Option<Vec<super::drops::KernelDrop>>,
    /// Why they could not be recorded.
    pub kernel_drops_unavailable: Option<String>,
    /// What `ping` said, for an ICMP probe that was sent.
    pub ping: Option<PingOutcome>,
}

impl Explanation {
    /// Holds what `ping` was told against what the prediction says it is told: a packet
    /// too big is refused by the sender's stack or answered with ICMP "frag needed", and
    /// the MTU in that answer says which hop refused it. A mismatch is a divergence at
    /// the end of the request's path.
    #[must_use]
    pub fn with_ping(mut self, ping: PingOutcome) -> Self {
        let Some(l) = self.legs.first_mut() else {
            return self;
        };
        let (predicted, delivered) = match &l.predicted.end {
            End::Dropped { notice, .. } => (*notice, false),
            End::Delivered { .. } => (None, true),
        };
        let told =
            |n: Option<Notice>| n.map_or_else(|| "nothing".to_string(), |n| format!("`{n}`"));
        let parted = match (predicted, ping.notice) {
            (Some(want), Some(got)) if want == got => {
                let sep = if l.verdict.ends_with('.') { " " } else { ". " };
                let _ = write!(l.verdict, "{sep}ping was told just that: `{got}`.");
                None
            }
            (Some(_), _) | (None, Some(_)) => Some(format!(
                "the tables predict ping to be told {}, but it was told {}{}",
                told(predicted),
                told(ping.notice),
                if ping.answered {
                    " and got an answer"
                } else {
                    ""
                }
            )),
            (None, None) if !delivered && ping.answered => {
                Some("the tables say the request dies, yet ping got an answer".to_string())
            }
            (None, None) => None,
        };
        if let Some(why) = parted {
            l.diverges_at.get_or_insert(l.predicted.steps.len());
            l.verdict = format!(
                "{why}: an MTU or path MTU the walk did not see. {}",
                l.verdict
            );
            if self.culprit.is_none() {
                self.culprit = Some(Culprit {
                    node: self.probe.from.clone(),
                    object: "path MTU".into(),
                    entry: told(ping.notice),
                });
            }
            self.summary = format!("prediction and probe part: {why}");
        }
        self.ping = Some(ping);
        self
    }

    /// Attaches the kernel's drop reasons recorded during the probe to the leg that dies.
    #[must_use]
    pub fn with_drops(mut self, drops: Result<Vec<super::drops::KernelDrop>, String>) -> Self {
        match drops {
            Ok(d) => {
                let shown: Vec<String> = d.iter().filter_map(super::drops::telling).collect();
                if let Some(l) = self
                    .legs
                    .iter_mut()
                    .find(|l| matches!(l.predicted.end, End::Dropped { .. }))
                {
                    let sep = if l.verdict.ends_with('.') { " " } else { ". " };
                    l.verdict += sep;
                    if shown.is_empty() {
                        l.verdict += "The kernel recorded no specific drop reason meanwhile.";
                    } else {
                        let _ = write!(
                            l.verdict,
                            "The kernel's drop reasons meanwhile (whole machine): {}.",
                            shown.join(", ")
                        );
                    }
                }
                self.kernel_drops = Some(d);
            }
            Err(e) => self.kernel_drops_unavailable = Some(e),
        }
        self
    }
}

fn key(s: &Step) -> String {
    format!("{}:{} {}", s.node, s.iface, s.dir.as_str())
}

fn hops(j: &Journey) -> Vec<String> {
    j.hops
        .iter()
        .map(|h| format!("{}:{} {}", h.node, h.iface, h.dir.as_str()))
        .collect()
}

/// The first predicted step the packet was not seen at, and how far into the sightings
/// the steps before it reach. A step seen earlier than the tracer placed it still counts:
/// sightings are put in path order by topology, which two devices of one namespace (a
/// VXLAN decapsulating, the bridge routing on) do not always settle.
fn align(steps: &[Step], seen: &[String]) -> (Option<usize>, usize) {
    let mut pos = 0;
    for (i, s) in steps.iter().enumerate() {
        let k = key(s);
        match seen[pos..].iter().position(|h| *h == k) {
            Some(n) => pos += n + 1,
            None if seen[..pos].contains(&k) => {}
            None => return (Some(i), pos),
        }
    }
    (None, pos)
}

fn leg(name: &str, p: &Prediction, j: Option<&Journey>) -> (LegReport, Option<Culprit>) {
    let seen = j.map(hops);
    let list = seen.clone().unwrap_or_default();
    let (div, matched) = align(&p.steps, &list);
    let last_seen = matched.checked_sub(1).and_then(|i| list.get(i)).cloned();
    let delivered = j.is_some_and(|j| j.delivered);
    let (verdict, culprit) = match (&p.end, div) {
        (
            End::Dropped {
                node,
                reason,
                culprit,
                ..
            },
            None,
        ) if !delivered => (
            format!(
                "prediction and packet agree{}: it dies in {node}. {reason}",
                last_seen.as_ref().map_or_else(
                    || ", it is never seen on any interface".into(),
                    |l| format!(" up to {l}")
                )
            ),
            Some(culprit.clone()),
        ),
        (
            End::Dropped {
                node,
                reason,
                culprit,
                ..
            },
            None,
        ) => (
            format!(
                "the tables say it dies in {node} ({reason}), yet it was delivered, last seen at {}: the live state changed, or something the walk does not model let it through",
                list.last().cloned().unwrap_or_default()
            ),
            Some(culprit.clone()),
        ),
        (End::Delivered { node, .. }, None) => (
            if delivered || j.is_none_or(|j| j.hops.is_empty()) && p.steps.is_empty() {
                format!("prediction and packet agree: delivered to {node}")
            } else {
                format!(
                    "the tables deliver it to {node}; the capture followed it along the whole predicted path"
                )
            },
            None,
        ),
        (end, Some(i)) => {
            let s = &p.steps[i];
            let at = last_seen.as_ref().map_or_else(
                || "it was seen nowhere".to_string(),
                |l| format!("it was last seen at {l}"),
            );
            let then = match end {
                End::Dropped { node, reason, .. } => {
                    format!(" (the tables would drop it later, in {node}: {reason})")
                }
                End::Delivered { node, .. } => format!(" (the tables would deliver it to {node})"),
            };
            (
                format!(
                    "diverges at hop {} of {}: the tables send it to {} ({}), but {at}: something the tables do not show drops it there (netfilter, a queue, a checksum){then}",
                    i + 1,
                    p.steps.len(),
                    key(s),
                    s.why
                ),
                Some(Culprit {
                    node: s.node.clone(),
                    object: s.iface.clone(),
                    entry: s.why.clone(),
                }),
            )
        }
    };
    (
        LegReport {
            leg: name.to_string(),
            predicted: p.clone(),
            observed: seen,
            observed_delivered: delivered,
            diverges_at: div,
            verdict,
        },
        culprit,
    )
}

/// Lines up `legs` (from [`super::predict`]) with the probe's `journeys`: the request's is
/// the first journey leaving the probing node for the probed address, the reply's the
/// first one leaving the node the request was delivered to, from the address it was
/// delivered to.
pub fn compare(
    lab: &str,
    probe: &Probe,
    legs: &[(String, Prediction)],
    journeys: &[Journey],
) -> Explanation {
    let to = std::net::IpAddr::V4(probe.to);
    let request = journeys.iter().find(|j| {
        j.hops.first().is_some_and(|h| h.node == probe.from) && j.hops.iter().any(|h| h.dst.0 == to)
    });
    let mut reports = Vec::new();
    let mut culprit = None;
    for (name, p) in legs {
        let j = if name == "request" {
            request
        } else {
            let (from, replier) = match &legs[0].1.end {
                End::Delivered { node, dst, .. } => (node.clone(), std::net::IpAddr::V4(*dst)),
                End::Dropped { .. } => (String::new(), to),
            };
            journeys
                .iter()
                .filter(|j| !request.is_some_and(|r| std::ptr::eq(*j, r)))
                .find(|j| {
                    j.hops.first().is_some_and(|h| h.node == from)
                        && j.hops.iter().any(|h| h.src.0 == replier)
                })
        };
        let (r, c) = leg(name, p, j);
        if culprit.is_none() {
            culprit = c;
        }
        reports.push(r);
    }
    let summary = match &culprit {
        Some(c) => format!("the path breaks in {} at {}: {}", c.node, c.object, c.entry),
        None => "the path works: request and reply go where the tables send them".to_string(),
    };
    Explanation {
        lab: lab.to_string(),
        probe: probe.clone(),
        legs: reports,
        culprit,
        summary,
        kernel_drops: None,
        kernel_drops_unavailable: None,
        ping: None,
    }
}

/// The explanation as text: each leg's predicted hops, marked seen or not, its end, and
/// the verdict.
pub fn explanation_text(e: &Explanation) -> String {
    let mut s = String::new();
    let port = e.probe.port.map(|p| format!(":{p}")).unwrap_or_default();
    let size = e.probe.size.map_or_else(String::new, |n| {
        format!(
            ", {n} bytes of data ({} with headers), DF {}",
            e.probe.ip_len(),
            if e.probe.df { "set" } else { "clear" }
        )
    });
    let _ = writeln!(
        s,
        "explain: lab {}: {} {}{port} from {}{size}",
        e.lab,
        e.probe.proto.name(),
        e.probe.to,
        e.probe.from
    );
    for l in &e.legs {
        let _ = writeln!(
            s,
            "\n{} — predicted from the live tables, and what the probe saw:",
            l.leg
        );
        let seen = l.observed.clone().unwrap_or_default();
        for (i, st) in l.predicted.steps.iter().enumerate() {
            let mark = match l.diverges_at {
                Some(d) if i >= d => "   ",
                _ if seen.contains(&key(st)) => "ok ",
                _ => " ? ",
            };
            let _ = writeln!(s, "  {mark}{:>2}. {:<32} {}", i + 1, key(st), st.why);
        }
        match &l.predicted.end {
            End::Delivered { node, src, dst } => {
                let _ = writeln!(s, "       → delivered to {node} ({src} → {dst})");
            }
            End::Dropped {
                node,
                iface,
                reason,
                culprit,
                notice,
            } => {
                let at = iface.as_ref().map(|i| format!(":{i}")).unwrap_or_default();
                let _ = writeln!(s, "       ✗ dropped in {node}{at}: {reason}");
                let _ = writeln!(
                    s,
                    "         entry: {} ({} in {})",
                    culprit.entry, culprit.object, culprit.node
                );
                if let Some(n) = notice {
                    let _ = writeln!(s, "         the sender is told: {n}");
                }
            }
        }
        for n in &l.predicted.notes {
            let _ = writeln!(s, "       note: {n}");
        }
        let _ = writeln!(s, "  {}", l.verdict);
    }
    if let Some(p) = &e.ping {
        let _ = writeln!(s, "\nping said:");
        for line in &p.lines {
            let _ = writeln!(s, "  {line}");
        }
        if p.lines.is_empty() {
            let _ = writeln!(s, "  nothing about the packet (no reply, no error)");
        }
    }
    let _ = writeln!(s, "\n{}", e.summary);
    if let Some(why) = &e.kernel_drops_unavailable {
        let _ = writeln!(s, "(kernel drop reasons unavailable: {why})");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::Dir;

    fn step(node: &str, iface: &str, dir: Dir) -> Step {
        Step {
            node: node.into(),
            iface: iface.into(),
            dir,
            why: String::new(),
        }
    }

    #[test]
    fn a_sighting_placed_early_still_counts_and_a_missing_one_is_where_paths_part() {
        let steps = [
            step("n2", "eth0", Dir::In),
            step("n2", "flannel.1", Dir::In),
            step("n2", "cni0", Dir::Out),
            step("n2/pod", "eth0", Dir::In),
        ];
        let seen: Vec<String> = [
            "n2:eth0 in",
            "n2:cni0 out",
            "n2:flannel.1 in",
            "n2/pod:eth0 in",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(align(&steps, &seen), (None, 4));
        assert_eq!(align(&steps, &seen[..3]), (Some(3), 3));
        assert_eq!(align(&steps, &seen[..2]), (Some(1), 1));
    }
}
