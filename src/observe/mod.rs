//! Reading the kernel: a namespace's links, addresses, routes, neighbours and FDB, as
//! plain rows for `status`, the live panel and the doctor. Reads only; never changes.

mod tables;

pub use tables::{AddrRow, FdbRow, LinkRow, NeighRow, RouteRow, Tables, VxlanInfo, dump};
