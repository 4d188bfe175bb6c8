//! Single sign-on with an OpenID Connect provider (issue #18): Entra ID,
//! Okta, Google or any certified provider, beside the local accounts (which
//! stay, for break-glass). [`flow`] has the two pages (off to the provider,
//! and back); this file keeps the provider's discovery document and keys.
//!
//! The discovery document and the provider's signing keys (JWKS) are
//! fetched when the listener starts and again every [`REFRESH`], by a task
//! of their own ([`keep_fresh`]): a provider that is down delays nothing
//! else — mail flows, local logins work, and the single sign-on button says
//! it is unavailable until a fetch succeeds (retried every [`RETRY`]). Keys
//! already fetched stay in use while a refresh fails, so a provider's short
//! outage does not stop logins that it can still answer.

pub mod flow;

use crate::config::oidc::Oidc;
use crate::engine::Engine;
use arc_swap::{ArcSwap, ArcSwapOption};
use openidconnect::core::{CoreClient, CoreProviderMetadata};
use openidconnect::{
    ClientId, ClientSecret, EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, RedirectUrl,
};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the discovery document and keys are fetched again.
pub const REFRESH: Duration = Duration::from_secs(15 * 60);
/// How soon a failed fetch is tried again.
pub const RETRY: Duration = Duration::from_secs(5);
/// Every call to the provider (discovery, keys, the code exchange) ends
/// within this.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// The client as discovery makes it: authorization endpoint set, token and
/// userinfo endpoints as the provider says.
pub type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// A provider ready for logins: the settings it was fetched for, the client
/// built from its discovery document (with its keys), and when.
pub struct Ready {
    pub cfg: Oidc,
    pub client: Client,
    pub fetched: Instant,
}

/// The review listener's single sign-on: the HTTP client for the provider
/// and the provider as last fetched.
pub struct Sso {
    http: Option<reqwest::Client>,
    ready: ArcSwapOption<Ready>,
}

impl Default for Sso {
    fn default() -> Self {
        Sso::new()
    }
}

impl Sso {
    /// Nothing fetched yet. The HTTP client follows no redirect (a
    /// redirect could point discovery or the code exchange anywhere) and
    /// gives up after [`HTTP_TIMEOUT`].
    pub fn new() -> Sso {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(HTTP_TIMEOUT)
            .connect_timeout(HTTP_TIMEOUT)
            .build()
            .map_err(|e| tracing::error!(error = %e, "single sign-on: no HTTP client"))
            .ok();
        Sso {
            http,
            ready: ArcSwapOption::empty(),
        }
    }

    /// The provider, when its discovery document has been fetched.
    pub fn ready(&self) -> Option<Arc<Ready>> {
        self.ready.load_full()
    }

    pub(crate) fn http(&self) -> Option<&reqwest::Client> {
        self.http.as_ref()
    }

    /// Fetches `cfg`'s discovery document and keys.
    async fn discover(&self, cfg: &Oidc) -> Result<Ready, String> {
        let http = self.http.as_ref().ok_or("no HTTP client")?;
        let issuer = IssuerUrl::new(cfg.issuer.clone()).map_err(|e| e.to_string())?;
        let fetch = CoreProviderMetadata::discover_async(issuer, http);
        let meta = tokio::time::timeout(HTTP_TIMEOUT * 2, fetch)
            .await
            .map_err(|_| "timed out".to_string())?
            .map_err(|e| error_chain(&e))?;
        let redirect = RedirectUrl::new(cfg.redirect_url.clone()).map_err(|e| e.to_string())?;
        let client = CoreClient::from_provider_metadata(
            meta,
            ClientId::new(cfg.client_id.clone()),
            Some(ClientSecret::new(cfg.client_secret.clone())),
        )
        .set_redirect_uri(redirect);
        Ok(Ready {
            cfg: cfg.clone(),
            client,
            fetched: Instant::now(),
        })
    }
}

/// An error with its causes, for the log.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

/// Whether the provider needs fetching now: never fetched for these
/// settings, or fetched longer ago than [`REFRESH`]; and not tried within
/// [`RETRY`] (settings that changed are tried at once).
fn due(ready: Option<&Ready>, cfg: &Oidc, tried: &Option<(Oidc, Instant)>, now: Instant) -> bool {
    let fresh = ready.is_some_and(|r| r.cfg == *cfg && now - r.fetched < REFRESH);
    let waiting = tried
        .as_ref()
        .is_some_and(|(c, at)| c == cfg && now - *at < RETRY);
    !fresh && !waiting
}

/// Keeps the provider of the live configuration fetched (see the module
/// doc); follows reloads (new settings are fetched within seconds, none
/// turns single sign-on off). Runs for the life of the server.
pub async fn keep_fresh(engine: Arc<ArcSwap<Engine>>, sso: Arc<Sso>) {
    let mut tried: Option<(Oidc, Instant)> = None;
    loop {
        let want = engine.load().config.oidc.clone();
        match want {
            None => sso.ready.store(None),
            Some(cfg) => {
                let now = Instant::now();
                let current = sso.ready();
                if due(current.as_deref(), &cfg, &tried, now) {
                    tried = Some((cfg.clone(), now));
                    refresh(&sso, &cfg, current.as_deref()).await;
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

async fn refresh(sso: &Sso, cfg: &Oidc, current: Option<&Ready>) {
    match sso.discover(cfg).await {
        Ok(ready) => {
            tracing::info!(issuer = %cfg.issuer, "single sign-on: provider discovered");
            sso.ready.store(Some(Arc::new(ready)));
        }
        Err(e) => {
            tracing::warn!(issuer = %cfg.issuer, error = %e,
                "single sign-on: cannot fetch the provider's discovery document; retrying");
            // Keys fetched for other settings must not serve these.
            if current.is_some_and(|r| r.cfg != *cfg) {
                sso.ready.store(None);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(issuer: &str) -> Oidc {
        Oidc {
            issuer: issuer.into(),
            client_id: "mw".into(),
            client_secret: "s".into(),
            redirect_url: "https://mw.example/login/oidc/callback".into(),
            role_claim: "groups".into(),
            name_claim: "email".into(),
            scopes: vec![],
            label: "SSO".into(),
            roles: vec![],
        }
    }

    #[test]
    fn when_the_provider_is_fetched() {
        let (a, b) = (cfg("https://a.example"), cfg("https://b.example"));
        let t0 = Instant::now();
        let now = t0 + REFRESH + RETRY;
        // Never fetched, never tried: now; tried a moment ago: not yet.
        assert!(due(None, &a, &None, now));
        assert!(!due(None, &a, &Some((a.clone(), now)), now));
        assert!(due(None, &a, &Some((a.clone(), now - RETRY)), now));
        // Settings changed since the last try: at once.
        assert!(due(None, &b, &Some((a.clone(), now)), now));
        let tried_long_ago = Some((a.clone(), t0));
        assert!(due(None, &a, &tried_long_ago, now));
    }
}
