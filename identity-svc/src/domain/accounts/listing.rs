//! Listing accounts: the page a caller may list, keyset-paged, narrowed by filters; and an
//! account found by its email.

use service_kit::jwt::AccessClaims;
use uuid::Uuid;

use super::{
    super::{Identity, organizations::like_pattern, validate},
    DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT, no_organization, not_found,
};
use crate::{
    error::{Error, Result},
    store::{AccountQuery, AccountRecord, PageCursor, PathRange},
};

/// A page request: `limit` 0 (the default) to [`MAX_PAGE_LIMIT`], at most one cursor, and
/// the filters that narrow the accounts the caller may list.
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    pub limit: u32,
    pub after: Option<String>,
    pub before: Option<String>,
    /// A case-insensitive substring of the name or the email.
    pub filter: Option<String>,
    pub organization_uuid: Option<String>,
    pub email: Option<String>,
}

/// A page of accounts and the cursors of the pages next to it, when there are any.
#[derive(Debug)]
pub struct AccountList {
    pub accounts: Vec<AccountRecord>,
    pub after: Option<Uuid>,
    pub before: Option<Uuid>,
    pub limit: u32,
    pub total: u64,
}

/// A page cursor named `field`: an account's uuid.
fn cursor(field: &str, value: Option<String>) -> Result<Option<Uuid>> {
    value
        .filter(|v| !v.is_empty())
        .map(|v| {
            Uuid::parse_str(&v).map_err(|_| {
                Error::InvalidArgument(format!("{field} must be an account id").into())
            })
        })
        .transpose()
}

impl PageRequest {
    /// The accounts of `range` this request's filters keep, validated.
    pub(super) fn query(&self, range: PathRange) -> Result<AccountQuery> {
        let organization_uuid = self
            .organization_uuid
            .as_deref()
            .map(|id| {
                Uuid::parse_str(id.trim()).map_err(|_| {
                    Error::InvalidArgument("organization_uuid must be an account id".into())
                })
            })
            .transpose()?;
        Ok(AccountQuery {
            range,
            pattern: like_pattern("filter", self.filter.as_deref())?,
            organization_uuid,
            email: self.email.as_deref().map(validate::email).transpose()?,
        })
    }

    /// The limit and the cursor, validated.
    pub(super) fn validated(self) -> Result<(u32, PageCursor)> {
        let limit = match self.limit {
            0 => DEFAULT_PAGE_LIMIT,
            l if l <= MAX_PAGE_LIMIT => l,
            _ => {
                return Err(Error::InvalidArgument(
                    format!("limit must be between 1 and {MAX_PAGE_LIMIT}").into(),
                ));
            }
        };
        let cursor = match (cursor("after", self.after)?, cursor("before", self.before)?) {
            (Some(_), Some(_)) => {
                return Err(Error::InvalidArgument(
                    "after and before cannot both be set".into(),
                ));
            }
            (Some(id), None) => PageCursor::After(id),
            (None, Some(id)) => PageCursor::Before(id),
            (None, None) => PageCursor::First,
        };
        Ok((limit, cursor))
    }
}

impl Identity {
    /// A page of the accounts the caller may list.
    pub async fn list_accounts(
        &self,
        claims: &AccessClaims,
        page: PageRequest,
    ) -> Result<AccountList> {
        let caller = self
            .account_caller(claims)
            .await?
            .ok_or_else(no_organization)?;
        let query = page.query(caller.listable())?;
        let (limit, cursor) = page.validated()?;
        let page = self
            .store
            .accounts_page(&query, cursor, i64::from(limit))
            .await?;
        let first = page.accounts.first().map(|a| a.organization_uuid);
        let last = page.accounts.last().map(|a| a.organization_uuid);
        Ok(AccountList {
            after: last.filter(|_| page.more_after),
            before: first.filter(|_| page.more_before),
            accounts: page
                .accounts
                .into_iter()
                .map(|a| caller.answer(a))
                .collect(),
            limit,
            total: u64::try_from(page.total).unwrap_or(0),
        })
    }

    /// The account with `email` among those the caller may see (NOT_FOUND otherwise; a closed
    /// account keeps no email).
    pub async fn get_account_by_email(
        &self,
        claims: &AccessClaims,
        email: &str,
    ) -> Result<AccountRecord> {
        let page = PageRequest {
            email: Some(email.to_owned()),
            limit: 1,
            ..PageRequest::default()
        };
        self.list_accounts(claims, page)
            .await?
            .accounts
            .into_iter()
            .next()
            .ok_or_else(not_found)
    }
}
