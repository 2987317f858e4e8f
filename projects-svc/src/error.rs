//! projects-svc answers with the services' one error type ([`service_kit::error`]); what is
//! projects-svc's own is how its store's failures read.

pub use service_kit::error::{Error, Result, denied};

use crate::store::StoreError;

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            // Deleted while the request ran: as if it had not been there.
            StoreError::Gone => Error::NotFound("not found".into()),
            e => Error::Internal(anyhow::Error::new(e).context("projects store")),
        }
    }
}
