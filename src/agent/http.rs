//! Just enough HTTP/1.1 to talk to etcd's JSON gateway: one `POST` per connection, and a
//! response body read whole or piece by piece (fixed length, chunked, or up to close), so
//! a watch can be read as its stream of lines.

use std::io;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// How the response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// `Content-Length`: this many bytes left.
    Length(usize),
    /// `Transfer-Encoding: chunked`: bytes left in the current chunk (0: read the next
    /// chunk's size).
    Chunked(usize),
    /// Until the server closes the connection.
    Close,
    /// Everything has been read.
    Done,
}

/// A response whose body has not been read yet.
pub struct Response {
    /// Status code, e.g. 200.
    pub status: u16,
    reader: BufReader<TcpStream>,
    framing: Framing,
    /// Bytes received but not yet returned as a line (see [`Response::next_line`]).
    pending: Vec<u8>,
}

/// Sends `POST path` with a JSON `body` to `addr` (`HOST:PORT`) and reads the status line
/// and headers.
pub async fn post(addr: &str, path: &str, body: &str) -> io::Result<Response> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).await?;
    let status = parse_status(&line)?;
    let mut framing = Framing::Close;
    loop {
        line.clear();
        if reader.read_line(&mut line).await? == 0 {
            return Err(bad("connection closed inside the headers"));
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((name, value)) = l.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                framing = Framing::Length(value.parse().map_err(|_| bad("bad Content-Length"))?);
            } else if name.eq_ignore_ascii_case("transfer-encoding")
                && value.eq_ignore_ascii_case("chunked")
            {
                framing = Framing::Chunked(0);
            }
        }
    }
    if framing == Framing::Length(0) {
        framing = Framing::Done;
    }
    Ok(Response {
        status,
        reader,
        framing,
        pending: Vec::new(),
    })
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("HTTP: {what}"))
}

/// The status code of a status line such as `HTTP/1.1 200 OK`.
fn parse_status(line: &str) -> io::Result<u16> {
    let mut parts = line.split_whitespace();
    match (parts.next(), parts.next()) {
        (Some(v), Some(code)) if v.starts_with("HTTP/1.") => {
            code.parse().map_err(|_| bad("bad status code"))
        }
        _ => Err(bad(&format!("bad status line {:?}", line.trim_end()))),
    }
}

impl Response {
    /// The next piece of the body, or `None` at its end.
    pub async fn chunk(&mut self) -> io::Result<Option<Vec<u8>>> {
        loop {
            match self.framing {
                Framing::Done => return Ok(None),
                Framing::Length(left) => {
                    let got = self.take(left).await?;
                    if got.is_empty() {
                        return Err(bad("connection closed inside the body"));
                    }
                    let left = left - got.len();
                    self.framing = if left == 0 {
                        Framing::Done
                    } else {
                        Framing::Length(left)
                    };
                    return Ok(Some(got));
                }
                Framing::Close => {
                    let got = self.take(64 * 1024).await?;
                    if got.is_empty() {
                        self.framing = Framing::Done;
                        return Ok(None);
                    }
                    return Ok(Some(got));
                }
                Framing::Chunked(0) => {
                    let mut line = String::new();
                    if self.reader.read_line(&mut line).await? == 0 {
                        return Err(bad("connection closed before a chunk"));
                    }
                    let size = line.trim_end();
                    if size.is_empty() {
                        continue; // the CRLF ending the previous chunk
                    }
                    let size = size.split(';').next().unwrap_or_default().trim();
                    let size =
                        usize::from_str_radix(size, 16).map_err(|_| bad("bad chunk size"))?;
                    if size == 0 {
                        self.framing = Framing::Done;
                        return Ok(None);
                    }
                    self.framing = Framing::Chunked(size);
                }
                Framing::Chunked(left) => {
                    let got = self.take(left).await?;
                    if got.is_empty() {
                        return Err(bad("connection closed inside a chunk"));
                    }
                    self.framing = Framing::Chunked(left - got.len());
                    return Ok(Some(got));
                }
            }
        }
    }

    /// Reads up to `max` bytes (fewer if fewer are buffered); empty at end of stream.
    async fn take(&mut self, max: usize) -> io::Result<Vec<u8>> {
        let mut buf = vec![0; max.min(64 * 1024)];
        let n = self.reader.read(&mut buf).await?;
        buf.truncate(n);
        Ok(buf)
    }

    /// The whole body.
    pub async fn body(mut self) -> io::Result<Vec<u8>> {
        let mut out = std::mem::take(&mut self.pending);
        while let Some(c) = self.chunk().await? {
            out.extend_from_slice(&c);
        }
        Ok(out)
    }

    /// The next newline-terminated line of the body (without the newline), or `None` at
    /// its end. A streamed gRPC-gateway answer is one JSON message per line.
    pub async fn next_line(&mut self) -> io::Result<Option<Vec<u8>>> {
        loop {
            if let Some(i) = self.pending.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.pending.drain(..=i).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                if line.is_empty() {
                    continue;
                }
                return Ok(Some(line));
            }
            match self.chunk().await? {
                Some(c) => self.pending.extend_from_slice(&c),
                None if self.pending.is_empty() => return Ok(None),
                None => return Ok(Some(std::mem::take(&mut self.pending))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// Serves `raw` (a whole HTTP response) to one client and returns its address.
    async fn serve(raw: &'static [u8]) -> String {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut buf = vec![0; 4096];
            let _ = s.read(&mut buf).await;
            // Dribble the answer in small writes, splitting lines and chunk headers.
            for piece in raw.chunks(7) {
                s.write_all(piece).await.unwrap();
                s.flush().await.unwrap();
                tokio::task::yield_now().await;
            }
        });
        addr
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn reads_a_fixed_length_body() {
        rt().block_on(async {
            let addr =
                serve(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\nX: y\r\n\r\n{\"a\":\"b\"}\r\n")
                    .await;
            let r = post(&addr, "/v3/kv/range", "{}").await.unwrap();
            assert_eq!(r.status, 200);
            assert_eq!(r.body().await.unwrap(), b"{\"a\":\"b\"}\r\n");
        });
    }

    #[test]
    fn splits_a_chunked_stream_into_lines() {
        rt().block_on(async {
            let addr = serve(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
                  8\r\n{\"n\":1}\n\r\n\
                  3;ext=1\r\n{\"n\r\n\
                  5\r\n\":2}\n\r\n\
                  0\r\n\r\n",
            )
            .await;
            let mut r = post(&addr, "/v3/watch", "{}").await.unwrap();
            assert_eq!(r.next_line().await.unwrap().unwrap(), b"{\"n\":1}");
            assert_eq!(r.next_line().await.unwrap().unwrap(), b"{\"n\":2}");
            assert_eq!(r.next_line().await.unwrap(), None);
        });
    }

    #[test]
    fn reads_until_close_without_length() {
        rt().block_on(async {
            let addr = serve(b"HTTP/1.0 404 Not Found\r\n\r\nnot found").await;
            let r = post(&addr, "/x", "").await.unwrap();
            assert_eq!(r.status, 404);
            assert_eq!(r.body().await.unwrap(), b"not found");
        });
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_status("SSH-2.0-OpenSSH\r\n").is_err());
        assert_eq!(parse_status("HTTP/1.1 200 OK\r\n").unwrap(), 200);
    }
}
