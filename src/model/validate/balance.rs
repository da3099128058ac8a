//! Checks of load balancing: `[kube_proxy]`, `[[service]]` and `[[ipvs]]`.

use std::net::SocketAddrV4;

use super::Checker;
use crate::model::names::check_word;
use crate::model::{Forward, IpvsReal, IpvsService, KubeProxy, Lab, Proto, SCHEDULERS, Service};
use crate::scenario::{self, Scenario};

const PORTED: [Proto; 3] = [Proto::Tcp, Proto::Udp, Proto::Sctp];

impl Checker {
    pub(super) fn kube(&mut self, s: &Scenario, lab: &mut Lab) {
        if let Some(k) = &s.kube_proxy {
            let mut nodes: Vec<String> = Vec::new();
            for t in k.nodes.get_ref() {
                let Some(n) = self.node_ref(t) else { continue };
                if nodes.contains(&n) {
                    self.err(t.span(), format!("`{n}` is listed twice"));
                } else {
                    nodes.push(n);
                }
            }
            if k.nodes.get_ref().is_empty() {
                self.err_help(
                    k.nodes.span(),
                    "no node runs kube-proxy",
                    "list the nodes, e.g. nodes = [\"node1\", \"node2\"]",
                );
            }
            let cluster_cidr = k
                .cluster_cidr
                .as_ref()
                .and_then(|t| self.ipv4_net(t, t.get_ref()));
            lab.kube_proxy = Some(KubeProxy {
                nodes,
                cluster_cidr,
            });
        } else if let Some(first) = s.services.first() {
            self.err_help(
                first.name.span(),
                "services need kube-proxy, and no [kube_proxy] says which nodes run it",
                "add [kube_proxy] with nodes = [\"node1\", …]",
            );
        }
        for svc in &s.services {
            if let Some(v) = self.service(svc, lab) {
                lab.services.push(v);
            }
        }
    }

    fn service(&mut self, svc: &scenario::Service, lab: &Lab) -> Option<Service> {
        let name = svc.name.get_ref();
        let named = match name.split_once('/') {
            Some((ns, n)) => check_word(ns, 63).and_then(|()| check_word(n, 63)),
            None => Err("write it NAMESPACE/NAME, e.g. default/web".into()),
        };
        if let Err(why) = named {
            self.err(
                svc.name.span(),
                format!("`{name}` is not a valid service name: {why}"),
            );
        }
        let port_name = svc.port_name.as_ref().and_then(|t| {
            check_word(t.get_ref(), 15)
                .map_err(|why| {
                    self.err(
                        t.span(),
                        format!("`{}` is not a valid port name: {why}", t.get_ref()),
                    );
                })
                .ok()
                .map(|()| t.get_ref().clone())
        });
        let cluster_ip = self.ipv4(&svc.cluster_ip, "a ClusterIP");
        let port = self.port(&svc.port);
        let proto = match &svc.proto {
            Some(t) => self.proto(t, &PORTED),
            None => Some(Proto::Tcp),
        };
        let node_port = svc.node_port.as_ref().and_then(|p| self.port(p));
        let mut endpoints: Vec<SocketAddrV4> = Vec::new();
        for t in svc.endpoints.get_ref() {
            match t.get_ref().parse::<SocketAddrV4>() {
                Ok(e) if e.port() == 0 => self.err(t.span(), "port 0 is outside 1..=65535"),
                Ok(e) if endpoints.contains(&e) => {
                    self.err(t.span(), format!("endpoint {e} is listed twice"));
                }
                Ok(e) => endpoints.push(e),
                Err(_) => self.err_help(
                    t.span(),
                    format!("`{}` is not an endpoint", t.get_ref()),
                    "write POD_IP:PORT, e.g. 10.244.1.2:80",
                ),
            }
        }
        if svc.endpoints.get_ref().is_empty() {
            self.err_help(
                svc.endpoints.span(),
                "a service needs at least one endpoint",
                "e.g. endpoints = [\"10.244.1.2:80\"]",
            );
        }
        let (cluster_ip, port, proto) = (cluster_ip?, port?, proto?);
        if lab
            .services
            .iter()
            .any(|o| o.cluster_ip == cluster_ip && o.port == port && o.proto == proto)
        {
            self.err(
                svc.cluster_ip.span(),
                format!("another service already has {proto} {cluster_ip}:{port}"),
            );
        }
        if let (Some(np), Some(t)) = (node_port, &svc.node_port)
            && lab
                .services
                .iter()
                .any(|o| o.node_port == Some(np) && o.proto == proto)
        {
            self.err(t.span(), format!("NodePort {proto} {np} is already taken"));
        }
        let port_id = format!(
            "{name}{}",
            port_name
                .as_ref()
                .map(|p| format!(":{p}"))
                .unwrap_or_default()
        );
        if lab.services.iter().any(|o| o.port_id() == port_id) {
            self.err_help(
                svc.name.span(),
                format!("service port `{port_id}` is declared twice"),
                "give each port of a service its own port_name",
            );
        }
        Some(Service {
            name: name.clone(),
            port_name,
            cluster_ip,
            port,
            proto,
            node_port,
            endpoints,
        })
    }

    pub(super) fn ipvs(&mut self, s: &Scenario, lab: &mut Lab) {
        for v in &s.ipvs {
            if let Some(svc) = self.ipvs_service(v, lab) {
                lab.ipvs.push(svc);
            }
        }
    }

    fn ipvs_service(&mut self, v: &scenario::Ipvs, lab: &Lab) -> Option<IpvsService> {
        let node = self.node_ref(&v.node);
        let vip = self.addr_port(&v.service, "address and port");
        if let Some((_, None)) = vip {
            self.err_help(
                v.service.span(),
                "an IPVS service needs a port",
                "write ADDR:PORT, e.g. 172.18.0.2:80",
            );
        }
        let proto = match &v.proto {
            Some(t) => self.proto(t, &PORTED),
            None => Some(Proto::Tcp),
        };
        let scheduler = v
            .scheduler
            .as_ref()
            .map_or_else(|| "wlc".to_string(), |t| t.get_ref().clone());
        if let (Some(t), false) = (&v.scheduler, SCHEDULERS.contains(&scheduler.as_str())) {
            self.err_help(
                t.span(),
                format!("`{scheduler}` is not an IPVS scheduler"),
                format!("use one of {}", SCHEDULERS.join(", ")),
            );
        }
        let mut reals: Vec<IpvsReal> = Vec::new();
        for r in &v.real {
            let addr = self.addr_port(&r.address, "address");
            let forward = match &r.forward {
                None => Some(Forward::Droute),
                Some(t) => {
                    let f = Forward::parse(t.get_ref());
                    if f.is_none() {
                        self.err_help(
                            t.span(),
                            format!("`{}` is not an IPVS forwarding method", t.get_ref()),
                            "use masq (NAT), droute (direct routing) or tunnel (IP-in-IP)",
                        );
                    }
                    f
                }
            };
            let weight = match &r.weight {
                None => Some(1),
                Some(w) => {
                    let ok = u32::try_from(*w.get_ref())
                        .ok()
                        .filter(|&x| i32::try_from(x).is_ok());
                    if ok.is_none() {
                        self.err(
                            w.span(),
                            format!("weight {} is outside 0..=2147483647", w.get_ref()),
                        );
                    }
                    ok
                }
            };
            let (Some((addr, port)), Some(forward), Some(weight), Some((_, Some(vport)))) =
                (addr, forward, weight, vip)
            else {
                continue;
            };
            let port = port.unwrap_or(vport);
            if forward != Forward::Masq && port != vport {
                self.err_help(
                    r.address.span(),
                    format!("{forward:?} forwarding cannot change the port ({vport} to {port})")
                        .to_lowercase(),
                    "only masq (NAT) rewrites ports; drop the port or use forward = \"masq\"",
                );
                continue;
            }
            if reals.iter().any(|x| x.addr == addr && x.port == port) {
                self.err(
                    r.address.span(),
                    format!("real server {addr}:{port} is listed twice"),
                );
                continue;
            }
            reals.push(IpvsReal {
                addr,
                port,
                forward,
                weight,
            });
        }
        let (node, (addr, Some(port)), proto) = (node?, vip?, proto?) else {
            return None;
        };
        if lab
            .ipvs
            .iter()
            .any(|o| o.node == node && o.addr == addr && o.port == port && o.proto == proto)
        {
            self.err(
                v.service.span(),
                format!("`{node}` already has IPVS service {proto} {addr}:{port}"),
            );
        }
        Some(IpvsService {
            node,
            proto,
            addr,
            port,
            scheduler,
            reals,
            emulated: false,
        })
    }
}
