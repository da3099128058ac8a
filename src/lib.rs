//! vxlab: build Linux container-networking labs from TOML scenarios, watch their kernel
//! tables and trace packets hop by hop through them.

pub mod agent;
pub mod capture;
pub mod conntrack;
pub mod decode;
pub mod diag;
pub mod doctor;
pub mod explain;
pub mod fault;
pub mod httpd;
pub mod ipvs;
pub mod kernel;
pub mod labs;
pub mod lifecycle;
pub mod model;
pub mod nat;
pub mod netns;
pub mod observe;
pub mod ovs;
pub mod pcapfile;
pub mod plan;
pub mod process;
pub mod rootless;
pub mod scenario;
pub mod state;
pub mod sys;
pub mod trace;
pub mod ui;
