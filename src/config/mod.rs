//! Configuration: `matterwall.toml` plus the dictionaries and keys it names,
//! loaded and validated into one immutable [`Config`] of plain data. What is
//! built from it — the detector's matchers, the compiled rules and the
//! look-alike index — belongs to the stage that uses it and is put together
//! by [`crate::engine::Engine`]; the checks those stages make on their part
//! of the file run inside the same load ([`Config::load_checked`]), so every
//! problem is reported at once.

pub(crate) mod certs;
pub(crate) mod dictionary;
pub(crate) mod dkim;
pub(crate) mod encrypt;
pub(crate) mod error;
pub(crate) mod intake;
pub mod lint;
pub(crate) mod network;
pub(crate) mod next_hop;
pub(crate) mod notify;
pub(crate) mod oidc;
pub(crate) mod raw;
pub(crate) mod stamp;
pub(crate) mod tls;

use crate::text::address::{normalise_domain, within};
use certs::Certs;
use dictionary::Dictionaries;
pub(crate) use error::{ConfigError, Problem, Problems};
use raw::RawConfig;
use std::path::{Path, PathBuf};

/// An example message declared in the rules file, for `rules test`; its
/// expected action is checked by the engine's load like the rules are.
#[derive(Debug, Clone)]
pub struct Example {
    /// The example message file, relative to the rules file.
    pub file: PathBuf,
    /// Its envelope sender (default: its From header).
    pub from: Option<String>,
    /// Its envelope recipients (default: To, Cc, Bcc).
    pub to: Vec<String>,
    /// The action the rules must decide for it.
    pub action: String,
    /// The rules that must fire, when given (exactly these).
    pub rules: Option<Vec<String>>,
}

#[derive(Debug)]
/// One loaded configuration as plain data: settings, dictionaries and keys, every problem (file, line, reason) already refused. The matchers are built from it by [`crate::engine::Engine`].
pub struct Config {
    /// The rules file's directory: the other files it names are relative to it.
    pub dir: PathBuf,
    pub(crate) firm_name: String,
    pub(crate) internal_domains: Vec<String>,
    /// `[smtp]` as written.
    pub smtp: raw::RawSmtp,
    /// The STARTTLS server side, when `[smtp] tls_cert` and `tls_key` are set.
    pub(crate) tls: Option<std::sync::Arc<tokio_rustls::rustls::ServerConfig>>,
    pub(crate) allowed_networks: Vec<network::Network>,
    /// `[smtp] proxy_protocol_from`: who may send a PROXY header.
    pub(crate) proxy_from: Vec<network::Network>,
    pub(crate) next_hop: raw::RawNextHop,
    /// `[next_hop] tls`, with the verifier built from `tls_ca`.
    pub(crate) next_hop_tls: tls::NextHopTls,
    /// `[next_hop] auth_user` with the password read from its file.
    pub(crate) next_hop_auth: Option<next_hop::Auth>,
    /// The loop stamp's key file (read or made on first use).
    pub(crate) stamp_key: stamp::StampKey,
    /// `[[dkim]]` keys, loaded; empty: nothing is signed.
    pub(crate) dkim: std::sync::Arc<Vec<dkim::DkimKey>>,
    /// `[store]`: where the quarantine and audit trail live.
    pub store: raw::RawStore,
    /// `[review]`: the review interface's listener and session settings.
    pub review: raw::RawReview,
    /// HTTPS for the review listener, when `[review] tls_cert` and `tls_key` are set.
    pub(crate) review_tls: Tls,
    /// `[review.oidc]`: single sign-on, when configured.
    pub(crate) oidc: Option<oidc::Oidc>,
    /// `[notify]`: who is told of a hold, and how notices are retried.
    pub notify: notify::Notify,
    /// `[limits]`: extraction's budgets; a part past one is uninspectable.
    pub limits: crate::extract::Limits,
    /// Clients, matters, authorisations, walls and waivers, from their CSV files.
    pub dict: Dictionaries,
    /// `[detect]`: look-alike settings, for the policy's index.
    pub(crate) detect: raw::RawDetect,
    /// Recipients' S/MIME certificates and OpenPGP keys, for `encrypt`.
    pub certs: Certs,
    /// `[encrypt]`: archive keys, neutral Subject, RSA key transport.
    pub(crate) encrypt: encrypt::Encrypt,
    /// `[[example]]` messages that `rules test` checks against the rules.
    pub examples: Vec<Example>,
}

impl Config {
    /// Where people reach the review interface, without a trailing slash:
    /// `[review] url`, else `http(s)://` and `[review] listen`.
    pub(crate) fn review_url(&self) -> String {
        match &self.review.url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => {
                let scheme = if self.review_tls.is_some() {
                    "https"
                } else {
                    "http"
                };
                format!("{scheme}://{}", self.review.listen)
            }
        }
    }

    /// Loads `path` and everything it names as data; collects every problem.
    /// (Rules and detectors are checked by [`crate::engine::Engine::load`].)
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Config::load_checked(path, |_, _| {})
    }

    /// [`Config::load`], with `check` run on the parsed file among the other
    /// checks: the engine compiles rules and detectors there, so their
    /// problems are reported with the rest (file, reason) in one refusal.
    pub(crate) fn load_checked(
        path: &Path,
        check: impl FnOnce(&RawConfig, &mut Problems),
    ) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::one(Problem::at(path, None, format!("cannot read: {e}"))))?;
        let raw: RawConfig = toml::from_str(&text).map_err(|e| {
            let line = e.span().map(|s| text[..s.start].lines().count().max(1));
            ConfigError::one(Problem::at(path, line, e.message().to_string()))
        })?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let dir = if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir
        };
        compile(path, &dir, raw, &text, check)
    }

    /// Where and when the audit trail is checkpointed (`[store]
    /// checkpoint_*`), the paths resolved against the config folder.
    pub fn checkpoints(&self) -> crate::store::checkpoint::Schedule {
        let s = &self.store;
        crate::store::checkpoint::Schedule {
            paths: crate::store::checkpoint::Paths::resolve(
                &s.url,
                &self.dir,
                s.checkpoint_file.as_deref(),
                s.checkpoint_key.as_deref(),
                s.checkpoint_syslog.as_deref(),
            ),
            every: s.checkpoint_every,
            minutes: s.checkpoint_minutes,
        }
    }

    pub(crate) fn is_internal(&self, domain: &str) -> bool {
        self.internal_domains.iter().any(|d| within(domain, d))
    }

    /// The firm's, every client's and every co-counsel's domains: what a
    /// look-alike imitates.
    pub(crate) fn known_domains(&self) -> Vec<String> {
        let mut known: Vec<String> = self.internal_domains.to_vec();
        let dict = &self.dict;
        known.extend(dict.clients.iter().flat_map(|c| c.domains.iter().cloned()));
        for m in 0..dict.matters.len() as u32 {
            known.extend(dict.matters.cocounsel_domains(m).iter().cloned());
        }
        known
    }
}

pub(crate) fn resolve(dir: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        dir.join(p)
    }
}

type Tls = Option<std::sync::Arc<tokio_rustls::rustls::ServerConfig>>;

/// A TLS server side from a section's `tls_cert` and `tls_key`.
fn compile_tls(
    section: &str,
    (cert, key): (&Option<String>, &Option<String>),
    dir: &Path,
    problems: &mut Problems,
) -> Tls {
    match (cert, key) {
        (None, None) => None,
        (Some(cert), Some(key)) => tls::server_config(&resolve(dir, cert), &resolve(dir, key))
            .map_err(|p| problems.push(p))
            .ok(),
        _ => {
            problems.add(format!("[{section}] tls_cert and tls_key go together"));
            None
        }
    }
}

/// The review listener's TLS, speaking HTTP/1.1 (the only version served).
fn compile_review_tls(review: &raw::RawReview, dir: &Path, problems: &mut Problems) -> Tls {
    if review.session_minutes == 0 {
        problems.add("[review] session_minutes must be at least 1");
    }
    if review.idle_minutes == 0 {
        problems.add("[review] idle_minutes must be at least 1");
    }
    check_review_url(review, problems);
    let keys = (&review.tls_cert, &review.tls_key);
    compile_tls("review", keys, dir, problems).map(|c| {
        let mut c = (*c).clone();
        c.alpn_protocols = vec![b"http/1.1".to_vec()];
        std::sync::Arc::new(c)
    })
}

/// `[review] url` goes into notices as the start of a link: an absolute
/// http(s) URL with a host and nothing after the path.
fn check_review_url(review: &raw::RawReview, problems: &mut Problems) {
    if review.sender_link_hours == 0 {
        problems.add("[review] sender_link_hours must be at least 1");
    }
    let Some(u) = &review.url else { return };
    let ok = url::Url::parse(u).ok().filter(|p| {
        matches!(p.scheme(), "http" | "https")
            && p.host().is_some()
            && p.query().is_none()
            && p.fragment().is_none()
            && p.username().is_empty()
    });
    if ok.is_none() {
        problems.add(format!(
            "[review] url {u:?}: expected an http(s) address such as \"https://review.firm.example\""
        ));
    }
}

fn compile(
    path: &Path,
    dir: &Path,
    raw: RawConfig,
    text: &str,
    check: impl FnOnce(&RawConfig, &mut Problems),
) -> Result<Config, ConfigError> {
    let mut problems = Problems::new(path);
    let mut internal_domains = Vec::new();
    for d in &raw.firm.internal_domains {
        match normalise_domain(d) {
            Ok(d) => internal_domains.push(d),
            Err(why) => problems.add(format!("[firm] internal_domains: {d:?}: {why}")),
        }
    }
    if internal_domains.is_empty() {
        problems.add("[firm] internal_domains is empty: every recipient would be external");
    }
    let d = &raw.dictionaries;
    let dict = dictionary::load(
        &resolve(dir, &d.clients),
        &resolve(dir, &d.matters),
        &resolve(dir, &d.waivers),
        &mut problems,
    );
    let mut allowed_networks = Vec::new();
    for n in &raw.smtp.allowed_networks {
        match network::Network::parse(n) {
            Ok(n) => allowed_networks.push(n),
            Err(why) => problems.add(format!("[smtp] allowed_networks: {why}")),
        }
    }
    intake::check_hostname(&raw.smtp, &mut problems);
    intake::check_tenants(&raw.smtp, &mut problems);
    let proxy_from = intake::compile_proxy_from(&raw.smtp, &mut problems);
    let smtp_keys = (&raw.smtp.tls_cert, &raw.smtp.tls_key);
    let tls = compile_tls("smtp", smtp_keys, dir, &mut problems);
    let review_tls = compile_review_tls(&raw.review, dir, &mut problems);
    let oidc = raw.review.oidc.as_ref();
    let oidc = oidc.and_then(|o| oidc::compile(o, text, dir, &mut problems));
    let next_hop_tls = next_hop::compile_tls(&raw.next_hop, dir, &mut problems);
    let next_hop_auth = next_hop::compile_auth(&raw.next_hop, dir, &mut problems);
    check(&raw, &mut problems);
    let examples = examples(&raw, dir);
    let notify = notify::Notify::compile(&raw.notify, &internal_domains)
        .map_err(|found| found.into_iter().for_each(|r| problems.add(r)));
    let certs = Certs::load(&resolve(dir, &d.certs)).unwrap_or_else(|found| {
        found.into_iter().for_each(|p| problems.push(p));
        Certs::default()
    });
    let encrypt = encrypt::compile(&raw.encrypt, dir, &mut problems);
    let stamp_key = stamp::StampKey::locate(dir, &raw.store);
    let dkim = std::sync::Arc::new(dkim::compile(&raw.dkim, dir, &mut problems));
    problems.or_refuse(|| Config {
        dir: dir.to_path_buf(),
        firm_name: raw.firm.name.unwrap_or_else(|| internal_domains[0].clone()),
        internal_domains,
        smtp: raw.smtp,
        tls,
        allowed_networks,
        proxy_from,
        next_hop: raw.next_hop,
        next_hop_tls,
        next_hop_auth,
        stamp_key,
        dkim,
        store: raw.store,
        review: raw.review,
        review_tls,
        oidc,
        notify: notify.expect("checked with the other problems"),
        limits: raw.limits,
        dict,
        detect: raw.detect,
        certs,
        encrypt,
        examples,
    })
}

fn examples(raw: &RawConfig, dir: &Path) -> Vec<Example> {
    raw.examples
        .iter()
        .map(|e| Example {
            file: resolve(dir, &e.file),
            from: e.from.clone(),
            to: e.to.clone(),
            action: e.action.clone(),
            rules: e.rules.clone(),
        })
        .collect()
}
