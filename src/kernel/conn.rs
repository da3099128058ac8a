//! One rtnetlink connection per namespace, opened on a short-lived thread that entered it.

use std::io;

use rtnetlink::Handle;

use crate::netns;

/// Opens an rtnetlink connection inside namespace `ns`. The socket is created on a thread
/// that entered the namespace, so it stays bound there; the connection is driven by the
/// current tokio runtime. Must be called within a runtime.
pub fn connect(ns: &str) -> io::Result<Handle> {
    let rt = tokio::runtime::Handle::current();
    let (conn, handle) = netns::run_in(ns, move || {
        let _guard = rt.enter();
        let (conn, handle, _) = rtnetlink::new_connection()?;
        Ok((conn, handle))
    })?;
    tokio::spawn(conn);
    Ok(handle)
}

/// Netlink notifications of one namespace, as `ip monitor` receives them.
pub type Notifications = futures::channel::mpsc::UnboundedReceiver<(
    rtnetlink::packet_core::NetlinkMessage<rtnetlink::packet_route::RouteNetlinkMessage>,
    rtnetlink::sys::SocketAddr,
)>;

/// Subscribes to link, address, route and neighbour/FDB notifications inside namespace
/// `ns` (like `ip monitor`): the socket is opened on a thread that entered the namespace.
/// Returns a handle for requests on the same socket and the stream of notifications.
pub fn monitor(ns: &str) -> io::Result<(Handle, Notifications)> {
    use rtnetlink::MulticastGroup;
    let rt = tokio::runtime::Handle::current();
    let (conn, handle, messages) = netns::run_in(ns, move || {
        let _guard = rt.enter();
        rtnetlink::new_multicast_connection(&[
            MulticastGroup::Link,
            MulticastGroup::Ipv4Ifaddr,
            MulticastGroup::Ipv4Route,
            MulticastGroup::Neigh,
        ])
    })?;
    tokio::spawn(conn);
    Ok((handle, messages))
}
