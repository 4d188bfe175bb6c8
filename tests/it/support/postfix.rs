//! A private Postfix instance in a temp dir (never the system one), for the
//! tests that put matterwall behind Postfix (postfix_e2e.rs) or in front of
//! it as the next hop (next_hop_identity.rs). Installed by `.ci/run`.

use super::Client;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// The daemons every instance needs (chroot off: the queue is in a temp dir).
const SERVICES: &str = "\
pickup    unix n - n 60 1 pickup
cleanup   unix n - n - 0 cleanup
qmgr      unix n - n 300 1 qmgr
rewrite   unix - - n - - trivial-rewrite
bounce    unix - - n - 0 bounce
defer     unix - - n - 0 bounce
trace     unix - - n - 0 bounce
verify    unix - - n - 1 verify
flush     unix n - n 1000 0 flush
proxymap  unix - - n - - proxymap
smtp      unix - - n - - smtp
relay     unix - - n - - smtp
error     unix - - n - - error
retry     unix - - n - - error
discard   unix - - n - - discard
showq     unix n - n - - showq
scache    unix - - n - 1 scache
anvil     unix - - n - 1 anvil
postlog   unix-dgram n - n - 1 postlogd
";

pub struct Postfix {
    _dir: tempfile::TempDir,
    conf: PathBuf,
    log: PathBuf,
    pub port: u16,
}

impl Postfix {
    /// Starts a private instance whose `main.cf` and `master.cf` end with the
    /// given lines; it listens for the test client on `port`.
    pub async fn start(port: u16, main_extra: &str, master_extra: &str) -> Postfix {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        // The daemons run as the postfix user and must reach the queue.
        Command::new("chmod").arg("755").arg(d).status().unwrap();
        for sub in ["etc", "queue", "data"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        Command::new("chown")
            .arg("postfix")
            .arg(d.join("data"))
            .status()
            .unwrap();
        let main = format!(
            "compatibility_level = 3.6\nqueue_directory = {q}\ndata_directory = {data}\n\
             command_directory = /usr/sbin\ndaemon_directory = /usr/lib/postfix/sbin\n\
             meta_directory = /etc/postfix\nshlib_directory = /usr/lib/postfix\n\
             mail_owner = postfix\nsetgid_group = postdrop\nmaillog_file_prefixes = /tmp, /var\n\
             maillog_file = {log}\ninet_interfaces = 127.0.0.1\ninet_protocols = ipv4\n\
             myhostname = mta.firm.example\nmydomain = firm.example\nmyorigin = firm.example\n\
             mydestination =\nlocal_recipient_maps =\nmynetworks = 127.0.0.0/8\n\
             smtpd_relay_restrictions = permit_mynetworks, reject\nalias_maps =\nalias_database =\n\
             smtp_tls_security_level = none\nsmtpd_tls_security_level = none\n{main_extra}\n",
            q = d.join("queue").display(),
            data = d.join("data").display(),
            log = d.join("maillog").display(),
        );
        std::fs::write(d.join("etc/main.cf"), main).unwrap();
        std::fs::write(
            d.join("etc/master.cf"),
            format!("{SERVICES}{master_extra}\n"),
        )
        .unwrap();
        let conf = d.join("etc");
        let out = Command::new("postfix")
            .arg("-c")
            .arg(&conf)
            .arg("start")
            .output();
        let out = out.expect("postfix is not installed: run .ci/run, which installs it");
        let pf = Postfix {
            log: d.join("maillog"),
            conf,
            port,
            _dir: dir,
        };
        assert!(out.status.success(), "postfix start failed: {}", pf.log());
        for _ in 0..200 {
            if Client::connect(port).await.is_ok() {
                return pf;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("postfix did not listen on {port}: {}", pf.log());
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A `master.cf` line for an smtpd on loopback `port`.
    pub fn smtpd_line(port: u16) -> String {
        format!("127.0.0.1:{port} inet n - n - - smtpd\n")
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let _ = Command::new("postfix")
            .arg("-c")
            .arg(&self.conf)
            .arg("stop")
            .output();
    }
}
