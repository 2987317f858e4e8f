//! Invitations into accounts: admins of an account or above invite into it, as an admin invites
//! into their own organization (same validation, limit and answer); the invited user joins that
//! account alone, and the inviting admin does not become a member of it.

use proto::identity::v1::OrganizationRole;
use tonic::Code::{self, NotFound as NF, Ok as OK, PermissionDenied as PD};
use uuid::Uuid;

use crate::harness::{Backend, TestService, assert_status, code, dual};

dual!(
    a_parent_admin_invites_into_an_account_below,
    who_may_invite_where,
    bad_invitations_are_refused,
);

fn email() -> String {
    format!("invitee-{}@accounts.test", Uuid::new_v4().simple())
}

async fn a_parent_admin_invites_into_an_account_below(svc: TestService) {
    let (admin, top) = svc.admin("Top").await;
    let sub = admin.create("Sub", None).await.unwrap().organization_uuid;
    let deepest = admin.create("Deep", Some(&sub)).await.unwrap();
    let deepest = admin
        .create("Deeper", Some(&deepest.organization_uuid))
        .await
        .unwrap()
        .organization_uuid;
    for (target, role) in [(&sub, Some(OrganizationRole::Editor)), (&deepest, None)] {
        let address = email();
        let invitation = admin
            .invite(target, &address.to_uppercase(), role)
            .await
            .unwrap();
        assert_eq!(invitation.organization_uuid, *target);
        assert_eq!(invitation.email, address, "normalised as invitations are");
        assert!(invitation.invite_code.starts_with("ldinv_"));
        assert!(invitation.expires_at.is_some());
        // The invited user joins that account alone, with the role given (member by default).
        let joined = svc.join(&invitation).await;
        assert_eq!(joined.uuid.to_string(), invitation.user_uuid);
        assert_eq!(joined.organization().await.unwrap(), *target);
        let listed = joined.list(0, None, None).await.unwrap();
        let ids: Vec<&str> = listed
            .accounts
            .iter()
            .map(|a| a.organization_uuid.as_str())
            .collect();
        assert_eq!(ids, [target.as_str()], "nothing above or beside");
        assert_eq!(code(&joined.get(&top).await), NF);
        let role_stored = svc
            .count(
                "SELECT COUNT(*) FROM memberships WHERE user_uuid = $1 AND role = 'editor'",
                &invitation.user_uuid,
            )
            .await;
        assert_eq!(role_stored, i64::from(role.is_some()));
    }
    // The inviting admin stays a member of their own account only.
    assert_eq!(admin.organization().await.unwrap(), top);
}

/// Who may invite into which account: admins of it or above; a member who sees the account
/// but may not administer it gets PERMISSION_DENIED; anyone else NOT_FOUND.
async fn who_may_invite_where(svc: TestService) {
    let (parent_admin, parent) = svc.admin("Parent").await;
    let parent_member = svc.member(&parent, "editor").await;
    let sub = parent_admin
        .create("Sub", None)
        .await
        .unwrap()
        .organization_uuid;
    let sub_admin = svc.member(&sub, "admin").await;
    let sub_member = svc.member(&sub, "developer").await;
    let (other_admin, other) = svc.admin("Other").await;
    let targets = [&parent, &sub, &other];
    let rows: [(&str, _, [Code; 3]); 5] = [
        ("admin of parent", &parent_admin, [OK, OK, NF]),
        ("member of parent", &parent_member, [PD, NF, NF]),
        ("admin of sub-account", &sub_admin, [NF, OK, NF]),
        ("member of sub-account", &sub_member, [NF, PD, NF]),
        ("admin of other", &other_admin, [NF, NF, OK]),
    ];
    for (who, caller, expected) in rows {
        for (i, target) in targets.iter().enumerate() {
            let r = caller.invite(target, &email(), None).await;
            assert_eq!(code(&r), expected[i], "{who} invites into target {i}");
            if let Err(s) = r
                && s.code() == NF
            {
                assert_eq!(s.message(), "account not found", "{who}");
            }
        }
    }
    for id in ["nope", &Uuid::now_v7().to_string()] {
        assert_status(
            parent_admin.invite(id, &email(), None).await,
            NF,
            "account not found",
        );
    }
}

async fn bad_invitations_are_refused(svc: TestService) {
    let (admin, _) = svc.admin("Top").await;
    let sub = admin.create("Sub", None).await.unwrap().organization_uuid;
    let invalid = tonic::Code::InvalidArgument;
    assert_status(admin.invite(&sub, "not an email", None).await, invalid, "");
    assert_status(
        admin.invite_raw(&sub, &email(), 99).await,
        invalid,
        "role must be one of",
    );
    // An address in use, by an active user or by someone invited elsewhere, is refused.
    let (taken, _) = svc.admin("Elsewhere").await;
    let taken_email: String = {
        let id = taken.uuid;
        service_kit::on_pool!(&svc.db, |p| sqlx::query_scalar(
            "SELECT email FROM users WHERE user_uuid = $1"
        )
        .bind(id)
        .fetch_one(p)
        .await)
        .unwrap()
    };
    assert_status(
        admin.invite(&sub, &taken_email, None).await,
        Code::AlreadyExists,
        "already exists",
    );
    let pending = email();
    admin.invite(&sub, &pending, None).await.unwrap();
    let (other_admin, other) = svc.admin("Other").await;
    assert_status(
        other_admin.invite(&other, &pending, None).await,
        Code::AlreadyExists,
        "already exists",
    );
    // Inviting the same pending member again gives a fresh code.
    let again = admin.invite(&sub, &pending, None).await.unwrap();
    assert_eq!(again.organization_uuid, sub);
}

/// The hourly allowance is the inviting organization's, shared by every account it administers
/// (sub-accounts do not multiply it); another organization has its own.
async fn invitations_share_the_inviters_allowance(backend: Backend) {
    let Some(svc) = TestService::start_with(backend, |c| c.settings.invitations_per_hour = 2).await
    else {
        return;
    };
    let (admin, top) = svc.admin("Top").await;
    let sub = admin.create("Sub", None).await.unwrap().organization_uuid;
    admin.invite(&sub, &email(), None).await.unwrap();
    admin.invite(&sub, &email(), None).await.unwrap();
    assert_status(
        admin.invite(&sub, &email(), None).await,
        Code::ResourceExhausted,
        "Too many invitations",
    );
    // A refused request uses up nothing; the parent and a new sibling share the allowance.
    assert_status(
        admin.invite(&sub, "bad", None).await,
        Code::InvalidArgument,
        "",
    );
    let sibling = admin
        .create("Sibling", None)
        .await
        .unwrap()
        .organization_uuid;
    for account in [&top, &sibling] {
        assert_status(
            admin.invite(account, &email(), None).await,
            Code::ResourceExhausted,
            "Too many invitations",
        );
    }
    // Another organization has its own.
    let (other, other_top) = svc.admin("Other").await;
    other.invite(&other_top, &email(), None).await.unwrap();
}

mod invitations_share_the_inviters_allowance {
    use crate::harness::Backend;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::invitations_share_the_inviters_allowance(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::invitations_share_the_inviters_allowance(Backend::Postgres).await;
    }
}
