//! SQL that adds many members to one organization straight into identity-svc's database.
//!
//! Registering users through the API costs one Argon2id hash each (10,000 members would take
//! minutes of hashing), so `bench-identity.sh` stops the platform, pipes this SQL into
//! `sqlite3 DATA_DIR/identity.db` (or `psql` with the service's schema on the search path), and
//! starts the platform again. The rows are what identity-svc itself writes (see
//! `identity-svc/migrations/`): 16-byte BLOB UUIDs and RFC 3339 text times on SQLite, native
//! types on PostgreSQL. Every seeded user gets the password hash of `--hash-from` (an existing
//! user), so they are active members, not pending invitations. Deterministic: the same
//! arguments give the same rows.

use std::fmt::Write as _;

use clap::ValueEnum;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Which database the SQL is for.
    #[arg(long, value_enum)]
    dialect: Dialect,
    /// The organization the members join.
    #[arg(long)]
    org: String,
    /// Members to add.
    #[arg(long, default_value_t = 10_000)]
    count: u32,
    /// Email of an existing user whose password hash the new users get.
    #[arg(long)]
    hash_from: Option<String>,
}

/// First names; "Maria" (and so `searchQuery=maria`) is one of them.
const FIRST: &[&str] = &[
    "Ada", "Ben", "Chloe", "David", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas", "Kenji",
    "Lea", "Maria", "Noah", "Olga", "Pablo", "Quinn", "Rosa", "Samir", "Tara", "Uma", "Victor",
    "Wen", "Xavier", "Yara", "Zoe", "Amir", "Bianca", "Carlos", "Dana", "Emil", "Freya", "Goran",
    "Hana", "Ivan", "Julia", "Karl", "Lina", "Mateo", "Nina",
];
/// Last names.
const LAST: &[&str] = &[
    "Adams",
    "Berg",
    "Costa",
    "Dubois",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Horvat",
    "Ivanova",
    "Jensen",
    "Kowalski",
    "Lopez",
    "Moreau",
    "Nakamura",
    "Okafor",
    "Petrov",
    "Quintero",
    "Rossi",
    "Schmidt",
    "Tanaka",
    "Ueda",
    "Varga",
    "Weber",
    "Xu",
    "Yilmaz",
    "Zhang",
    "Almeida",
    "Brown",
    "Chen",
    "Dimitrov",
    "Evans",
    "Ferrari",
    "Gruber",
    "Hansen",
    "Ito",
    "Jovanovic",
    "Kim",
    "Larsen",
    "Martin",
    "Novak",
];

/// When the seeded rows were "created".
pub(crate) const CREATED_AT: &str = "2026-11-01T00:00:00+00:00";
/// Rows per INSERT statement.
const BATCH: u32 = 500;

/// A random-looking but deterministic version-4 UUID for seeded user `i` (splitmix64).
pub(crate) fn uuid_bytes(i: u32) -> [u8; 16] {
    salted_uuid_bytes(0x5eed_0000_0000_0000, i)
}

/// As [`uuid_bytes`], for another kind of row (`salt` tells the kinds apart).
pub(crate) fn salted_uuid_bytes(salt: u64, i: u32) -> [u8; 16] {
    let mut x = salt ^ u64::from(i);
    let mut next = || {
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&next().to_be_bytes());
    b[8..].copy_from_slice(&next().to_be_bytes());
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    b
}

fn hex(b: &[u8]) -> String {
    b.iter().fold(String::new(), |mut s, x| {
        let _ = write!(s, "{x:02x}");
        s
    })
}

/// A UUID literal of the dialect, from its text or its bytes.
pub(crate) fn uuid_literal(d: Dialect, bytes: &[u8; 16]) -> String {
    match d {
        Dialect::Sqlite => format!("X'{}'", hex(bytes)),
        Dialect::Postgres => format!("'{}'::uuid", hex(bytes)),
    }
}

pub(crate) fn parse_uuid(s: &str) -> anyhow::Result<[u8; 16]> {
    let h: String = s.chars().filter(|c| *c != '-').collect();
    anyhow::ensure!(
        h.len() == 32 && h.chars().all(|c| c.is_ascii_hexdigit()),
        "not a UUID: {s:?}"
    );
    let mut b = [0u8; 16];
    for (i, byte) in b.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&h[2 * i..2 * i + 2], 16)?;
    }
    Ok(b)
}

pub(crate) fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The whole script, one transaction.
pub(crate) fn sql(
    d: Dialect,
    org: &str,
    count: u32,
    hash_from: Option<&str>,
) -> anyhow::Result<String> {
    let org = uuid_literal(d, &parse_uuid(org)?);
    let (t, f, ts) = match d {
        Dialect::Sqlite => ("1", "0", quote(CREATED_AT)),
        Dialect::Postgres => (
            "TRUE",
            "FALSE",
            format!("{}::timestamptz", quote(CREATED_AT)),
        ),
    };
    let mut out = String::from("BEGIN;\n");
    let mut start = 0;
    while start < count {
        let end = (start + BATCH).min(count);
        let (mut users, mut members) = (Vec::new(), Vec::new());
        for i in start..end {
            let id = uuid_literal(d, &uuid_bytes(i));
            let first = FIRST[i as usize % FIRST.len()];
            let last = LAST[(i as usize / FIRST.len()) % LAST.len()];
            let email = format!(
                "{}.{}.{i}@members.example.com",
                first.to_lowercase(),
                last.to_lowercase()
            );
            users.push(format!(
                "({id}, {}, {}, {}, NULL, {t}, {f}, {f}, {t}, {ts}, {ts})",
                quote(&email),
                quote(first),
                quote(last)
            ));
            members.push(format!("({id}, {org}, 'member', {ts})"));
        }
        let _ = writeln!(
            out,
            "INSERT INTO users (user_uuid, email, first_name, last_name, password_hash, is_active, \
             is_tracking_anonymized, is_marketing_opted_in, is_setup_complete, created_at, updated_at) VALUES\n{};",
            users.join(",\n")
        );
        let _ = writeln!(
            out,
            "INSERT INTO memberships (user_uuid, organization_uuid, role, created_at) VALUES\n{};",
            members.join(",\n")
        );
        start = end;
    }
    // The member list's sort and search key, as identity-svc keeps it (migration 20261125000012).
    let sep = match d {
        Dialect::Sqlite => "char(31)",
        Dialect::Postgres => "chr(31)",
    };
    let _ = writeln!(
        out,
        "UPDATE memberships SET sort_key = (SELECT LOWER(u.first_name) || {sep} || LOWER(u.last_name) \
         || {sep} || LOWER(u.email) FROM users u WHERE u.user_uuid = memberships.user_uuid) WHERE organization_uuid = {org};"
    );
    if let Some(email) = hash_from {
        let _ = writeln!(
            out,
            "UPDATE users SET password_hash = (SELECT password_hash FROM users WHERE email = {}) \
             WHERE email LIKE '%@members.example.com';",
            quote(email)
        );
    }
    out.push_str(match d {
        Dialect::Sqlite => "COMMIT;\nANALYZE;\n",
        // VACUUM as autovacuum would soon after 10,000 inserts (its insert threshold): the
        // visibility map lets the member list's index-only scans skip the table.
        Dialect::Postgres => "COMMIT;\nVACUUM (ANALYZE) users;\nVACUUM (ANALYZE) memberships;\n",
    });
    Ok(out)
}

pub(crate) fn main(args: Args) -> anyhow::Result<()> {
    print!(
        "{}",
        sql(
            args.dialect,
            &args.org,
            args.count,
            args.hash_from.as_deref()
        )?
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_uuids_are_distinct_version_4_uuids() {
        let a = uuid_bytes(0);
        let b = uuid_bytes(1);
        assert_ne!(a, b);
        assert_eq!(a[6] >> 4, 4);
        assert_eq!(a[8] >> 6, 0b10);
        assert_eq!(uuid_bytes(7), uuid_bytes(7));
    }

    #[test]
    fn the_script_inserts_every_member_in_one_transaction() {
        let org = "0199a0b1-2c3d-4e5f-8a9b-0c1d2e3f4a5b";
        let s = sql(Dialect::Sqlite, org, 1201, Some("a@b.c")).unwrap();
        assert!(s.starts_with("BEGIN;\n"));
        assert_eq!(s.matches("INSERT INTO users").count(), 3);
        assert_eq!(s.matches("@members.example.com', '").count(), 1201);
        assert!(s.contains("X'0199a0b12c3d4e5f8a9b0c1d2e3f4a5b'"));
        let p = sql(Dialect::Postgres, org, 2, None).unwrap();
        assert!(p.contains("'0199a0b12c3d4e5f8a9b0c1d2e3f4a5b'::uuid"));
        assert!(p.contains("TRUE, FALSE"));
        assert!(sql(Dialect::Sqlite, "nope", 1, None).is_err());
    }
}
