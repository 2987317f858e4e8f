//! Token scopes: what a credential may do, in three levels, `read` < `write` < `admin`, each
//! including the ones below it.
//!
//! A personal access token carries the scopes chosen when it was created (none chosen: `admin`,
//! the power every token had before scopes existed); a browser session and an operator token
//! have every scope. The access token issued for a credential names its level in the `scope`
//! claim (RFC 8693 §4.2, RFC 9068 §2.2.3: space-separated, `read write` for `write`), and a
//! session's in `auth_time` when its user logged in (OpenID Connect Core §2). The per-method
//! guard (`grpc::guard`) and the few rules that depend on a request's body ([`authorize`])
//! decide with them: a method needs a level, and an `admin` method called with a session's
//! token also needs a login within `recent_login` (issue #18 item 6; checklist AU-9, AC-3).

use std::{fmt, time::Duration};

use crate::jwt::AccessClaims;

/// How long after logging in a session may call `admin` methods, by default (one hour).
pub const DEFAULT_RECENT_LOGIN_SECONDS: u64 = 3600;

/// A scope, lowest first: each includes those below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// Read what the user may read.
    Read,
    /// Also change what the user may change.
    Write,
    /// Also the account-level actions: deleting the user or an organization, admin invitations
    /// and promotions, creating and rotating tokens, operator actions.
    Admin,
}

impl Scope {
    /// Every scope, lowest first.
    pub const ALL: [Scope; 3] = [Scope::Read, Scope::Write, Scope::Admin];

    /// Its name on the wire and in the database.
    pub fn name(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Admin => "admin",
        }
    }

    /// The scope of this name (exactly, lowercase), if any.
    pub fn parse(name: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The `scope` claim of a token at this level: every scope it includes (`read write`).
    pub fn claim(self) -> String {
        join(Scope::ALL.into_iter().filter(|s| *s <= self))
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a requested list of scopes is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeListError {
    /// An empty list: a token that may do nothing.
    #[error("scopes must name at least one of read, write, admin")]
    Empty,
    /// A name that is no scope (not quoted back: it is the caller's input).
    #[error("scopes may only be read, write or admin")]
    Unknown,
}

/// The scopes a caller asks for at creation: each a known name; duplicates collapse; sorted
/// lowest first. `None` (no list) is `admin`, as every token was before scopes existed.
pub fn requested(list: Option<&[String]>) -> Result<Vec<Scope>, ScopeListError> {
    let Some(list) = list else {
        return Ok(vec![Scope::Admin]);
    };
    let mut scopes = list
        .iter()
        .map(|n| Scope::parse(n).ok_or(ScopeListError::Unknown))
        .collect::<Result<Vec<_>, _>>()?;
    if scopes.is_empty() {
        return Err(ScopeListError::Empty);
    }
    scopes.sort();
    scopes.dedup();
    Ok(scopes)
}

/// Scopes as stored or claimed: space-separated names.
pub fn join(scopes: impl IntoIterator<Item = Scope>) -> String {
    scopes
        .into_iter()
        .map(Scope::name)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The scopes of a space-separated list, lowest first; names that are no scope are skipped.
pub fn split(text: &str) -> Vec<Scope> {
    let mut scopes: Vec<Scope> = text
        .split_ascii_whitespace()
        .filter_map(Scope::parse)
        .collect();
    scopes.sort();
    scopes.dedup();
    scopes
}

/// The level a token's claims grant: the highest scope of its `scope` claim. A token without
/// the claim was signed before scopes existed, when every token had full power: `admin`. A
/// claim that names no known scope grants nothing.
pub fn level(claims: &AccessClaims) -> Option<Scope> {
    match &claims.scope {
        None => Some(Scope::Admin),
        Some(text) => split(text).into_iter().max(),
    }
}

/// Why a call is refused: PERMISSION_DENIED with [`Denial::message`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// The token's scopes do not include the one the method needs.
    Scope(Scope),
    /// An `admin` method called with a session whose login is older than allowed.
    StaleLogin,
}

impl Denial {
    /// The message the caller reads.
    pub fn message(self) -> &'static str {
        match self {
            Denial::Scope(Scope::Read) => {
                "this token's scopes do not allow this: it needs the read scope"
            }
            Denial::Scope(Scope::Write) => {
                "this token's scopes do not allow this: it needs the write scope"
            }
            Denial::Scope(Scope::Admin) => {
                "this token's scopes do not allow this: it needs the admin scope"
            }
            Denial::StaleLogin => "this action needs a recent login: log in again and retry",
        }
    }
}

impl From<Denial> for tonic::Status {
    fn from(d: Denial) -> Self {
        tonic::Status::permission_denied(d.message())
    }
}

impl From<Denial> for crate::error::Error {
    fn from(d: Denial) -> Self {
        crate::error::Error::PermissionDenied(d.message().into())
    }
}

impl From<ScopeListError> for crate::error::Error {
    fn from(e: ScopeListError) -> Self {
        crate::error::Error::InvalidArgument(e.to_string().into())
    }
}

/// Whether verified `claims` may call a method that needs `needed`, at `now` (Unix seconds):
/// their level includes it; for `admin`, a session's token also needs its user's login within
/// `recent_login` (a token of a personal access token or an operator token needs the scope
/// only). A session token without `auth_time` (signed before it was carried) is not recent.
pub fn authorize(
    claims: &AccessClaims,
    needed: Scope,
    recent_login: Duration,
    now: i64,
) -> Result<(), Denial> {
    if level(claims).is_none_or(|l| l < needed) {
        return Err(Denial::Scope(needed));
    }
    let session = claims.sid.is_some() || claims.authenticated_by("pwd");
    if needed == Scope::Admin && session {
        let window = i64::try_from(recent_login.as_secs()).unwrap_or(i64::MAX);
        let recent = claims
            .auth_time
            .is_some_and(|t| now.saturating_sub(t) <= window);
        if !recent {
            return Err(Denial::StaleLogin);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(scope: Option<&str>, session: bool, auth_time: Option<i64>) -> AccessClaims {
        AccessClaims {
            iss: "i".into(),
            sub: uuid::Uuid::now_v7().to_string(),
            aud: "a".into(),
            exp: 2000,
            nbf: 1000,
            iat: 1000,
            jti: "j".into(),
            client_id: "c".into(),
            amr: vec![if session { "pwd" } else { "pat" }.into()],
            sid: session.then(|| uuid::Uuid::now_v7().to_string()),
            pat: (!session).then(|| uuid::Uuid::now_v7().to_string()),
            pat_v: None,
            opr: None,
            scope: scope.map(str::to_owned),
            auth_time,
        }
    }

    /// AU-9: the scopes a caller asks for are known names; an empty list and unknown names
    /// are refused; duplicates collapse; no list is admin.
    #[test]
    fn au_9_requested_scopes_are_validated() {
        let list = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(requested(None), Ok(vec![Scope::Admin]));
        assert_eq!(
            requested(Some(&list(&["write", "read", "write"]))),
            Ok(vec![Scope::Read, Scope::Write])
        );
        assert_eq!(requested(Some(&[])), Err(ScopeListError::Empty));
        for bad in ["Read", "root", "", " read", "read write"] {
            assert_eq!(
                requested(Some(&list(&["read", bad]))),
                Err(ScopeListError::Unknown),
                "{bad:?}"
            );
        }
        assert!(!ScopeListError::Unknown.to_string().contains("root"));
    }

    #[test]
    fn claims_name_every_included_scope() {
        assert_eq!(Scope::Read.claim(), "read");
        assert_eq!(Scope::Write.claim(), "read write");
        assert_eq!(Scope::Admin.claim(), "read write admin");
        assert_eq!(
            split("admin read bogus read"),
            vec![Scope::Read, Scope::Admin]
        );
        assert_eq!(
            level(&claims(Some("read write"), false, None)),
            Some(Scope::Write)
        );
        assert_eq!(level(&claims(Some("bogus"), false, None)), None);
        assert_eq!(level(&claims(Some(""), false, None)), None);
        assert_eq!(level(&claims(None, false, None)), Some(Scope::Admin));
    }

    /// AC-3, API5: a method needs its scope; an admin method needs a recent login from a
    /// session, and the admin scope from a personal access token.
    #[test]
    fn ac_3_levels_and_recent_login() {
        let hour = Duration::from_secs(3600);
        let now = 10_000;
        let read = claims(Some("read"), false, None);
        assert_eq!(authorize(&read, Scope::Read, hour, now), Ok(()));
        assert_eq!(
            authorize(&read, Scope::Write, hour, now),
            Err(Denial::Scope(Scope::Write))
        );
        let write = claims(Some("read write"), false, None);
        assert_eq!(authorize(&write, Scope::Write, hour, now), Ok(()));
        assert_eq!(
            authorize(&write, Scope::Admin, hour, now),
            Err(Denial::Scope(Scope::Admin))
        );
        let admin_pat = claims(Some("read write admin"), false, None);
        assert_eq!(authorize(&admin_pat, Scope::Admin, hour, now), Ok(()));
        let legacy_pat = claims(None, false, None);
        assert_eq!(authorize(&legacy_pat, Scope::Admin, hour, now), Ok(()));
        let nothing = claims(Some("bogus"), false, None);
        assert_eq!(
            authorize(&nothing, Scope::Read, hour, now),
            Err(Denial::Scope(Scope::Read))
        );

        let fresh = claims(Some("read write admin"), true, Some(now - 3600));
        assert_eq!(authorize(&fresh, Scope::Admin, hour, now), Ok(()));
        let stale = claims(Some("read write admin"), true, Some(now - 3601));
        assert_eq!(
            authorize(&stale, Scope::Admin, hour, now),
            Err(Denial::StaleLogin)
        );
        assert_eq!(authorize(&stale, Scope::Write, hour, now), Ok(()));
        let unknown_login = claims(None, true, None);
        assert_eq!(
            authorize(&unknown_login, Scope::Admin, hour, now),
            Err(Denial::StaleLogin)
        );
        assert!(Denial::StaleLogin.message().contains("log in again"));
    }
}
