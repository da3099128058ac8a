//! vxlab's own tiny HTTP server, so labs need no nginx: it answers every request with one
//! line of text (the node's name by default) and logs each client to stderr, so a backend
//! shows which source address it saw (useful to check SNAT).

use std::io::{self, BufRead, BufReader, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::thread;

/// Serves forever on `0.0.0.0:port`, answering `text`.
pub fn serve(port: u16, text: &str) -> io::Result<()> {
    let listener = TcpListener::bind((Ipv4Addr::UNSPECIFIED, port))?;
    eprintln!("vxlab serve-http: listening on :{port}");
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let text = text.to_string();
        thread::spawn(move || {
            let _ = answer(stream, &text);
        });
    }
    Ok(())
}

fn answer(stream: TcpStream, text: &str) -> io::Result<()> {
    let peer = stream.peer_addr()?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    let mut line = String::new();
    while reader.read_line(&mut line)? > 2 {
        line.clear();
    }
    eprintln!("{peer} {}", request.trim_end());
    let body = format!("{text} (client {})\n", peer.ip());
    let mut out = stream;
    write!(
        out,
        "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    out.flush()
}
