//! The TOML file as written, before validation. Serde structs with
//! `deny_unknown_fields` so a typo is an error, and defaults so the shipped file
//! stays short. `compile` turns these into the validated [`super::Config`].

use serde::Deserialize;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub firm: RawFirm,
    #[serde(default)]
    pub dictionaries: RawDictionaries,
    #[serde(default)]
    pub smtp: RawSmtp,
    #[serde(default)]
    pub next_hop: RawNextHop,
    #[serde(default)]
    pub store: RawStore,
    #[serde(default)]
    pub review: RawReview,
    #[serde(default)]
    pub notify: RawNotify,
    #[serde(default)]
    pub limits: crate::extract::Limits,
    #[serde(default)]
    pub detect: RawDetect,
    #[serde(default)]
    pub policy: RawPolicy,
    #[serde(default)]
    pub encrypt: RawEncrypt,
    #[serde(default, rename = "detector")]
    pub detectors: Vec<RawDetector>,
    #[serde(default, rename = "rule")]
    pub rules: Vec<RawRule>,
    #[serde(default, rename = "example")]
    pub examples: Vec<RawExample>,
    /// Issue 14: `[[dkim]]` signing keys (config/dkim.rs); none: no signing.
    #[serde(default, rename = "dkim")]
    pub dkim: Vec<RawDkim>,
}

/// `[[dkim]]`: sign what leaves for `domain` (and its subdomains) with the
/// key in `key_file` (PEM), published at `selector._domainkey.domain`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDkim {
    pub domain: String,
    pub selector: String,
    pub key_file: String,
    /// `rsa-sha256` (default) or `ed25519-sha256`.
    #[serde(default = "rsa_sha256")]
    pub algorithm: String,
}

fn rsa_sha256() -> String {
    "rsa-sha256".into()
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawFirm {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub internal_domains: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawDictionaries {
    pub clients: String,
    pub matters: String,
    pub waivers: String,
    pub certs: String,
}

impl Default for RawDictionaries {
    fn default() -> Self {
        RawDictionaries {
            clients: "clients.csv".into(),
            matters: "matters.csv".into(),
            waivers: "waivers.csv".into(),
            certs: "certs".into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawDetect {
    /// Largest edit distance at which an unknown domain counts as a lookalike.
    pub lookalike_distance: usize,
    /// Domains shorter than this (without the public suffix) are not compared:
    /// at three letters every domain is one edit from another.
    pub lookalike_min_length: usize,
}

impl Default for RawDetect {
    fn default() -> Self {
        RawDetect {
            lookalike_distance: 1,
            lookalike_min_length: 5,
        }
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    #[serde(default)]
    pub mode: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDetector {
    pub name: String,
    /// A built-in detector: `ssn`, `card`, `iban`.
    #[serde(default)]
    pub builtin: Option<String>,
    /// Or a regular expression over the normalised (lower-case) text.
    #[serde(default)]
    pub regex: Option<String>,
    /// Validation for a custom regex: `luhn`, `iban`, `ssn` or none.
    #[serde(default)]
    pub validate: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    pub name: String,
    pub action: String,
    #[serde(default)]
    pub when: RawWhen,
    #[serde(default)]
    pub fallback: Option<String>,
    #[serde(default)]
    pub mode: Option<String>,
    #[serde(default)]
    pub add_header: Option<String>,
    #[serde(default)]
    pub notice: Option<String>,
    #[serde(default)]
    pub notify_sender: bool,
    #[serde(default)]
    pub notify_compliance: bool,
}

/// The facts a rule tests; every condition given must hold.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawWhen {
    pub mentions: Option<bool>,
    #[serde(default)]
    pub client: Vec<String>,
    #[serde(default)]
    pub matter: Vec<String>,
    #[serde(default)]
    pub detector: Vec<String>,
    pub min_matches: Option<usize>,
    pub any_recipient: Option<String>,
    pub all_recipients: Option<String>,
    pub screened: Option<bool>,
    #[serde(default)]
    pub sender: Vec<String>,
    pub uninspectable: Option<bool>,
    #[serde(default)]
    pub attachment_type: Vec<String>,
    pub min_size: Option<u64>,
    pub max_size: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExample {
    pub file: String,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub to: Vec<String>,
    pub action: String,
    #[serde(default)]
    pub rules: Option<Vec<String>>,
}

/// `[smtp]`: the inbound listener (DESIGN §6). Every limit has an
/// RFC-conformant reply when exceeded.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields, default)]
pub struct RawSmtp {
    pub listen: String,
    /// The name in the banner, the EHLO reply and (unless `[next_hop]
    /// helo_name` says otherwise) our EHLO to the next hop; a fully
    /// qualified name unless `listen` is on loopback.
    pub hostname: String,
    /// Networks (CIDR) allowed to connect; everyone else gets `554 5.7.1`.
    pub allowed_networks: Vec<String>,
    pub max_connections: usize,
    pub max_message_size: usize,
    pub max_recipients: usize,
    /// Commands in one session before `421`: bounds a client that loops.
    pub max_commands: usize,
    /// Idle time allowed between commands and between DATA reads, and the
    /// wall-clock bound on one whole command line however slowly it trickles.
    pub command_timeout_secs: u64,
    /// Wall-clock bound on receiving one message body (slow trickle).
    pub data_timeout_secs: u64,
    /// Lifetime cap on one session (`421` when over): a client that keeps
    /// a slot with quick commands for ever still gives it back.
    pub max_session_secs: u64,
    /// On SIGTERM, how long sessions in flight may take to finish.
    pub shutdown_grace_secs: u64,
    /// PEM certificate chain for STARTTLS; with `tls_key`, EHLO offers it.
    pub tls_cert: Option<String>,
    /// PEM private key for `tls_cert`.
    pub tls_key: Option<String>,
    // Issue 14 (Microsoft 365 intake), checked in config/intake.rs:
    /// Microsoft 365 tenant ids (GUIDs) whose mail is taken; others, and
    /// mail without the tenant header, get `550 5.7.1`. Empty: no check.
    pub accept_tenant_ids: Vec<String>,
    /// Load balancers (CIDR) whose connections start with a PROXY protocol
    /// header (v1 or v2); the client it names is the one checked and
    /// logged. From anyone else a PROXY header is refused.
    pub proxy_protocol_from: Vec<String>,
    /// DATA bytes held in memory across all sessions (each message counts
    /// its `SIZE=`, or `max_message_size`); beyond, the body is spooled to
    /// an encrypted file in the data directory (`452 4.3.1` at DATA only if
    /// the spool cannot take it). 0: no cap.
    pub max_buffered_bytes: usize,
    /// Message bytes scanned and settled at once across all sessions; a
    /// message waits for its share after DATA (one larger than this passes
    /// alone). 0: no cap.
    pub max_scanning_bytes: usize,
}

impl Default for RawSmtp {
    fn default() -> Self {
        RawSmtp {
            listen: "127.0.0.1:10025".into(),
            hostname: "matterwall".into(),
            allowed_networks: vec!["127.0.0.0/8".into(), "::1/128".into()],
            max_connections: 100,
            max_message_size: 50 * 1024 * 1024,
            max_recipients: 1000,
            max_commands: 10_000,
            command_timeout_secs: 300,
            data_timeout_secs: 600,
            max_session_secs: 3600,
            shutdown_grace_secs: 30,
            tls_cert: None,
            tls_key: None,
            accept_tenant_ids: Vec::new(),
            proxy_protocol_from: Vec::new(),
            max_buffered_bytes: 1 << 30,
            max_scanning_bytes: 512 << 20,
        }
    }
}

/// `[next_hop]`: where passed, encrypted and released mail goes, with a
/// timeout per phase so a stalled next hop becomes `451 4.4.1` well inside
/// the upstream MTA's own budget.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields, default)]
pub struct RawNextHop {
    pub address: String,
    /// The name we give in EHLO; default: `[smtp] hostname`.
    pub helo_name: Option<String>,
    pub connect_timeout_secs: u64,
    /// Banner, EHLO, MAIL, RCPT and DATA replies.
    pub command_timeout_secs: u64,
    /// The reply to the final dot, after the body was sent.
    pub data_done_timeout_secs: u64,
    /// STARTTLS toward the next hop: `none`, `opportunistic` or `required`.
    pub tls: String,
    /// PEM CA certificates to verify the next hop by; default: the system's.
    pub tls_ca: Option<String>,
    // Issue 14 (Microsoft 365 / Google Workspace), checked in config/next_hop.rs:
    /// PEM chain (leaf first) presented when the next hop asks for a client
    /// certificate; needs `tls = "required"`.
    pub tls_client_cert: Option<String>,
    /// PEM private key for `tls_client_cert`.
    pub tls_client_key: Option<String>,
    /// SMTP AUTH (PLAIN or LOGIN) user; only over TLS, so `tls = "required"`.
    pub auth_user: Option<String>,
    /// A file whose first line is the AUTH password (keep it mode 0600).
    pub auth_password_file: Option<String>,
}

impl Default for RawNextHop {
    fn default() -> Self {
        RawNextHop {
            address: "127.0.0.1:10026".into(),
            helo_name: None,
            connect_timeout_secs: 10,
            command_timeout_secs: 60,
            data_done_timeout_secs: 90,
            tls: "none".into(),
            tls_ca: None,
            tls_client_cert: None,
            tls_client_key: None,
            auth_user: None,
            auth_password_file: None,
        }
    }
}

/// `[store]`: the quarantine and audit store.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields, default)]
pub struct RawStore {
    pub url: String,
    /// The AES-256 key file for held messages; default: `matterwall.key`
    /// beside the database. Created with mode 0600 when missing.
    pub key_file: Option<String>,
    /// Days a message is kept (held, released or rejected) before its
    /// content is destroyed and it is marked `expired`; 0 keeps forever.
    pub retention_days: u32,
    /// Signed audit checkpoints (issue #15): the append-only file of
    /// checkpoint lines; default `audit-checkpoints.jsonl` beside the
    /// database.
    pub checkpoint_file: Option<String>,
    /// The Ed25519 signing key of checkpoints (made 0600 when missing);
    /// default `audit-checkpoint.key` beside the database.
    pub checkpoint_key: Option<String>,
    /// `serve` signs a checkpoint once this many entries were appended
    /// since the last (0: not by count)…
    pub checkpoint_every: u64,
    /// …and at least this often while the trail grows (0: not by time).
    pub checkpoint_minutes: u64,
    /// A syslog datagram socket (`/dev/log`) every checkpoint line is also
    /// sent to, for a log host that keeps it off the machine; none: not sent.
    pub checkpoint_syslog: Option<String>,
    /// This node's name in log lines and in the audit entries it writes
    /// (issue #13); default: the host name.
    pub node: Option<String>,
}

impl Default for RawStore {
    fn default() -> Self {
        RawStore {
            url: "sqlite://data/matterwall.db".into(),
            key_file: None,
            retention_days: 90,
            checkpoint_file: None,
            checkpoint_key: None,
            checkpoint_every: 100,
            checkpoint_minutes: 10,
            checkpoint_syslog: None,
            node: None,
        }
    }
}

/// `[review]`: the compliance web interface, its API, `/metrics` and
/// `/healthz`.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields, default)]
pub struct RawReview {
    pub listen: String,
    /// How long a login lasts (a working day by default).
    pub session_minutes: u64,
    /// A session unused this long ends, whatever `session_minutes` says.
    pub idle_minutes: u64,
    /// Ask for the password (and one-time code) again before a release
    /// from the web pages when the last one is over 5 minutes old.
    pub reauth_for_release: bool,
    /// PEM certificate chain: with `tls_key`, the listener speaks HTTPS
    /// only, and cookies are marked `Secure`.
    pub tls_cert: Option<String>,
    pub tls_key: Option<String>,
}

impl Default for RawReview {
    fn default() -> Self {
        RawReview {
            listen: "127.0.0.1:8025".into(),
            session_minutes: 480,
            idle_minutes: 15,
            reauth_for_release: true,
            tls_cert: None,
            tls_key: None,
        }
    }
}

/// `[encrypt]`: how the encrypt action makes its copies.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields, default)]
pub struct RawEncrypt {
    /// The firm's own S/MIME certificate, an extra recipient of every S/MIME
    /// copy, so the firm can read what it sent.
    pub archive_cert: Option<String>,
    /// The firm's own OpenPGP public key, the same for OpenPGP copies.
    pub archive_key: Option<String>,
    /// Replaces the Subject of encrypted copies (neither S/MIME nor PGP/MIME
    /// hides it). Unset: the Subject is kept.
    pub neutral_subject: Option<String>,
    /// RSA key transport for `rsaEncryption` certificates: `pkcs1v15`
    /// (what every client reads) or `oaep`.
    pub smime_key_transport: String,
}

impl Default for RawEncrypt {
    fn default() -> Self {
        RawEncrypt {
            archive_cert: None,
            archive_key: None,
            neutral_subject: None,
            smime_key_transport: "pkcs1v15".into(),
        }
    }
}

/// `[notify]`: messages matterwall sends about held mail, through the next
/// hop. Texts take `{id}`, `{rules}`, `{recipients}`, `{received}`,
/// `{comment}` and `{firm}`; never the matched text, never the subject
/// (it may carry what matched).
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields, default)]
pub struct RawNotify {
    /// The From: of every notice; default `matterwall@` the first internal domain.
    pub from: Option<String>,
    /// Who hears about holds (compliance staff); empty: nobody.
    pub compliance: Vec<String>,
    /// `rule`: a message per hold whose rule says `notify_compliance`;
    /// `every-hold`: per hold; `digest`: one a day at `digest_at` (UTC); `off`.
    pub compliance_mode: String,
    pub digest_at: String,
    pub held_subject: String,
    pub held_text: String,
    pub rejected_subject: String,
    pub rejected_text: String,
    pub compliance_subject: String,
    pub compliance_text: String,
    pub digest_subject: String,
    /// The outbox (issue #13): a notice the next hop did not take (4xx, no
    /// connection) is tried again after this many seconds, doubling each
    /// time up to an hour…
    pub retry_seconds: u64,
    /// …and given up (logged, counted on `/metrics`) once it is this many
    /// hours old. A permanent refusal (5xx) gives up at once.
    pub give_up_hours: u64,
}

impl Default for RawNotify {
    fn default() -> Self {
        RawNotify {
            from: None,
            compliance: Vec::new(),
            compliance_mode: "rule".into(),
            digest_at: "07:00".into(),
            held_subject: "Your message is held for review ({id})".into(),
            held_text: "Your message to {recipients} was held for review by compliance\n\
                        before it left {firm}.\n\nReference: {id}\nReason: {rules}\n\n\
                        You do not need to send it again: a reviewer will release or\n\
                        reject it. Quote the reference if you contact compliance.\n"
                .into(),
            rejected_subject: "Your message was not sent ({id})".into(),
            rejected_text:
                "Your message to {recipients} (reference {id}) was reviewed\n\
                            by compliance and will not be sent.\n\nReviewer's comment:\n{comment}\n"
                    .into(),
            compliance_subject: "Held for review: {id} ({rules})".into(),
            compliance_text: "A message was held for review.\n\nReference: {id}\n\
                              Received: {received}\nRecipients: {recipients}\nRules: {rules}\n"
                .into(),
            digest_subject: "Held mail awaiting review".into(),
            retry_seconds: 60,
            give_up_hours: 120,
        }
    }
}
