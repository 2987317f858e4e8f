//! What `import` checks of a document before it writes anything, beyond each cell's kind: its
//! accounts form one tree under the document's organization, each with the path and depth
//! identity-svc gives it (access is decided by path range, so a forged path would reach another
//! organization's accounts), every user a row names is one of the document's members (a grant
//! or share cannot reach a user of another organization), and emails are in the lower-case form
//! the platform stores.

use std::collections::{HashMap, HashSet};

use anyhow::Context;
use uuid::Uuid;

use super::{Cell, Document, Table, import::Parsed, tables::SERVICES};

/// Columns that name a user and give them something (a membership, a grant, a share, a token,
/// a connection): `(service, table, column)`. The others (`created_by_user_uuid`, …) only say
/// who made or changed a row: they give nothing, and that user may have left since.
const USER_REFERENCES: &[(&str, &str, &str)] = &[
    ("identity", "users", "user_uuid"),
    ("identity", "personal_access_tokens", "user_uuid"),
    ("identity", "invite_links", "user_uuid"),
    ("identity", "group_memberships", "user_uuid"),
    ("identity", "user_attribute_values", "user_uuid"),
    ("projects", "project_user_grants", "user_uuid"),
    ("projects", "space_user_grants", "user_uuid"),
    ("connections", "connections", "owner_user_uuid"),
    ("connections", "connection_shares", "user_uuid"),
    ("connections", "credentials_preferences", "user_uuid"),
];

/// Columns holding an email address, stored trimmed and lower-cased.
const EMAILS: &[(&str, &str, &str)] = &[
    ("identity", "organizations", "email"),
    ("identity", "users", "email"),
    ("identity", "users", "verified_email"),
];

pub(super) fn uuid_at(table: &Table, cells: &[Cell], column: &str) -> Option<Uuid> {
    let i = table.columns.iter().position(|(c, _)| *c == column)?;
    match &cells[i] {
        Cell::Uuid(u) => *u,
        _ => None,
    }
}

fn cell_at<'a>(table: &Table, cells: &'a [Cell], column: &str) -> Option<&'a Cell> {
    let i = table.columns.iter().position(|(c, _)| *c == column)?;
    Some(&cells[i])
}

/// The parsed table `service.table`, which [`SERVICES`] lists.
fn table<'a>(services: &'a [Vec<Parsed>], service: &str, table: &str) -> &'a Parsed {
    SERVICES
        .iter()
        .zip(services)
        .filter(|(s, _)| s.name == service)
        .flat_map(|(_, tables)| tables)
        .find(|p| p.table.name == table)
        .unwrap_or_else(|| unreachable!("{service}.{table} is in SERVICES"))
}

/// The accounts the document holds, its organization first (a top-level account), each below
/// another of the document's accounts with the path and depth identity-svc computes for it
/// (`identity_svc::store::account_path`): a genuine export always matches, so any other path
/// or depth is refused.
pub(super) fn accounts(document: &Document, identity: &[Parsed]) -> anyhow::Result<Vec<Uuid>> {
    let organizations = &identity[0];
    let t = organizations.table;
    // Rows come parents first: each parent's path is known before its children.
    let mut placed: HashMap<Uuid, (String, i32)> = HashMap::new();
    let mut accounts = Vec::new();
    for row in &organizations.rows {
        let id = uuid_at(t, row, "organization_uuid")
            .context("identity.organizations: a row without organization_uuid")?;
        let parent = uuid_at(t, row, "parent_uuid");
        anyhow::ensure!(
            (id == document.organization_uuid) == parent.is_none(),
            "identity.organizations: {id} must be the document's organization or below it"
        );
        let (path, depth) = match parent {
            None => (identity_svc::store::account_path(None, id), 0),
            Some(p) => {
                let (path, depth) = placed.get(&p).with_context(|| {
                    format!("identity.organizations: the parent {p} of sub-account {id} is not in the document")
                })?;
                (identity_svc::store::account_path(Some(path), id), depth + 1)
            }
        };
        anyhow::ensure!(
            depth <= identity_svc::domain::accounts::MAX_DEPTH,
            "identity.organizations: {id} lies deeper than sub-accounts may"
        );
        let given = (cell_at(t, row, "path"), cell_at(t, row, "depth"));
        anyhow::ensure!(
            matches!(given, (Some(Cell::Text(Some(p))), Some(Cell::Int32(Some(d)))) if *p == path && *d == depth),
            "identity.organizations: the path or depth of {id} is not the one its parent chain gives (a forged document?); nothing was written"
        );
        placed.insert(id, (path, depth));
        accounts.push(id);
    }
    anyhow::ensure!(
        accounts.first() == Some(&document.organization_uuid),
        "the document does not hold organization {}",
        document.organization_uuid
    );
    Ok(accounts)
}

/// Every user a row names in [`USER_REFERENCES`] is a member of one of the document's accounts
/// (its `identity.memberships`), and every email is lower-cased and trimmed.
pub(super) fn users_and_emails(services: &[Vec<Parsed>]) -> anyhow::Result<()> {
    let memberships = table(services, "identity", "memberships");
    let members: HashSet<Uuid> = memberships
        .rows
        .iter()
        .filter_map(|r| uuid_at(memberships.table, r, "user_uuid"))
        .collect();
    for (service, name, column) in USER_REFERENCES {
        let parsed = table(services, service, name);
        for (n, row) in parsed.rows.iter().enumerate() {
            if let Some(user) = uuid_at(parsed.table, row, column) {
                anyhow::ensure!(
                    members.contains(&user),
                    "{service}.{name}, row {}: {column} {user} is not a member of the document's accounts (a forged document?); nothing was written",
                    n + 1
                );
            }
        }
    }
    for (service, name, column) in EMAILS {
        let parsed = table(services, service, name);
        for (n, row) in parsed.rows.iter().enumerate() {
            if let Some(Cell::Text(Some(email))) = cell_at(parsed.table, row, column) {
                anyhow::ensure!(
                    *email == email.trim().to_lowercase(),
                    "{service}.{name}, row {}: {column} is not lower-cased and trimmed as the platform stores emails; nothing was written",
                    n + 1
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Columns that name a user only to say who made or changed a row.
    const USER_ATTRIBUTIONS: &[&str] = &["created_by_user_uuid", "updated_by_user_uuid"];

    /// A column naming a user is either checked or named as an attribution: a table or column
    /// added to `tables.rs` fails here until it is placed.
    #[test]
    fn every_user_column_is_checked_or_an_attribution() {
        for service in &SERVICES {
            for t in service.tables {
                for (column, _) in t.columns {
                    // identity.memberships.user_uuid is what the others are checked against.
                    let members = (service.name, t.name) == ("identity", "memberships");
                    if !column.ends_with("user_uuid")
                        || USER_ATTRIBUTIONS.contains(column)
                        || members
                    {
                        continue;
                    }
                    assert!(
                        USER_REFERENCES.contains(&(service.name, t.name, column)),
                        "{}.{}.{column} is neither checked nor an attribution",
                        service.name,
                        t.name
                    );
                }
            }
        }
    }
}
