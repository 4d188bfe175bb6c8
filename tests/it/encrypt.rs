//! The encrypt action end to end: the server (in-process), on the
//! shipped policy and the labelled corpus's dictionaries, between a test
//! client and the sink of `support`; what reaches the sink is decrypted by
//! the real tools — `openssl cms -decrypt` with the corpus's private keys,
//! `gpg --decrypt` with keyrings made here — and must give back the original
//! content part for part (bodies, attachments, file names).

use crate::support;
use crate::support::{Client, Got, Ports, Server, Sink, SinkMode};
use mail_parser::{MessageParser, MimeHeaders, PartType};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

// ---- the proxy under test ---------------------------------------------

/// A config in a temp dir: the shipped `matterwall.toml` (its policy as
/// is), the corpus dictionaries, a `certs/` holding the corpus certificates
/// plus whatever a test adds.
struct Proxy {
    dir: tempfile::TempDir,
    ports: Ports,
    port: u16,
    sink: u16,
}

impl Proxy {
    fn new(sink: &Sink) -> Proxy {
        let dir = tempfile::tempdir().unwrap();
        let certs = dir.path().join("certs");
        std::fs::create_dir(&certs).unwrap();
        for e in std::fs::read_dir(support::corpus().join("certs")).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), certs.join(e.file_name())).unwrap();
        }
        let ports = Ports::bind();
        let p = Proxy {
            dir,
            port: ports.smtp(),
            ports,
            sink: sink.port,
        };
        p.write(None, &[]);
        p
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn certs(&self) -> PathBuf {
        self.path("certs")
    }

    fn config(&self) -> PathBuf {
        self.path("matterwall.toml")
    }

    /// Writes the config; `fallback` overrides the encrypt rule's, and
    /// `encrypt` is the `[encrypt]` table.
    fn write(&self, fallback: Option<&str>, encrypt: &[(&str, &str)]) {
        let shipped =
            std::fs::read_to_string(support::repo().join("rules/matterwall.toml")).unwrap();
        let shipped = shipped.split("[[example]]").next().unwrap();
        let mut t: toml::Table = shipped.parse().unwrap();
        let corpus = support::corpus();
        let s = |v: String| toml::Value::String(v);
        for f in ["clients", "matters", "waivers"] {
            let file = corpus.join(format!("{f}.csv")).display().to_string();
            set(&mut t, "dictionaries", f, s(file));
        }
        set(
            &mut t,
            "dictionaries",
            "certs",
            s(self.certs().display().to_string()),
        );
        set(
            &mut t,
            "smtp",
            "listen",
            s(format!("127.0.0.1:{}", self.port)),
        );
        set(
            &mut t,
            "next_hop",
            "address",
            s(format!("127.0.0.1:{}", self.sink)),
        );
        for k in [
            "connect_timeout_secs",
            "command_timeout_secs",
            "data_done_timeout_secs",
        ] {
            set(&mut t, "next_hop", k, toml::Value::Integer(5));
        }
        set(&mut t, "store", "url", s("sqlite://data/mw.db".into()));
        let http = self.ports.review();
        set(&mut t, "review", "listen", s(format!("127.0.0.1:{http}")));
        if let Some(f) = fallback {
            let rules = t["rule"].as_array_mut().unwrap();
            let rule = rules
                .iter_mut()
                .find(|r| r["action"].as_str() == Some("encrypt"))
                .expect("the shipped policy has an encrypt rule");
            rule.as_table_mut()
                .unwrap()
                .insert("fallback".into(), s(f.into()));
        }
        for (k, v) in encrypt {
            set(&mut t, "encrypt", k, s(v.to_string()));
        }
        std::fs::write(self.config(), toml::to_string(&t).unwrap()).unwrap();
    }

    async fn serve(&self) -> Server {
        Server::start(&self.config(), &self.ports).await
    }

    fn cli(&self, args: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_matterwall"))
            .arg("--config")
            .arg(self.config())
            .args(args)
            .output()
            .unwrap()
    }
}

fn set(t: &mut toml::Table, table: &str, key: &str, value: toml::Value) {
    t.entry(table)
        .or_insert_with(|| toml::Value::Table(Default::default()))
        .as_table_mut()
        .unwrap()
        .insert(key.into(), value);
}

// ---- the real tools -----------------------------------------------------

fn run(cmd: &mut Command, input: &[u8]) -> Vec<u8> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `openssl cms -decrypt` of a whole S/MIME message with a private key.
fn openssl_decrypt(message: &[u8], key: &Path) -> Vec<u8> {
    run(
        Command::new("openssl")
            .args(["cms", "-decrypt", "-inkey"])
            .arg(key),
        message,
    )
}

/// A GnuPG home with one key pair for `addr`, made by gpg itself.
struct Gpg {
    home: tempfile::TempDir,
}

impl Gpg {
    /// `algo`: `default` (RSA) or `future-default` (Curve25519).
    fn new(addr: &str, algo: &str) -> Gpg {
        let home = tempfile::tempdir().unwrap();
        let g = Gpg { home };
        let uid = format!("Test Key <{addr}>");
        g.gpg(
            &[
                "--passphrase",
                "",
                "--quick-gen-key",
                &uid,
                algo,
                "default",
                "never",
            ],
            b"",
        );
        g
    }

    /// A key made as if on 2020-01-01 with a one-year life: expired now.
    fn expired(addr: &str) -> Gpg {
        let home = tempfile::tempdir().unwrap();
        let g = Gpg { home };
        let uid = format!("Old Key <{addr}>");
        let args = [
            "--faked-system-time",
            "20200101T000000!",
            "--passphrase",
            "",
        ];
        g.gpg(
            &[
                &args[..],
                &["--quick-gen-key", &uid, "default", "default", "1y"],
            ]
            .concat(),
            b"",
        );
        g
    }

    fn gpg(&self, args: &[&str], input: &[u8]) -> Vec<u8> {
        run(
            Command::new("gpg")
                .arg("--homedir")
                .arg(self.home.path())
                .args(["--batch", "--pinentry-mode", "loopback"])
                .args(args),
            input,
        )
    }

    /// The armored public key, written where matterwall looks for it.
    fn export_to(&self, addr: &str, file: &Path) {
        let key = self.gpg(&["--armor", "--export", addr], b"");
        assert!(key.starts_with(b"-----BEGIN PGP PUBLIC KEY BLOCK-----"));
        std::fs::write(file, key).unwrap();
    }

    fn decrypt(&self, armored: &[u8]) -> Vec<u8> {
        self.gpg(&["--decrypt"], armored)
    }
}

impl Drop for Gpg {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .arg("--homedir")
            .arg(self.home.path())
            .args(["--kill", "gpg-agent"])
            .status();
    }
}

/// The armored block of a PGP/MIME message, found through its MIME
/// structure (RFC 3156 §4).
fn pgp_payload(message: &[u8]) -> Vec<u8> {
    let msg = MessageParser::default().parse(message).unwrap();
    let ct = msg.content_type().unwrap();
    assert_eq!((ct.ctype(), ct.subtype()), ("multipart", Some("encrypted")));
    assert_eq!(ct.attribute("protocol"), Some("application/pgp-encrypted"));
    let parts: Vec<_> = msg.parts.iter().skip(1).collect();
    assert_eq!(parts.len(), 2, "version part and payload");
    let version = parts[0].content_type().unwrap();
    assert_eq!(version.subtype(), Some("pgp-encrypted"));
    assert!(String::from_utf8_lossy(parts[0].contents()).contains("Version: 1"));
    parts[1].contents().to_vec()
}

// ---- comparing content ---------------------------------------------------

/// Every part: its type, file name and decoded body.
fn parts(raw: &[u8]) -> Vec<(String, Option<String>, Vec<u8>)> {
    let msg = MessageParser::default().parse(raw).expect("parses");
    msg.parts
        .iter()
        .map(|p| {
            let ty = p
                .content_type()
                .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or("")))
                .unwrap_or_else(|| "text/plain".into());
            let body = match &p.body {
                PartType::Multipart(_) => Vec::new(),
                _ => p.contents().to_vec(),
            };
            (ty, p.attachment_name().map(str::to_string), body)
        })
        .collect()
}

/// The decrypted entity is the original's content part: the same parts,
/// and the original body byte for byte at its end.
fn assert_same_content(original: &[u8], decrypted: &[u8]) {
    assert_eq!(parts(decrypted), parts(original));
    let at = original.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let body = &original[at + 4..];
    assert!(decrypted.ends_with(body), "the body is not the original's");
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The longest line below the header: what must not be found in clear.
fn longest_body_line(raw: &[u8]) -> &[u8] {
    let at = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    raw[at + 4..]
        .split(|b| *b == b'\n')
        .max_by_key(|l| l.len())
        .unwrap()
}

fn header<'a>(message: &'a [u8], name: &str) -> Option<&'a str> {
    let at = message.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&message[..at]).ok()?;
    head.split("\r\n")
        .find_map(|l| {
            l.split_once(':')
                .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        })
        .map(|(_, v)| v.trim())
}

/// The `add_header` of the shipped encrypt rule, as `(name, value)`.
fn rule_header() -> (String, String) {
    let shipped = std::fs::read_to_string(support::repo().join("rules/matterwall.toml")).unwrap();
    let t: toml::Table = shipped.parse().unwrap();
    let rule = t["rule"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["action"].as_str() == Some("encrypt"))
        .unwrap();
    let h = rule["add_header"]
        .as_str()
        .expect("the encrypt rule adds a header");
    let (name, value) = h.split_once(':').unwrap();
    (name.trim().to_string(), value.trim().to_string())
}

/// `raw` as a plain copy leaves: the rule's header field on top.
fn with_rule_header(raw: &[u8]) -> Vec<u8> {
    let (name, value) = rule_header();
    let mut out = format!("{name}: {value}\r\n").into_bytes();
    out.extend_from_slice(raw);
    out
}

fn the_copy_for<'a>(got: &'a [Got], rcpt: &str) -> &'a Got {
    let found: Vec<&Got> = got
        .iter()
        .filter(|g| g.rcpts.iter().any(|r| r == rcpt))
        .collect();
    assert_eq!(found.len(), 1, "copies for {rcpt}: {got:#?}");
    found[0]
}

fn is_smime(g: &Got) -> bool {
    header(&g.body, "content-type").is_some_and(|c| c.contains("application/pkcs7-mime"))
}

fn corpus_message(name: &str) -> Vec<u8> {
    std::fs::read(support::corpus().join("msgs").join(name)).unwrap()
}

fn corpus_key(addr: &str) -> PathBuf {
    support::corpus().join("keys").join(format!("{addr}.key"))
}

const SENDER: &str = "b.associate@firm.example";

async fn send(proxy: &Proxy, to: &[&str], raw: &[u8]) -> (u16, String) {
    let mut c = Client::connect(proxy.port).await.unwrap();
    c.mail(SENDER, to, raw).await
}

// ---- the tests -----------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corpus_encrypt_cases_arrive_encrypted_and_decrypt_to_the_original() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let proxy = Proxy::new(&sink);
    let server = proxy.serve().await;
    let expected = std::fs::read_to_string(support::corpus().join("expected.jsonl")).unwrap();
    let mut cases = 0;
    for line in expected.lines().filter(|l| !l.trim().is_empty()) {
        let case: serde_json::Value = serde_json::from_str(line).unwrap();
        if case["action"] != "encrypt" {
            continue;
        }
        cases += 1;
        let file = case["file"].as_str().unwrap();
        let raw = corpus_message(file);
        let from = case["from"].as_str().unwrap();
        let to: Vec<&str> = case["to"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let before = sink.messages().len();
        let mut c = Client::connect(proxy.port).await.unwrap();
        let (code, text) = c.mail(from, &to, &raw).await;
        assert_eq!(code, 250, "{file}: {text}\n{}", server.log());
        let got = sink.messages();
        assert_eq!(
            got.len(),
            before + to.len(),
            "{file}: one copy per recipient key"
        );
        for rcpt in &to {
            let copy = the_copy_for(&got[before..], rcpt);
            assert!(is_smime(copy), "{file}: not S/MIME for {rcpt}");
            assert!(
                !contains(&copy.body, longest_body_line(&raw)),
                "{file}: body in clear"
            );
            for h in ["from", "to", "date", "message-id", "subject"] {
                assert_eq!(header(&copy.body, h), header(&raw, h), "{file}: {h}");
            }
            let plain = openssl_decrypt(&copy.body, &corpus_key(rcpt));
            assert_same_content(&raw, &plain);
        }
    }
    assert!(cases >= 3, "only {cases} corpus cases expect encrypt");
    assert!(proxy
        .cli(&["quarantine", "list", "--json"])
        .stdout
        .starts_with(b"[]"));
    server.stop().await;
}

/// A message about Wicksilver Telecom (a corpus client whose domain is
/// `wicksilver-telecom.fr`) with an HTML alternative and two attachments,
/// one with an encoded file name.
fn rich_message() -> Vec<u8> {
    let text = "From: b.associate@firm.example\r\n\
To: counsel@wicksilver-telecom.fr\r\n\
Subject: Wicksilver Telecom: the signed agreement\r\n\
Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n\
Message-ID: <rich-1@firm.example>\r\n\
X-Mailer: Client 1.0\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"outer\"\r\n\
\r\n\
--outer\r\n\
Content-Type: multipart/alternative; boundary=\"alt\"\r\n\
\r\n\
--alt\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
Advice for Wicksilver Telecom, as agreed =E2=80=93 see attached.\r\n\
--alt\r\n\
Content-Type: text/html; charset=utf-8\r\n\
\r\n\
<p>Advice for <b>Wicksilver Telecom</b>, as agreed.</p>\r\n\
--alt--\r\n\
--outer\r\n\
Content-Type: text/csv; name=\"figures.csv\"\r\n\
Content-Disposition: attachment; filename=\"figures.csv\"\r\n\
\r\n\
year,amount\r\n\
2026,1000\r\n\
--outer\r\n\
Content-Type: image/png\r\n\
Content-Disposition: attachment; filename*=utf-8''acc%C3%B4rd%20sign%C3%A9.png\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==\r\n\
--outer--\r\n";
    text.as_bytes().to_vec()
}

const SMIME_RCPT: &str = "counsel@wicksilver-telecom.fr";
const PGP_RSA: &str = "pgp.rsa@wicksilver-telecom.fr";
const PGP_25519: &str = "pgp.ecc@wicksilver-telecom.fr";
const INTERNAL: &str = "colleague@firm.example";
const NO_KEY: &str = "nokey@wicksilver-telecom.fr";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_recipients_get_one_copy_each_and_the_fallback_decides_for_the_keyless() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let proxy = Proxy::new(&sink);
    let rsa = Gpg::new(PGP_RSA, "default");
    rsa.export_to(PGP_RSA, &proxy.certs().join(format!("{PGP_RSA}.asc")));
    let ecc = Gpg::new(PGP_25519, "future-default");
    ecc.export_to(PGP_25519, &proxy.certs().join(format!("{PGP_25519}.asc")));
    let raw = rich_message();
    let all = [SMIME_RCPT, PGP_RSA, INTERNAL, NO_KEY, PGP_25519];

    // The shipped fallback, hold: one keyless recipient holds it all.
    let server = proxy.serve().await;
    let (code, text) = send(&proxy, &all, &raw).await;
    assert_eq!(code, 250, "{text}");
    assert!(text.contains("held as"), "{text}");
    assert!(
        sink.messages().is_empty(),
        "nothing leaves when one recipient has no key"
    );
    server.stop().await;

    // fallback = "pass": the keyless go in clear with the internal one.
    proxy.write(Some("pass"), &[]);
    let server = proxy.serve().await;
    let (code, text) = send(&proxy, &all, &raw).await;
    assert_eq!(code, 250, "{text}\n{}", server.log());
    let got = sink.messages();
    assert_eq!(got.len(), 4, "S/MIME, two OpenPGP, one plain: {got:#?}");
    let plain = the_copy_for(&got, INTERNAL);
    assert_eq!(plain.rcpts, [INTERNAL, NO_KEY]);
    assert_eq!(
        plain.body,
        with_rule_header(&raw),
        "the plain copy is the original"
    );
    let smime = the_copy_for(&got, SMIME_RCPT);
    assert_eq!(smime.rcpts, [SMIME_RCPT]);
    assert_same_content(&raw, &openssl_decrypt(&smime.body, &corpus_key(SMIME_RCPT)));
    for (addr, gpg) in [(PGP_RSA, &rsa), (PGP_25519, &ecc)] {
        let copy = the_copy_for(&got, addr);
        assert_eq!(copy.rcpts, [addr]);
        assert_same_content(&raw, &gpg.decrypt(&pgp_payload(&copy.body)));
        assert_eq!(
            header(&copy.body, "x-mailer"),
            None,
            "only addressing stays in clear"
        );
        assert_eq!(
            header(&copy.body, "message-id"),
            Some("<rich-1@firm.example>")
        );
    }
    let log = server.log();
    assert!(
        log.contains("no usable encryption key") && log.contains(NO_KEY),
        "{log}"
    );
    for (kind, n) in [("smime", 1), ("openpgp", 2), ("plain", 1)] {
        let lines = log
            .lines()
            .filter(|l| l.contains(&format!("kind=\"{kind}\"")));
        assert_eq!(
            lines.filter(|l| l.contains("reply=250")).count(),
            n,
            "{log}"
        );
    }
    server.stop().await;
}

/// A certificate for `addr` made here with the fixture RSA key (valid
/// 2020–2100, keyEncipherment, emailProtection), changed by `tweak`.
fn made_cert(addr: &str, tweak: impl FnOnce(&mut rcgen::CertificateParams)) -> String {
    let pem = std::fs::read_to_string(
        support::repo().join("fixtures/keys/legal@harrowgate-shipping.com.key"),
    )
    .unwrap();
    let key = rcgen::KeyPair::from_pkcs8_pem_and_sign_algo(&pem, &rcgen::PKCS_RSA_SHA256).unwrap();
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    p.not_before = rcgen::date_time_ymd(2020, 1, 1);
    p.not_after = rcgen::date_time_ymd(2100, 1, 1);
    p.key_usages = vec![rcgen::KeyUsagePurpose::KeyEncipherment];
    p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::EmailProtection];
    p.subject_alt_names = vec![rcgen::SanType::Rfc822Name(addr.try_into().unwrap())];
    tweak(&mut p);
    p.self_signed(&key).unwrap().pem()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_certificates_fall_back_and_say_why() {
    const EXPIRED: &str = "old@wicksilver-telecom.fr";
    const SIGN_ONLY: &str = "signer@wicksilver-telecom.fr";
    const OLD_PGP: &str = "old.pgp@wicksilver-telecom.fr";
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let proxy = Proxy::new(&sink);
    let expired = made_cert(EXPIRED, |p| p.not_after = rcgen::date_time_ymd(2022, 3, 31));
    let sign_only = made_cert(SIGN_ONLY, |p| {
        p.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature]
    });
    std::fs::write(proxy.certs().join(format!("{EXPIRED}.pem")), expired).unwrap();
    std::fs::write(proxy.certs().join(format!("{SIGN_ONLY}.pem")), sign_only).unwrap();
    let old = Gpg::expired(OLD_PGP);
    old.export_to(OLD_PGP, &proxy.certs().join(format!("{OLD_PGP}.asc")));
    let raw = corpus_message("039-to-client-cert.eml");

    let server = proxy.serve().await;
    for (rcpt, why) in [
        (EXPIRED, "expired on 2022-03-31"),
        (SIGN_ONLY, "keyEncipherment"),
        (OLD_PGP, "the OpenPGP key expired on 20"),
    ] {
        let (code, text) = send(&proxy, &[rcpt], &raw).await;
        assert_eq!(code, 250, "{text}");
        let Some(id) = text.strip_prefix("2.0.0 held as ") else {
            panic!("{rcpt}: {text}\n{}", server.log());
        };
        let shown = proxy.cli(&["quarantine", "show", id]);
        let shown = String::from_utf8_lossy(&shown.stdout);
        assert!(shown.contains(why), "{rcpt}: {shown}");
        assert!(server.log().contains(why), "the log says why");
    }
    assert!(sink.messages().is_empty());
    server.stop().await;

    // With fallback = "pass" the same recipient gets the original in clear.
    proxy.write(Some("pass"), &[]);
    let server = proxy.serve().await;
    let (code, text) = send(&proxy, &[EXPIRED], &raw).await;
    assert_eq!(code, 250, "{text}");
    let got = sink.messages();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body, with_rule_header(&raw));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_archive_key_decrypts_every_copy_and_the_subject_can_be_neutral() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let proxy = Proxy::new(&sink);
    let keys = proxy.path("keys");
    std::fs::create_dir(&keys).unwrap();
    let archive_key = keys.join("archive.key");
    let status = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
        ])
        .args(["-subj", "/CN=archive@firm.example", "-keyout"])
        .arg(&archive_key)
        .arg("-out")
        .arg(keys.join("archive.pem"))
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let archive_pgp = Gpg::new("archive@firm.example", "default");
    archive_pgp.export_to("archive@firm.example", &keys.join("archive.asc"));
    let recipient = Gpg::new(PGP_RSA, "default");
    recipient.export_to(PGP_RSA, &proxy.certs().join(format!("{PGP_RSA}.asc")));
    proxy.write(
        None,
        &[
            ("archive_cert", "keys/archive.pem"),
            ("archive_key", "keys/archive.asc"),
            ("neutral_subject", "Encrypted message"),
            ("smime_key_transport", "oaep"),
        ],
    );
    let server = proxy.serve().await;
    let raw = rich_message();
    let (code, text) = send(&proxy, &[SMIME_RCPT, PGP_RSA], &raw).await;
    assert_eq!(code, 250, "{text}\n{}", server.log());
    let got = sink.messages();
    assert_eq!(got.len(), 2);
    for copy in &got {
        assert_eq!(header(&copy.body, "subject"), Some("Encrypted message"));
        assert!(
            !contains(&copy.body, b"Wicksilver"),
            "nothing in clear names the client"
        );
    }
    let smime = the_copy_for(&got, SMIME_RCPT);
    assert_same_content(&raw, &openssl_decrypt(&smime.body, &corpus_key(SMIME_RCPT)));
    assert_same_content(&raw, &openssl_decrypt(&smime.body, &archive_key));
    let der = der_of(&smime.body);
    let oaep_oid = [
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x07,
    ];
    assert!(
        der.windows(oaep_oid.len()).any(|w| w == oaep_oid),
        "RSAES-OAEP key transport"
    );
    let pgp = pgp_payload(&the_copy_for(&got, PGP_RSA).body);
    assert_same_content(&raw, &recipient.decrypt(&pgp));
    assert_same_content(&raw, &archive_pgp.decrypt(&pgp));
    server.stop().await;
}

/// The DER inside an S/MIME message, for looking at its algorithms.
fn der_of(message: &[u8]) -> Vec<u8> {
    let msg = MessageParser::default().parse(message).unwrap();
    msg.parts[0].contents().to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_the_next_hop_defers_is_451_and_the_retry_sends_only_that_copy() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let proxy = Proxy::new(&sink);
    let gpg = Gpg::new(PGP_RSA, "default");
    gpg.export_to(PGP_RSA, &proxy.certs().join(format!("{PGP_RSA}.asc")));
    let server = proxy.serve().await;
    let raw = rich_message();
    let to = [INTERNAL, SMIME_RCPT, PGP_RSA];
    sink.tempfail.lock().unwrap().push(PGP_RSA.to_string());
    let (code, text) = send(&proxy, &to, &raw).await;
    assert_eq!(code, 451, "{text}");
    assert!(text.starts_with("4.4.1 1 of 3 copies"), "{text}");
    let first = sink.messages();
    assert_eq!(first.len(), 2, "the plain and S/MIME copies went");
    assert!(first
        .iter()
        .all(|g| !g.rcpts.contains(&PGP_RSA.to_string())));

    // The client retries the same message: only the deferred copy goes.
    sink.tempfail.lock().unwrap().clear();
    let (code, text) = send(&proxy, &to, &raw).await;
    assert_eq!(code, 250, "{text}");
    let all = sink.messages();
    assert_eq!(all.len(), 3, "no duplicates: {all:#?}");
    assert_eq!(all[2].rcpts, [PGP_RSA]);
    assert_same_content(&raw, &gpg.decrypt(&pgp_payload(&all[2].body)));
    let log = server.log();
    assert!(log.contains("accepted in an earlier attempt"), "{log}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_refused_for_good_is_reported_to_the_sender_or_is_the_reply() {
    let sink = Sink::start(SinkMode::Normal, &[PGP_RSA]).await;
    let proxy = Proxy::new(&sink);
    let gpg = Gpg::new(PGP_RSA, "default");
    gpg.export_to(PGP_RSA, &proxy.certs().join(format!("{PGP_RSA}.asc")));
    let server = proxy.serve().await;
    let raw = rich_message();

    // One copy delivered, one refused: 250, and a report to the sender.
    let (code, text) = send(&proxy, &[SMIME_RCPT, PGP_RSA], &raw).await;
    assert_eq!(code, 250, "{text}");
    assert!(text.contains("1 of 2 copies relayed"), "{text}");
    let got = sink.messages();
    assert_eq!(got.len(), 2, "{got:#?}");
    assert!(is_smime(the_copy_for(&got, SMIME_RCPT)));
    let report = the_copy_for(&got, SENDER);
    assert_eq!(report.from, "", "reports go with the null reverse path");
    let failed = format!("Final-Recipient: rfc822; {PGP_RSA}");
    assert!(
        contains(&report.body, failed.as_bytes()),
        "the report names the refused"
    );
    let delivered = format!("Final-Recipient: rfc822; {SMIME_RCPT}");
    assert!(
        !contains(&report.body, delivered.as_bytes()),
        "and only them"
    );

    // Its only copy refused: the next hop's refusal is the reply.
    let (code, text) = send(&proxy, &[PGP_RSA], &raw).await;
    assert_eq!((code, text.as_str()), (550, "5.1.1 no such user"));
    assert_eq!(sink.messages().len(), 2, "nothing more was sent");
    server.stop().await;
}
