//! The PROXY protocol (HAProxy's, v1 text and v2 binary), read before the
//! banner on connections from `[smtp] proxy_protocol_from` (a load balancer
//! in front of several nodes): the client address it carries is the one
//! `allowed_networks` and the logs see. Exactly the header's bytes are read
//! (the client is waiting for our banner, so nothing else can be behind it);
//! anything malformed ends the connection. From any other address a PROXY
//! header is not read at all: the session refuses it as a command.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};

const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
/// v1's longest line (spec §2.1), CRLF included.
const V1_MAX: usize = 107;
/// More than any address block with the TLVs a balancer adds.
const V2_MAX_LEN: usize = 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum ProxyError {
    #[error("no PROXY header from a listed load balancer")]
    Missing,
    #[error("malformed PROXY header")]
    Malformed,
    #[error("the PROXY header did not arrive in time")]
    Timeout,
    #[error("connection closed during the PROXY header")]
    Closed,
}

/// Reads one header; returns the client it names, or `local` (the
/// balancer's own connection: v2 `LOCAL`, v1 `UNKNOWN`, a health check).
pub(crate) async fn read_header<S: AsyncRead + Unpin>(
    s: &mut S,
    local: SocketAddr,
    limit: Duration,
) -> Result<SocketAddr, ProxyError> {
    match tokio::time::timeout(limit, read_now(s, local)).await {
        Ok(r) => r,
        Err(_) => Err(ProxyError::Timeout),
    }
}

async fn read_now<S: AsyncRead + Unpin>(
    s: &mut S,
    local: SocketAddr,
) -> Result<SocketAddr, ProxyError> {
    let closed = |_| ProxyError::Closed;
    let mut head = [0u8; 12];
    s.read_exact(&mut head).await.map_err(closed)?;
    if head == V2_SIGNATURE {
        let mut fixed = [0u8; 4];
        s.read_exact(&mut fixed).await.map_err(closed)?;
        let len = usize::from(u16::from_be_bytes([fixed[2], fixed[3]]));
        if len > V2_MAX_LEN {
            return Err(ProxyError::Malformed);
        }
        let mut rest = vec![0u8; len];
        s.read_exact(&mut rest).await.map_err(closed)?;
        return parse_v2(fixed[0], fixed[1], &rest, local);
    }
    if !head.starts_with(b"PROXY ") {
        return Err(ProxyError::Missing);
    }
    let mut line = head.to_vec();
    while !line.ends_with(b"\r\n") {
        if line.len() >= V1_MAX {
            return Err(ProxyError::Malformed);
        }
        line.push(s.read_u8().await.map_err(closed)?);
    }
    parse_v1(&line, local)
}

/// `PROXY TCP4|TCP6 SRC DST SPORT DPORT\r\n`, or `PROXY UNKNOWN…\r\n`.
pub(crate) fn parse_v1(line: &[u8], local: SocketAddr) -> Result<SocketAddr, ProxyError> {
    let text = std::str::from_utf8(line).map_err(|_| ProxyError::Malformed)?;
    let text = text.strip_suffix("\r\n").ok_or(ProxyError::Malformed)?;
    let parts: Vec<&str> = text.split(' ').collect();
    match parts.as_slice() {
        ["PROXY", "UNKNOWN", ..] => Ok(local),
        ["PROXY", family, src, _dst, sport, _dport] => {
            let ip: IpAddr = src.parse().map_err(|_| ProxyError::Malformed)?;
            let port: u16 = sport.parse().map_err(|_| ProxyError::Malformed)?;
            let fits = matches!(
                (*family, ip),
                ("TCP4", IpAddr::V4(_)) | ("TCP6", IpAddr::V6(_))
            );
            if !fits {
                return Err(ProxyError::Malformed);
            }
            Ok(SocketAddr::new(ip, port))
        }
        _ => Err(ProxyError::Malformed),
    }
}

/// The v2 header after its signature: version/command, family, addresses.
pub(crate) fn parse_v2(
    ver_cmd: u8,
    family: u8,
    rest: &[u8],
    local: SocketAddr,
) -> Result<SocketAddr, ProxyError> {
    if ver_cmd >> 4 != 2 {
        return Err(ProxyError::Malformed);
    }
    match ver_cmd & 0x0f {
        0 => return Ok(local), // LOCAL: the balancer itself
        1 => {}
        _ => return Err(ProxyError::Malformed),
    }
    match family {
        // TCP over IPv4: src, dst, sport, dport.
        0x11 if rest.len() >= 12 => {
            let ip = Ipv4Addr::new(rest[0], rest[1], rest[2], rest[3]);
            Ok(SocketAddr::new(
                ip.into(),
                u16::from_be_bytes([rest[8], rest[9]]),
            ))
        }
        0x21 if rest.len() >= 36 => {
            let mut octets = [0u8; 16];
            octets.copy_from_slice(&rest[..16]);
            let port = u16::from_be_bytes([rest[32], rest[33]]);
            Ok(SocketAddr::new(Ipv6Addr::from(octets).into(), port))
        }
        0x00 => Ok(local),
        _ => Err(ProxyError::Malformed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> SocketAddr {
        "10.0.0.2:25".parse().unwrap()
    }

    async fn read(bytes: &[u8]) -> (Result<SocketAddr, ProxyError>, usize) {
        let mut s = bytes;
        let r = read_header(&mut s, local(), Duration::from_secs(1)).await;
        (r, bytes.len() - s.len())
    }

    #[tokio::test]
    async fn v1_and_v2_name_the_client_and_nothing_more_is_read() {
        let v1 = b"PROXY TCP4 192.0.2.7 10.0.0.2 40000 25\r\nEHLO x\r\n";
        assert_eq!(read(v1).await, (Ok("192.0.2.7:40000".parse().unwrap()), 40));
        let v6 = b"PROXY TCP6 2001:db8::7 2001:db8::2 40000 25\r\n";
        assert_eq!(read(v6).await.0, Ok("[2001:db8::7]:40000".parse().unwrap()));
        assert_eq!(read(b"PROXY UNKNOWN\r\n").await.0, Ok(local()));
        let mut v2 = V2_SIGNATURE.to_vec();
        v2.extend_from_slice(&[
            0x21, 0x11, 0, 12, 192, 0, 2, 7, 10, 0, 0, 2, 0x9c, 0x40, 0, 25,
        ]);
        v2.extend_from_slice(b"EHLO x\r\n");
        assert_eq!(
            read(&v2).await,
            (Ok("192.0.2.7:40000".parse().unwrap()), 28)
        );
        let mut health = V2_SIGNATURE.to_vec();
        health.extend_from_slice(&[0x20, 0x00, 0, 0]);
        assert_eq!(read(&health).await.0, Ok(local()));
    }

    #[tokio::test]
    async fn anything_else_is_refused() {
        assert_eq!(
            read(b"EHLO client.example\r\n").await.0,
            Err(ProxyError::Missing)
        );
        assert_eq!(
            read(b"PROXY TCP4 192.0.2.7 10.0.0.2 x 25\r\n").await.0,
            Err(ProxyError::Malformed)
        );
        assert_eq!(
            read(b"PROXY TCP6 192.0.2.7 10.0.0.2 1 25\r\n").await.0,
            Err(ProxyError::Malformed)
        );
        let long = format!("PROXY TCP4 {}\r\n", "1".repeat(200));
        assert_eq!(read(long.as_bytes()).await.0, Err(ProxyError::Malformed));
        assert_eq!(
            read(b"PROXY TCP4 192.0.2.7").await.0,
            Err(ProxyError::Closed)
        );
        let mut v3 = V2_SIGNATURE.to_vec();
        v3.extend_from_slice(&[0x31, 0x11, 0, 12]);
        v3.extend_from_slice(&[0; 12]);
        assert_eq!(read(&v3).await.0, Err(ProxyError::Malformed));
    }
}
