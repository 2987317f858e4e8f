//! What `export` moves of each service: its tables that hold an organization's data, the
//! columns of each (named, never `*`: a column a migration adds fails the test that compares
//! this list with the migrated schema until it is placed here or in [`SKIPPED`]), and the
//! condition that selects one organization's rows. `{orgs}` stands for the list of the
//! organization's account uuids (the account and its sub-accounts).

use super::{
    Kind::{Bool, Int, Int32, Text, Time, Uuid},
    Service, Table,
};

/// identity-svc: the accounts, their members (users with their password hashes), personal
/// access tokens (SHA-256 digests), invitations, groups, attributes, allowed email domains and
/// allowed IPs. Organizations come first, parents before children.
const IDENTITY: &[Table] = &[
    Table {
        name: "organizations",
        columns: &[
            ("organization_uuid", Uuid),
            ("parent_uuid", Uuid),
            ("depth", Int32),
            ("path", Text),
            ("name", Text),
            ("email", Text),
            ("chart_colors", Text),
            ("default_project_uuid", Uuid),
            ("legacy_access", Bool),
            ("lrn_access", Bool),
            ("mms_access", Text),
            ("sms_access", Text),
            ("require_ip_api_access", Bool),
            ("require_ip_gql_access", Bool),
            ("created_at", Time),
            ("updated_at", Time),
        ],
        scope: "organization_uuid IN ({orgs})",
        tree: Some(("organization_uuid", "parent_uuid")),
    },
    Table {
        name: "users",
        columns: &[
            ("user_uuid", Uuid),
            ("email", Text),
            ("verified_email", Text),
            ("first_name", Text),
            ("last_name", Text),
            ("password_hash", Text),
            ("is_active", Bool),
            ("is_tracking_anonymized", Bool),
            ("is_marketing_opted_in", Bool),
            ("is_setup_complete", Bool),
            ("created_at", Time),
            ("updated_at", Time),
        ],
        scope: "user_uuid IN (SELECT user_uuid FROM memberships WHERE organization_uuid IN ({orgs}))",
        tree: None,
    },
    Table {
        name: "memberships",
        columns: &[
            ("user_uuid", Uuid),
            ("organization_uuid", Uuid),
            ("role", Text),
            ("sort_key", Text),
            ("created_at", Time),
        ],
        scope: "organization_uuid IN ({orgs})",
        tree: None,
    },
    Table {
        name: "personal_access_tokens",
        columns: &[
            ("pat_uuid", Uuid),
            ("user_uuid", Uuid),
            ("description", Text),
            ("token_hash", Text),
            ("scopes", Text),
            ("auto_generated", Bool),
            ("created_at", Time),
            ("expires_at", Time),
            ("rotated_at", Time),
            ("last_used_at", Time),
        ],
        scope: "user_uuid IN (SELECT user_uuid FROM memberships WHERE organization_uuid IN ({orgs}))",
        tree: None,
    },
    Table {
        name: "invite_links",
        columns: &[
            ("code_hash", Text),
            ("organization_uuid", Uuid),
            ("user_uuid", Uuid),
            ("created_at", Time),
            ("expires_at", Time),
        ],
        scope: "organization_uuid IN ({orgs})",
        tree: None,
    },
    Table {
        name: "groups",
        columns: &[
            ("group_uuid", Uuid),
            ("organization_uuid", Uuid),
            ("name", Text),
            ("created_by_user_uuid", Uuid),
            ("updated_by_user_uuid", Uuid),
            ("created_at", Time),
            ("updated_at", Time),
        ],
        scope: "organization_uuid IN ({orgs})",
        tree: None,
    },
    Table {
        name: "group_memberships",
        columns: &[("group_uuid", Uuid), ("user_uuid", Uuid)],
        scope: "group_uuid IN (SELECT group_uuid FROM groups WHERE organization_uuid IN ({orgs}))",
        tree: None,
    },
    Table {
        name: "user_attributes",
        columns: &[
            ("attribute_uuid", Uuid),
            ("organization_uuid", Uuid),
            ("name", Text),
            ("description", Text),
            ("attribute_default", Text),
            ("created_at", Time),
        ],
        scope: "organization_uuid IN ({orgs})",
        tree: None,
    },
    Table {
        name: "user_attribute_values",
        columns: &[
            ("attribute_uuid", Uuid),
            ("user_uuid", Uuid),
            ("value", Text),
        ],
        scope: "attribute_uuid IN (SELECT attribute_uuid FROM user_attributes WHERE organization_uuid IN ({orgs}))",
        tree: None,
    },
    Table {
        name: "group_attribute_values",
        columns: &[
            ("attribute_uuid", Uuid),
            ("group_uuid", Uuid),
            ("value", Text),
        ],
        scope: "attribute_uuid IN (SELECT attribute_uuid FROM user_attributes WHERE organization_uuid IN ({orgs}))",
        tree: None,
    },
    Table {
        name: "allowed_email_domains",
        columns: &[
            ("organization_uuid", Uuid),
            ("email_domains", Text),
            ("role", Text),
        ],
        scope: "organization_uuid IN ({orgs})",
        tree: None,
    },
    Table {
        name: "account_allowed_ips",
        columns: &[
            ("allowed_ip_uuid", Uuid),
            ("organization_uuid", Uuid),
            ("cidr", Text),
            ("description", Text),
            ("created_at", Time),
        ],
        scope: "organization_uuid IN ({orgs})",
        tree: None,
    },
];

/// projects-svc: projects, their grants, spaces (parents first), space grants and tags.
const PROJECTS: &[Table] = &[
    Table {
        name: "projects",
        columns: &[
            ("project_uuid", Uuid),
            ("organization_uuid", Uuid),
            ("name", Text),
            ("project_type", Text),
            ("created_by_user_uuid", Uuid),
            ("scheduler_timezone", Text),
            ("upstream_project_uuid", Uuid),
            ("warehouse_connection_uuid", Uuid),
            ("warehouse_type", Text),
            ("spaces_version", Int),
            ("created_at", Time),
            ("updated_at", Time),
        ],
        scope: "organization_uuid IN ({orgs})",
        tree: None,
    },
    Table {
        name: "project_user_grants",
        columns: &[
            ("project_uuid", Uuid),
            ("user_uuid", Uuid),
            ("role", Text),
            ("created_at", Time),
        ],
        scope: PROJECT_ROWS,
        tree: None,
    },
    Table {
        name: "project_group_grants",
        columns: &[
            ("project_uuid", Uuid),
            ("group_uuid", Uuid),
            ("role", Text),
            ("created_at", Time),
        ],
        scope: PROJECT_ROWS,
        tree: None,
    },
    Table {
        name: "spaces",
        columns: &[
            ("space_uuid", Uuid),
            ("project_uuid", Uuid),
            ("parent_space_uuid", Uuid),
            ("name", Text),
            ("slug", Text),
            ("is_private", Bool),
            ("inherit_parent_permissions", Bool),
            ("created_by_user_uuid", Uuid),
            ("created_at", Time),
            ("updated_at", Time),
        ],
        scope: PROJECT_ROWS,
        tree: Some(("space_uuid", "parent_space_uuid")),
    },
    Table {
        name: "space_user_grants",
        columns: &[
            ("space_uuid", Uuid),
            ("user_uuid", Uuid),
            ("role", Text),
            ("created_at", Time),
        ],
        scope: SPACE_ROWS,
        tree: None,
    },
    Table {
        name: "space_group_grants",
        columns: &[
            ("space_uuid", Uuid),
            ("group_uuid", Uuid),
            ("role", Text),
            ("created_at", Time),
        ],
        scope: SPACE_ROWS,
        tree: None,
    },
    Table {
        name: "tags",
        columns: &[
            ("tag_uuid", Uuid),
            ("project_uuid", Uuid),
            ("name", Text),
            ("color", Text),
            ("yaml_reference", Text),
            ("created_by_user_uuid", Uuid),
            ("created_at", Time),
        ],
        scope: PROJECT_ROWS,
        tree: None,
    },
];

const PROJECT_ROWS: &str =
    "project_uuid IN (SELECT project_uuid FROM projects WHERE organization_uuid IN ({orgs}))";
const SPACE_ROWS: &str = "space_uuid IN (SELECT space_uuid FROM spaces WHERE project_uuid IN \
     (SELECT project_uuid FROM projects WHERE organization_uuid IN ({orgs})))";

/// connections-svc: connections with their secrets as sealed (never opened here), shares,
/// users' per-project preferences and the organization's counts.
const CONNECTIONS: &[Table] = &[
    Table {
        name: "connections",
        columns: &[
            ("connection_uuid", Uuid),
            ("organization_uuid", Uuid),
            ("owner_user_uuid", Uuid),
            ("kind", Text),
            ("visibility", Text),
            ("provider", Text),
            ("name", Text),
            ("description", Text),
            ("host", Text),
            ("port", Text),
            ("identifier", Text),
            ("scope", Text),
            ("expiry", Time),
            ("active", Bool),
            ("invalid", Bool),
            ("cache", Int),
            ("datasets_meta_sync_enabled", Bool),
            ("datasets_meta_sync_interval", Int),
            ("linked_at", Time),
            ("options", Text),
            ("last_tested_at", Time),
            ("created_at", Time),
            ("updated_at", Time),
        ],
        scope: "organization_uuid IN ({orgs})",
        tree: None,
    },
    Table {
        name: "connection_secrets",
        columns: &[
            ("connection_uuid", Uuid),
            ("field", Text),
            ("key_version", Int32),
            ("sealed", Text),
            ("updated_at", Time),
        ],
        scope: CONNECTION_ROWS,
        tree: None,
    },
    Table {
        name: "connection_shares",
        columns: &[
            ("connection_uuid", Uuid),
            ("user_uuid", Uuid),
            ("created_at", Time),
        ],
        scope: CONNECTION_ROWS,
        tree: None,
    },
    Table {
        name: "credentials_preferences",
        columns: &[
            ("user_uuid", Uuid),
            ("project_uuid", Uuid),
            ("connection_uuid", Uuid),
            ("updated_at", Time),
        ],
        scope: CONNECTION_ROWS,
        tree: None,
    },
    Table {
        name: "connection_counts",
        columns: &[("organization_uuid", Uuid), ("scope", Text), ("n", Int)],
        scope: "organization_uuid IN ({orgs})",
        tree: None,
    },
];

const CONNECTION_ROWS: &str = "connection_uuid IN (SELECT connection_uuid FROM connections \
     WHERE organization_uuid IN ({orgs}))";

/// The services in the order they are written: identity first, so that a reconciliation of
/// projects-svc or connections-svc running meanwhile never sees rows of an organization
/// identity-svc lacks (docs/events.md), and projects before the connections' preferences
/// naming them.
pub const SERVICES: [Service; 3] = [
    Service {
        name: "identity",
        tables: IDENTITY,
    },
    Service {
        name: "projects",
        tables: PROJECTS,
    },
    Service {
        name: "connections",
        tables: CONNECTIONS,
    },
];

/// Tables deliberately not moved, with the reason (docs/operations.md, "export and import").
pub const SKIPPED: &[(&str, &str)] = &[
    ("identity.sessions", "users log in again at the target"),
    ("identity.email_passcodes", "short-lived codes"),
    ("identity.password_resets", "short-lived links"),
    ("identity.signing_keys", "the deployment's own keys"),
    ("identity.operator_tokens", "the deployment's operators"),
    ("identity.closed_accounts", "tombstones of other accounts"),
    (
        "identity.customer_id_counter",
        "the target numbers accounts itself",
    ),
    ("identity.rate_limits", "throttling windows"),
    ("identity.login_failures", "throttling windows"),
    (
        "identity.outbox_events",
        "events already delivered at the source",
    ),
    ("identity.outbox_pruned", "the outbox's own state"),
    (
        "projects.outbox_events",
        "events already delivered at the source",
    ),
    ("projects.outbox_pruned", "the outbox's own state"),
    (
        "projects.event_cursors",
        "the consumer's place at the source",
    ),
    (
        "connections.event_cursors",
        "the consumer's place at the source",
    ),
    ("connections.rate_limits", "throttling windows"),
];

/// Columns of moved tables deliberately not moved.
pub const SKIPPED_COLUMNS: &[(&str, &str)] = &[(
    "identity.organizations.customer_id",
    "a serial number of the deployment: the target gives the account its next one",
)];
