//! The providers' configuration (`CONNECTIONS_OAUTH_PROVIDERS`): token endpoints and client
//! credentials by provider slug, checked at start-up. Errors name the provider and the field,
//! never a value.

use std::collections::BTreeMap;

use secrecy::SecretString;
use serde_json::{Map, Value};
use url::{Host, Url};

use super::untrusted;

/// Longest provider slug.
const MAX_SLUG_CHARS: usize = 64;

/// One provider's token endpoint and client credentials (`Debug` redacts the secret).
#[derive(Debug, Clone)]
pub struct Provider {
    /// The token endpoint (RFC 6749 §3.2): `https`, or `http` on a loopback host.
    pub token_url: Url,
    pub client_id: String,
    pub client_secret: SecretString,
    /// Sent with the code exchange when set; it must equal the one of the authorization request
    /// (§4.1.3).
    pub redirect_uri: Option<String>,
}

/// Providers by slug (the connection's `provider`, e.g. `"googledrive"`).
#[derive(Debug, Clone, Default)]
pub struct Providers(BTreeMap<String, Provider>);

impl Providers {
    /// Parses `CONNECTIONS_OAUTH_PROVIDERS`: a JSON object
    /// `{"<slug>": {"tokenUrl": "…", "clientId": "…", "clientSecret": "…", "redirectUri": "…"?}}`.
    ///
    /// Slugs are 1 to 64 characters of ASCII letters, digits, `-`, `_` and `.`. Unknown fields are
    /// refused (a typo would otherwise drop a setting silently). The token URL must be absolute,
    /// without credentials or fragment (§3.2), and `https` unless its host is loopback
    /// (`127.0.0.0/8`, `::1`, `localhost`), for tests. Errors name the provider and field, never a
    /// value, so they never echo the client secret.
    pub fn parse(json: &str) -> Result<Providers, String> {
        const WHAT: &str = "CONNECTIONS_OAUTH_PROVIDERS";
        let root: Value = serde_json::from_str(json).map_err(|e| {
            format!(
                "{WHAT} is not valid JSON ({} error at line {}, column {})",
                json_error_kind(&e),
                e.line(),
                e.column()
            )
        })?;
        let Value::Object(entries) = root else {
            return Err(format!("{WHAT} must be a JSON object of providers by slug"));
        };
        let mut providers = BTreeMap::new();
        for (slug, entry) in entries {
            if !valid_slug(&slug) {
                return Err(format!(
                    "{WHAT}: a provider slug is empty, longer than {MAX_SLUG_CHARS} characters or \
                     has characters other than ASCII letters, digits, '-', '_' and '.'"
                ));
            }
            let Value::Object(fields) = entry else {
                return Err(format!("{WHAT}: provider {slug:?} must be a JSON object"));
            };
            let provider =
                parse_provider(fields).map_err(|e| format!("{WHAT}: provider {slug:?}: {e}"))?;
            providers.insert(slug, provider);
        }
        Ok(Providers(providers))
    }

    /// The configuration of this provider slug.
    pub fn get(&self, slug: &str) -> Option<&Provider> {
        self.0.get(slug)
    }

    /// The configured provider slugs, sorted.
    pub fn slugs(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// Whether no provider is configured.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn valid_slug(slug: &str) -> bool {
    !slug.is_empty()
        && slug.len() <= MAX_SLUG_CHARS
        && slug
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn parse_provider(mut fields: Map<String, Value>) -> Result<Provider, String> {
    const KNOWN: [&str; 4] = ["tokenUrl", "clientId", "clientSecret", "redirectUri"];
    if let Some(unknown) = fields.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(format!(
            "unknown field {:?} (expected tokenUrl, clientId, clientSecret, redirectUri)",
            untrusted(unknown, 40, &[])
        ));
    }
    let mut take = |name: &str, required: bool| -> Result<Option<String>, String> {
        match fields.remove(name) {
            Some(Value::String(s)) if s.is_empty() => Err(format!("{name} is empty")),
            Some(Value::String(s)) => Ok(Some(s)),
            None | Some(Value::Null) if !required => Ok(None),
            None | Some(Value::Null) => Err(format!("missing field {name}")),
            Some(_) => Err(format!("{name} must be a string")),
        }
    };
    let token_url = take("tokenUrl", true)?.unwrap_or_default();
    let client_id = take("clientId", true)?.unwrap_or_default();
    let client_secret = SecretString::from(take("clientSecret", true)?.unwrap_or_default());
    let redirect_uri = take("redirectUri", false)?;

    let token_url =
        Url::parse(&token_url).map_err(|e| format!("tokenUrl is not an absolute URL ({e})"))?;
    check_token_url(&token_url)?;
    if let Some(uri) = &redirect_uri {
        let parsed =
            Url::parse(uri).map_err(|e| format!("redirectUri is not an absolute URL ({e})"))?;
        if parsed.fragment().is_some() {
            return Err("redirectUri must not have a fragment (RFC 6749 §3.1.2)".into());
        }
    }
    Ok(Provider {
        token_url,
        client_id,
        client_secret,
        redirect_uri,
    })
}

fn check_token_url(url: &Url) -> Result<(), String> {
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(url) => {}
        "http" => {
            return Err(
                "tokenUrl must be https (plain http is accepted only for a loopback host)".into(),
            );
        }
        _ => return Err("tokenUrl must be an https URL".into()),
    }
    if url.host().is_none() {
        return Err("tokenUrl has no host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("tokenUrl must not carry credentials (use clientId/clientSecret)".into());
    }
    if url.fragment().is_some() {
        return Err("tokenUrl must not have a fragment (RFC 6749 §3.2)".into());
    }
    // The request is built from the serialized URL: make sure hyper accepts it now, not per request.
    http::Uri::try_from(url.as_str())
        .map_err(|_| "tokenUrl is not a valid HTTP URI".to_string())?;
    Ok(())
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        Some(Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

fn json_error_kind(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Io => "I/O",
        serde_json::error::Category::Syntax => "syntax",
        serde_json::error::Category::Data => "data",
        serde_json::error::Category::Eof => "unexpected end of input",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for url in [
            "http://127.0.0.1:1/t",
            "http://127.8.0.1/t",
            "http://[::1]:8080/t",
            "http://localhost/t",
            "http://LOCALHOST/t",
        ] {
            assert!(is_loopback(&Url::parse(url).unwrap()), "{url}");
        }
        for url in [
            "http://10.0.0.1/t",
            "http://localhost.example.com/t",
            "http://127.0.0.1.nip.io/t",
            "http://[::2]/t",
        ] {
            assert!(!is_loopback(&Url::parse(url).unwrap()), "{url}");
        }
    }
}
