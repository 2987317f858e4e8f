//! The error every service answers with, and its one mapping to `tonic::Status`: the same
//! cause gives the same gRPC code in every service (the gateway maps codes to HTTP statuses).
//! A service converts its own store's errors into this type where it defines them.

use std::borrow::Cow;

use tonic::Status;

/// A message shown to the caller: a literal, or a text formatted for the request.
pub type Message = Cow<'static, str>;

/// What a service's answer to PERMISSION_DENIED says.
pub const DENIED: &str = "You don't have access to this action";

/// Everything a service operation can fail with. Every message but [`Error::Internal`]'s is
/// shown to the caller as it is.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed or breaks a rule (INVALID_ARGUMENT).
    #[error("{0}")]
    InvalidArgument(Message),
    /// The object exists already, e.g. an email address in use (ALREADY_EXISTS).
    #[error("{0}")]
    AlreadyExists(Message),
    /// No such object, or not visible to the caller: both answer alike (NOT_FOUND, AC-8).
    #[error("{0}")]
    NotFound(Message),
    /// Wrong or missing credentials (UNAUTHENTICATED).
    #[error("{0}")]
    Unauthenticated(Message),
    /// The state forbids it, e.g. demoting the last admin, or the object changed meanwhile
    /// (FAILED_PRECONDITION).
    #[error("{0}")]
    FailedPrecondition(Message),
    /// The caller sees the object but may not do this (PERMISSION_DENIED).
    #[error("{0}")]
    PermissionDenied(Message),
    /// A limit was reached (RESOURCE_EXHAUSTED).
    #[error("{0}")]
    ResourceExhausted(Message),
    /// A rate limit was reached; the caller may try again after `retry_after`
    /// (RESOURCE_EXHAUSTED with `retry-after` metadata in whole seconds, which the gateway
    /// answers as the `Retry-After` header).
    #[error("{message}")]
    Throttled {
        message: Message,
        retry_after: std::time::Duration,
    },
    /// A dependency (another service, a mail server, an OAuth2 provider) did not answer; the
    /// caller may retry (UNAVAILABLE).
    #[error("{0}")]
    Unavailable(Message),
    /// Anything unexpected; the cause is logged, never sent (INTERNAL).
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Shorthand.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The metadata key of a throttled answer's wait, in whole seconds.
pub const RETRY_AFTER_KEY: &str = "retry-after";

/// A wait as whole seconds, rounded up, at least 1 (a `Retry-After` of 0 invites a busy loop).
pub fn retry_after_seconds(wait: std::time::Duration) -> u64 {
    wait.as_secs()
        .saturating_add(u64::from(wait.subsec_nanos() > 0))
        .max(1)
}

/// The wait a throttled status carries, if any.
pub fn retry_after_of(status: &Status) -> Option<u64> {
    status
        .metadata()
        .get(RETRY_AFTER_KEY)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// PERMISSION_DENIED: "You don't have access to this action".
pub fn denied() -> Error {
    Error::PermissionDenied(Cow::Borrowed(DENIED))
}

/// A role in a request that is not an organization role answers INVALID_ARGUMENT, naming the
/// roles there are.
impl From<proto::identity::v1::UnknownOrganizationRole> for Error {
    fn from(e: proto::identity::v1::UnknownOrganizationRole) -> Self {
        Error::InvalidArgument(e.to_string().into())
    }
}

impl From<Error> for Status {
    fn from(e: Error) -> Self {
        match e {
            Error::InvalidArgument(m) => Status::invalid_argument(m),
            Error::AlreadyExists(m) => Status::already_exists(m),
            Error::NotFound(m) => Status::not_found(m),
            Error::Unauthenticated(m) => Status::unauthenticated(m),
            Error::FailedPrecondition(m) => Status::failed_precondition(m),
            Error::PermissionDenied(m) => Status::permission_denied(m),
            Error::ResourceExhausted(m) => Status::resource_exhausted(m),
            Error::Throttled {
                message,
                retry_after,
            } => {
                let mut status = Status::resource_exhausted(message);
                let secs = retry_after_seconds(retry_after);
                if let Ok(v) = secs.to_string().parse() {
                    status.metadata_mut().insert(RETRY_AFTER_KEY, v);
                }
                status
            }
            Error::Unavailable(m) => Status::unavailable(m),
            Error::Internal(e) => {
                tracing::error!(error = ?e, "internal error");
                Status::internal("internal error")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use tonic::Code;

    use super::*;

    #[test]
    fn each_variant_answers_its_code_and_message() {
        let cases = [
            (Error::InvalidArgument("bad".into()), Code::InvalidArgument),
            (Error::AlreadyExists("taken".into()), Code::AlreadyExists),
            (Error::NotFound("gone".into()), Code::NotFound),
            (Error::Unauthenticated("who".into()), Code::Unauthenticated),
            (
                Error::FailedPrecondition(format!("state {}", 1).into()),
                Code::FailedPrecondition,
            ),
            (Error::PermissionDenied("no".into()), Code::PermissionDenied),
            (
                Error::ResourceExhausted("full".into()),
                Code::ResourceExhausted,
            ),
            (Error::Unavailable("later".into()), Code::Unavailable),
        ];
        for (error, code) in cases {
            let message = error.to_string();
            let status = Status::from(error);
            assert_eq!((status.code(), status.message()), (code, message.as_str()));
        }
    }

    #[test]
    fn a_throttled_answer_carries_its_wait_in_whole_seconds() {
        let status = Status::from(Error::Throttled {
            message: "slow down".into(),
            retry_after: std::time::Duration::from_millis(1500),
        });
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert_eq!(status.message(), "slow down");
        assert_eq!(retry_after_of(&status), Some(2));
        assert_eq!(retry_after_seconds(std::time::Duration::ZERO), 1);
        assert_eq!(retry_after_of(&Status::resource_exhausted("x")), None);
    }

    #[test]
    fn denied_is_permission_denied_with_the_one_message() {
        let status = Status::from(denied());
        assert_eq!(status.code(), Code::PermissionDenied);
        assert_eq!(status.message(), "You don't have access to this action");
    }

    #[test]
    fn internal_never_sends_its_cause() {
        let canary = "canary-internal-cause-5e0b";
        let cause = anyhow::anyhow!("secret {canary}").context(format!("store {canary}"));
        let status = Status::from(Error::from(cause));
        assert_eq!(status.code(), Code::Internal);
        assert_eq!(status.message(), "internal error");
        assert!(!format!("{status:?}").contains(canary), "{status:?}");
    }

    #[test]
    fn an_unknown_organization_role_is_invalid_argument() {
        let unknown = proto::identity::v1::OrganizationRole::required(0).unwrap_err();
        let status = Status::from(Error::from(unknown));
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(
            status.message(),
            "role must be one of: member, viewer, interactive_viewer, editor, developer, admin"
        );
    }
}
