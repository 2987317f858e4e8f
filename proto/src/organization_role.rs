//! The organization role, defined once as `identity.v1.OrganizationRole`, and its one name at
//! the edges: the lowercase wire name that JSON bodies and database columns carry
//! ("interactive_viewer"), written by [`OrganizationRole::as_str`] and read by
//! [`OrganizationRole::parse`]. prost derives the privilege order from the values' order.

use std::{fmt, str::FromStr};

use crate::identity::v1::OrganizationRole;

/// A name or a field value that is not an organization role: an unknown name, UNSPECIFIED, or
/// a number this version does not know. Its message is the one a caller is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownOrganizationRole;

impl fmt::Display for UnknownOrganizationRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("role must be one of: ")?;
        for (i, role) in OrganizationRole::ALL.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(role.as_str())?;
        }
        Ok(())
    }
}

impl std::error::Error for UnknownOrganizationRole {}

impl OrganizationRole {
    /// Every role, lowest first (UNSPECIFIED is none).
    pub const ALL: [Self; 6] = [
        Self::Member,
        Self::Viewer,
        Self::InteractiveViewer,
        Self::Editor,
        Self::Developer,
        Self::Admin,
    ];

    /// The wire name ("interactive_viewer"), as JSON and database columns carry it; not
    /// [`as_str_name`](Self::as_str_name), the name of the proto value. UNSPECIFIED is
    /// "unspecified", which [`parse`](Self::parse) refuses.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Unspecified => "unspecified",
            Self::Member => "member",
            Self::Viewer => "viewer",
            Self::InteractiveViewer => "interactive_viewer",
            Self::Editor => "editor",
            Self::Developer => "developer",
            Self::Admin => "admin",
        }
    }

    /// The role with wire name `name` (exactly: no other case, no spaces).
    pub fn parse(name: &str) -> Result<Self, UnknownOrganizationRole> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == name)
            .ok_or(UnknownOrganizationRole)
    }

    /// The role a message's field carries; UNSPECIFIED and numbers this version does not know
    /// are refused.
    pub fn required(value: i32) -> Result<Self, UnknownOrganizationRole> {
        Self::try_from(value)
            .ok()
            .filter(|r| *r != Self::Unspecified)
            .ok_or(UnknownOrganizationRole)
    }
}

impl fmt::Display for OrganizationRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OrganizationRole {
    type Err = UnknownOrganizationRole;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::parse(name)
    }
}

/// [`OrganizationRole::parse`], for row decoders (sqlx's `#[sqlx(try_from = "String")]`).
impl TryFrom<String> for OrganizationRole {
    type Error = UnknownOrganizationRole;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        Self::parse(&name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_round_trips_through_its_wire_name() {
        let names = [
            "member",
            "viewer",
            "interactive_viewer",
            "editor",
            "developer",
            "admin",
        ];
        assert_eq!(OrganizationRole::ALL.map(OrganizationRole::as_str), names);
        for role in OrganizationRole::ALL {
            assert_eq!(OrganizationRole::parse(role.as_str()), Ok(role));
            assert_eq!(role.to_string().parse(), Ok(role));
            assert_eq!(OrganizationRole::try_from(role.to_string()), Ok(role));
            assert_eq!(OrganizationRole::required(role.into()), Ok(role));
        }
    }

    #[test]
    fn the_order_is_the_privilege_order() {
        assert!(OrganizationRole::ALL.is_sorted());
        assert!(OrganizationRole::ALL.windows(2).all(|w| w[0] < w[1]));
        assert!(OrganizationRole::Unspecified < OrganizationRole::Member);
        assert_eq!(OrganizationRole::default(), OrganizationRole::Unspecified);
    }

    #[test]
    fn unspecified_and_unknown_roles_are_refused() {
        let message =
            "role must be one of: member, viewer, interactive_viewer, editor, developer, admin";
        for name in [
            "unspecified",
            "owner",
            "Admin",
            " admin",
            "",
            "ORGANIZATION_ROLE_ADMIN",
        ] {
            let refused = OrganizationRole::parse(name).unwrap_err();
            assert_eq!(refused.to_string(), message, "{name:?}");
        }
        for value in [0, 7, -1, i32::MAX] {
            assert_eq!(
                OrganizationRole::required(value),
                Err(UnknownOrganizationRole),
                "{value}"
            );
        }
    }
}
