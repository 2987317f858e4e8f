//! The provider catalog: the providers whose credentials this service knows how to take, each
//! with a stable number, what its credentials are made of and where each part is stored. Faces
//! that offer a catalog (the Sumvin face's `/v0/connectors/`) read it through `ListProviders`
//! and hold no copy.
//!
//! Architecture invariant: a provider's `number` is fixed here for good. A new provider takes
//! the next unused number; a provider that goes away leaves its number retired, never reused,
//! so that a number a client stored names the same provider in every release (the test below
//! pins them).
//!
//! The catalog is the providers a member may make personal credentials of (the warehouse
//! types): connections of other providers (a shared connection's free provider slug) are stored
//! as well, but have no entry.

use super::{Connections, Kind};
use crate::{directory::Caller, error::Result};

/// Where a credential field is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The connection's `identifier` (not secret).
    Identifier,
    /// The write-only secret of this name (one of `SECRET_FIELDS`).
    Secret(&'static str),
}

/// How a credential field is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A string.
    Text,
    /// A JSON object of strings, stored as its JSON text (a key file).
    JsonObject,
}

/// A part of a provider's credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProviderField {
    pub name: &'static str,
    pub description: &'static str,
    /// Required to create a connection.
    pub required: bool,
    pub target: Target,
    pub format: Format,
}

/// A provider of the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Provider {
    /// Stable across releases (see the module's invariant).
    pub number: u32,
    /// The `provider` of its connections.
    pub slug: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    /// Empty: the platform hosts no icons.
    pub icon_url: &'static str,
    pub auth_type: &'static str,
    /// The kind of connection a member makes of it for themselves.
    pub kind: Kind,
    pub fields: &'static [ProviderField],
}

const USER: ProviderField = ProviderField {
    name: "user",
    description: "The database user",
    required: true,
    target: Target::Identifier,
    format: Format::Text,
};

const PASSWORD: ProviderField = ProviderField {
    name: "password",
    description: "The user's password",
    required: true,
    target: Target::Secret("password"),
    format: Format::Text,
};

const BASIC: [ProviderField; 2] = [USER, PASSWORD];

/// Snowflake: a password, or a key pair instead.
const SNOWFLAKE: [ProviderField; 4] = [
    USER,
    ProviderField {
        required: false,
        ..PASSWORD
    },
    ProviderField {
        name: "private_key",
        description: "A PEM private key, for key-pair authentication instead of a password",
        required: false,
        target: Target::Secret("private_key"),
        format: Format::Text,
    },
    ProviderField {
        name: "private_key_pass",
        description: "The passphrase of an encrypted private key",
        required: false,
        target: Target::Secret("private_key_pass"),
        format: Format::Text,
    },
];

const BIGQUERY: [ProviderField; 1] = [ProviderField {
    name: "keyfile_contents",
    description: "The service account's JSON key file, as an object",
    required: true,
    target: Target::Secret("keyfile_contents"),
    format: Format::JsonObject,
}];

const DATABRICKS: [ProviderField; 1] = [ProviderField {
    name: "personal_access_token",
    description: "A Databricks personal access token",
    required: true,
    target: Target::Secret("personal_access_token"),
    format: Format::Text,
}];

/// The catalog, in number order.
pub const CATALOG: [Provider; 6] = [
    Provider {
        number: 1,
        slug: "postgres",
        name: "PostgreSQL",
        description: "A PostgreSQL database, signed in as a user with a password",
        icon_url: "",
        auth_type: "basic",
        kind: Kind::Personal,
        fields: &BASIC,
    },
    Provider {
        number: 2,
        slug: "redshift",
        name: "Amazon Redshift",
        description: "An Amazon Redshift cluster, signed in as a user with a password",
        icon_url: "",
        auth_type: "basic",
        kind: Kind::Personal,
        fields: &BASIC,
    },
    Provider {
        number: 3,
        slug: "snowflake",
        name: "Snowflake",
        description: "A Snowflake account, signed in with a password or a key pair",
        icon_url: "",
        auth_type: "basic",
        kind: Kind::Personal,
        fields: &SNOWFLAKE,
    },
    Provider {
        number: 4,
        slug: "trino",
        name: "Trino",
        description: "A Trino cluster, signed in as a user with a password",
        icon_url: "",
        auth_type: "basic",
        kind: Kind::Personal,
        fields: &BASIC,
    },
    Provider {
        number: 5,
        slug: "bigquery",
        name: "Google BigQuery",
        description: "Google BigQuery, as a service account with its key file",
        icon_url: "",
        auth_type: "service_account",
        kind: Kind::Personal,
        fields: &BIGQUERY,
    },
    Provider {
        number: 6,
        slug: "databricks",
        name: "Databricks",
        description: "A Databricks SQL warehouse, with a personal access token",
        icon_url: "",
        auth_type: "token",
        kind: Kind::Personal,
        fields: &DATABRICKS,
    },
];

impl Connections {
    /// The catalog, for a member of an organization (as every method here, it answers only
    /// callers who belong to one).
    pub async fn providers(&self, caller: &Caller) -> Result<&'static [Provider]> {
        self.directory.membership(caller).await?;
        Ok(&CATALOG)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{SECRET_FIELDS, WAREHOUSE_TYPES};

    /// The numbers clients hold: changing one breaks them. Add new providers at the end.
    #[test]
    fn provider_numbers_never_change() {
        let numbers: Vec<(u32, &str)> = CATALOG.iter().map(|p| (p.number, p.slug)).collect();
        assert_eq!(
            numbers,
            [
                (1, "postgres"),
                (2, "redshift"),
                (3, "snowflake"),
                (4, "trino"),
                (5, "bigquery"),
                (6, "databricks"),
            ]
        );
    }

    #[test]
    fn the_catalog_is_what_personal_credentials_store() {
        let mut slugs: Vec<&str> = CATALOG.iter().map(|p| p.slug).collect();
        slugs.sort_unstable();
        assert_eq!(slugs, WAREHOUSE_TYPES);
        for p in &CATALOG {
            assert_eq!(p.kind, Kind::Personal, "{}", p.slug);
            assert!(p.fields.iter().any(|f| f.required), "{}", p.slug);
            let mut names: Vec<&str> = p.fields.iter().map(|f| f.name).collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), p.fields.len(), "{}: a field twice", p.slug);
            for f in p.fields {
                if let Target::Secret(s) = f.target {
                    assert!(SECRET_FIELDS.contains(&s), "{}.{}", p.slug, f.name);
                }
            }
        }
    }
}
