//! Watching one namespace's tables: a multicast rtnetlink socket (links, IPv4 addresses
//! and routes, neighbours — which include the bridge FDB) opened on a thread that entered
//! the namespace, and on every burst of notifications a fresh dump, sent as
//! [`Msg::Tables`].

use std::io;
use std::time::Duration;

use futures::StreamExt;
use rtnetlink::MulticastGroup;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;

use super::msg::Msg;
use crate::kernel::connect;
use crate::netns;
use crate::observe::dump;

/// Notifications closer together than this cause one dump.
pub const DEBOUNCE: Duration = Duration::from_millis(50);

const GROUPS: [MulticastGroup; 4] = [
    MulticastGroup::Link,
    MulticastGroup::Ipv4Ifaddr,
    MulticastGroup::Ipv4Route,
    MulticastGroup::Neigh,
];

/// Starts watching namespace `netns` (node `node`): sends a dump now and after every
/// change, until `tx` closes or the namespace goes away. Must be called within a runtime.
pub fn spawn(node: String, netns: &str, tx: UnboundedSender<Msg>) -> io::Result<JoinHandle<()>> {
    let rt = tokio::runtime::Handle::current();
    let (conn, mc_handle, mut messages) = netns::run_in(netns, move || {
        let _guard = rt.enter();
        rtnetlink::new_multicast_connection(&GROUPS)
    })?;
    let handle = connect(netns)?;
    Ok(tokio::spawn(async move {
        let conn = tokio::spawn(conn);
        // The multicast connection lives as long as its handle.
        let _mc_handle = mc_handle;
        loop {
            let msg = match dump(&handle).await {
                Ok(tables) => Msg::Tables {
                    node: node.clone(),
                    tables,
                },
                Err(e) => Msg::TablesFailed {
                    node: node.clone(),
                    error: e.to_string(),
                },
            };
            if tx.send(msg).is_err() || messages.next().await.is_none() {
                break;
            }
            tokio::time::sleep(DEBOUNCE).await;
            while messages.try_recv().is_ok() {}
        }
        conn.abort();
    }))
}
