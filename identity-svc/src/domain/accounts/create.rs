//! An operator creates a top-level account with its first user (the seed 004 face's
//! `/account/create`): the account, an admin with the account's email and no password, and an
//! invitation mailed to them to set one. Either all of it stands and the mail was handed to the
//! transport, or nothing of it remains.

use chrono::DateTime;
use secrecy::{ExposeSecret, SecretString};
use service_kit::{
    jwt::AccessClaims,
    secret::{random_token, sha256_hex},
};
use uuid::Uuid;

use super::{
    super::{
        Identity,
        invites::{DEFAULT_INVITE_TTL, INVITE_PREFIX, pending_user},
        organizations::org_name,
        validate,
    },
    OrgRole, new_account, now,
};
use crate::{
    error::{Error, Result},
    mail::Mail,
    store::{AccountRecord, Guard, InviteRecord, StoreError, UserRecord},
};

/// Longest invitation link base accepted.
const MAX_LINK_BASE_LEN: usize = 2048;

/// What creating an account made.
#[derive(Debug)]
pub struct NewAccount {
    pub account: AccountRecord,
    /// The first user: an admin, pending until they set a password with the mailed code.
    pub user: UserRecord,
    pub role: OrgRole,
}

/// The base of a mailed link (an invitation, a password reset): an absolute `http(s)://` URL,
/// without a trailing slash.
pub(crate) fn valid_link_base(value: &str) -> Result<String> {
    let v = value.trim().trim_end_matches('/');
    let host = v
        .strip_prefix("https://")
        .or_else(|| v.strip_prefix("http://"))
        .unwrap_or_default();
    if host.is_empty()
        || v.len() > MAX_LINK_BASE_LEN
        || v.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(Error::InvalidArgument(
            "invitation_link_base must be an absolute http(s) URL".into(),
        ));
    }
    Ok(v.to_owned())
}

/// The invitation mail of the first user of account `name`.
fn invitation_mail(to: &str, name: &str, link: &str, expires: DateTime<chrono::Utc>) -> Mail {
    Mail {
        to: to.to_owned(),
        subject: format!("Your account {name} is ready"),
        body: format!(
            "An account named {name} was created for you, with you as its administrator.\r\n\r\n\
             Set your password to sign in: {link}\r\n\r\n\
             The link works once and expires on {}.\r\n",
            expires.format("%Y-%m-%d %H:%M UTC")
        ),
    }
}

impl Identity {
    /// Creates a top-level account named `name` with `email` and its first user, an admin with
    /// that email who is mailed an invitation (`link_base`/invite/<code>) to set a password.
    /// Operators only.
    pub async fn create_account(
        &self,
        claims: &AccessClaims,
        name: &str,
        email: &str,
        link_base: &str,
    ) -> Result<NewAccount> {
        let Some(operator) = claims.operator_uuid() else {
            return Err(Error::PermissionDenied(
                "Only an operator can create a top-level account".into(),
            ));
        };
        let name = org_name(name)?;
        let email = validate::email(email)?;
        let link_base = valid_link_base(link_base)?;
        // An invitee who never came and holds no live invitation does not keep the address.
        self.reclaim_stale_invitee(&email).await?;
        let id = Uuid::now_v7();
        let at = now();
        let account = new_account(id, None, name, Some(email.clone()), at);
        let user = pending_user(Uuid::now_v7(), &email, at);
        let code = SecretString::from(random_token::<32>(INVITE_PREFIX));
        let invite = InviteRecord {
            code_hash: sha256_hex(code.expose_secret()),
            organization_uuid: id,
            user_uuid: user.user_uuid,
            created_at: at,
            expires_at: at + DEFAULT_INVITE_TTL,
        };
        let guard = Guard {
            organization_uuid: id,
            actor: operator,
            roles: Vec::new(),
            operator: true,
        };
        let role = OrgRole::Admin;
        let account = match self
            .store
            .create_account_with_user(&account, &user, role, &invite, &guard)
            .await
        {
            Ok(a) => a,
            Err(StoreError::Conflict) => {
                return Err(Error::AlreadyExists(
                    "An account or a user with this email already exists".into(),
                ));
            }
            Err(e) => return Err(e.into()),
        };
        let link = format!("{link_base}/invite/{}", code.expose_secret());
        let mail = invitation_mail(&email, &account.name, &link, invite.expires_at);
        if let Err(e) = self.mailer.send(mail).await {
            tracing::warn!(organization_uuid = %id, error = %e, "account invitation email not sent; undoing the account");
            self.store.close_account(id, &guard, now()).await?;
            return Err(Error::Unavailable(
                "The invitation email could not be sent, so the account was not created; try again later"
                    .into(),
            ));
        }
        tracing::info!(organization_uuid = %id, user_uuid = %user.user_uuid, "account created");
        Ok(NewAccount {
            account,
            user,
            role,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_bases_are_absolute_http_urls() {
        assert_eq!(
            valid_link_base("https://app.example.com/").unwrap(),
            "https://app.example.com"
        );
        assert_eq!(
            valid_link_base("http://127.0.0.1:8080").unwrap(),
            "http://127.0.0.1:8080"
        );
        for bad in [
            "",
            "app.example.com",
            "ftp://x",
            "https://",
            "https://a b",
            "http://x\ny",
        ] {
            assert!(valid_link_base(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_mail_holds_the_link_and_its_expiry() {
        let expires = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mail = invitation_mail("a@example.com", "Acme", "https://x/invite/ldinv_1", expires);
        assert_eq!(mail.to, "a@example.com");
        assert!(mail.subject.contains("Acme"));
        assert!(mail.body.contains("https://x/invite/ldinv_1"));
        assert!(mail.body.contains("2027-01-15 08:00 UTC"));
        // The code never shows in Debug output.
        assert!(!format!("{mail:?}").contains("ldinv_"));
    }
}
