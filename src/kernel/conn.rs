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
