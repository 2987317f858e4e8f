//! Provider names: Luzmo names some providers otherwise than the platform does. The platform's
//! name is the one connections-svc's catalog and Lightdash's warehouse types use, so that one
//! PostgreSQL connection is the same provider whichever face made it (connector 1 on the Sumvin
//! face, `postgres` on the REST and Lightdash faces). The face maps Luzmo's name to the
//! platform's as a request comes in, and back as it answers, so Luzmo's clients read the name
//! they wrote.

/// (Luzmo's name, the platform's name).
const NAMES: [(&str, &str); 1] = [("postgresql", "postgres")];

/// The platform's name for a provider a Luzmo client sent: the same text unless Luzmo names
/// it otherwise (matched as connections-svc reads a slug: trimmed, in any case).
pub(super) fn to_platform(luzmo: String) -> String {
    let slug = luzmo.trim().to_ascii_lowercase();
    NAMES
        .iter()
        .find(|(l, _)| *l == slug)
        .map_or(luzmo, |(_, platform)| (*platform).to_owned())
}

/// Luzmo's name for a stored provider: the same text unless Luzmo names it otherwise.
pub(super) fn to_luzmo(platform: &str) -> String {
    NAMES
        .iter()
        .find(|(_, p)| *p == platform)
        .map_or(platform, |(luzmo, _)| luzmo)
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgresql_is_the_platform_s_postgres_and_back() {
        for sent in ["postgresql", "PostgreSQL", " postgresql "] {
            assert_eq!(to_platform(sent.to_owned()), "postgres", "{sent:?}");
        }
        assert_eq!(to_luzmo("postgres"), "postgresql");
        for other in ["googledrive", "snowflake", "postgres", "postgresqlx", ""] {
            assert_eq!(to_platform(other.to_owned()), other);
        }
        for other in ["googledrive", "snowflake", "postgresql", ""] {
            assert_eq!(to_luzmo(other), other);
        }
    }
}
