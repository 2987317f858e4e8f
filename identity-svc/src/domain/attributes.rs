//! User attributes: named values per organization with a default, set per user and per group
//! (the values later feed row-level filters). Only admins read or change them: values can be
//! sensitive. Users and groups must belong to the attribute's organization.

use std::collections::{BTreeSet, HashMap};

use chrono::Utc;
use service_kit::jwt::AccessClaims;
use uuid::Uuid;

use super::{
    Identity,
    organizations::{OrgAction, guard},
};
use crate::{
    error::{Error, Result},
    store::{AttributeRecord, GroupValueRecord, StoreError, UserValueRecord},
};

/// Longest attribute name.
pub const MAX_NAME_LEN: usize = 64;
/// Longest value, description or default.
pub const MAX_VALUE_LEN: usize = 1024;
/// Most user plus group values in one attribute write.
pub const MAX_VALUES: usize = 5000;

/// An attribute with its values.
#[derive(Debug)]
pub struct AttributeView {
    pub attribute: AttributeRecord,
    pub users: Vec<UserValueRecord>,
    pub groups: Vec<GroupValueRecord>,
}

/// What a caller writes.
#[derive(Debug)]
pub struct AttributeInput {
    pub name: String,
    pub description: Option<String>,
    pub attribute_default: Option<String>,
    pub users: Vec<(String, String)>,
    pub groups: Vec<(String, String)>,
}

fn not_found() -> Error {
    Error::NotFound("user attribute not found".into())
}

fn check_text(field: &str, value: &str) -> Result<()> {
    if value.len() > MAX_VALUE_LEN
        || value
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(Error::InvalidArgument(
            format!("{field} must be at most {MAX_VALUE_LEN} bytes, without control characters")
                .into(),
        ));
    }
    Ok(())
}

/// Names are used in templates: lower-case letters, digits and `_`, not starting with a digit.
fn check_name(name: &str) -> Result<String> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(name.to_owned())
    } else {
        Err(Error::InvalidArgument(format!(
            "name must be 1 to {MAX_NAME_LEN} lower-case letters, digits or underscores, not starting with a digit"
        ).into()))
    }
}

fn parse_values(kind: &str, values: Vec<(String, String)>) -> Result<Vec<(Uuid, String)>> {
    let mut seen = BTreeSet::new();
    values
        .into_iter()
        .map(|(id, value)| {
            let id = Uuid::parse_str(&id).map_err(|_| {
                Error::InvalidArgument(format!("{id:?} is not a {kind} UUID").into())
            })?;
            if !seen.insert(id) {
                return Err(Error::InvalidArgument(
                    format!("{kind} {id} is given twice").into(),
                ));
            }
            check_text("value", &value)?;
            Ok((id, value))
        })
        .collect()
}

impl Identity {
    /// The caller's organization's attributes with their values (admins only).
    pub async fn list_attributes(&self, claims: &AccessClaims) -> Result<Vec<AttributeView>> {
        let (_, m, _) = self.authorize(claims, OrgAction::ManageMembers).await?;
        let (attributes, users, groups) = self
            .store
            .attributes(m.organization.organization_uuid)
            .await?;
        let mut by_user: HashMap<Uuid, Vec<UserValueRecord>> = HashMap::new();
        for v in users {
            by_user.entry(v.attribute_uuid).or_default().push(v);
        }
        let mut by_group: HashMap<Uuid, Vec<GroupValueRecord>> = HashMap::new();
        for v in groups {
            by_group.entry(v.attribute_uuid).or_default().push(v);
        }
        Ok(attributes
            .into_iter()
            .map(|a| AttributeView {
                users: by_user.remove(&a.attribute_uuid).unwrap_or_default(),
                groups: by_group.remove(&a.attribute_uuid).unwrap_or_default(),
                attribute: a,
            })
            .collect())
    }

    /// Creates (`attribute_uuid` None) or replaces an attribute and its values (admins only).
    pub async fn save_attribute(
        &self,
        claims: &AccessClaims,
        attribute_uuid: Option<&str>,
        input: AttributeInput,
    ) -> Result<AttributeView> {
        let (user, m, _) = self.authorize(claims, OrgAction::ManageMembers).await?;
        let org = m.organization.organization_uuid;
        let name = check_name(input.name.trim())?;
        if let Some(d) = &input.description {
            check_text("description", d)?;
        }
        if let Some(d) = &input.attribute_default {
            check_text("attributeDefault", d)?;
        }
        if input.users.len() + input.groups.len() > MAX_VALUES {
            return Err(Error::InvalidArgument(
                format!("at most {MAX_VALUES} values at once").into(),
            ));
        }
        let users = parse_values("user", input.users)?;
        let groups = parse_values("group", input.groups)?;
        let user_ids: Vec<Uuid> = users.iter().map(|(u, _)| *u).collect();
        let found: BTreeSet<Uuid> = self
            .store
            .members_among(org, &user_ids)
            .await?
            .into_iter()
            .collect();
        if let Some(missing) = user_ids.iter().find(|u| !found.contains(u)) {
            return Err(Error::InvalidArgument(
                format!("user {missing} is not a member of the organization").into(),
            ));
        }
        let group_ids: Vec<Uuid> = groups.iter().map(|(g, _)| *g).collect();
        let found: BTreeSet<Uuid> = self
            .store
            .groups_among(org, &group_ids)
            .await?
            .into_iter()
            .collect();
        if let Some(missing) = group_ids.iter().find(|g| !found.contains(g)) {
            return Err(Error::InvalidArgument(
                format!("group {missing} is not a group of the organization").into(),
            ));
        }
        let (id, create) = match attribute_uuid {
            Some(id) => (Uuid::parse_str(id).map_err(|_| not_found())?, false),
            None => (Uuid::now_v7(), true),
        };
        let record = AttributeRecord {
            attribute_uuid: id,
            organization_uuid: org,
            name,
            description: input.description,
            attribute_default: input.attribute_default,
            created_at: Utc::now(),
        };
        match self
            .store
            .save_attribute(
                &record,
                &users,
                &groups,
                create,
                &guard(org, user, OrgAction::ManageMembers),
            )
            .await
        {
            Ok(true) => {}
            Ok(false) => return Err(not_found()),
            Err(StoreError::Conflict) => {
                return Err(Error::AlreadyExists(
                    "An attribute with this name already exists".into(),
                ));
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!(user_uuid = %user, organization_uuid = %org, attribute_uuid = %id, "user attribute saved");
        self.list_attributes(claims)
            .await?
            .into_iter()
            .find(|v| v.attribute.attribute_uuid == record.attribute_uuid)
            .ok_or_else(not_found)
    }

    /// Deletes an attribute (admins only).
    pub async fn delete_attribute(
        &self,
        claims: &AccessClaims,
        attribute_uuid: &str,
    ) -> Result<()> {
        let (_, m, _) = self.authorize(claims, OrgAction::ManageMembers).await?;
        let id = Uuid::parse_str(attribute_uuid).map_err(|_| not_found())?;
        if !self
            .store
            .delete_attribute(m.organization.organization_uuid, id)
            .await?
        {
            return Err(not_found());
        }
        Ok(())
    }
}
