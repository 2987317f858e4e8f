//! identity-svc answers with the services' one error type ([`service_kit::error`]); what is
//! identity's own is how its store's failures read.

pub use service_kit::error::{Error, Result, denied};

use crate::store::StoreError;

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            // A guarded change lost a race with a demotion or a removal (AC-9).
            StoreError::NotAllowed => denied(),
            StoreError::NotMember => Error::NotFound("user not found".into()),
            StoreError::Gone => Error::NotFound("organization not found".into()),
            e => Error::Internal(anyhow::Error::new(e).context("identity store")),
        }
    }
}
