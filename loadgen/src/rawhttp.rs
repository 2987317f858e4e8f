//! A minimal HTTP/1.1 client for one keep-alive connection: writes a prepared request, reads
//! exactly one response (Content-Length or chunked body), and reports its status.
//!
//! It does the least work a correct client can do (no header map, no body decoding), in the
//! manner of `wrk`, so that on a small machine the load generator takes as little CPU as
//! possible away from the server under test. `--client reqwest` is the full-featured
//! alternative to compare with.

use std::{io, net::SocketAddr};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// Largest response head accepted.
const MAX_HEAD: usize = 64 * 1024;
/// Largest response accepted.
const MAX_RESPONSE: usize = 16 * 1024 * 1024;

/// The parts of a complete response the load generator needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Parsed {
    /// Status code.
    pub(crate) status: u16,
    /// Bytes of the whole response (head and body).
    pub(crate) len: usize,
    /// Whether the connection may carry another request.
    pub(crate) keep_alive: bool,
}

/// Builds the bytes of a request.
pub(crate) fn build_request(
    method: &str,
    host: &str,
    path: &str,
    headers: &[(String, String)],
    body: Option<&[u8]>,
) -> Vec<u8> {
    let mut r = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\n");
    for (k, v) in headers {
        r.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        r.push_str(&format!("Content-Length: {}\r\n", b.len()));
    } else if method != "GET" && method != "HEAD" {
        r.push_str("Content-Length: 0\r\n");
    }
    r.push_str("\r\n");
    let mut bytes = r.into_bytes();
    if let Some(b) = body {
        bytes.extend_from_slice(b);
    }
    bytes
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// Parses `buf` as the start of one response: `Ok(None)` while it is incomplete.
pub(crate) fn parse_response(buf: &[u8]) -> io::Result<Option<Parsed>> {
    let Some(head_len) = find(buf, b"\r\n\r\n").map(|p| p + 4) else {
        if buf.len() > MAX_HEAD {
            return Err(bad("response head too large"));
        }
        return Ok(None);
    };
    let head = std::str::from_utf8(&buf[..head_len - 4]).map_err(|_| bad("non-UTF-8 head"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(bad(format!("not an HTTP/1.x response: {status_line:?}")));
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad(format!("bad status line {status_line:?}")))?;
    let mut keep_alive = version == "HTTP/1.1";
    let mut content_length = None;
    let mut chunked = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Err(bad(format!("bad header line {line:?}")));
        };
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("content-length") {
            content_length = Some(
                value
                    .parse::<usize>()
                    .map_err(|_| bad("bad content-length"))?,
            );
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value
                .rsplit(',')
                .next()
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("chunked"));
        } else if name.eq_ignore_ascii_case("connection") {
            if value.eq_ignore_ascii_case("close") {
                keep_alive = false;
            } else if value.eq_ignore_ascii_case("keep-alive") {
                keep_alive = true;
            }
        }
    }
    let no_body = (100..200).contains(&status) || status == 204 || status == 304;
    let len = if no_body {
        Some(head_len)
    } else if chunked {
        chunked_len(&buf[head_len..])?.map(|n| head_len + n)
    } else if let Some(cl) = content_length {
        (buf.len() >= head_len + cl).then_some(head_len + cl)
    } else {
        return Err(bad("response without Content-Length or chunked body"));
    };
    match len {
        Some(len) => Ok(Some(Parsed {
            status,
            len,
            keep_alive,
        })),
        None if buf.len() > MAX_RESPONSE => Err(bad("response too large")),
        None => Ok(None),
    }
}

/// Length of a complete chunked body at the start of `b`, trailers included; `None` if more
/// bytes are needed.
fn chunked_len(b: &[u8]) -> io::Result<Option<usize>> {
    let mut pos = 0;
    loop {
        let Some(eol) = find(&b[pos..], b"\r\n") else {
            return Ok(None);
        };
        let line = std::str::from_utf8(&b[pos..pos + eol]).map_err(|_| bad("bad chunk size"))?;
        let size_hex = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_hex, 16).map_err(|_| bad("bad chunk size"))?;
        pos += eol + 2;
        if size == 0 {
            // Trailer lines, then an empty line.
            loop {
                let Some(eol) = find(&b[pos..], b"\r\n") else {
                    return Ok(None);
                };
                pos += eol + 2;
                if eol == 0 {
                    return Ok(Some(pos));
                }
            }
        }
        if b.len() < pos + size + 2 {
            return Ok(None);
        }
        if &b[pos + size..pos + size + 2] != b"\r\n" {
            return Err(bad("chunk not followed by CRLF"));
        }
        pos += size + 2;
    }
}

/// One keep-alive connection, reopened after an error or `Connection: close`.
#[derive(Debug)]
pub(crate) struct Connection {
    addr: SocketAddr,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
    /// How many times a connection was opened.
    pub(crate) connects: u64,
}

impl Connection {
    pub(crate) fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            stream: None,
            buf: Vec::with_capacity(8192),
            connects: 0,
        }
    }

    /// Opens the connection now (so that connecting is not part of the first request).
    pub(crate) async fn connect(&mut self) -> io::Result<()> {
        let stream = TcpStream::connect(self.addr).await?;
        stream.set_nodelay(true)?;
        self.stream = Some(stream);
        self.connects += 1;
        Ok(())
    }

    /// Sends `request` and reads its response; returns the status.
    pub(crate) async fn send(&mut self, request: &[u8]) -> io::Result<u16> {
        let result = self.exchange(request).await;
        match result {
            Ok(p) => {
                if !p.keep_alive {
                    self.stream = None;
                }
                Ok(p.status)
            }
            Err(e) => {
                self.stream = None;
                Err(e)
            }
        }
    }

    async fn exchange(&mut self, request: &[u8]) -> io::Result<Parsed> {
        if self.stream.is_none() {
            self.connect().await?;
        }
        let stream = self.stream.as_mut().expect("connected above");
        stream.write_all(request).await?;
        self.buf.clear();
        loop {
            if self.buf.capacity() - self.buf.len() < 4096 {
                self.buf.reserve(8192);
            }
            let n = stream.read_buf(&mut self.buf).await?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed before a whole response",
                ));
            }
            if let Some(p) = parse_response(&self.buf)? {
                if p.len != self.buf.len() {
                    return Err(bad("bytes after the response (nothing was pipelined)"));
                }
                return Ok(p);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_length_responses_complete_at_their_length() {
        let full = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 15\r\n\r\n{\"status\":\"ok\"}";
        for cut in 0..full.len() {
            assert_eq!(parse_response(&full[..cut]).unwrap(), None, "cut at {cut}");
        }
        assert_eq!(
            parse_response(full).unwrap(),
            Some(Parsed {
                status: 200,
                len: full.len(),
                keep_alive: true
            })
        );
    }

    #[test]
    fn chunked_responses_complete_after_the_last_chunk() {
        let full = b"HTTP/1.1 401 Unauthorized\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\nX-T: 1\r\n\r\n";
        for cut in 0..full.len() {
            assert_eq!(parse_response(&full[..cut]).unwrap(), None, "cut at {cut}");
        }
        let p = parse_response(full).unwrap().unwrap();
        assert_eq!((p.status, p.len), (401, full.len()));
    }

    #[test]
    fn connection_close_and_http_1_0_end_the_connection() {
        let close = b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n";
        assert!(!parse_response(close).unwrap().unwrap().keep_alive);
        let old = b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n";
        assert!(!parse_response(old).unwrap().unwrap().keep_alive);
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(parse_response(b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
        assert!(parse_response(b"HTTP/1.1 200 OK\r\n\r\n").is_err());
    }

    #[test]
    fn requests_carry_host_headers_and_length() {
        let r = build_request(
            "POST",
            "127.0.0.1:1",
            "/x",
            &[("Content-Type".into(), "application/json".into())],
            Some(b"{}"),
        );
        assert_eq!(
            r,
            b"POST /x HTTP/1.1\r\nHost: 127.0.0.1:1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
        );
    }

    #[tokio::test]
    async fn a_connection_talks_to_an_axum_server() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, crate::reference::router())
                .await
                .unwrap();
        });
        let mut c = Connection::new(addr);
        let req = build_request("GET", &addr.to_string(), "/", &[], None);
        for _ in 0..3 {
            assert_eq!(c.send(&req).await.unwrap(), 200);
        }
        let missing = build_request("GET", &addr.to_string(), "/nope", &[], None);
        assert_eq!(c.send(&missing).await.unwrap(), 404);
        assert_eq!(c.connects, 1);
    }
}
