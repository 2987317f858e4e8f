//! Tags of a project: anyone who sees the project reads them; project editors and above
//! create, change and delete them, and replace the set that comes from the project's YAML.

use std::collections::HashSet;

use chrono::Utc;
use uuid::Uuid;

use super::{
    access,
    directory::{Caller, Lookup, Member},
    projects::Projects,
};
use crate::{
    error::{Error, Result, denied},
    store::{StoreError, TagRecord},
};

/// Longest tag name, in characters.
pub const MAX_NAME_CHARS: usize = 255;
/// Most tags a YAML replacement may carry.
pub const MAX_YAML_TAGS: usize = 1000;

/// A tag with who created it (when they are still a member).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagView {
    pub tag: TagRecord,
    pub created_by: Option<Member>,
}

/// A tag as the caller gives it.
#[derive(Debug, Clone, Default)]
pub struct TagInput {
    pub name: String,
    pub color: String,
    pub yaml_reference: Option<String>,
}

fn not_found() -> Error {
    Error::NotFound("tag not found".into())
}

fn tag_name(value: &str) -> Result<String> {
    let v = value.trim();
    if v.is_empty() || v.chars().count() > MAX_NAME_CHARS || v.chars().any(char::is_control) {
        return Err(Error::InvalidArgument(
            format!("name must be 1 to {MAX_NAME_CHARS} characters, without control characters")
                .into(),
        ));
    }
    Ok(v.to_owned())
}

/// A CSS hex colour: `#rgb`, `#rrggbb` or `#rrggbbaa`.
fn color(value: &str) -> Result<String> {
    let v = value.trim();
    let ok = v
        .strip_prefix('#')
        .is_some_and(|h| matches!(h.len(), 3 | 6 | 8) && h.bytes().all(|b| b.is_ascii_hexdigit()));
    if !ok {
        return Err(Error::InvalidArgument(
            "color must be a hex colour such as #4f46e5".into(),
        ));
    }
    Ok(v.to_ascii_lowercase())
}

fn taken() -> Error {
    Error::AlreadyExists("A tag with this name already exists in the project".into())
}

impl Projects {
    /// The project's id, after checking that the caller may see it and, for `write`, change
    /// its tags.
    async fn tag_scope(&self, caller: &Caller, project_uuid: &str, write: bool) -> Result<Uuid> {
        let view = self.get(caller, project_uuid).await?;
        if write && !access::can_update_project(Some(view.caller_role)) {
            return Err(denied());
        }
        Ok(view.project.project_uuid)
    }

    /// The tags of a project the caller may see.
    pub async fn list_tags(&self, caller: &Caller, project_uuid: &str) -> Result<Vec<TagView>> {
        let project = self.tag_scope(caller, project_uuid, false).await?;
        let tags = self.store().tags(project).await?;
        let creators: Vec<Uuid> = tags
            .iter()
            .filter_map(|t| t.created_by_user_uuid)
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let people = if creators.is_empty() {
            None
        } else {
            Some(
                self.directory()
                    .context(caller, Lookup::Users(creators), false)
                    .await?,
            )
        };
        Ok(tags
            .into_iter()
            .map(|tag| {
                let created_by = tag
                    .created_by_user_uuid
                    .and_then(|u| people.as_ref().and_then(|p| p.member(u)).cloned());
                TagView { tag, created_by }
            })
            .collect())
    }

    /// Creates a tag (project editors and above).
    pub async fn create_tag(
        &self,
        caller: &Caller,
        project_uuid: &str,
        input: TagInput,
    ) -> Result<Uuid> {
        let project = self.tag_scope(caller, project_uuid, true).await?;
        let tag = TagRecord {
            tag_uuid: Uuid::now_v7(),
            project_uuid: project,
            name: tag_name(&input.name)?,
            color: color(&input.color)?,
            yaml_reference: None,
            created_by_user_uuid: Some(caller.user_uuid),
            created_at: Utc::now(),
        };
        match self.store().insert_tag(&tag).await {
            Ok(()) => Ok(tag.tag_uuid),
            Err(StoreError::Conflict) => Err(taken()),
            Err(e) => Err(e.into()),
        }
    }

    /// Renames or recolours a tag (project editors and above).
    pub async fn update_tag(
        &self,
        caller: &Caller,
        project_uuid: &str,
        tag_uuid: &str,
        name: Option<&str>,
        new_color: Option<&str>,
    ) -> Result<()> {
        let project = self.tag_scope(caller, project_uuid, true).await?;
        let tag = Uuid::parse_str(tag_uuid).map_err(|_| not_found())?;
        let name = name.map(tag_name).transpose()?;
        let new_color = new_color.map(color).transpose()?;
        match self
            .store()
            .update_tag(project, tag, name.as_deref(), new_color.as_deref())
            .await
        {
            Ok(true) => Ok(()),
            Ok(false) => Err(not_found()),
            Err(StoreError::Conflict) => Err(taken()),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes a tag (project editors and above).
    pub async fn delete_tag(
        &self,
        caller: &Caller,
        project_uuid: &str,
        tag_uuid: &str,
    ) -> Result<()> {
        let project = self.tag_scope(caller, project_uuid, true).await?;
        let tag = Uuid::parse_str(tag_uuid).map_err(|_| not_found())?;
        if !self.store().delete_tag(project, tag).await? {
            return Err(not_found());
        }
        Ok(())
    }

    /// Replaces the tags that come from the project's YAML (project editors and above); tags
    /// made in the API stay. Atomic: a name taken by an API tag changes nothing.
    pub async fn replace_yaml_tags(
        &self,
        caller: &Caller,
        project_uuid: &str,
        tags: Vec<TagInput>,
    ) -> Result<()> {
        let project = self.tag_scope(caller, project_uuid, true).await?;
        if tags.len() > MAX_YAML_TAGS {
            return Err(Error::InvalidArgument(
                format!("at most {MAX_YAML_TAGS} tags at once").into(),
            ));
        }
        let now = Utc::now();
        let mut names = HashSet::new();
        let mut records = Vec::with_capacity(tags.len());
        for t in tags {
            let name = tag_name(&t.name)?;
            if !names.insert(name.clone()) {
                return Err(Error::InvalidArgument(
                    format!("tag {name:?} is given twice").into(),
                ));
            }
            let reference = t
                .yaml_reference
                .map(|r| r.trim().to_owned())
                .filter(|r| !r.is_empty() && r.len() <= 1024)
                .ok_or_else(|| {
                    Error::InvalidArgument("yamlReference must be 1 to 1024 bytes".into())
                })?;
            records.push(TagRecord {
                tag_uuid: Uuid::now_v7(),
                project_uuid: project,
                name,
                color: color(&t.color)?,
                yaml_reference: Some(reference),
                created_by_user_uuid: Some(caller.user_uuid),
                created_at: now,
            });
        }
        match self.store().replace_yaml_tags(project, &records).await {
            Ok(()) => Ok(()),
            Err(StoreError::Conflict) => Err(taken()),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_are_hex() {
        assert_eq!(color("#4F46E5").unwrap(), "#4f46e5");
        assert!(color("#abc").is_ok() && color("#aabbccdd").is_ok());
        for bad in ["4f46e5", "#4f46e", "#ggg", "red", ""] {
            assert!(color(bad).is_err(), "{bad}");
        }
    }
}
