//! Extractors: JSON bodies, queries and paths that fail in our error shape, the client's
//! address, the request id, and the caller (who they are, and the services bound to them).

use axum::{
    extract::{FromRequest, FromRequestParts, Request},
    http::{HeaderMap, request::Parts},
};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;

use std::marker::PhantomData;

use super::{
    ApiError, AppState,
    error::{Dialect, Error},
};
use crate::clients::{AccountsRpc, ConnectionsRpc, Exchange, IdentityRpc, ProjectsRpc};
use proto::identity::v1::authenticate_request::Credential;

/// Name of the session cookie (Lightdash's express-session name).
pub const SESSION_COOKIE: &str = "connect.sid";
/// Prefix of personal access tokens.
const PAT_PREFIX: &str = "ldpat_";
/// Prefix of operator tokens (identity-svc's `domain::operators::OPERATOR_PREFIX`).
const OPERATOR_PREFIX: &str = "ldop_";

/// `axum::Json<T>` whose rejections answer in the Lightdash error envelope.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<S, T> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        json_object(req, state).await.map(Self)
    }
}

/// A JSON body read as `T`, refused in dialect `D`'s shape. It must be a JSON object: serde's
/// derived structs also read an array (its items as the fields in order), which no client
/// means and no document allows.
async fn json_object<D, T, S>(req: Request, state: &S) -> Result<T, Error<D>>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    if !json_content_type(req.headers()) {
        // axum's own refusal (415), in the dialect's shape.
        return match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(v),
            Err(r) => Err(r.into()),
        };
    }
    let bytes = axum::body::Bytes::from_request(req, state)
        .await
        .map_err(|r| {
            let (status, message) = super::limits::unreadable_body(&r);
            Error::new(status, message)
        })?;
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') && is_struct::<T>() {
        return Err(Error::bad_request("The body must be a JSON object"));
    }
    axum::Json::<T>::from_bytes(&bytes)
        .map(|axum::Json(v)| v)
        .map_err(Into::into)
}

/// Whether `T` deserializes as a struct (a body that may not be an array, unlike a list).
fn is_struct<T: DeserializeOwned>() -> bool {
    matches!(T::deserialize(probe::Probe), Err(probe::Kind::Struct))
}

/// A deserializer that only tells what a type asks for.
mod probe {
    use std::fmt;

    use serde::de::{self, Visitor};

    pub(super) struct Probe;

    #[derive(Debug)]
    pub(super) enum Kind {
        Struct,
        Other,
    }

    impl fmt::Display for Kind {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "{self:?}")
        }
    }

    impl std::error::Error for Kind {}

    impl de::Error for Kind {
        fn custom<T: fmt::Display>(_: T) -> Self {
            Self::Other
        }
    }

    impl<'de> de::Deserializer<'de> for Probe {
        type Error = Kind;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Kind> {
            Err(Kind::Other)
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            _: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Kind> {
            Err(Kind::Struct)
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }

    #[cfg(test)]
    mod tests {
        use super::super::is_struct;

        #[derive(serde::Deserialize)]
        #[allow(dead_code)]
        struct Fields {
            a: Option<u32>,
        }

        #[test]
        fn structs_are_told_from_lists_and_values() {
            assert!(is_struct::<Fields>());
            assert!(!is_struct::<Vec<Fields>>());
            assert!(!is_struct::<serde_json::Value>());
            assert!(!is_struct::<Option<Fields>>());
        }
    }
}

/// Whether the request says its body is JSON (`application/json` or `application/…+json`), as
/// axum's `Json` decides.
pub(super) fn json_content_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    kind.eq_ignore_ascii_case("application")
        && (subtype.eq_ignore_ascii_case("json")
            || subtype
                .rsplit_once('+')
                .is_some_and(|(_, suffix)| suffix.eq_ignore_ascii_case("json")))
}

/// `axum::extract::Query<T>` whose rejections answer in the Lightdash error envelope (400).
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

/// `axum::extract::Path<T>` whose rejections answer in the Lightdash error envelope (400).
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

/// The one parameter of a route's path (a uuid or a code, passed on as the service reads it).
pub type Id = Path<String>;
/// The two parameters of a route's path.
pub type Ids = Path<(String, String)>;

/// Our `Query` and `Path` over axum's: the value, or 400 with axum's message.
macro_rules! bad_request_on_rejection {
    ($($ours:ident => $axum:ident),*) => {$(
        impl<S, T> FromRequestParts<S> for $ours<T>
        where
            T: DeserializeOwned + Send,
            S: Send + Sync,
        {
            type Rejection = ApiError;

            async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
                match axum::extract::$axum::<T>::from_request_parts(parts, state).await {
                    Ok(axum::extract::$axum(v)) => Ok(Self(v)),
                    Err(r) => Err(ApiError::bad_request(r.body_text())),
                }
            }
        }
    )*};
}
bad_request_on_rejection!(Query => Query, Path => Path);

/// Extractor `E` of the shared kind (its refusals built in the Lightdash envelope), refused in
/// dialect `D`'s shape instead, with the same status and message: `In<Swift, Caller>`,
/// `In<Swift, Query<Paging>>`. Request bodies use [`Body`].
#[derive(Debug, Clone)]
pub struct In<D, E>(pub E, pub PhantomData<fn() -> D>);

impl<S, D, E> FromRequestParts<S> for In<D, E>
where
    E: FromRequestParts<S, Rejection = ApiError>,
    D: Dialect,
    S: Send + Sync,
{
    type Rejection = Error<D>;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match E::from_request_parts(parts, state).await {
            Ok(e) => Ok(Self(e, PhantomData)),
            Err(e) => Err(e.recast()),
        }
    }
}

/// A JSON request body refused in dialect `D`'s shape.
#[derive(Debug, Clone)]
pub struct Body<D, T>(pub T, pub PhantomData<fn() -> D>);

impl<S, D, T> FromRequest<S> for Body<D, T>
where
    T: DeserializeOwned,
    D: Dialect,
    S: Send + Sync,
{
    type Rejection = Error<D>;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        json_object(req, state).await.map(|v| Self(v, PhantomData))
    }
}

/// The client's address: the peer, or the last `X-Forwarded-For` entry behind a trusted proxy.
#[derive(Debug, Clone)]
pub struct ClientAddress(pub Option<String>);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(client_address(parts, state)))
    }
}

/// The client's address of a request (see [`ClientAddress`]): with `TRUST_FORWARDED_FOR`, the
/// last `X-Forwarded-For` entry that is an address (the one the trusted proxy added), else the
/// peer.
pub(crate) fn client_address(parts: &Parts, state: &AppState) -> Option<String> {
    if state.settings.trust_forwarded_for {
        let forwarded = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .rfind(|v| !v.is_empty())
            .and_then(|v| v.parse::<std::net::IpAddr>().ok());
        if let Some(ip) = forwarded {
            return Some(ip.to_string());
        }
    }
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string())
}

/// The id of the current request (set by the request-id layer).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(request_id(&parts.headers)))
    }
}

fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// How the caller proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// The session cookie.
    Session,
    /// A personal access token (`ApiKey` or `Bearer` scheme).
    PersonalAccessToken,
    /// An access JWT (`Bearer` scheme).
    AccessToken,
    /// An operator token (`Bearer` scheme): the account API only (docs/accounts.md).
    OperatorToken,
}

/// An authenticated caller: the access JWT that names them and the address they call from, for
/// every downstream call, and the services' clients bound to them.
#[derive(Clone)]
pub struct Caller {
    /// The access token to forward.
    pub access_token: SecretString,
    /// How they authenticated.
    pub method: AuthMethod,
    /// The request id.
    pub request_id: String,
    /// The client's address ([`ClientAddress`]), sent on every call for the account's allowed
    /// IPs (docs/accounts.md).
    pub client_address: Option<String>,
    state: AppState,
}

impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller")
            .field("method", &self.method)
            .field("request_id", &self.request_id)
            .field("client_address", &self.client_address)
            .finish_non_exhaustive()
    }
}

impl Caller {
    /// A caller a dialect's own extractor authenticated: `access_token` names them, calling from
    /// `client_address`.
    pub fn new(
        state: &AppState,
        access_token: SecretString,
        method: AuthMethod,
        request_id: String,
        client_address: Option<String>,
    ) -> Self {
        Self {
            access_token,
            method,
            request_id,
            client_address,
            state: state.clone(),
        }
    }

    /// The access token, for a downstream call.
    pub fn token(&self) -> &str {
        self.access_token.expose_secret()
    }

    /// identity-svc, called on the caller's behalf.
    pub fn identity(&self) -> IdentityRpc {
        self.state.identity.as_user(self)
    }

    /// identity-svc's account hierarchy API, called on the caller's behalf.
    pub fn accounts(&self) -> AccountsRpc {
        self.state.identity.accounts_as_user(self)
    }

    /// projects-svc, called on the caller's behalf.
    pub fn projects(&self) -> ProjectsRpc {
        self.state.projects.as_user(self)
    }

    /// connections-svc, called on the caller's behalf.
    pub fn connections(&self) -> ConnectionsRpc {
        self.state.connections.as_user(self)
    }
}

enum Presented {
    Session(String),
    Pat(String),
    Operator(String),
    Jwt(String),
}

fn presented(headers: &HeaderMap) -> Result<Option<Presented>, ApiError> {
    if let Some(value) = headers.get(axum::http::header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| ApiError::unauthorized())?;
        let (scheme, token) = value.split_once(' ').ok_or_else(ApiError::unauthorized)?;
        let token = token.trim();
        if token.is_empty() {
            return Err(ApiError::unauthorized());
        }
        return if scheme.eq_ignore_ascii_case("apikey") {
            Ok(Some(Presented::Pat(token.to_owned())))
        } else if scheme.eq_ignore_ascii_case("bearer") {
            if token.starts_with(PAT_PREFIX) {
                Ok(Some(Presented::Pat(token.to_owned())))
            } else if token.starts_with(OPERATOR_PREFIX) {
                Ok(Some(Presented::Operator(token.to_owned())))
            } else {
                Ok(Some(Presented::Jwt(token.to_owned())))
            }
        } else {
            Err(ApiError::unauthorized())
        };
    }
    Ok(session_cookie(headers).map(Presented::Session))
}

/// The value of the session cookie, if the request carries one.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_owned())
        .filter(|v| !v.is_empty())
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let address = client_address(parts, state);
        Self::authenticate(&parts.headers, address, state, Exchange::Reuse).await
    }
}

/// The access token for a personal access token or a session. One the gateway reuses is checked
/// by its verifier first (a digest lookup once it has verified it): should the key set change
/// under it, a new one is asked for rather than sent on to be refused for the rest of its reuse.
async fn exchanged(
    state: &AppState,
    request_id: &str,
    credential: Credential,
    exchange: Exchange,
) -> Result<SecretString, ApiError> {
    let refused = |s: tonic::Status| match s.code() {
        tonic::Code::Unauthenticated => ApiError::unauthorized(),
        _ => s.into(),
    };
    let identity = &state.identity;
    let token = identity
        .authenticate(request_id, &credential, exchange)
        .await
        .map_err(refused)?;
    if exchange == Exchange::Reuse && state.verifier.verify(token.expose_secret()).await.is_err() {
        return identity
            .authenticate(request_id, &credential, Exchange::Fresh)
            .await
            .map_err(refused);
    }
    Ok(token)
}

impl Caller {
    /// The caller of a request with `headers` from `client_address`. A personal access token or
    /// a session is exchanged for an access token, which `exchange` may let come from the
    /// gateway's recent exchanges.
    pub async fn authenticate(
        headers: &HeaderMap,
        client_address: Option<String>,
        state: &AppState,
        exchange: Exchange,
    ) -> Result<Self, ApiError> {
        let request_id = request_id(headers);
        let presented = presented(headers)?.ok_or_else(ApiError::unauthorized)?;
        let (access_token, method) = match presented {
            Presented::Jwt(token) => {
                state.verifier.verify(&token).await.map_err(|e| {
                    tracing::info!(reason = %e, "access token refused");
                    match e {
                        service_kit::jwt::VerifyError::KeySetUnavailable(_) => ApiError::new(
                            axum::http::StatusCode::SERVICE_UNAVAILABLE,
                            "Signing keys unavailable; try again",
                        ),
                        _ => ApiError::unauthorized(),
                    }
                })?;
                (SecretString::from(token), AuthMethod::AccessToken)
            }
            Presented::Pat(token) => {
                let credential = Credential::PersonalAccessToken(token);
                let token = exchanged(state, &request_id, credential, exchange).await?;
                (token, AuthMethod::PersonalAccessToken)
            }
            Presented::Operator(token) => {
                let credential = Credential::OperatorToken(token);
                let token = exchanged(state, &request_id, credential, exchange).await?;
                (token, AuthMethod::OperatorToken)
            }
            Presented::Session(token) => {
                let credential = Credential::SessionToken(token);
                let token = exchanged(state, &request_id, credential, exchange).await?;
                (token, AuthMethod::Session)
            }
        };
        Ok(Self::new(
            state,
            access_token,
            method,
            request_id,
            client_address,
        ))
    }
}

/// Whether a `Content-Type` value names JSON (`application/json`, `application/…+json`), for
/// faces that read their bodies by hand.
pub(crate) fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence
        .strip_prefix("application/")
        .is_some_and(|sub| sub == "json" || sub.ends_with("+json"))
}

/// Property tests of the credential a request presents (issue #18 item 8): never a panic, the
/// token exactly as sent, and its kind by its prefix alone.
pub(crate) mod fuzz;
pub(crate) use fuzz::fuzz;

#[cfg(test)]
mod proptests {
    use axum::http::{HeaderValue, StatusCode, header};
    use proptest::prelude::*;

    use super::*;
    use crate::http::proptest_support::CASES;

    fn headers(name: header::HeaderName, value: &str) -> Option<HeaderMap> {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_str(value).ok()?);
        Some(h)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(CASES))]

        /// A token after `Bearer` or `ApiKey` is taken as sent (trimmed); `ldpat_` makes it a
        /// personal access token, `ldop_` an operator token, anything else a JWT to verify;
        /// another scheme or no token is refused (401).
        #[test]
        fn credentials_are_classified_by_scheme_and_prefix(
            scheme in prop_oneof![
                prop::sample::select(&["Bearer", "bearer", "ApiKey", "APIKEY", "Basic"][..])
                    .prop_map(str::to_owned),
                "[A-Za-z]{0,8}",
            ],
            prefix in prop_oneof![Just(PAT_PREFIX), Just(OPERATOR_PREFIX), Just("eyJ"), Just("")],
            rest in "[!-~]{0,40}",
            pad in " {0,2}",
            any_value in any::<String>(),
        ) {
            if let Some(h) = headers(header::AUTHORIZATION, &any_value) {
                let _ = presented(&h);
            }
            let token = format!("{prefix}{rest}");
            let Some(h) = headers(header::AUTHORIZATION, &format!("{scheme} {pad}{token}{pad}")) else {
                return Ok(());
            };
            let got = presented(&h);
            let bearer = scheme.eq_ignore_ascii_case("bearer");
            let api_key = scheme.eq_ignore_ascii_case("apikey");
            match got {
                _ if token.is_empty() || !(bearer || api_key) => {
                    prop_assert!(matches!(got, Err(ref e) if e.status == StatusCode::UNAUTHORIZED));
                }
                Ok(Some(Presented::Pat(t))) => {
                    prop_assert_eq!(&t, &token);
                    prop_assert!(api_key || token.starts_with(PAT_PREFIX));
                }
                Ok(Some(Presented::Operator(t))) => {
                    prop_assert_eq!(&t, &token);
                    prop_assert!(bearer && token.starts_with(OPERATOR_PREFIX));
                }
                Ok(Some(Presented::Jwt(t))) => {
                    prop_assert_eq!(&t, &token);
                    prop_assert!(bearer && !token.starts_with(PAT_PREFIX) && !token.starts_with(OPERATOR_PREFIX));
                }
                _ => prop_assert!(false, "{scheme} {token}: not classified"),
            }
        }

        /// The session cookie is the value of `connect.sid` among any cookies, never empty.
        #[test]
        fn the_session_cookie_is_found_among_others(
            others in prop::collection::vec(("[a-z.]{1,8}", "[!-:<-~]{0,12}"), 0..4),
            value in "[!-:<-~]{0,24}",
            any_value in any::<String>(),
        ) {
            if let Some(h) = headers(header::COOKIE, &any_value) {
                let _ = session_cookie(&h);
            }
            let mut pairs: Vec<String> = others
                .iter()
                .filter(|(n, _)| n != SESSION_COOKIE)
                .map(|(n, v)| format!("{n}={v}"))
                .collect();
            pairs.insert(pairs.len() / 2, format!("{SESSION_COOKIE}={value}"));
            let h = headers(header::COOKIE, &pairs.join("; ")).unwrap();
            let expected = (!value.is_empty()).then_some(value);
            prop_assert_eq!(session_cookie(&h), expected);
        }
    }
}
