//! Migrations compiled into the binary, without sqlx's `migrate!` procedural macro.
//!
//! `migrate!` and `#[derive(FromRow)]` were why the workspace built sqlx's macro crate, which
//! links a second copy of sqlx and of all three database drivers (bundled SQLite's C among them)
//! for the compiler itself: about 74 CPU-seconds of a newcomer's first build (issue #21,
//! docs/benchmarks.md "First build"). Here the files are named once in the source
//! ([`embedded_migrations!`](crate::embedded_migrations)) and read by `include_str!`; versions,
//! descriptions and checksums are made as sqlx makes them when it reads the directory, on first
//! use. Each service's tests compare the embedded set with the directory
//! ([`Embedded::check_against`]), so a file added to the directory but not named fails a test.

use std::{borrow::Cow, path::Path, sync::OnceLock};

use sqlx::{
    SqlSafeStr,
    migrate::{Migration, MigrationType, Migrator},
};

/// One migration file compiled in: its file name and its SQL.
pub type File = (&'static str, &'static str);

/// The migrations of one directory, compiled in; a [`Migrator`] on first use.
#[derive(Debug)]
pub struct Embedded {
    files: &'static [File],
    migrator: OnceLock<Migrator>,
}

impl Embedded {
    /// The migrations of `files` (see [`embedded_migrations!`](crate::embedded_migrations)).
    pub const fn new(files: &'static [File]) -> Self {
        Self {
            files,
            migrator: OnceLock::new(),
        }
    }

    /// Migrations made elsewhere (tests that build releases of their own).
    pub fn of(migrator: Migrator) -> Self {
        Self {
            files: &[],
            migrator: OnceLock::from(migrator),
        }
    }

    /// The migrator: every file, by version, as `sqlx::migrate!` would have made it.
    ///
    /// # Panics
    /// When a file name is not `<version>_<description>.sql` (or `.up.sql`, `.down.sql`): a
    /// mistake in the source that every service's tests catch ([`Embedded::check_against`]).
    pub fn migrator(&self) -> &Migrator {
        self.migrator.get_or_init(|| {
            let migrations = self.files.iter().map(|&(name, sql)| {
                migration(name, sql).unwrap_or_else(|e| panic!("migration {name:?}: {e}"))
            });
            Migrator::with_migrations(migrations.collect())
        })
    }

    /// Whether the embedded set equals the migrations sqlx reads from `dir` (versions,
    /// descriptions, kinds, checksums and transaction modes); the difference, when not.
    pub async fn check_against(&self, dir: &Path) -> Result<(), String> {
        let from_dir = Migrator::new(dir).await.map_err(|e| e.to_string())?;
        let key = |m: &Migration| {
            (
                m.version,
                m.description.to_string(),
                m.migration_type,
                m.checksum.to_vec(),
                m.no_tx,
            )
        };
        let want: Vec<_> = from_dir.iter().map(key).collect();
        let have: Vec<_> = self.migrator().iter().map(key).collect();
        if want == have {
            return Ok(());
        }
        let names = |v: &[(i64, String, MigrationType, Vec<u8>, bool)]| {
            v.iter()
                .map(|(version, description, ..)| format!("{version} {description}"))
                .collect::<Vec<_>>()
        };
        Err(format!(
            "{} holds {:?}, the binary embeds {:?} (or a file's contents differ)",
            dir.display(),
            names(&want),
            names(&have)
        ))
    }
}

/// One file as sqlx reads it (sqlx-core's `resolve_blocking`): `<version>_<description>.sql`,
/// underscores of the description read as spaces, `-- no-transaction` on the first line.
fn migration(name: &str, sql: &'static str) -> Result<Migration, String> {
    let (version, rest) = name
        .split_once('_')
        .filter(|(_, rest)| rest.ends_with(".sql"))
        .ok_or("expected <version>_<description>.sql")?;
    let version: i64 = version
        .parse()
        .map_err(|_| "the version is not an integer")?;
    let kind = MigrationType::from_filename(rest);
    let description = rest.trim_end_matches(kind.suffix()).replace('_', " ");
    Ok(Migration::new(
        version,
        Cow::Owned(description),
        kind,
        sqlx::AssertSqlSafe(sql).into_sql_str(),
        sql.starts_with("-- no-transaction"),
    ))
}

/// An [`Embedded`] of the named files of `dir` (relative to the crate's manifest), read with
/// `include_str!`:
///
/// ```ignore
/// pub static SQLITE_MIGRATIONS: Embedded =
///     service_kit::embedded_migrations!("migrations/sqlite": "20261125000001_identity.sql");
/// ```
#[macro_export]
macro_rules! embedded_migrations {
    ($dir:literal: $($file:literal),+ $(,)?) => {
        $crate::migrate::Embedded::new(&[$((
            $file,
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $dir, "/", $file)),
        )),+])
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_read_as_sqlx_reads_them() {
        let m = migration("20260101000002_add_a_table.sql", "CREATE TABLE a (x INT)").unwrap();
        assert_eq!(m.version, 20260101000002);
        assert_eq!(m.description, "add a table");
        assert_eq!(m.migration_type, MigrationType::Simple);
        use sha2::Digest;
        assert_eq!(*m.checksum, *sha2::Sha384::digest("CREATE TABLE a (x INT)"));
        assert!(!m.no_tx);
        let m = migration("7_concurrently.up.sql", "-- no-transaction\nCREATE INDEX").unwrap();
        assert_eq!((m.version, &*m.description), (7, "concurrently"));
        assert_eq!(m.migration_type, MigrationType::ReversibleUp);
        assert!(m.no_tx);
        for bad in ["init.sql", "x_init.sql", "1_init.txt", "1init.sql"] {
            assert!(migration(bad, "").is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn a_file_missing_from_the_source_is_found() {
        let dir = std::env::temp_dir().join(format!("embedded-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("1_one.sql"), "SELECT 1").unwrap();
        std::fs::write(dir.join("2_two.sql"), "SELECT 2").unwrap();
        static ONE: Embedded = Embedded::new(&[("1_one.sql", "SELECT 1")]);
        let err = ONE.check_against(&dir).await.unwrap_err();
        assert!(err.contains("2 two"), "{err}");
        static BOTH: Embedded =
            Embedded::new(&[("2_two.sql", "SELECT 2"), ("1_one.sql", "SELECT 1")]);
        BOTH.check_against(&dir).await.unwrap();
        static CHANGED: Embedded =
            Embedded::new(&[("1_one.sql", "SELECT 1"), ("2_two.sql", "SELECT 3")]);
        assert!(CHANGED.check_against(&dir).await.is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
