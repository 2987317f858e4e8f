//! Issue #4's benchmark: a project with many spaces, users and groups.
//!
//! `setup-spaces` prepares a running platform through the API: an admin with an organization and
//! a project, and a `viewer` member (invited, then registered), each with a personal access
//! token. `seed-spaces` prints the SQL that `bench-spaces.sh` pipes into the stopped platform's
//! SQLite files (through the API, each user would cost one Argon2id hash and each space a few
//! requests): `--part identity` (users, their memberships, groups and group memberships) into
//! `DATA_DIR/identity.db`, `--part projects` (spaces, user and group grants on them) into
//! `DATA_DIR/projects.db`, and `--part expected` prints how many spaces the member and the admin
//! must see, worked out from the generated rows, so that a broken seed cannot pass silently.
//!
//! The spaces come in families of ten (index `i`, family `f = i / 10`, `k = i % 10`):
//! k = 0..=5 public root spaces; 6 a private root space; 7 a child of k = 0 inheriting its
//! permissions; 8 a child of 7 (a third level) that inherits in even families and not in odd
//! ones; 9 a child of the private root 6, inheriting. So 60 % public roots, 10 % private roots,
//! 30 % nested two or three levels deep. Grants: every private root has its creator (the admin)
//! as space admin, two seeded users and one group; non-inheriting third-level spaces one user
//! and one group; some public spaces have user and group grants too; the measured member has
//! direct grants on some spaces and belongs to 4 of the groups, some of which have grants.
//! Deterministic: the same arguments give the same rows.

use std::{collections::HashSet, fmt::Write as _, time::Duration};

use serde_json::json;

use crate::{
    seed::{self, CREATED_AT, Dialect, quote, salted_uuid_bytes, uuid_bytes, uuid_literal},
    setup::{base, client, results},
};

const GROUP_SALT: u64 = 0x6a0a_0000_0000_0000;
const SPACE_SALT: u64 = 0x5ace_0000_0000_0000;
/// Rows per INSERT statement.
const BATCH: usize = 500;
/// The measured member belongs to the groups whose index is a multiple of this.
const MEMBER_GROUP_EVERY: u32 = 25;

#[derive(Debug, clap::Args)]
pub(crate) struct SetupArgs {
    /// Base URL of the gateway, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    gateway: String,
    /// Password of both new users.
    #[arg(long, default_value = "loadgen-benchmark-password")]
    password: String,
    /// Organization role of the measured member.
    #[arg(long, default_value = "viewer")]
    member_role: String,
}

/// Registers the admin (with an organization and a project) and the member; prints `KEY=value`
/// lines: ADMIN_EMAIL, ADMIN_UUID, ADMIN_PAT, ORG, PROJECT, MEMBER_EMAIL, MEMBER_UUID,
/// MEMBER_PAT.
pub(crate) async fn setup(args: SetupArgs) -> anyhow::Result<()> {
    let gateway = base(&args.gateway)?;
    let admin = client()?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_nanos();
    let admin_email = format!("spaces-admin-{nanos}@example.com");
    results(
        admin.post(format!("{gateway}/api/v1/user")).json(&json!({
            "email": admin_email, "password": args.password,
            "firstName": "Space", "lastName": "Admin",
        })),
        "POST /api/v1/user (register the admin)",
    )
    .await?;
    results(
        admin
            .put(format!("{gateway}/api/v1/org"))
            .json(&json!({ "name": "Spaces benchmark org" })),
        "PUT /api/v1/org",
    )
    .await?;
    let org = results(
        admin.get(format!("{gateway}/api/v1/org")),
        "GET /api/v1/org",
    )
    .await?;
    let me = results(
        admin.get(format!("{gateway}/api/v1/user")),
        "GET /api/v1/user",
    )
    .await?;
    let project = results(
        admin
            .post(format!("{gateway}/api/v1/org/projects"))
            .json(&json!({ "name": "Spaces benchmark project" })),
        "POST /api/v1/org/projects",
    )
    .await?;
    let admin_pat = pat(&admin, &gateway).await?;

    let member_email = format!("spaces-member-{nanos}@example.com");
    let invite = results(
        admin
            .post(format!("{gateway}/api/v1/invite-links"))
            .json(&json!({ "email": member_email, "role": args.member_role })),
        "POST /api/v1/invite-links",
    )
    .await?;
    let member = client()?;
    results(
        member.post(format!("{gateway}/api/v1/user")).json(&json!({
            "inviteCode": invite["inviteCode"], "password": args.password,
            "firstName": "Measured", "lastName": "Member",
        })),
        "POST /api/v1/user (accept the invitation)",
    )
    .await?;
    let member_me = results(
        member.get(format!("{gateway}/api/v1/user")),
        "GET /api/v1/user (member)",
    )
    .await?;
    let member_pat = pat(&member, &gateway).await?;

    let field = |v: &serde_json::Value, k: &str| {
        v[k].as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow::anyhow!("no {k} in {v}"))
    };
    println!("ADMIN_EMAIL={admin_email}");
    println!("ADMIN_UUID={}", field(&me, "userUuid")?);
    println!("ADMIN_PAT={admin_pat}");
    println!("ORG={}", field(&org, "organizationUuid")?);
    println!("PROJECT={}", field(&project, "projectUuid")?);
    println!("MEMBER_EMAIL={member_email}");
    println!("MEMBER_UUID={}", field(&member_me, "userUuid")?);
    println!("MEMBER_PAT={member_pat}");
    Ok(())
}

async fn pat(http: &reqwest::Client, gateway: &str) -> anyhow::Result<String> {
    let r = results(
        http.post(format!("{gateway}/api/v1/user/me/personal-access-tokens"))
            .json(&json!({ "description": "loadgen spaces benchmark" }))
            .timeout(Duration::from_secs(30)),
        "POST /api/v1/user/me/personal-access-tokens",
    )
    .await?;
    r["token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("no token in {r}"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Part {
    /// SQL for identity.db: users, memberships, groups, group memberships.
    Identity,
    /// SQL for projects.db: spaces and the user and group grants on them.
    Projects,
    /// `MEMBER_VISIBLE=` and `ADMIN_VISIBLE=`: the spaces each must see.
    Expected,
}

#[derive(Debug, clap::Args)]
pub(crate) struct SeedArgs {
    /// What to print.
    #[arg(long, value_enum)]
    part: Part,
    /// The organization (ORG of setup-spaces).
    #[arg(long)]
    org: String,
    /// The project (PROJECT).
    #[arg(long)]
    project: String,
    /// The admin (ADMIN_UUID): creator of the spaces, space admin of the private roots.
    #[arg(long)]
    admin: String,
    /// The measured member (MEMBER_UUID).
    #[arg(long)]
    member: String,
    /// Email of an existing user whose password hash the seeded users get.
    #[arg(long)]
    hash_from: Option<String>,
    /// Users added to the organization (besides the admin and the member).
    #[arg(long, default_value_t = 1_000)]
    users: u32,
    /// Groups, of 10 to 50 seeded users each.
    #[arg(long, default_value_t = 100)]
    groups: u32,
    /// Spaces in the project.
    #[arg(long, default_value_t = 10_000)]
    spaces: u32,
}

type Id = [u8; 16];

struct Space {
    id: Id,
    parent: Option<usize>,
    private: bool,
    inherit: bool,
}

struct Plan {
    /// (group, members).
    groups: Vec<(Id, Vec<Id>)>,
    spaces: Vec<Space>,
    /// (space index, user, role).
    user_grants: Vec<(usize, Id, &'static str)>,
    /// (space index, group, role).
    group_grants: Vec<(usize, Id, &'static str)>,
}

fn plan(a: &SeedArgs) -> anyhow::Result<Plan> {
    anyhow::ensure!(
        a.users >= 50 && a.groups >= 1,
        "need ≥ 50 users and ≥ 1 group"
    );
    let admin = seed::parse_uuid(&a.admin)?;
    let member = seed::parse_uuid(&a.member)?;
    let user = |n: u32| uuid_bytes(n % a.users);
    let group = |n: u32| salted_uuid_bytes(GROUP_SALT, n % a.groups);
    let groups = (0..a.groups)
        .map(|g| {
            let size = 10 + (g * 7) % 41;
            // 17 is prime to any user count ending in 0: 50 distinct users.
            let mut members: Vec<Id> = (0..size).map(|j| user(g * 131 + j * 17)).collect();
            members.sort_unstable();
            members.dedup();
            if g % MEMBER_GROUP_EVERY == 0 {
                members.push(member);
            }
            (group(g), members)
        })
        .collect();
    let (mut spaces, mut user_grants, mut group_grants) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..a.spaces as usize {
        let (f, k) = ((i / 10) as u32, i % 10);
        let base = i - k;
        let (parent, private, inherit) = match k {
            0..=5 => (None, false, false),
            6 => (None, true, false),
            7 => (Some(base), false, true),
            8 => (Some(base + 7), false, f % 2 == 0),
            _ => (Some(base + 6), false, true),
        };
        spaces.push(Space {
            id: salted_uuid_bytes(SPACE_SALT, i as u32),
            parent,
            private,
            inherit,
        });
        match k {
            0 if f % 5 == 0 => user_grants.push((i, user(f * 19), "editor")),
            1 if f % 3 == 0 => group_grants.push((i, group(f), "viewer")),
            2 if f % 13 == 0 => user_grants.push((i, member, "editor")),
            6 => {
                user_grants.push((i, admin, "admin"));
                user_grants.push((i, user(f * 7), "viewer"));
                user_grants.push((i, user(f * 13 + 1), "editor"));
                group_grants.push((i, group(f), "editor"));
                if f % 7 == 0 {
                    user_grants.push((i, member, "viewer"));
                }
            }
            8 => {
                if f % 2 == 1 {
                    user_grants.push((i, user(f * 11 + 3), "viewer"));
                    group_grants.push((i, group(f * 3 + 1), "viewer"));
                }
                if f % 11 == 0 {
                    user_grants.push((i, member, "editor"));
                }
            }
            _ => {}
        }
    }
    // A seeded user drawn twice on the same space would break the primary key.
    let mut seen = HashSet::new();
    user_grants.retain(|(s, u, _)| seen.insert((*s, *u)));
    let mut seen = HashSet::new();
    group_grants.retain(|(s, g, _)| seen.insert((*s, *g)));
    Ok(Plan {
        groups,
        spaces,
        user_grants,
        group_grants,
    })
}

/// How many spaces a user with a project role below admin sees: those whose effective chain
/// (the space, then its parents as long as each inherits) ends at a public root, or holds a
/// grant to the user or to one of their groups (docs of projects-svc's `domain::access`).
fn visible(p: &Plan, user: Id) -> usize {
    let groups: HashSet<Id> = p
        .groups
        .iter()
        .filter(|(_, m)| m.contains(&user))
        .map(|(g, _)| *g)
        .collect();
    let mut granted = vec![false; p.spaces.len()];
    for (s, u, _) in &p.user_grants {
        granted[*s] |= *u == user;
    }
    for (s, g, _) in &p.group_grants {
        granted[*s] |= groups.contains(g);
    }
    (0..p.spaces.len())
        .filter(|&i| {
            let mut s = i;
            loop {
                if granted[s] {
                    return true;
                }
                match (p.spaces[s].parent, p.spaces[s].inherit) {
                    (Some(parent), true) => s = parent,
                    (Some(_), false) => return false,
                    (None, _) => return !p.spaces[s].private,
                }
            }
        })
        .count()
}

fn inserts(out: &mut String, head: &str, rows: &[String]) {
    for chunk in rows.chunks(BATCH) {
        let _ = writeln!(out, "{head} VALUES\n{};", chunk.join(",\n"));
    }
}

pub(crate) fn seed(a: SeedArgs) -> anyhow::Result<()> {
    let p = plan(&a)?;
    let d = Dialect::Sqlite;
    let lit = |id: &Id| uuid_literal(d, id);
    let ts = quote(CREATED_AT);
    let mut out = String::new();
    match a.part {
        Part::Expected => {
            let member = seed::parse_uuid(&a.member)?;
            println!("MEMBER_VISIBLE={}", visible(&p, member));
            println!("ADMIN_VISIBLE={}", p.spaces.len());
            println!("USER_GRANTS={}", p.user_grants.len());
            println!("GROUP_GRANTS={}", p.group_grants.len());
            return Ok(());
        }
        Part::Identity => {
            out.push_str(&seed::sql(d, &a.org, a.users, a.hash_from.as_deref())?);
            let org = lit(&seed::parse_uuid(&a.org)?);
            let admin = lit(&seed::parse_uuid(&a.admin)?);
            out.push_str("BEGIN;\n");
            let groups: Vec<String> = p
                .groups
                .iter()
                .enumerate()
                .map(|(n, (g, _))| {
                    format!(
                        "({}, {org}, {}, {admin}, {admin}, {ts}, {ts})",
                        lit(g),
                        quote(&format!("Benchmark group {n:03}"))
                    )
                })
                .collect();
            inserts(
                &mut out,
                "INSERT INTO groups (group_uuid, organization_uuid, name, created_by_user_uuid, \
                 updated_by_user_uuid, created_at, updated_at)",
                &groups,
            );
            let members: Vec<String> = p
                .groups
                .iter()
                .flat_map(|(g, ms)| ms.iter().map(move |m| format!("({}, {})", lit(g), lit(m))))
                .collect();
            inserts(
                &mut out,
                "INSERT INTO group_memberships (group_uuid, user_uuid)",
                &members,
            );
        }
        Part::Projects => {
            let project = lit(&seed::parse_uuid(&a.project)?);
            let admin = lit(&seed::parse_uuid(&a.admin)?);
            out.push_str("BEGIN;\n");
            let rows: Vec<String> = p
                .spaces
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    format!(
                        "({}, {project}, {}, {}, {}, {}, {}, {admin}, {ts}, {ts})",
                        lit(&s.id),
                        s.parent
                            .map_or_else(|| "NULL".to_owned(), |x| lit(&p.spaces[x].id)),
                        quote(&format!("Space {i:05}")),
                        quote(&format!("space-{i:05}")),
                        u8::from(s.private),
                        u8::from(s.inherit),
                    )
                })
                .collect();
            inserts(
                &mut out,
                "INSERT INTO spaces (space_uuid, project_uuid, parent_space_uuid, name, slug, \
                 is_private, inherit_parent_permissions, created_by_user_uuid, created_at, updated_at)",
                &rows,
            );
            let grants = |gs: &[(usize, Id, &str)]| -> Vec<String> {
                gs.iter()
                    .map(|(s, u, r)| {
                        format!("({}, {}, {})", lit(&p.spaces[*s].id), lit(u), quote(r))
                    })
                    .collect()
            };
            inserts(
                &mut out,
                "INSERT INTO space_user_grants (space_uuid, user_uuid, role)",
                &grants(&p.user_grants),
            );
            inserts(
                &mut out,
                "INSERT INTO space_group_grants (space_uuid, group_uuid, role)",
                &grants(&p.group_grants),
            );
        }
    }
    out.push_str("COMMIT;\nANALYZE;\n");
    print!("{out}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(spaces: u32) -> SeedArgs {
        SeedArgs {
            part: Part::Projects,
            org: "0199a0b1-2c3d-4e5f-8a9b-0c1d2e3f4a5b".into(),
            project: "0199a0b1-2c3d-4e5f-8a9b-0c1d2e3f4a5c".into(),
            admin: "0199a0b1-2c3d-4e5f-8a9b-0c1d2e3f4a5d".into(),
            member: "0199a0b1-2c3d-4e5f-8a9b-0c1d2e3f4a5e".into(),
            hash_from: None,
            users: 1_000,
            groups: 100,
            spaces,
        }
    }

    #[test]
    fn the_member_sees_the_public_chains_and_what_is_granted_to_them() {
        let a = args(10_000);
        let p = plan(&a).unwrap();
        let member = seed::parse_uuid(&a.member).unwrap();
        // Per family: 6 public roots, 7 (inherits from public root 0), 8 in even families.
        let public = 1000 * 7 + 500;
        let n = visible(&p, member);
        assert!(n > public && n < 10_000, "{n}");
        assert_eq!(
            p.groups.iter().filter(|(_, m)| m.contains(&member)).count(),
            4
        );
        let sizes: Vec<usize> = p.groups.iter().map(|(_, m)| m.len()).collect();
        assert!(sizes.iter().all(|s| (10..=51).contains(s)), "{sizes:?}");
        // Nobody is seen through a grant on a public root alone.
        assert_eq!(visible(&p, [0; 16]), public);
    }
}
