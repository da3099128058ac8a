//! vxlab: build Linux container-networking labs from TOML scenarios, watch their kernel
//! tables and trace packets hop by hop through them.

pub mod decode;
pub mod diag;
pub mod model;
pub mod scenario;
pub mod plan;
pub mod netns;
pub mod kernel;
pub mod process;
pub mod lifecycle;
pub mod observe;
pub mod httpd;
pub mod labs;
pub mod sys;
