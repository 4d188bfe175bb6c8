//! The TOML file as written, before validation. Serde structs with
//! `deny_unknown_fields` so a typo is an error, and defaults so the shipped file
//! stays short. `compile` turns these into the validated [`super::Config`].

use serde::Deserialize;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    #[serde(default)]
    pub(crate) firm: RawFirm,
    #[serde(default)]
    pub(crate) dictionaries: RawDictionaries,
    #[serde(default)]
    pub(crate) smtp: RawSmtp,
    #[serde(default)]
    pub(crate) next_hop: RawNextHop,
    #[serde(default)]
    pub(crate) store: RawStore,
    #[serde(default)]
    pub(crate) review: RawReview,
    #[serde(default)]
    pub(crate) notify: RawNotify,
    #[serde(default)]
    pub(crate) limits: crate::extract::Limits,
    #[serde(default)]
    pub(crate) detect: RawDetect,
    #[serde(default)]
    pub(crate) policy: RawPolicy,
    #[serde(default)]
    pub(crate) encrypt: RawEncrypt,
    #[serde(default, rename = "detector")]
    pub(crate) detectors: Vec<RawDetector>,
    #[serde(default, rename = "rule")]
    pub(crate) rules: Vec<RawRule>,
    #[serde(default, rename = "example")]
    pub(crate) examples: Vec<RawExample>,
    /// Issue 14: `[[dkim]]` signing keys (config/dkim.rs); none: no signing.
    #[serde(default, rename = "dkim")]
    pub(crate) dkim: Vec<RawDkim>,
}

/// `[[dkim]]`: sign what leaves for `domain` (and its subdomains) with the
/// key in `key_file` (PEM), published at `selector._domainkey.domain`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDkim {
    pub(crate) domain: String,
    pub(crate) selector: String,
    pub(crate) key_file: String,
    /// `rsa-sha256` (default) or `ed25519-sha256`.
    #[serde(default = "rsa_sha256")]
    pub(crate) algorithm: String,
}

fn rsa_sha256() -> String {
    "rsa-sha256".into()
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFirm {
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) internal_domains: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawDictionaries {
    pub(crate) clients: String,
    pub(crate) matters: String,
    pub(crate) waivers: String,
    pub(crate) certs: String,
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
pub(crate) struct RawDetect {
    /// Largest edit distance at which an unknown domain counts as a lookalike.
    pub(crate) lookalike_distance: usize,
    /// Domains shorter than this (without the public suffix) are not compared:
    /// at three letters every domain is one edit from another.
    pub(crate) lookalike_min_length: usize,
}

impl Default for RawDetect {
    fn default() -> Self {
        RawDetect {
            lookalike_distance: 1,
            lookalike_min_length: 5,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawPolicy {
    pub(crate) mode: Option<String>,
    /// Issue #18, undo-send for everything: a message that would pass and
    /// has an external recipient waits this many minutes, as under a rule
    /// with `delay_minutes` (none: no delay).
    #[serde(default)]
    pub(crate) delay_external_minutes: Option<f64>,
    /// Issue #18: how long a written-to domain stays known to
    /// `first_contact` after the last passed mail to it (at least 1; the
    /// retention job forgets older pairs).
    #[serde(deserialize_with = "at_least_one_day")]
    pub(crate) first_contact_days: u32,
}

impl Default for RawPolicy {
    fn default() -> Self {
        RawPolicy {
            mode: None,
            delay_external_minutes: None,
            first_contact_days: 365,
        }
    }
}

/// A day count that must be at least 1: refused by the parser, so the
/// error names the line like a type error does.
fn at_least_one_day<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    match u32::deserialize(d)? {
        0 => Err(serde::de::Error::custom(
            "first_contact_days must be at least 1",
        )),
        n => Ok(n),
    }
}

/// `first_contact` in a rule's `when` (issue #18): whose past mail makes a
/// recipient domain known. `true` is `"sender"`; `false` tests that no
/// recipient is a first contact of the sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FirstContact {
    /// `false`.
    Off,
    /// `true` or `"sender"`: the sender never sent passed mail there.
    Sender,
    /// `"firm"`: nobody in the firm did.
    Firm,
}

impl<'de> Deserialize<'de> for FirstContact {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(FirstContactVisitor)
    }
}

/// Reads `true`, `false`, `"sender"` or `"firm"`; anything else is a
/// parse error, so it names its line.
struct FirstContactVisitor;

impl serde::de::Visitor<'_> for FirstContactVisitor {
    type Value = FirstContact;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("first_contact = true, false, \"sender\" or \"firm\"")
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<FirstContact, E> {
        Ok(if v {
            FirstContact::Sender
        } else {
            FirstContact::Off
        })
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<FirstContact, E> {
        match v {
            "sender" => Ok(FirstContact::Sender),
            "firm" => Ok(FirstContact::Firm),
            _ => Err(E::invalid_value(serde::de::Unexpected::Str(v), &self)),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDetector {
    pub(crate) name: String,
    /// A built-in detector: `ssn`, `card`, `iban`.
    #[serde(default)]
    pub(crate) builtin: Option<String>,
    /// Or a regular expression over the normalised (lower-case) text.
    #[serde(default)]
    pub(crate) regex: Option<String>,
    /// Validation for a custom regex: `luhn`, `iban`, `ssn` or none.
    #[serde(default)]
    pub(crate) validate: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRule {
    pub(crate) name: String,
    pub(crate) action: String,
    #[serde(default)]
    pub(crate) when: RawWhen,
    #[serde(default)]
    pub(crate) fallback: Option<String>,
    #[serde(default)]
    pub(crate) mode: Option<String>,
    #[serde(default)]
    pub(crate) add_header: Option<String>,
    #[serde(default)]
    pub(crate) notice: Option<String>,
    #[serde(default)]
    pub(crate) notify_sender: bool,
    #[serde(default)]
    pub(crate) notify_compliance: bool,
    /// Issue #18: hold only the recipients this rule fires for; the others
    /// get the message now.
    #[serde(default)]
    pub(crate) split: bool,
    /// Issue #18: who may release what this rule holds: `one-person`
    /// (default) or `two-person` (four-eyes).
    #[serde(default)]
    pub(crate) release: Option<String>,
    /// Issue #18: the sender may release what this rule holds, with a
    /// written justification, through a signed link in the held notice.
    /// Refused at load for walls and uninspectable content.
    #[serde(default)]
    pub(crate) sender_release: bool,
    /// Issue #18, undo-send: what this rule holds waits this many minutes
    /// (fractions allowed), the sender's notice has a cancel link, and it
    /// is released at the due time unless cancelled or decided first.
    #[serde(default)]
    pub(crate) delay_minutes: Option<f64>,
}

/// The facts a rule tests; every condition given must hold.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWhen {
    pub(crate) mentions: Option<bool>,
    #[serde(default)]
    pub(crate) client: Vec<String>,
    #[serde(default)]
    pub(crate) matter: Vec<String>,
    #[serde(default)]
    pub(crate) detector: Vec<String>,
    pub(crate) min_matches: Option<usize>,
    pub(crate) any_recipient: Option<String>,
    pub(crate) all_recipients: Option<String>,
    pub(crate) screened: Option<bool>,
    #[serde(default)]
    pub(crate) sender: Vec<String>,
    pub(crate) uninspectable: Option<bool>,
    #[serde(default)]
    pub(crate) attachment_type: Vec<String>,
    pub(crate) min_size: Option<u64>,
    pub(crate) max_size: Option<u64>,
    /// Issue #18: a recipient domain never written to before.
    pub(crate) first_contact: Option<FirstContact>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExample {
    pub(crate) file: String,
    #[serde(default)]
    pub(crate) from: Option<String>,
    #[serde(default)]
    pub(crate) to: Vec<String>,
    pub(crate) action: String,
    #[serde(default)]
    pub(crate) rules: Option<Vec<String>>,
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
    pub(crate) hostname: String,
    /// Networks (CIDR) allowed to connect; everyone else gets `554 5.7.1`.
    pub(crate) allowed_networks: Vec<String>,
    pub(crate) max_connections: usize,
    pub max_message_size: usize,
    pub(crate) max_recipients: usize,
    /// Commands in one session before `421`: bounds a client that loops.
    pub(crate) max_commands: usize,
    /// Idle time allowed between commands and between DATA reads, and the
    /// wall-clock bound on one whole command line however slowly it trickles.
    pub(crate) command_timeout_secs: u64,
    /// Wall-clock bound on receiving one message body (slow trickle).
    pub(crate) data_timeout_secs: u64,
    /// Lifetime cap on one session (`421` when over): a client that keeps
    /// a slot with quick commands for ever still gives it back.
    pub(crate) max_session_secs: u64,
    /// On SIGTERM, how long sessions in flight may take to finish.
    pub(crate) shutdown_grace_secs: u64,
    /// PEM certificate chain for STARTTLS; with `tls_key`, EHLO offers it.
    pub(crate) tls_cert: Option<String>,
    /// PEM private key for `tls_cert`.
    pub(crate) tls_key: Option<String>,
    // Issue 14 (Microsoft 365 intake), checked in config/intake.rs:
    /// Microsoft 365 tenant ids (GUIDs) whose mail is taken; others, and
    /// mail without the tenant header, get `550 5.7.1`. Empty: no check.
    pub(crate) accept_tenant_ids: Vec<String>,
    /// Load balancers (CIDR) whose connections start with a PROXY protocol
    /// header (v1 or v2); the client it names is the one checked and
    /// logged. From anyone else a PROXY header is refused.
    pub(crate) proxy_protocol_from: Vec<String>,
    /// DATA bytes held in memory across all sessions (each message counts
    /// its `SIZE=`, or `max_message_size`); beyond, the body is spooled to
    /// an encrypted file in the data directory (`452 4.3.1` at DATA only if
    /// the spool cannot take it). 0: no cap.
    pub(crate) max_buffered_bytes: usize,
    /// Message bytes scanned and settled at once across all sessions; a
    /// message waits for its share after DATA (one larger than this passes
    /// alone). 0: no cap.
    pub(crate) max_scanning_bytes: usize,
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
pub(crate) struct RawNextHop {
    pub(crate) address: String,
    /// The name we give in EHLO; default: `[smtp] hostname`.
    pub(crate) helo_name: Option<String>,
    pub(crate) connect_timeout_secs: u64,
    /// Banner, EHLO, MAIL, RCPT and DATA replies.
    pub(crate) command_timeout_secs: u64,
    /// The reply to the final dot, after the body was sent.
    pub(crate) data_done_timeout_secs: u64,
    /// STARTTLS toward the next hop: `none`, `opportunistic` or `required`.
    pub(crate) tls: String,
    /// PEM CA certificates to verify the next hop by; default: the system's.
    pub(crate) tls_ca: Option<String>,
    // Issue 14 (Microsoft 365 / Google Workspace), checked in config/next_hop.rs:
    /// PEM chain (leaf first) presented when the next hop asks for a client
    /// certificate; needs `tls = "required"`.
    pub(crate) tls_client_cert: Option<String>,
    /// PEM private key for `tls_client_cert`.
    pub(crate) tls_client_key: Option<String>,
    /// SMTP AUTH (PLAIN or LOGIN) user; only over TLS, so `tls = "required"`.
    pub(crate) auth_user: Option<String>,
    /// A file whose first line is the AUTH password (keep it mode 0600).
    pub(crate) auth_password_file: Option<String>,
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
    pub(crate) checkpoint_file: Option<String>,
    /// The Ed25519 signing key of checkpoints (made 0600 when missing);
    /// default `audit-checkpoint.key` beside the database.
    pub(crate) checkpoint_key: Option<String>,
    /// `serve` signs a checkpoint once this many entries were appended
    /// since the last (0: not by count)…
    pub(crate) checkpoint_every: u64,
    /// …and at least this often while the trail grows (0: not by time).
    pub(crate) checkpoint_minutes: u64,
    /// A syslog datagram socket (`/dev/log`) every checkpoint line is also
    /// sent to, for a log host that keeps it off the machine; none: not sent.
    pub(crate) checkpoint_syslog: Option<String>,
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
    pub(crate) session_minutes: u64,
    /// A session unused this long ends, whatever `session_minutes` says.
    pub(crate) idle_minutes: u64,
    /// Ask for the password (and one-time code) again before a release
    /// from the web pages when the last one is over 5 minutes old.
    pub(crate) reauth_for_release: bool,
    /// PEM certificate chain: with `tls_key`, the listener speaks HTTPS
    /// only, and cookies are marked `Secure`.
    pub(crate) tls_cert: Option<String>,
    pub(crate) tls_key: Option<String>,
    /// `[review.oidc]`: single sign-on (issue #18, `config::oidc`).
    pub(crate) oidc: Option<RawOidc>,
    /// Where people reach this interface (`https://review.firm.example`),
    /// for the links in notices; unset: `http(s)://` and `listen`.
    pub(crate) url: Option<String>,
    /// A sender's release link (issue #18) works this many hours.
    pub(crate) sender_link_hours: u64,
    /// A sender who has released this many of their own messages in the
    /// last 24 hours is stopped, and compliance is told; 0 turns sender
    /// release off everywhere.
    pub(crate) sender_release_per_day: u64,
}

/// `[review.oidc]` as written: an OpenID Connect provider the login page
/// offers beside local accounts. Spanned, so a bad value names its line.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOidc {
    /// The provider's issuer URL (discovery is read from
    /// `{issuer}/.well-known/openid-configuration`).
    pub(crate) issuer: toml::Spanned<String>,
    pub(crate) client_id: toml::Spanned<String>,
    /// A file whose first line is the client secret (keep it mode 0600).
    pub(crate) client_secret_file: toml::Spanned<String>,
    /// Where the provider sends the browser back: this listener's
    /// `/login/oidc/callback`, as registered with the provider.
    pub(crate) redirect_url: toml::Spanned<String>,
    /// The ID token claim whose value (a string or a list of strings) is
    /// looked up in `roles`.
    #[serde(default = "default_role_claim")]
    pub(crate) role_claim: toml::Spanned<String>,
    /// The claim that names the user (`email` by default: walls bind
    /// review users named by their firm address).
    #[serde(default = "default_name_claim")]
    pub(crate) name_claim: toml::Spanned<String>,
    /// Scopes asked for besides `openid`.
    #[serde(default = "default_scopes")]
    pub(crate) scopes: toml::Spanned<Vec<String>>,
    /// The button's text on the login page.
    #[serde(default)]
    pub(crate) label: Option<String>,
    /// Claim value → `reviewer`, `auditor` or `admin`.
    #[serde(default = "no_roles")]
    pub(crate) roles: toml::Spanned<std::collections::BTreeMap<String, String>>,
}

fn default_role_claim() -> toml::Spanned<String> {
    toml::Spanned::new(0..0, "groups".into())
}

fn default_name_claim() -> toml::Spanned<String> {
    toml::Spanned::new(0..0, "email".into())
}

fn no_roles() -> toml::Spanned<std::collections::BTreeMap<String, String>> {
    toml::Spanned::new(0..0, Default::default())
}

fn default_scopes() -> toml::Spanned<Vec<String>> {
    toml::Spanned::new(0..0, vec!["email".into(), "profile".into()])
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
            oidc: None,
            url: None,
            sender_link_hours: 72,
            sender_release_per_day: 3,
        }
    }
}

/// `[encrypt]`: how the encrypt action makes its copies.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawEncrypt {
    /// The firm's own S/MIME certificate, an extra recipient of every S/MIME
    /// copy, so the firm can read what it sent.
    pub(crate) archive_cert: Option<String>,
    /// The firm's own OpenPGP public key, the same for OpenPGP copies.
    pub(crate) archive_key: Option<String>,
    /// Replaces the Subject of encrypted copies (neither S/MIME nor PGP/MIME
    /// hides it). Unset: the Subject is kept.
    pub(crate) neutral_subject: Option<String>,
    /// RSA key transport for `rsaEncryption` certificates: `pkcs1v15`
    /// (what every client reads) or `oaep`.
    pub(crate) smime_key_transport: String,
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
pub(crate) struct RawNotify {
    /// The From: of every notice; default `matterwall@` the first internal domain.
    pub(crate) from: Option<String>,
    /// Who hears about holds (compliance staff); empty: nobody.
    pub(crate) compliance: Vec<String>,
    /// `rule`: a message per hold whose rule says `notify_compliance`;
    /// `every-hold`: per hold; `digest`: one a day at `digest_at` (UTC); `off`.
    pub(crate) compliance_mode: String,
    pub(crate) digest_at: String,
    pub(crate) held_subject: String,
    pub(crate) held_text: String,
    pub(crate) rejected_subject: String,
    pub(crate) rejected_text: String,
    pub(crate) compliance_subject: String,
    pub(crate) compliance_text: String,
    pub(crate) digest_subject: String,
    /// Added to the sender's held notice when its rules allow the sender
    /// to release it (issue #18): takes `{link}` and `{hours}` too.
    pub(crate) sender_release_text: String,
    /// Undo-send (issue #18): the sender's notice of a delayed message,
    /// instead of the held one; both take `{due}` and `{link}` too.
    pub(crate) delayed_subject: String,
    pub(crate) delayed_text: String,
    /// The outbox (issue #13): a notice the next hop did not take (4xx, no
    /// connection) is tried again after this many seconds, doubling each
    /// time up to an hour…
    pub(crate) retry_seconds: u64,
    /// …and given up (logged, counted on `/metrics`) once it is this many
    /// hours old. A permanent refusal (5xx) gives up at once.
    pub(crate) give_up_hours: u64,
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
            delayed_subject: "Your message will be sent at {due} ({id})".into(),
            delayed_text: "Your message to {recipients} waits before it leaves {firm}:\n\
                           it will be sent at {due}.\n\n\
                           To stop it, cancel it before then:\n\n{link}\n"
                .into(),
            sender_release_text: "If you are sure it may go as addressed, you may release it\n\
                                  yourself within {hours} hours, with a written justification that\n\
                                  compliance will read:\n\n{link}\n"
                .into(),
            retry_seconds: 60,
            give_up_hours: 120,
        }
    }
}
