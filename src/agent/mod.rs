//! `vxlab agent`: flanneld's vxlan backend for one emulated node, against a real etcd.
//!
//! Run inside a host's namespace (a lab's `[[process]]`, or `vxlab exec LAB HOST -- vxlab
//! agent …`), it:
//! 1. finds or creates the VTEP `flannel.1` (`id 1 dstport 8472 nolearning`, `local` the
//!    node's underlay address) with the node's subnet's network address as a `/32`;
//! 2. registers the node in etcd as flanneld does — key
//!    `/coreos.com/network/subnets/10.244.1.0-24`, value `{"PublicIP": …, "BackendType":
//!    "vxlan", "BackendData": {"VNI": 1, "VtepMAC": …}}` — attached to a lease it keeps
//!    alive, so a node that dies disappears when its lease expires;
//! 3. reads every other node's record and watches for changes, programming for each the
//!    ARP entry of its VTEP address, the FDB entry of its VTEP MAC towards its underlay
//!    address, and the route to its subnet (see [`vtep`]); a record deleted or expired is
//!    removed the same way.
//!
//! Nothing is learned by flooding: no multicast group, `nolearning`, and no all-zero FDB
//! entry. If its own record disappears, the agent stops, like flanneld's "Lease has been
//! revoked".
//!
//! etcd is reached through its HTTP/JSON gateway (see [`etcd`]).

pub mod etcd;
mod http;
pub mod lease;
pub mod vtep;

use std::collections::BTreeMap;
use std::io;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use ipnet::Ipv4Net;
use tokio::sync::watch;

use etcd::{Client, Event};
use lease::{SubnetLease, subnet_of_key, subnets_prefix};
use vtep::{Vtep, VtepSpec};

/// Why the agent stopped.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// etcd could not be reached or refused a request.
    #[error("etcd: {0}")]
    Etcd(String),
    /// The kernel refused a netlink request.
    #[error("netlink: {0}")]
    Netlink(Box<rtnetlink::Error>),
    /// A system call failed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The node is not set up as the agent needs (interface missing, …).
    #[error("{0}")]
    Setup(String),
    /// The node's own record left etcd (deleted, or its lease expired).
    #[error("the lease of {0} has been revoked (its key was deleted or expired): shutting down")]
    Revoked(Ipv4Net),
}

impl From<rtnetlink::Error> for AgentError {
    fn from(e: rtnetlink::Error) -> Self {
        Self::Netlink(Box::new(e))
    }
}

/// What the agent is told on its command line.
#[derive(Debug, Clone)]
pub struct Config {
    /// etcd's client URL, e.g. `http://10.211.55.10:2379`.
    pub etcd: String,
    /// Key prefix (flannel's `--etcd-prefix`, default `/coreos.com/network`).
    pub prefix: String,
    /// This node's pod subnet.
    pub subnet: Ipv4Net,
    /// The underlay interface: VXLAN's `dev`, and the public IP's source.
    pub iface: String,
    /// The address published to the other nodes; default: `iface`'s first IPv4 address.
    pub public_ip: Option<Ipv4Addr>,
    /// The VTEP device.
    pub vtep: VtepSpec,
    /// Lease TTL in seconds: how long the node's record outlives the agent.
    pub ttl: u32,
}

/// Prints one line of the agent's log, stamped with the time since it started.
fn log(start: Instant, subnet: Ipv4Net, msg: &str) {
    let t = start.elapsed();
    eprintln!(
        "[{:>4}.{:03}s] vxlab agent {subnet}: {msg}",
        t.as_secs(),
        t.subsec_millis()
    );
}

/// The other nodes programmed on the VTEP, by subnet.
struct Peers {
    vtep: Vtep,
    known: BTreeMap<Ipv4Net, SubnetLease>,
    cfg: Config,
    own_key: String,
    start: Instant,
}

impl Peers {
    fn log(&self, msg: &str) {
        log(self.start, self.cfg.subnet, msg);
    }

    /// Programs `lease` unless it is already, replacing an older version of it.
    async fn add(&mut self, lease: SubnetLease) -> Result<(), AgentError> {
        if lease.subnet == self.cfg.subnet {
            self.log(&format!(
                "ignoring a record of my own subnet from {}",
                lease.public_ip
            ));
            return Ok(());
        }
        match self.known.get(&lease.subnet) {
            Some(old) if *old == lease => return Ok(()),
            Some(old) => self.vtep.del_peer(old).await?,
            None => {}
        }
        self.vtep.add_peer(&lease).await?;
        self.log(&format!(
            "added {} via {} (VTEP {} at {})",
            lease.subnet,
            lease.vtep_ip(),
            lease.vtep_mac,
            lease.public_ip
        ));
        self.known.insert(lease.subnet, lease);
        Ok(())
    }

    async fn remove(&mut self, subnet: Ipv4Net) -> Result<(), AgentError> {
        if let Some(old) = self.known.remove(&subnet) {
            self.vtep.del_peer(&old).await?;
            self.log(&format!(
                "removed {subnet} (VTEP {} at {})",
                old.vtep_mac, old.public_ip
            ));
        }
        Ok(())
    }

    /// Applies one etcd record (`None`: deleted).
    async fn apply(&mut self, key: &str, value: Option<&[u8]>) -> Result<(), AgentError> {
        if key == self.own_key {
            return match value {
                None => Err(AgentError::Revoked(self.cfg.subnet)),
                Some(_) => Ok(()),
            };
        }
        let Some(subnet) = subnet_of_key(&self.cfg.prefix, key) else {
            return Ok(()); // not a subnet record
        };
        match value.map(|v| SubnetLease::parse(&self.cfg.prefix, key, v)) {
            None => self.remove(subnet).await,
            Some(Ok(lease)) => self.add(lease).await,
            Some(Err(why)) => {
                self.log(&format!("skipping a record: {why}"));
                self.remove(subnet).await
            }
        }
    }

    /// Reads every record, programs them and removes what is no longer there, then
    /// follows the changes until the watch breaks (an error) or the node's own lease is
    /// revoked.
    async fn follow(
        &mut self,
        etcd: &Client,
        revoked: &mut watch::Receiver<bool>,
    ) -> Result<(), AgentError> {
        let prefix = subnets_prefix(&self.cfg.prefix);
        let (kvs, revision) = etcd.range_prefix(&prefix).await?;
        if !kvs.iter().any(|kv| kv.key == self.own_key) {
            return Err(AgentError::Revoked(self.cfg.subnet));
        }
        let present: Vec<Ipv4Net> = kvs
            .iter()
            .filter_map(|kv| subnet_of_key(&self.cfg.prefix, &kv.key))
            .collect();
        let stale: Vec<Ipv4Net> = self
            .known
            .keys()
            .filter(|s| !present.contains(s))
            .copied()
            .collect();
        for s in stale {
            self.remove(s).await?;
        }
        for kv in &kvs {
            self.apply(&kv.key, Some(&kv.value)).await?;
        }
        let mut w = etcd.watch_prefix(&prefix, revision + 1).await?;
        self.log(&format!(
            "{} other node(s); watching {prefix} from revision {}",
            self.known.len(),
            revision + 1
        ));
        loop {
            tokio::select! {
                events = w.next() => {
                    for e in events? {
                        match e {
                            Event::Put(kv) => self.apply(&kv.key, Some(&kv.value)).await?,
                            Event::Delete(key) => self.apply(&key, None).await?,
                        }
                    }
                }
                _ = revoked.changed() => return Err(AgentError::Revoked(self.cfg.subnet)),
            }
        }
    }
}

/// Grants a lease and writes the node's record, retrying until etcd answers. Returns the
/// lease id.
async fn register(etcd: &Client, cfg: &Config, me: &SubnetLease, start: Instant) -> i64 {
    let key = me.key(&cfg.prefix);
    let mut delay = Duration::from_millis(50);
    let mut said = false;
    loop {
        let attempt = async {
            let id = etcd.grant(i64::from(cfg.ttl)).await?;
            etcd.put(&key, me.to_json().as_bytes(), id).await?;
            Ok::<_, AgentError>(id)
        };
        match attempt.await {
            Ok(id) => {
                log(
                    start,
                    cfg.subnet,
                    &format!(
                        "registered {key} = {} (lease {id:x}, TTL {}s)",
                        me.to_json(),
                        cfg.ttl
                    ),
                );
                return id;
            }
            Err(e) => {
                if !said {
                    log(
                        start,
                        cfg.subnet,
                        &format!("waiting for etcd at {}: {e}", etcd.addr()),
                    );
                    said = true;
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(1));
            }
        }
    }
}

/// Keeps lease `id` alive; flips `revoked` once etcd says it no longer exists.
async fn keep_alive(
    etcd: Client,
    id: i64,
    cfg: Config,
    start: Instant,
    revoked: watch::Sender<bool>,
) {
    let every =
        Duration::from_millis(u64::from(cfg.ttl) * 1000 / 3).max(Duration::from_millis(500));
    loop {
        tokio::time::sleep(every).await;
        match etcd.keepalive(id).await {
            Ok(0) => {
                let _ = revoked.send(true);
                return;
            }
            Ok(_) => {}
            Err(e) => log(start, cfg.subnet, &format!("lease renewal failed: {e}")),
        }
    }
}

/// Runs the agent until its lease is revoked or setting up fails. Must run inside the
/// node's network namespace, in a tokio runtime with I/O and timers.
pub async fn run(cfg: Config) -> Result<(), AgentError> {
    let start = Instant::now();
    let (conn, handle, _) = rtnetlink::new_connection()?;
    tokio::spawn(conn);
    let (underlay, iface_ip) = vtep::interface_ipv4(&handle, &cfg.iface).await?;
    let public_ip = cfg.public_ip.unwrap_or(iface_ip);
    let (vtep, created) =
        Vtep::ensure(handle, &cfg.vtep, public_ip, underlay, cfg.subnet.network()).await?;
    log(
        start,
        cfg.subnet,
        &format!(
            "{} {} (MAC {}, VNI {}, port {}, local {public_ip} dev {})",
            if created { "created" } else { "using" },
            vtep.name,
            vtep.mac,
            cfg.vtep.vni,
            cfg.vtep.port,
            cfg.iface
        ),
    );
    let me = SubnetLease {
        subnet: cfg.subnet,
        public_ip,
        vtep_mac: vtep.mac,
        vni: cfg.vtep.vni,
    };
    let etcd = Client::new(&cfg.etcd)?;
    let id = register(&etcd, &cfg, &me, start).await;
    let (tx, mut revoked) = watch::channel(false);
    tokio::spawn(keep_alive(etcd.clone(), id, cfg.clone(), start, tx));
    let mut peers = Peers {
        vtep,
        known: BTreeMap::new(),
        own_key: me.key(&cfg.prefix),
        cfg,
        start,
    };
    loop {
        match peers.follow(&etcd, &mut revoked).await {
            Err(e @ AgentError::Revoked(_)) => return Err(e),
            Err(e) => {
                peers.log(&format!("{e}; reading everything again"));
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Ok(()) => {}
        }
    }
}
