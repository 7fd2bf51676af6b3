//! The client side of the proxy: a minimal HTTP/1.1 server with keep-alive, enough for
//! the AWS SDKs' query- and JSON-protocol requests (a body with Content-Length, no chunked
//! upload).
//! Owning the socket is what lets the proxy reset a connection on purpose.

use std::io;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 16 * 1024 * 1024;

pub struct Request {
    pub method: String,
    /// The request target: path and query.
    pub target: String,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Bytes,
    /// The client asked to close the connection after this exchange.
    pub close: bool,
}

impl Request {
    /// The value of the first header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }
}

pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Bytes,
}

impl Response {
    pub fn new(status: u16, content_type: &str, body: impl Into<Bytes>) -> Self {
        Response {
            status,
            headers: vec![("Content-Type".into(), content_type.as_bytes().to_vec())],
            body: body.into(),
        }
    }
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_string())
}

/// Reads the next request on a connection; `None` when the client closed it between requests.
pub async fn read_request(
    stream: &mut TcpStream,
    buf: &mut BytesMut,
) -> io::Result<Option<Request>> {
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut parsed = httparse::Request::new(&mut headers);
        match parsed.parse(buf).map_err(|e| invalid(&e.to_string()))? {
            httparse::Status::Complete(head_len) => {
                let method = parsed.method.unwrap_or("GET").to_string();
                let target = parsed.path.unwrap_or("/").to_string();
                let version = parsed.version.unwrap_or(1);
                let headers: Vec<(String, Vec<u8>)> = parsed
                    .headers
                    .iter()
                    .map(|h| (h.name.to_string(), h.value.to_vec()))
                    .collect();
                let get = |name: &str| {
                    headers
                        .iter()
                        .find(|(n, _)| n.eq_ignore_ascii_case(name))
                        .map(|(_, v)| String::from_utf8_lossy(v).to_ascii_lowercase())
                };
                if get("transfer-encoding").is_some() {
                    return Err(invalid("chunked request bodies are not supported"));
                }
                let length: usize = match get("content-length") {
                    Some(v) => v
                        .trim()
                        .parse()
                        .map_err(|_| invalid("bad Content-Length"))?,
                    None => 0,
                };
                if length > MAX_BODY {
                    return Err(invalid("request body too large"));
                }
                let close = match get("connection") {
                    Some(v) if v.contains("close") => true,
                    Some(v) if v.contains("keep-alive") => false,
                    _ => version == 0,
                };
                while buf.len() < head_len + length {
                    if stream.read_buf(buf).await? == 0 {
                        return Err(invalid("connection closed in the middle of a request body"));
                    }
                }
                let mut request_bytes = buf.split_to(head_len + length);
                let body = request_bytes.split_off(head_len).freeze();
                return Ok(Some(Request {
                    method,
                    target,
                    headers,
                    body,
                    close,
                }));
            }
            httparse::Status::Partial => {
                if buf.len() > MAX_HEAD {
                    return Err(invalid("request head too large"));
                }
                if stream.read_buf(buf).await? == 0 {
                    return if buf.is_empty() {
                        Ok(None)
                    } else {
                        Err(invalid("connection closed in the middle of a request head"))
                    };
                }
            }
        }
    }
}

/// Headers that describe one connection, not the message: never copied across the proxy.
pub fn is_hop_by_hop(name: &str) -> bool {
    [
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "content-length",
    ]
    .iter()
    .any(|h| name.eq_ignore_ascii_case(h))
}

pub async fn write_response(
    stream: &mut TcpStream,
    response: &Response,
    close: bool,
) -> io::Result<()> {
    let mut out = head(response, close);
    out.extend_from_slice(&response.body);
    stream.write_all(&out).await?;
    stream.flush().await
}

/// Writes the response's head at once, then its body a byte a second: an answer that
/// starts in time and never ends in time. Stops when the client goes away.
pub async fn write_trickle(stream: &mut TcpStream, response: &Response) -> io::Result<()> {
    stream.write_all(&head(response, true)).await?;
    stream.flush().await?;
    for byte in response.body.iter() {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        stream.write_all(&[*byte]).await?;
        stream.flush().await?;
    }
    Ok(())
}

/// The status line and headers of `response`, with its length.
fn head(response: &Response, close: bool) -> Vec<u8> {
    let reason = hyper::StatusCode::from_u16(response.status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Unknown");
    let mut out = Vec::with_capacity(256 + response.body.len());
    out.extend_from_slice(format!("HTTP/1.1 {} {reason}\r\n", response.status).as_bytes());
    for (name, value) in &response.headers {
        if is_hop_by_hop(name) {
            continue;
        }
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("Content-Length: {}\r\n", response.body.len()).as_bytes());
    if close {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}
