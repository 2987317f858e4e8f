//! Validation of user input, with messages fit for the API caller.

use chrono::{DateTime, Utc};

use crate::error::{Error, Result};

/// Longest email address accepted (RFC 5321 path limit).
pub const MAX_EMAIL_LEN: usize = 254;
/// Longest first or last name, in characters.
pub const MAX_NAME_CHARS: usize = 255;

/// A syntactically valid email address, trimmed and lower-cased.
pub fn email(value: &str) -> Result<String> {
    let v = value.trim().to_lowercase();
    if v.is_empty() {
        return Err(Error::InvalidArgument("email is required".into()));
    }
    if v.len() > MAX_EMAIL_LEN || !email_address::EmailAddress::is_valid(&v) || !v.contains('.') {
        return Err(Error::InvalidArgument(
            "email is not a valid email address".into(),
        ));
    }
    Ok(v)
}

/// A non-empty name without control characters, trimmed.
pub fn name(field: &str, value: &str) -> Result<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(Error::InvalidArgument(
            format!("{field} is required").into(),
        ));
    }
    if v.chars().count() > MAX_NAME_CHARS {
        return Err(Error::InvalidArgument(
            format!("{field} must be at most {MAX_NAME_CHARS} characters").into(),
        ));
    }
    if v.chars().any(char::is_control) {
        return Err(Error::InvalidArgument(
            format!("{field} must not contain control characters").into(),
        ));
    }
    Ok(v.to_owned())
}

/// A token description: at most [`super::MAX_DESCRIPTION_CHARS`], no control characters.
pub fn description(value: &str) -> Result<String> {
    let v = value.trim();
    if v.chars().count() > super::MAX_DESCRIPTION_CHARS {
        return Err(Error::InvalidArgument(
            format!(
                "description must be at most {} characters",
                super::MAX_DESCRIPTION_CHARS
            )
            .into(),
        ));
    }
    if v.chars().any(char::is_control) {
        return Err(Error::InvalidArgument(
            "description must not contain control characters".into(),
        ));
    }
    Ok(v.to_owned())
}

/// A time strictly after `now`.
pub fn future(field: &str, value: DateTime<Utc>, now: DateTime<Utc>) -> Result<()> {
    if value <= now {
        return Err(Error::InvalidArgument(
            format!("{field} must be in the future").into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(email("  Ada@Example.COM ").unwrap(), "ada@example.com");
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
        ] {
            assert!(email(bad).is_err(), "{bad:?}");
        }
        assert!(email(&format!("{}@example.com", "a".repeat(250))).is_err());
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(name("firstName", " Ada ").unwrap(), "Ada");
        assert!(name("firstName", "  ").is_err());
        assert!(name("firstName", "a\nb").is_err());
        assert!(name("firstName", &"a".repeat(256)).is_err());
    }
}
