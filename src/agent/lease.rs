//! Flannel's record of a node in etcd: key `PREFIX/subnets/10.244.1.0-24`, value
//! `{"PublicIP":"10.211.55.11","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"…"}}`.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde_json::Value;

use crate::model::Mac;

/// One node's subnet lease, as flanneld publishes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubnetLease {
    /// The node's pod subnet, e.g. `10.244.1.0/24`.
    pub subnet: Ipv4Net,
    /// Its underlay address: where VXLAN packets for the subnet go.
    pub public_ip: Ipv4Addr,
    /// The MAC of its VTEP (`flannel.1`).
    pub vtep_mac: Mac,
    /// The VNI of its VTEP.
    pub vni: u32,
}

impl SubnetLease {
    /// The etcd key: `PREFIX/subnets/10.244.1.0-24`.
    pub fn key(&self, prefix: &str) -> String {
        format!(
            "{}{}-{}",
            subnets_prefix(prefix),
            self.subnet.network(),
            self.subnet.prefix_len()
        )
    }

    /// The value, flannel's JSON, with its keys in flanneld's order.
    pub fn to_json(&self) -> String {
        format!(
            r#"{{"PublicIP":"{}","BackendType":"vxlan","BackendData":{{"VNI":{},"VtepMAC":"{}"}}}}"#,
            self.public_ip, self.vni, self.vtep_mac
        )
    }

    /// Reads a lease from its key and value. Errors say what is wrong, for the log.
    pub fn parse(prefix: &str, key: &str, value: &[u8]) -> Result<Self, String> {
        let subnet =
            subnet_of_key(prefix, key).ok_or_else(|| format!("`{key}` names no subnet"))?;
        let v: Value = serde_json::from_slice(value).map_err(|e| format!("`{key}`: {e}"))?;
        if v["BackendType"].as_str() != Some("vxlan") {
            return Err(format!(
                "`{key}`: backend {} is not vxlan",
                v["BackendType"]
            ));
        }
        let public_ip = v["PublicIP"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("`{key}`: no IPv4 PublicIP"))?;
        let data = &v["BackendData"];
        let vtep_mac = data["VtepMAC"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("`{key}`: no BackendData.VtepMAC"))?;
        let vni = data["VNI"]
            .as_u64()
            .map_or(Ok(1), u32::try_from)
            .map_err(|_| format!("`{key}`: VNI out of range"))?;
        Ok(Self {
            subnet,
            public_ip,
            vtep_mac,
            vni,
        })
    }

    /// The VTEP address flannel gives the node: its subnet's network address (`/32` on
    /// `flannel.1`), the gateway of the other nodes' routes to the subnet.
    pub fn vtep_ip(&self) -> Ipv4Addr {
        self.subnet.network()
    }
}

/// `PREFIX/subnets/`.
pub fn subnets_prefix(prefix: &str) -> String {
    format!("{}/subnets/", prefix.trim_end_matches('/'))
}

/// The subnet a key under `PREFIX/subnets/` names: `…/10.244.1.0-24` is `10.244.1.0/24`.
pub fn subnet_of_key(prefix: &str, key: &str) -> Option<Ipv4Net> {
    let (net, len) = key
        .strip_prefix(&subnets_prefix(prefix))?
        .rsplit_once('-')?;
    let net = Ipv4Net::new(net.parse().ok()?, len.parse().ok()?).ok()?;
    (net.network() == net.addr()).then_some(net)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PREFIX: &str = "/coreos.com/network";

    fn lease() -> SubnetLease {
        SubnetLease {
            subnet: "10.244.2.0/24".parse().unwrap(),
            public_ip: Ipv4Addr::new(10, 211, 55, 12),
            vtep_mac: "0e:1f:2a:3b:4c:5d".parse().unwrap(),
            vni: 1,
        }
    }

    #[test]
    fn key_and_value_are_flannels() {
        let l = lease();
        assert_eq!(l.key(PREFIX), "/coreos.com/network/subnets/10.244.2.0-24");
        assert_eq!(l.key("/coreos.com/network/"), l.key(PREFIX));
        assert_eq!(
            l.to_json(),
            r#"{"PublicIP":"10.211.55.12","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"0e:1f:2a:3b:4c:5d"}}"#
        );
        assert_eq!(
            SubnetLease::parse(PREFIX, &l.key(PREFIX), l.to_json().as_bytes()),
            Ok(l.clone())
        );
        assert_eq!(l.vtep_ip(), Ipv4Addr::new(10, 244, 2, 0));
    }

    #[test]
    fn reads_what_flanneld_writes() {
        // As flanneld 0.2x writes it (VNI present, PublicIPv6 null).
        let v = br#"{"PublicIP":"192.168.0.100","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"aa:bb:cc:dd:ee:ff"}}"#;
        let l = SubnetLease::parse(PREFIX, "/coreos.com/network/subnets/10.244.7.0-24", v).unwrap();
        assert_eq!(l.public_ip, Ipv4Addr::new(192, 168, 0, 100));
        assert_eq!(l.subnet, "10.244.7.0/24".parse::<Ipv4Net>().unwrap());
        assert!(
            SubnetLease::parse(
                PREFIX,
                "/coreos.com/network/subnets/10.244.7.0-24",
                br#"{"PublicIP":"1.2.3.4","BackendType":"host-gw"}"#
            )
            .is_err()
        );
        assert!(SubnetLease::parse(PREFIX, "/coreos.com/network/config", v).is_err());
    }

    #[test]
    fn keys_name_subnets() {
        assert_eq!(
            subnet_of_key(PREFIX, "/coreos.com/network/subnets/10.244.1.0-24"),
            Some("10.244.1.0/24".parse().unwrap())
        );
        assert_eq!(
            subnet_of_key(PREFIX, "/coreos.com/network/subnets/10.244.1.1-24"),
            None
        );
        assert_eq!(
            subnet_of_key(PREFIX, "/coreos.com/network/subnets/10.244.1.0-33"),
            None
        );
        assert_eq!(subnet_of_key(PREFIX, "/other/subnets/10.244.1.0-24"), None);
    }
}
