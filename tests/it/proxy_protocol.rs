//! The PROXY protocol behind a real load balancer: Debian's `haproxy`
//! (installed by `.ci/run`) in front of matterwall, one frontend sending
//! v1 (`send-proxy`), one v2 (`send-proxy-v2`). HAProxy connects from
//! 127.0.0.1, the only address in `proxy_protocol_from`; the clients come
//! from other loopback addresses, and only 127.0.0.5 is in
//! `allowed_networks`: so a client is admitted (or refused) by the address
//! the header carries, never by the balancer's, and that address is what
//! the log shows. A PROXY line sent straight to matterwall from an address
//! not listed is refused.

use crate::support::{free_port, Client, Setup, Sink, SinkMode};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CLEAN: &[u8] = b"From: a.partner@firm.example\r\nTo: friend@partner.example\r\nSubject: lunch\r\n\r\nAre we still on for Friday?\r\n";

struct HaProxy {
    child: Child,
    v1: u16,
    v2: u16,
    _dir: tempfile::TempDir,
}

impl HaProxy {
    async fn start(matterwall: u16) -> HaProxy {
        let dir = tempfile::tempdir().unwrap();
        let (v1, v2) = (free_port(), free_port());
        let cfg = format!(
            "global\n    maxconn 100\n\
             defaults\n    mode tcp\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n\
             frontend v1\n    bind 127.0.0.1:{v1}\n    default_backend mw1\n\
             frontend v2\n    bind 127.0.0.1:{v2}\n    default_backend mw2\n\
             backend mw1\n    server mw 127.0.0.1:{matterwall} send-proxy source 127.0.0.1\n\
             backend mw2\n    server mw 127.0.0.1:{matterwall} send-proxy-v2 source 127.0.0.1\n"
        );
        let path = dir.path().join("haproxy.cfg");
        std::fs::write(&path, cfg).unwrap();
        let child = Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&path)
            .stdout(Stdio::null())
            .spawn()
            .expect("haproxy is not installed: run .ci/run, which installs it");
        for _ in 0..200 {
            let up = |p| std::net::TcpStream::connect(("127.0.0.1", p)).is_ok();
            if up(v1) && up(v2) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        HaProxy {
            child,
            v1,
            v2,
            _dir: dir,
        }
    }
}

impl Drop for HaProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn send_from(from: &str, port: u16) -> (u16, String) {
    let (mut c, banner) = Client::connect_from(from, port).await.unwrap();
    if banner.0 != 220 {
        return banner;
    }
    c.mail("a.partner@firm.example", &["friend@partner.example"], CLEAN)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn haproxy_v1_and_v2_carry_the_client_address() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let extra = "allowed_networks = [\"127.0.0.5/32\"]\nproxy_protocol_from = [\"127.0.0.1/32\"]";
    let setup = Setup::new(sink.port, extra);
    let server = setup.serve().await;
    let lb = HaProxy::start(server.port).await;
    for port in [lb.v1, lb.v2] {
        let (code, text) = send_from("127.0.0.5", port).await;
        assert_eq!(code, 250, "{text}\n{}", server.log());
        let (code, text) = send_from("127.0.0.6", port).await;
        assert_eq!(code, 554, "not in allowed_networks: {text}");
    }
    assert_eq!(sink.messages().len(), 2);
    let log = server.log();
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("action=\"pass\"") || l.contains("action=pass"))
        .collect();
    assert_eq!(lines.len(), 2, "{log}");
    assert!(lines.iter().all(|l| l.contains("127.0.0.5:")), "{lines:?}");
    assert!(
        log.contains("127.0.0.6"),
        "the refused client is logged by its own address"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_header_from_anyone_else_is_refused() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let extra = "proxy_protocol_from = [\"127.0.0.9/32\"]";
    let setup = Setup::new(sink.port, extra);
    let server = setup.serve().await;
    // A v1 line straight from an allowed client claiming another address.
    let (mut c, banner) = Client::connect_from("127.0.0.5", server.port)
        .await
        .unwrap();
    assert_eq!(banner.0, 220);
    let (code, text) = c.cmd("PROXY TCP4 192.0.2.7 127.0.0.1 40000 25").await;
    assert_eq!(code, 554, "{text}");
    assert_eq!(c.cmd("EHLO x").await.0, 0, "the connection is closed");
    // And the listed balancer must send one: a command instead of the
    // header ends the connection without a word.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.9:0".parse().unwrap()).unwrap();
    let mut s = socket
        .connect(([127, 0, 0, 1], server.port).into())
        .await
        .unwrap();
    s.write_all(b"EHLO client.example\r\n").await.unwrap();
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut got)).await;
    assert!(read.is_ok(), "closed at once");
    assert!(
        got.is_empty(),
        "no banner: {:?}",
        String::from_utf8_lossy(&got)
    );
    assert!(sink.messages().is_empty());
    server.stop().await;
}
