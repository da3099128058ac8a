//! An etcd v3 client over etcd's HTTP/JSON gateway (`/v3/kv/put`, `/v3/kv/range`,
//! `/v3/watch`, `/v3/lease/*`): keys and values travel base64-encoded, 64-bit integers as
//! JSON strings. No gRPC needed: the same calls work with `curl`.

use std::time::Duration;

use serde_json::{Value, json};

use super::AgentError;
use super::http;

/// How long a unary call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(3);

/// An etcd server, by its client URL.
#[derive(Debug, Clone)]
pub struct Client {
    /// `HOST:PORT`.
    addr: String,
}

/// A key and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kv {
    /// The key.
    pub key: String,
    /// The value (empty in a delete event).
    pub value: Vec<u8>,
}

/// One change seen by a watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The key was created or changed.
    Put(Kv),
    /// The key was deleted (or its lease expired).
    Delete(String),
}

/// A watch on a key range: a long-lived streamed answer of `/v3/watch`.
pub struct Watch {
    response: http::Response,
}

impl Client {
    /// A client of the etcd at `url`, e.g. `http://10.211.55.10:2379`.
    pub fn new(url: &str) -> Result<Self, AgentError> {
        let rest = url.strip_prefix("http://").ok_or_else(|| {
            AgentError::Etcd(format!("`{url}`: only http:// endpoints are supported"))
        })?;
        let addr = rest.trim_end_matches('/');
        if addr.is_empty() || addr.contains('/') {
            return Err(AgentError::Etcd(format!("`{url}` is not HOST:PORT")));
        }
        let addr = if addr.contains(':') {
            addr.to_string()
        } else {
            format!("{addr}:2379")
        };
        Ok(Self { addr })
    }

    /// `HOST:PORT` of the server.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Calls a unary method and returns its JSON answer.
    async fn call(&self, path: &str, request: &Value) -> Result<Value, AgentError> {
        let call = async {
            let r = http::post(&self.addr, path, &request.to_string()).await?;
            let status = r.status;
            let body = r.body().await?;
            Ok::<_, std::io::Error>((status, body))
        };
        let (status, body) = tokio::time::timeout(CALL_TIMEOUT, call)
            .await
            .map_err(|_| AgentError::Etcd(format!("{path}: no answer in {CALL_TIMEOUT:?}")))?
            .map_err(|e| AgentError::Etcd(format!("{path}: {e}")))?;
        let v: Value = serde_json::from_slice(&body).map_err(|e| {
            AgentError::Etcd(format!("{path}: answer is not JSON ({e}): HTTP {status}"))
        })?;
        if status != 200 {
            return Err(AgentError::Etcd(format!(
                "{path}: HTTP {status}: {}",
                message(&v)
            )));
        }
        Ok(v)
    }

    /// Grants a lease of `ttl` seconds; returns its id.
    pub async fn grant(&self, ttl: i64) -> Result<i64, AgentError> {
        let v = self.call("/v3/lease/grant", &json!({ "TTL": ttl })).await?;
        int(&v["ID"]).ok_or_else(|| AgentError::Etcd(format!("lease grant: no ID in {v}")))
    }

    /// Renews lease `id` once; returns its new TTL, 0 if the lease no longer exists.
    pub async fn keepalive(&self, id: i64) -> Result<i64, AgentError> {
        let v = self
            .call("/v3/lease/keepalive", &json!({ "ID": id }))
            .await?;
        if let Some(e) = v.get("error") {
            return Err(AgentError::Etcd(format!("lease keepalive: {}", message(e))));
        }
        let r = v.get("result").unwrap_or(&v);
        Ok(int(&r["TTL"]).unwrap_or(0))
    }

    /// Sets `key` to `value`, attached to lease `lease` (0: none).
    pub async fn put(&self, key: &str, value: &[u8], lease: i64) -> Result<(), AgentError> {
        let mut req = json!({ "key": b64(key.as_bytes()), "value": b64(value) });
        if lease != 0 {
            req["lease"] = json!(lease);
        }
        self.call("/v3/kv/put", &req).await.map(drop)
    }

    /// Deletes `key`; returns whether it existed.
    pub async fn delete(&self, key: &str) -> Result<bool, AgentError> {
        let v = self
            .call("/v3/kv/deleterange", &json!({ "key": b64(key.as_bytes()) }))
            .await?;
        Ok(int(&v["deleted"]).unwrap_or(0) > 0)
    }

    /// Every key under `prefix` with its value, and the store's revision they are from.
    pub async fn range_prefix(&self, prefix: &str) -> Result<(Vec<Kv>, i64), AgentError> {
        let req = json!({
            "key": b64(prefix.as_bytes()),
            "range_end": b64(&prefix_end(prefix.as_bytes())),
        });
        let v = self.call("/v3/kv/range", &req).await?;
        let revision = int(&v["header"]["revision"]).unwrap_or(0);
        let kvs = v["kvs"]
            .as_array()
            .map(|a| a.iter().filter_map(kv).collect())
            .unwrap_or_default();
        Ok((kvs, revision))
    }

    /// Watches every key under `prefix`, from revision `start` on (0: from now).
    pub async fn watch_prefix(&self, prefix: &str, start: i64) -> Result<Watch, AgentError> {
        let mut create = json!({
            "key": b64(prefix.as_bytes()),
            "range_end": b64(&prefix_end(prefix.as_bytes())),
        });
        if start > 0 {
            create["start_revision"] = json!(start);
        }
        let body = json!({ "create_request": create }).to_string();
        let response =
            tokio::time::timeout(CALL_TIMEOUT, http::post(&self.addr, "/v3/watch", &body))
                .await
                .map_err(|_| AgentError::Etcd(format!("/v3/watch: no answer in {CALL_TIMEOUT:?}")))?
                .map_err(|e| AgentError::Etcd(format!("/v3/watch: {e}")))?;
        if response.status != 200 {
            let status = response.status;
            let body = response.body().await.unwrap_or_default();
            return Err(AgentError::Etcd(format!(
                "/v3/watch: HTTP {status}: {}",
                String::from_utf8_lossy(&body)
            )));
        }
        Ok(Watch { response })
    }
}

impl Watch {
    /// The next batch of events (possibly empty: the watch's creation, a progress
    /// notification). An error ends the watch: the stream broke, or etcd cancelled it
    /// (e.g. its start revision was compacted); start over with a fresh range.
    pub async fn next(&mut self) -> Result<Vec<Event>, AgentError> {
        let line = self
            .response
            .next_line()
            .await
            .map_err(|e| AgentError::Etcd(format!("watch: {e}")))?
            .ok_or_else(|| AgentError::Etcd("watch: etcd closed the stream".into()))?;
        parse_watch_message(&line)
    }
}

/// The events of one streamed watch message.
fn parse_watch_message(line: &[u8]) -> Result<Vec<Event>, AgentError> {
    let v: Value = serde_json::from_slice(line)
        .map_err(|e| AgentError::Etcd(format!("watch: message is not JSON: {e}")))?;
    if let Some(e) = v.get("error") {
        return Err(AgentError::Etcd(format!("watch: {}", message(e))));
    }
    let r = v.get("result").unwrap_or(&v);
    if r["canceled"].as_bool() == Some(true) {
        let why = r["cancel_reason"].as_str().unwrap_or("no reason given");
        let compacted = int(&r["compact_revision"]).unwrap_or(0);
        return Err(AgentError::Etcd(format!(
            "watch cancelled by etcd: {why} (compact revision {compacted})"
        )));
    }
    let mut out = Vec::new();
    for e in r["events"].as_array().into_iter().flatten() {
        let Some(kv) = kv(&e["kv"]) else { continue };
        // Protobuf's JSON leaves out defaults: no `type` means PUT.
        match e["type"].as_str() {
            Some("DELETE") => out.push(Event::Delete(kv.key)),
            _ => out.push(Event::Put(kv)),
        }
    }
    Ok(out)
}

/// A key-value of etcd's JSON (`{"key": base64, "value": base64, ...}`).
fn kv(v: &Value) -> Option<Kv> {
    let key = String::from_utf8(unb64(v["key"].as_str()?)?).ok()?;
    let value = match v["value"].as_str() {
        Some(s) => unb64(s)?,
        None => Vec::new(),
    };
    Some(Kv { key, value })
}

/// An int64 of protobuf's JSON: a string, or a plain number.
fn int(v: &Value) -> Option<i64> {
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

/// The text of a gateway error (`{"error": ..., "message": ..., "code": ...}`).
fn message(v: &Value) -> String {
    v["message"]
        .as_str()
        .or_else(|| v["error"].as_str())
        .map_or_else(|| v.to_string(), str::to_string)
}

/// The end of the range of keys starting with `prefix` (etcd's `--prefix`): the prefix
/// with its last byte below 0xff incremented.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0] // every key
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64, with padding.
pub fn b64(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(char::from(B64[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes standard base64 (padding optional); `None` if it is not base64.
pub fn unb64(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for b in s.bytes() {
        let v = u32::try_from(B64.iter().position(|&x| x == b)?).ok()?;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xff).ok()?);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips() {
        for (plain, enc) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            (
                "/coreos.com/network/subnets/",
                "L2NvcmVvcy5jb20vbmV0d29yay9zdWJuZXRzLw==",
            ),
        ] {
            assert_eq!(b64(plain.as_bytes()), enc);
            assert_eq!(unb64(enc).unwrap(), plain.as_bytes());
        }
        assert_eq!(unb64("Zm8"), Some(b"fo".to_vec()));
        assert_eq!(unb64("Z!=="), None);
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(unb64(&b64(&all)).unwrap(), all);
    }

    #[test]
    fn prefix_end_is_etcds() {
        assert_eq!(prefix_end(b"/a/"), b"/a0");
        assert_eq!(prefix_end(b"a\xff"), b"b");
        assert_eq!(prefix_end(b"\xff"), vec![0]);
    }

    #[test]
    fn urls() {
        assert_eq!(
            Client::new("http://10.0.0.1:2379/").unwrap().addr(),
            "10.0.0.1:2379"
        );
        assert_eq!(Client::new("http://etcd").unwrap().addr(), "etcd:2379");
        assert!(Client::new("https://10.0.0.1:2379").is_err());
        assert!(Client::new("http://a/b").is_err());
    }

    #[test]
    fn watch_messages_as_etcd_34_streams_them() {
        let created = br#"{"result":{"header":{"cluster_id":"1","revision":"5"},"created":true}}"#;
        assert_eq!(parse_watch_message(created).unwrap(), vec![]);
        let put = format!(
            r#"{{"result":{{"header":{{"revision":"6"}},"events":[{{"kv":{{"key":"{}","create_revision":"6","mod_revision":"6","version":"1","value":"{}","lease":"7587"}}}}]}}}}"#,
            b64(b"/k/a"),
            b64(b"{}")
        );
        assert_eq!(
            parse_watch_message(put.as_bytes()).unwrap(),
            vec![Event::Put(Kv {
                key: "/k/a".into(),
                value: b"{}".to_vec()
            })]
        );
        let del = format!(
            r#"{{"result":{{"header":{{"revision":"7"}},"events":[{{"type":"DELETE","kv":{{"key":"{}","mod_revision":"7"}}}}]}}}}"#,
            b64(b"/k/a")
        );
        assert_eq!(
            parse_watch_message(del.as_bytes()).unwrap(),
            vec![Event::Delete("/k/a".into())]
        );
        let cancelled =
            br#"{"result":{"header":{},"canceled":true,"compact_revision":"3","cancel_reason":"mvcc: required revision has been compacted"}}"#;
        assert!(parse_watch_message(cancelled).is_err());
        assert!(
            parse_watch_message(br#"{"error":{"grpc_code":14,"message":"unavailable"}}"#).is_err()
        );
    }
}
