//! The guard of an admin's change to groups and attribute values (checklist AC-9).

use proto::identity::v1::OrganizationRole;
use uuid::Uuid;

/// A change made by `actor` in an organization that holds only while the actor has one of
/// `roles` and the users it names are members (checklist AC-9). The store re-checks both in the
/// change's transaction after locking the organization's row, as the membership changes (role
/// changes, removals) do first: so a concurrent demotion or removal either commits first and the
/// change is refused, or waits until the change has committed.
#[derive(Debug, Clone)]
pub struct Guard {
    pub organization_uuid: Uuid,
    pub actor: Uuid,
    /// Roles allowed to make the change (decided by the domain layer).
    pub roles: Vec<OrganizationRole>,
    /// The actor is an operator token (no member anywhere): the change holds while the token
    /// is not revoked, whatever `roles` says.
    pub operator: bool,
}

/// The backends, for the one statement written differently on each: locking a row.
pub(super) trait Backend: sqlx::Database {
    /// `postgres` on PostgreSQL, `sqlite` on SQLite.
    fn pick(postgres: &'static str, sqlite: &'static str) -> &'static str;
}

impl Backend for sqlx::Postgres {
    fn pick(postgres: &'static str, _: &'static str) -> &'static str {
        postgres
    }
}

impl Backend for sqlx::Sqlite {
    fn pick(_: &'static str, sqlite: &'static str) -> &'static str {
        sqlite
    }
}

/// The statement of `tx`'s backend.
pub(super) fn pick<DB: Backend>(
    _tx: &sqlx::Transaction<'_, DB>,
    postgres: &'static str,
    sqlite: &'static str,
) -> &'static str {
    DB::pick(postgres, sqlite)
}

/// Inside transaction `$tx`: locks the row of the organization whose uuid the SQL expression
/// `$which` names (binding `$binds` as `$1`, …) and answers its uuid, None when there is no such
/// organization. Every change to an organization, to its members or to what they hold takes
/// this lock before any row of theirs, top-down when it locks several (the lock order,
/// ARCHITECTURE.md).
///
/// PostgreSQL: `FOR NO KEY UPDATE`, as an UPDATE would lock it, but without writing a row
/// version: once a transaction has written a version of a sub-account's row, its every later
/// update of that row re-checks the parent's foreign key, locking the parent's row after the
/// child's (against the order: a close of the parent deadlocks with it). SQLite: a write, so
/// the transaction takes the one writer lock before it reads.
macro_rules! lock_organization {
    ($tx:expr, $which:literal $(, $bind:expr)* $(,)?) => {{
        let sql = $crate::store::guard::pick(
            &$tx,
            concat!(
                "SELECT organization_uuid FROM organizations WHERE organization_uuid = ",
                $which,
                " FOR NO KEY UPDATE"
            ),
            concat!(
                "UPDATE organizations SET updated_at = updated_at WHERE organization_uuid = ",
                $which,
                " RETURNING organization_uuid"
            ),
        );
        sqlx::query_scalar::<_, uuid::Uuid>(sql)
            $(.bind($bind))*
            .fetch_optional(&mut *$tx)
            .await?
    }};
}
pub(super) use lock_organization;

/// Inside transaction `$tx`: locks the organization's row, then checks that the guard's actor
/// still has an allowed role (an operator: that their token still stands) and that `$users` are all members; returns `NotAllowed` or
/// `NotMember` from the enclosing function otherwise.
macro_rules! check_guard {
    ($tx:expr, $guard:expr, $users:expr) => {{
        use $crate::store::StoreError;
        let g: &$crate::store::Guard = $guard;
        $crate::store::guard::lock_organization!($tx, "$1", g.organization_uuid);
        let allowed = if g.operator {
            sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM operator_tokens \
                 WHERE operator_token_uuid = $1 AND revoked_at IS NULL",
            )
            .bind(g.actor)
            .fetch_one(&mut *$tx)
            .await?
                > 0
        } else {
            let role: Option<String> = sqlx::query_scalar(
                "SELECT role FROM memberships WHERE organization_uuid = $1 AND user_uuid = $2",
            )
            .bind(g.organization_uuid)
            .bind(g.actor)
            .fetch_optional(&mut *$tx)
            .await?;
            role.is_some_and(|r| g.roles.iter().any(|allowed| allowed.as_str() == r))
        };
        if !allowed {
            return Err(StoreError::NotAllowed);
        }
        let users: std::collections::BTreeSet<uuid::Uuid> = $users.iter().copied().collect();
        if !users.is_empty() {
            let mut qb = sqlx::QueryBuilder::new(
                "SELECT COUNT(*) FROM memberships WHERE organization_uuid = ",
            );
            qb.push_bind(g.organization_uuid)
                .push(" AND user_uuid IN (");
            let mut list = qb.separated(", ");
            for id in &users {
                list.push_bind(*id);
            }
            qb.push(")");
            let n: i64 = qb.build_query_scalar().fetch_one(&mut *$tx).await?;
            if usize::try_from(n).ok() != Some(users.len()) {
                return Err(StoreError::NotMember);
            }
        }
    }};
}
pub(super) use check_guard;
