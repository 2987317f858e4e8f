//! Errors answered to API callers: the one table mapping gRPC codes to HTTP statuses, written
//! once for every dialect, and the [`Dialect`] trait by which a dialect gives only its envelope.
//! A handler of dialect `D` returns `Result<_, Error<D>>` and uses `?` on gRPC results.

use std::marker::PhantomData;

use axum::{
    extract::rejection::JsonRejection,
    http::StatusCode,
    response::{IntoResponse, Response},
};

/// A public API dialect's error shape.
pub trait Dialect {
    /// The JSON body answering an error with `status` and `message` (safe to show the caller).
    fn error_body(status: StatusCode, message: &str) -> serde_json::Value;
}

/// An error answered to an API caller in dialect `D`'s shape.
pub struct Error<D> {
    /// HTTP status.
    pub status: StatusCode,
    /// Message safe to show the caller.
    pub message: String,
    /// A 429's wait in seconds, when the service named one.
    pub retry_after: Option<u64>,
    dialect: PhantomData<fn() -> D>,
}

impl<D> std::fmt::Debug for Error<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Error")
            .field("status", &self.status)
            .field("message", &self.message)
            .finish()
    }
}

impl<D> Clone for Error<D> {
    fn clone(&self) -> Self {
        Self {
            retry_after: self.retry_after,
            ..Self::new(self.status, self.message.clone())
        }
    }
}

impl<D> Error<D> {
    /// An error with `status` and `message`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after: None,
            dialect: PhantomData,
        }
    }

    /// 400: the request is malformed.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 401: no or bad credentials.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "You must be logged in to perform this action",
        )
    }

    /// 403: authenticated, but not allowed.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    /// 404 for an unknown route.
    pub fn route_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "Route not found")
    }

    /// 500, for a fault the caller cannot act on.
    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong")
    }

    /// The same status and message, answered in dialect `E`'s shape.
    pub fn recast<E>(self) -> Error<E> {
        Error {
            retry_after: self.retry_after,
            ..Error::new(self.status, self.message)
        }
    }
}

impl<D: Dialect> IntoResponse for Error<D> {
    fn into_response(self) -> Response {
        let body = D::error_body(self.status, &self.message);
        let mut response = (self.status, axum::Json(body)).into_response();
        with_retry_after(&mut response, self.retry_after);
        response
    }
}

/// Every 429 says when to try again: the service's wait, else one second.
pub fn with_retry_after(response: &mut Response, retry_after: Option<u64>) {
    if response.status() == StatusCode::TOO_MANY_REQUESTS {
        let secs = retry_after.unwrap_or(1).max(1);
        response
            .headers_mut()
            .insert(axum::http::header::RETRY_AFTER, secs.into());
    }
}

/// The HTTP status of a gRPC code, and the message to show instead of the service's (for
/// faults the caller should not see the details of).
pub fn status_of(code: tonic::Code) -> (StatusCode, Option<&'static str>) {
    use tonic::Code;
    match code {
        Code::InvalidArgument | Code::FailedPrecondition => (StatusCode::BAD_REQUEST, None),
        Code::Unauthenticated => (StatusCode::UNAUTHORIZED, None),
        Code::PermissionDenied => (StatusCode::FORBIDDEN, None),
        Code::NotFound => (StatusCode::NOT_FOUND, None),
        Code::AlreadyExists | Code::Aborted => (StatusCode::CONFLICT, None),
        Code::ResourceExhausted => (StatusCode::TOO_MANY_REQUESTS, None),
        Code::Unavailable => (
            StatusCode::SERVICE_UNAVAILABLE,
            Some("A service is unavailable; try again"),
        ),
        Code::DeadlineExceeded => (
            StatusCode::GATEWAY_TIMEOUT,
            Some("A service did not answer in time"),
        ),
        _ => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Some("Something went wrong"),
        ),
    }
}

impl<D> From<tonic::Status> for Error<D> {
    fn from(s: tonic::Status) -> Self {
        let (status, shown) = status_of(s.code());
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(code = ?s.code(), message = s.message(), "upstream service failed");
        }
        Self {
            retry_after: service_kit::error::retry_after_of(&s),
            ..Self::new(status, shown.unwrap_or(s.message()))
        }
    }
}

/// 400 for a role in a body that is not an organization role, naming the roles there are.
impl<D> From<proto::identity::v1::UnknownOrganizationRole> for Error<D> {
    fn from(e: proto::identity::v1::UnknownOrganizationRole) -> Self {
        Self::bad_request(e.to_string())
    }
}

impl<D> From<JsonRejection> for Error<D> {
    fn from(r: JsonRejection) -> Self {
        let status = match r.status() {
            // Lightdash answers 400 for every validation failure.
            StatusCode::UNPROCESSABLE_ENTITY => StatusCode::BAD_REQUEST,
            s => s,
        };
        let message = match &r {
            JsonRejection::MissingJsonContentType(_) => {
                "Expected request with `Content-Type: application/json`".to_owned()
            }
            JsonRejection::BytesRejection(b) => {
                let (status, message) = super::limits::unreadable_body(b);
                return Self::new(status, message);
            }
            // serde quotes the offending value: a password sent where a number belongs must not
            // come back in the error (CR-7).
            _ => without_strings(&r.body_text()),
        };
        Self::new(status, message)
    }
}

/// A serde message with the string value it quotes elided (`invalid type: string "…"`,
/// `unknown variant `…``): a secret sent in the wrong field must not come back in the error.
/// Field names stay, and so does a path of keys before the message.
pub(crate) fn without_strings(message: &str) -> String {
    let message = without_variant(message);
    // serde writes a string value as `string "<Debug-escaped>"`: a `"` inside the value is
    // escaped, so the last `string "` opens the value, whatever keys (quotes included) the
    // caller put in the path before it.
    let Some(at) = message.rfind("string \"") else {
        return message;
    };
    let open = at + "string ".len();
    let mut out = format!("{}\"…\"", &message[..open]);
    let mut escaped = false;
    for (i, ch) in message[open + 1..].char_indices() {
        match ch {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => {
                out.push_str(&message[open + 1 + i + 1..]);
                break;
            }
            _ => {}
        }
    }
    out
}

/// serde's `unknown variant `<value>`, expected …` with the value elided: it is written as
/// sent, so it ends at the last "`, expected " (or "`, there are no variants").
fn without_variant(message: &str) -> String {
    const OPEN: &str = "unknown variant `";
    let Some(at) = message.find(OPEN) else {
        return message.to_owned();
    };
    let from = at + OPEN.len();
    let rest = &message[from..];
    let end = rest
        .rfind("`, expected ")
        .or_else(|| rest.rfind("`, there are no variants"))
        .map_or(message.len(), |i| from + i);
    format!("{}…{}", &message[..from], &message[end..])
}

#[cfg(test)]
mod tests {
    use super::without_strings;

    #[test]
    fn quoted_values_leave_deserialization_errors() {
        for secret in [
            "plain",
            r#"pa"ss"word"#,
            r"back\slash",
            "quote at end\"",
            "\u{1}",
        ] {
            let err = serde_json::from_value::<u32>(serde_json::json!(secret))
                .unwrap_err()
                .to_string();
            let shown = without_strings(&err);
            for part in secret.split('"').filter(|p| p.len() > 2) {
                assert!(!shown.contains(part), "{shown}");
            }
            assert!(shown.contains("invalid type: string"), "{shown}");
        }
        assert_eq!(
            without_strings("unknown field `owner`, expected `name`"),
            "unknown field `owner`, expected `name`"
        );
    }

    /// Found by `proptests::cr_7_body_refusals_quote_no_string`: serde quotes an unknown
    /// variant in backticks, and a map key holding a quote (the path before the message is
    /// the caller's text) unbalanced the quotes, so the value after it came back.
    #[test]
    fn cr_7_unknown_variants_and_quoted_keys_quote_nothing_back() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        enum Grant {
            Password,
        }
        let secret = "ldrt_5ecret";
        let err = serde_json::from_value::<Grant>(serde_json::json!(secret))
            .unwrap_err()
            .to_string();
        assert!(err.contains(secret), "{err}");
        let shown = without_strings(&format!("grantType: {err}"));
        assert!(!shown.contains(secret), "{shown}");
        assert!(shown.starts_with("grantType: unknown variant"), "{shown}");
        assert!(shown.contains("expected `password`"), "{shown}");

        let at_quoted_key = format!("map.a\"b: invalid type: string {secret:?}, expected u8");
        let shown = without_strings(&at_quoted_key);
        assert!(!shown.contains(secret), "{shown}");
        assert!(shown.contains("expected u8"), "{shown}");
    }
}

/// Property tests: whatever a body holds, a refusal never quotes one of its strings (CR-7).
#[cfg(test)]
mod proptests {
    use proptest::prelude::*;
    use serde_json::Value;

    use super::without_strings;
    use crate::http::{
        extract::{
            self,
            fuzz::{FIELDS, Kind, Shapes},
        },
        proptest_support::{CANARY, CASES, body, secret, value},
    };

    fn shown<T: serde::de::DeserializeOwned>(v: &Value) -> Option<String> {
        serde_json::from_value::<T>(v.clone())
            .err()
            .map(|e| without_strings(&e.to_string()))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(CASES))]

        /// CR-7: a string sent where another type belongs is not quoted back, whatever
        /// characters it holds.
        #[test]
        fn cr_7_serde_errors_lose_their_strings(v in value()) {
            for message in [
                shown::<u32>(&v),
                shown::<bool>(&v),
                shown::<Kind>(&v),
                shown::<Vec<u8>>(&v),
                shown::<Shapes>(&v),
            ]
            .into_iter()
            .flatten()
            {
                prop_assert!(!message.contains(CANARY), "{message}");
            }
        }

        /// CR-7: the shared JSON body extractor refuses in our shape without quoting a string
        /// of the body, and answers a 4xx.
        #[test]
        fn cr_7_body_refusals_quote_no_string(b in body(FIELDS)) {
            let bytes = serde_json::to_vec(&b).unwrap();
            extract::fuzz::body(&bytes, Some("application/json"));
        }

        /// Scrubbing is idempotent and only ever removes text: a message without quotes
        /// passes unchanged.
        #[test]
        fn scrubbing_is_idempotent(m in "\\PC{0,80}", s in secret()) {
            let once = without_strings(&m);
            prop_assert_eq!(without_strings(&once), once.clone());
            if !m.contains('"') {
                prop_assert_eq!(once, m);
            }
            let quoted = format!("invalid type: string {s:?}, expected u32");
            prop_assert!(!without_strings(&quoted).contains(CANARY));
        }
    }
}
