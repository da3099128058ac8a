//! Which capture points a running lab has: every interface but `lo` of every namespace,
//! in both directions.

use futures::TryStreamExt;

use super::{Dir, Point};
use crate::kernel::connect;
use crate::lifecycle::namespaces_of;
use crate::model::netns_prefix;

/// The node id of namespace `ns` of lab `lab` (`vx.LAB.hostA.container` → `hostA/container`).
pub fn node_of_netns(lab: &str, ns: &str) -> String {
    ns.strip_prefix(&netns_prefix(lab))
        .unwrap_or(ns)
        .replacen('.', "/", 1)
}

/// Every interface (except `lo`) of every namespace of running lab `lab`, as capture
/// points in both directions. Must run inside a tokio runtime.
pub async fn lab_points(lab: &crate::model::LabName) -> std::io::Result<Vec<Point>> {
    use rtnetlink::packet_route::link::LinkAttribute;
    let mut points = Vec::new();
    for ns in namespaces_of(lab) {
        let handle = connect(&ns)?;
        let links: Vec<_> = handle
            .link()
            .get()
            .execute()
            .try_collect()
            .await
            .map_err(std::io::Error::other)?;
        for l in links {
            let Some(name) = l.attributes.iter().find_map(|a| match a {
                LinkAttribute::IfName(n) => Some(n.clone()),
                _ => None,
            }) else {
                continue;
            };
            if name == "lo" {
                continue;
            }
            for dir in [Dir::In, Dir::Out] {
                points.push(Point {
                    node: node_of_netns(lab, &ns),
                    netns: ns.clone(),
                    iface: name.clone(),
                    dir,
                });
            }
        }
    }
    Ok(points)
}
