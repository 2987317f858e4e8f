//! connections-svc's error type and its single mapping to `tonic::Status`.

use tonic::Status;

/// Everything a connections-svc operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed or breaks a rule (INVALID_ARGUMENT).
    #[error("{0}")]
    InvalidArgument(String),
    /// The object changed meanwhile, or is not in a state for this (FAILED_PRECONDITION).
    #[error("{0}")]
    FailedPrecondition(String),
    /// No such object, or not visible to the caller: both answer alike (NOT_FOUND, AC-8).
    #[error("{0}")]
    NotFound(&'static str),
    /// Wrong or missing credentials (UNAUTHENTICATED).
    #[error("{0}")]
    Unauthenticated(String),
    /// The caller sees the object but may not do this (PERMISSION_DENIED).
    #[error("{0}")]
    PermissionDenied(String),
    /// identity-svc or an OAuth2 provider did not answer; the caller may retry (UNAVAILABLE).
    #[error("{0}")]
    Unavailable(String),
    /// Anything unexpected; the cause is logged, never sent (INTERNAL).
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<crate::store::StoreError> for Error {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            // Deleted while the request ran: as if it had not been there.
            crate::store::StoreError::Gone => Error::NotFound("not found"),
            e => Error::Internal(anyhow::Error::new(e).context("connections store")),
        }
    }
}

impl From<Error> for Status {
    fn from(e: Error) -> Self {
        match e {
            Error::InvalidArgument(m) => Status::invalid_argument(m),
            Error::FailedPrecondition(m) => Status::failed_precondition(m),
            Error::NotFound(m) => Status::not_found(m),
            Error::Unauthenticated(m) => Status::unauthenticated(m),
            Error::PermissionDenied(m) => Status::permission_denied(m),
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

/// "You don't have access to this action."
pub fn denied() -> Error {
    Error::PermissionDenied("You don't have access to this action".into())
}
