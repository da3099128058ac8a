//! The kernel's own word on where packets die: the `skb:kfree_skb` trace event and its
//! drop reason (`NEIGH_FAILED`, `VXLAN_VNI_NOT_FOUND`, `NO_TX_TARGET`, `NETFILTER_DROP`,
//! …), recorded from tracefs while a probe runs.
//!
//! The kernel edge of [`super`]: it uses a tracefs instance of its own
//! (`instances/vxlab-PID`), so the global trace buffer and other tracers are untouched,
//! and removes it when done. The event carries no namespace, so what it records is the
//! whole machine's drops during the probe; [`parse`] is pure.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// Where tracefs is mounted (mounted there if it is not yet).
pub const TRACEFS: &str = "/sys/kernel/tracing";

/// Drops of one kind seen during a probe.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct KernelDrop {
    /// The drop reason, e.g. `VXLAN_VNI_NOT_FOUND`.
    pub reason: String,
    /// Kernel function that freed the packet, e.g. `vxlan_rcv`.
    pub location: String,
    /// Ethertype: 2048 (IPv4), 2054 (ARP), …
    pub protocol: u16,
    /// How many.
    pub count: usize,
}

/// A running recording of `skb:kfree_skb`.
pub struct DropWatch {
    instance: PathBuf,
}

fn enable(instance: &Path, on: bool) -> std::io::Result<()> {
    fs::write(
        instance.join("events/skb/kfree_skb/enable"),
        if on { "1" } else { "0" },
    )
}

impl DropWatch {
    /// Starts recording, or says why it cannot (no tracefs, no such event, not root).
    pub fn start() -> Result<Self, String> {
        let base = Path::new(TRACEFS);
        if !base.join("events").is_dir() {
            nix::mount::mount(
                Some("nodev"),
                base,
                Some("tracefs"),
                nix::mount::MsFlags::empty(),
                None::<&str>,
            )
            .map_err(|e| {
                format!("tracefs is not mounted on {TRACEFS} and mounting it failed: {e}")
            })?;
        }
        if !base.join("events/skb/kfree_skb").is_dir() {
            return Err("this kernel has no skb:kfree_skb trace event".into());
        }
        let instance = base
            .join("instances")
            .join(format!("vxlab-{}", std::process::id()));
        fs::create_dir(&instance)
            .map_err(|e| format!("cannot create tracefs instance {}: {e}", instance.display()))?;
        if let Err(e) = enable(&instance, true) {
            let _ = fs::remove_dir(&instance);
            return Err(format!("cannot enable skb:kfree_skb: {e}"));
        }
        Ok(Self { instance })
    }

    /// Stops recording and returns the IPv4 and ARP drops seen, by kind.
    pub fn stop(self) -> Vec<KernelDrop> {
        let text = fs::read_to_string(self.instance.join("trace")).unwrap_or_default();
        let _ = enable(&self.instance, false);
        let _ = fs::remove_dir(&self.instance);
        parse(&text)
            .into_iter()
            .filter(|d| matches!(d.protocol, 0x0800 | 0x0806))
            .collect()
    }
}

/// A drop as a verdict shows it, if it says something about the path: a specific
/// reason, or a place that names the cause (the receiving end of a veth, which gives no
/// reason for a frame too big or a peer down). A socket's queue purged when `ping` exits
/// is no drop on the path, nor a frame for another host a promiscuous port handed up.
pub fn telling(d: &KernelDrop) -> Option<String> {
    let place = match (d.reason.as_str(), d.location.as_str()) {
        ("NOT_SPECIFIED", l) if l.starts_with("__dev_forward_skb") => {
            " (the receiving end of a veth: a frame bigger than its MTU, or the end down)"
        }
        ("NOT_SPECIFIED" | "QUEUE_PURGE" | "OTHERHOST", _) => return None,
        _ => "",
    };
    Some(format!(
        "{} in {}{place} ×{}",
        d.reason, d.location, d.count
    ))
}

fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let rest = &line[line.find(key)? + key.len()..];
    Some(rest.split_whitespace().next().unwrap_or(""))
}

/// The `kfree_skb` events of a tracefs `trace` text, counted by reason, function and
/// protocol.
pub fn parse(text: &str) -> Vec<KernelDrop> {
    let mut counts: BTreeMap<(String, String, u16), usize> = BTreeMap::new();
    for line in text.lines().filter(|l| l.contains("kfree_skb:")) {
        let (Some(reason), Some(location), Some(protocol)) = (
            field(line, "reason: "),
            field(line, "location="),
            field(line, "protocol=").and_then(|p| p.parse().ok()),
        ) else {
            continue;
        };
        let location = location.split('+').next().unwrap_or(location).to_string();
        *counts
            .entry((reason.to_string(), location, protocol))
            .or_default() += 1;
    }
    counts
        .into_iter()
        .map(|((reason, location, protocol), count)| KernelDrop {
            reason,
            location,
            protocol,
            count,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_counted_by_reason_and_place() {
        let text = "# tracer: nop\n\
            <idle>-0 [000] ..s1. 10.1: kfree_skb: skbaddr=0000 rx_sk=0000 protocol=2048 location=vxlan_rcv+0x2f/0x9d0 reason: VXLAN_VNI_NOT_FOUND\n\
            <idle>-0 [000] ..s1. 10.2: kfree_skb: skbaddr=0001 rx_sk=0000 protocol=2048 location=vxlan_rcv+0x2f/0x9d0 reason: VXLAN_VNI_NOT_FOUND\n\
            ping-9 [001] ..... 10.3: kfree_skb: skbaddr=0002 rx_sk=0000 protocol=2054 location=neigh_invalidate+0x8c/0x130 reason: NEIGH_FAILED\n";
        let d = parse(text);
        assert_eq!(d.len(), 2);
        assert_eq!(
            (
                d[1].reason.as_str(),
                d[1].location.as_str(),
                d[1].protocol,
                d[1].count
            ),
            ("VXLAN_VNI_NOT_FOUND", "vxlan_rcv", 2048, 2)
        );
        assert_eq!(d[0].reason, "NEIGH_FAILED");
    }
}
