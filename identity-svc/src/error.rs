//! identity-svc's error type and its single mapping to `tonic::Status`.

use tonic::Status;

/// Everything an identity operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed or breaks a rule (INVALID_ARGUMENT).
    #[error("{0}")]
    InvalidArgument(String),
    /// The object exists already, e.g. an email address in use (ALREADY_EXISTS).
    #[error("{0}")]
    AlreadyExists(String),
    /// No such object, or not the caller's: both answer alike (NOT_FOUND).
    #[error("{0}")]
    NotFound(&'static str),
    /// Wrong or missing credentials. One message for every cause (UNAUTHENTICATED).
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// The state forbids it, e.g. demoting the last admin (FAILED_PRECONDITION).
    #[error("{0}")]
    FailedPrecondition(String),
    /// The caller may not do this (PERMISSION_DENIED).
    #[error("{0}")]
    PermissionDenied(String),
    /// A limit was reached (RESOURCE_EXHAUSTED).
    #[error("{0}")]
    ResourceExhausted(String),
    /// A dependency (the mail server) failed; the caller may retry (UNAVAILABLE).
    #[error("{0}")]
    Unavailable(&'static str),
    /// Anything unexpected; the cause is logged, never sent (INTERNAL).
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<crate::store::StoreError> for Error {
    fn from(e: crate::store::StoreError) -> Self {
        use crate::store::StoreError;
        match e {
            // A guarded change lost a race with a demotion or a removal (AC-9).
            StoreError::NotAllowed => {
                Error::PermissionDenied("You don't have access to this action".into())
            }
            StoreError::NotMember => Error::NotFound("user not found"),
            e => Error::Internal(anyhow::Error::new(e).context("identity store")),
        }
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
            Error::Unavailable(m) => Status::unavailable(m),
            Error::Internal(e) => {
                tracing::error!(error = ?e, "internal error");
                Status::internal("internal error")
            }
        }
    }
}

/// Shorthand.
pub type Result<T, E = Error> = std::result::Result<T, E>;
