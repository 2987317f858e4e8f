//! Who may do what in a project and its spaces: Lightdash's access rules
//! (reference/lightdash.md, section 2), once, as pure functions of the facts.
//!
//! # Project role (items 1 and 2)
//!
//! A user who is not a member of the project's organization gets nothing. A member's organization
//! role implies the same-named role in every project of the organization, except `member`, which
//! implies none. The effective project role is the highest of that implied role, the user's direct
//! project grant and the project grants of the user's groups; without any of them the user has no
//! project access. See [`project_role`].
//!
//! # Space role (items 4, 5 and 8: the newest, chain-based rule for nested spaces)
//!
//! A space *inherits* from its parent if its `inherit_parent_permissions` is set; a root space
//! "inherits" from the project if it is public. Walking from the space up to the root, the
//! *effective chain* takes spaces as long as they inherit, and stops at (including) the first that
//! does not, or at the root. Project roles flow into the space only if the effective chain reaches
//! a public root. Then, per user (see [`space_access`]):
//!
//! - a. `highest` = the highest of the effective project role and the space grants of the user's
//!   groups anywhere in the effective chain (space viewer/editor/admin count as the same-named
//!   project role). The user's own space grants do not count. Without `highest`: no access, even
//!   with a direct space grant.
//! - b. `highest` is admin: space admin, even on a private space.
//! - c. Otherwise, if the effective chain holds a grant to the user or one of their groups: the
//!   user's own highest grant in the chain if any, even if lower than their project role; else the
//!   highest group grant in the chain.
//! - d. Otherwise, if project roles flow in: the project role as a space role (viewer and
//!   interactive_viewer: viewer; editor and developer: editor; admin: admin).
//! - e. Otherwise: no access.
//!
//! # Abilities (items 3 and 6)
//!
//! Viewing a project takes any project role; creating a space or updating a project (its
//! metadata, scheduler time zone and tags: Lightdash's `update Project`) takes editor; managing a
//! project (its grants to users and groups, deleting it) takes admin. Viewing a space takes
//! any space role, editing its content takes space editor, managing it (settings, grants, delete)
//! takes space admin.
//!
//! Every decision carries its explanation: the ordered [`Step`]s that produced it.

use proto::identity::v1::OrganizationRole;
use uuid::Uuid;

/// A role name that is not on its ladder.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} role must be one of: {}; got {value:?}", .expected.join(", "))]
pub struct UnknownRole {
    /// The ladder: `project` or `space`.
    pub kind: &'static str,
    /// The name given.
    pub value: String,
    expected: Vec<&'static str>,
}

fn parse_role<R: Copy>(
    kind: &'static str,
    all: &[R],
    name: fn(R) -> &'static str,
    value: &str,
) -> Result<R, UnknownRole> {
    all.iter()
        .copied()
        .find(|r| name(*r) == value)
        .ok_or_else(|| UnknownRole {
            kind,
            value: value.to_owned(),
            expected: all.iter().map(|r| name(*r)).collect(),
        })
}

/// What an organization role (identity's `OrganizationRole`, defined once in proto) gives in
/// the organization's projects.
pub trait ImpliedProjectRole {
    /// The role this implies in every project of the organization (item 1): the same-named
    /// one; none for `member`, nor for UNSPECIFIED, which is no role.
    fn project_role(self) -> Option<ProjectRole>;
}

impl ImpliedProjectRole for OrganizationRole {
    fn project_role(self) -> Option<ProjectRole> {
        match self {
            OrganizationRole::Unspecified | OrganizationRole::Member => None,
            OrganizationRole::Viewer => Some(ProjectRole::Viewer),
            OrganizationRole::InteractiveViewer => Some(ProjectRole::InteractiveViewer),
            OrganizationRole::Editor => Some(ProjectRole::Editor),
            OrganizationRole::Developer => Some(ProjectRole::Developer),
            OrganizationRole::Admin => Some(ProjectRole::Admin),
        }
    }
}

/// Project roles, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProjectRole {
    Viewer,
    InteractiveViewer,
    Editor,
    Developer,
    Admin,
}

impl ProjectRole {
    /// Every role, lowest first.
    pub const ALL: [ProjectRole; 5] = [
        ProjectRole::Viewer,
        ProjectRole::InteractiveViewer,
        ProjectRole::Editor,
        ProjectRole::Developer,
        ProjectRole::Admin,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ProjectRole::Viewer => "viewer",
            ProjectRole::InteractiveViewer => "interactive_viewer",
            ProjectRole::Editor => "editor",
            ProjectRole::Developer => "developer",
            ProjectRole::Admin => "admin",
        }
    }

    /// Parses a wire name.
    pub fn parse(value: &str) -> Result<Self, UnknownRole> {
        parse_role("project", &Self::ALL, Self::as_str, value)
    }

    /// The role this gives in a space project roles flow into (item 4d).
    pub fn space_role(self) -> SpaceRole {
        match self {
            ProjectRole::Viewer | ProjectRole::InteractiveViewer => SpaceRole::Viewer,
            ProjectRole::Editor | ProjectRole::Developer => SpaceRole::Editor,
            ProjectRole::Admin => SpaceRole::Admin,
        }
    }
}

/// Space roles, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SpaceRole {
    Viewer,
    Editor,
    Admin,
}

impl SpaceRole {
    /// Every role, lowest first.
    pub const ALL: [SpaceRole; 3] = [SpaceRole::Viewer, SpaceRole::Editor, SpaceRole::Admin];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            SpaceRole::Viewer => "viewer",
            SpaceRole::Editor => "editor",
            SpaceRole::Admin => "admin",
        }
    }

    /// Parses a wire name.
    pub fn parse(value: &str) -> Result<Self, UnknownRole> {
        parse_role("space", &Self::ALL, Self::as_str, value)
    }

    /// The project role a *group's* grant of this role counts as (item 4a).
    pub fn project_role(self) -> ProjectRole {
        match self {
            SpaceRole::Viewer => ProjectRole::Viewer,
            SpaceRole::Editor => ProjectRole::Editor,
            SpaceRole::Admin => ProjectRole::Admin,
        }
    }
}

/// What is known of a user in one project.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectFacts {
    /// The user's role in the project's organization; `None` if not a member, which gives
    /// nothing at all, whatever the grants say.
    pub org_role: Option<OrganizationRole>,
    /// The user's own grant on the project.
    pub user_grant: Option<ProjectRole>,
    /// The grants on the project of the groups the user belongs to.
    pub group_grants: Vec<ProjectRole>,
}

/// What is known of a user in one space. Whether it has a parent is its position in the chain
/// given to [`space_access`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpaceFacts {
    pub space_uuid: Uuid,
    /// Read on a root space only: a public root lets project roles in.
    pub is_private: bool,
    /// Read on a nested space only: whether its parent's grants apply to it.
    pub inherit_parent_permissions: bool,
    /// The user's own grant on this space.
    pub user_grant: Option<SpaceRole>,
    /// The grants on this space of the groups the user belongs to.
    pub group_grants: Vec<SpaceRole>,
}

/// The rule a [`Step`] applies; `as_str` is its wire name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// Fact: the user's organization role and the project role it implies (item 1).
    OrgRole,
    /// Fact: the user's own project grant (item 2).
    ProjectGrant,
    /// Fact: a project grant of one of the user's groups (item 2).
    GroupProjectGrant,
    /// Fact: a grant on a space of the effective chain to one of the user's groups, which counts
    /// toward the highest role (item 4a).
    SpaceGroupGrant,
    /// Fact: where the effective chain stops and whether project roles flow in (item 8).
    InheritanceChain,
    /// Decision: the highest project role (item 2).
    HighestRole,
    /// Decision: no project role, so no access (items 2 and 4a).
    NoProjectRole,
    /// Decision: no space was given, so no access.
    EmptyChain,
    /// Decision: the highest role is admin, so space admin (item 4b).
    AdminOverride,
    /// Decision: the user's own highest grant in the effective chain (item 4c).
    DirectSpaceGrant,
    /// Decision: the highest group grant in the effective chain (item 4c).
    GroupSpaceGrant,
    /// Decision: the project role as a space role (item 4d).
    InheritedFromProject,
    /// Decision: project roles do not flow in and nothing in the chain grants access (item 4e).
    PrivateNoGrant,
}

impl Rule {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::OrgRole => "org_role",
            Rule::ProjectGrant => "project_grant",
            Rule::GroupProjectGrant => "group_project_grant",
            Rule::SpaceGroupGrant => "space_group_grant",
            Rule::InheritanceChain => "inheritance_chain",
            Rule::HighestRole => "highest_role",
            Rule::NoProjectRole => "no_project_role",
            Rule::EmptyChain => "empty_chain",
            Rule::AdminOverride => "admin_override",
            Rule::DirectSpaceGrant => "direct_space_grant",
            Rule::GroupSpaceGrant => "group_space_grant",
            Rule::InheritedFromProject => "inherited_from_project",
            Rule::PrivateNoGrant => "private_no_grant",
        }
    }
}

/// One link of an explanation. Facts come first, in the order they were weighed; the last step is
/// always the decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub rule: Rule,
    /// The space the fact is about, if any.
    pub space_uuid: Option<Uuid>,
    /// The role the fact gives (the project role for project facts, the space role for space
    /// grants), or the role decided.
    pub role: Option<&'static str>,
    /// The step in words.
    pub detail: String,
}

impl Step {
    fn new(rule: Rule, role: Option<&'static str>, detail: String) -> Self {
        Self {
            rule,
            space_uuid: None,
            role,
            detail,
        }
    }

    fn on(mut self, space_uuid: Uuid) -> Self {
        self.space_uuid = Some(space_uuid);
        self
    }
}

/// A user's effective project role, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectDecision {
    pub role: Option<ProjectRole>,
    pub steps: Vec<Step>,
}

/// A user's role in a space, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpaceDecision {
    pub role: Option<SpaceRole>,
    pub steps: Vec<Step>,
}

/// The highest role seen so far and the fact it came from; a later fact wins a tie (item 2).
#[derive(Clone, Copy)]
struct Highest {
    role: ProjectRole,
    source: Rule,
}

fn raise(highest: &mut Option<Highest>, role: ProjectRole, source: Rule) {
    if highest.is_none_or(|h| role >= h.role) {
        *highest = Some(Highest { role, source });
    }
}

const NOT_ORG_MEMBER: &str = "not a member of the project's organization";

/// Pushes the project facts of a member with `org_role` and returns the highest role among them.
fn weigh_project_facts(
    facts: &ProjectFacts,
    org_role: OrganizationRole,
    steps: &mut Vec<Step>,
) -> Option<Highest> {
    let mut highest = None;
    let implied = org_role.project_role();
    steps.push(Step::new(
        Rule::OrgRole,
        implied.map(ProjectRole::as_str),
        match implied {
            Some(role) => format!(
                "organization role {} gives project role {}",
                org_role.as_str(),
                role.as_str()
            ),
            None => format!(
                "organization role {} gives no project role",
                org_role.as_str()
            ),
        },
    ));
    if let Some(role) = implied {
        raise(&mut highest, role, Rule::OrgRole);
    }
    if let Some(role) = facts.user_grant {
        steps.push(Step::new(
            Rule::ProjectGrant,
            Some(role.as_str()),
            format!("granted project role {}", role.as_str()),
        ));
        raise(&mut highest, role, Rule::ProjectGrant);
    }
    for &role in &facts.group_grants {
        steps.push(Step::new(
            Rule::GroupProjectGrant,
            Some(role.as_str()),
            format!(
                "a group of the user is granted project role {}",
                role.as_str()
            ),
        ));
        raise(&mut highest, role, Rule::GroupProjectGrant);
    }
    highest
}

/// The user's effective project role (items 1 and 2): the highest of the role their organization
/// role implies, their own project grant and their groups' project grants; `None` without any,
/// or if they are not a member of the organization.
pub fn project_role(facts: &ProjectFacts) -> ProjectDecision {
    let mut steps = Vec::new();
    let Some(org_role) = facts.org_role else {
        steps.push(Step::new(Rule::NoProjectRole, None, NOT_ORG_MEMBER.into()));
        return ProjectDecision { role: None, steps };
    };
    let role = match weigh_project_facts(facts, org_role, &mut steps) {
        Some(h) => {
            steps.push(Step::new(
                Rule::HighestRole,
                Some(h.role.as_str()),
                format!(
                    "highest project role is {}, from {}",
                    h.role.as_str(),
                    h.source.as_str()
                ),
            ));
            Some(h.role)
        }
        None => {
            steps.push(Step::new(
                Rule::NoProjectRole,
                None,
                "no organization role above member and no project or group grant".into(),
            ));
            None
        }
    };
    ProjectDecision { role, steps }
}

/// The spaces of `chain` (leaf first) whose grants apply to its leaf, and whether project roles
/// flow in (item 8).
fn effective_chain(chain: &[SpaceFacts]) -> (&[SpaceFacts], bool) {
    for (i, space) in chain.iter().enumerate() {
        if i + 1 == chain.len() {
            return (chain, !space.is_private);
        }
        if !space.inherit_parent_permissions {
            return (&chain[..=i], false);
        }
    }
    (chain, false)
}

/// The highest of `grants`; of equal ones, the first (nearest the leaf).
fn highest_grant(grants: impl Iterator<Item = (SpaceRole, Uuid)>) -> Option<(SpaceRole, Uuid)> {
    grants.fold(None, |best, (role, uuid)| match best {
        Some((b, _)) if b >= role => best,
        _ => Some((role, uuid)),
    })
}

fn chain_step(chain: &[SpaceFacts], effective: &[SpaceFacts], from_project: bool) -> Step {
    let last = &effective[effective.len() - 1];
    let detail = if effective.len() < chain.len() {
        format!(
            "the chain stops at this space, which does not inherit its parent's permissions: \
             grants on {} space(s) apply, project roles do not",
            effective.len()
        )
    } else if from_project {
        format!(
            "the chain reaches this public root space: grants on {} space(s) and project roles apply",
            effective.len()
        )
    } else {
        format!(
            "the chain reaches this private root space: grants on {} space(s) apply, project roles do not",
            effective.len()
        )
    };
    Step::new(Rule::InheritanceChain, None, detail).on(last.space_uuid)
}

/// [`space_access`]'s role without its explanation: the same rules, no text built, for
/// listings that decide thousands of spaces per request. Tested equal to `space_access(..).role`
/// on every single-space combination and on random chains.
pub fn space_role(project: &ProjectFacts, chain: &[SpaceFacts]) -> Option<SpaceRole> {
    let org_role = project.org_role?;
    if chain.is_empty() {
        return None;
    }
    let (effective, from_project) = effective_chain(chain);
    let mut highest = org_role.project_role();
    highest = highest.max(project.user_grant);
    for &role in &project.group_grants {
        highest = highest.max(Some(role));
    }
    for space in effective {
        for &role in &space.group_grants {
            highest = highest.max(Some(role.project_role()));
        }
    }
    let highest = highest?;
    if highest == ProjectRole::Admin {
        return Some(SpaceRole::Admin);
    }
    if let Some(user) = effective.iter().filter_map(|s| s.user_grant).max() {
        return Some(user);
    }
    if let Some(group) = effective
        .iter()
        .flat_map(|s| s.group_grants.iter().copied())
        .max()
    {
        return Some(group);
    }
    from_project.then(|| highest.space_role())
}

/// The user's role in the first space of `chain` (items 4, 5 and 8; see the module docs).
/// `chain` is that space and its ancestors, leaf first, root last; an empty chain gives nothing.
pub fn space_access(project: &ProjectFacts, chain: &[SpaceFacts]) -> SpaceDecision {
    let mut steps = Vec::new();
    let none = |steps| SpaceDecision { role: None, steps };
    let Some(org_role) = project.org_role else {
        steps.push(Step::new(Rule::NoProjectRole, None, NOT_ORG_MEMBER.into()));
        return none(steps);
    };
    if chain.is_empty() {
        steps.push(Step::new(Rule::EmptyChain, None, "no space given".into()));
        return none(steps);
    }

    // a.
    let mut highest = weigh_project_facts(project, org_role, &mut steps);
    let (effective, from_project) = effective_chain(chain);
    for space in effective {
        for &role in &space.group_grants {
            steps.push(
                Step::new(
                    Rule::SpaceGroupGrant,
                    Some(role.as_str()),
                    format!(
                        "a group of the user is granted space role {0} here, which counts as project role {0}",
                        role.as_str()
                    ),
                )
                .on(space.space_uuid),
            );
            raise(&mut highest, role.project_role(), Rule::SpaceGroupGrant);
        }
    }
    steps.push(chain_step(chain, effective, from_project));
    let Some(highest) = highest else {
        steps.push(Step::new(
            Rule::NoProjectRole,
            None,
            "no project role and no group grant in the chain: a grant to the user alone gives nothing"
                .into(),
        ));
        return none(steps);
    };

    // b.
    if highest.role == ProjectRole::Admin {
        steps.push(Step::new(
            Rule::AdminOverride,
            Some(SpaceRole::Admin.as_str()),
            format!(
                "highest role is admin, from {}: admin of every space",
                highest.source.as_str()
            ),
        ));
        return SpaceDecision {
            role: Some(SpaceRole::Admin),
            steps,
        };
    }

    // c.
    let user = highest_grant(
        effective
            .iter()
            .filter_map(|s| s.user_grant.map(|r| (r, s.space_uuid))),
    );
    let group = highest_grant(
        effective
            .iter()
            .flat_map(|s| s.group_grants.iter().map(|&r| (r, s.space_uuid))),
    );
    if let Some((role, uuid)) = user {
        steps.push(
            Step::new(
                Rule::DirectSpaceGrant,
                Some(role.as_str()),
                format!(
                    "the user is granted space role {} here, which decides even below their project role",
                    role.as_str()
                ),
            )
            .on(uuid),
        );
        return SpaceDecision {
            role: Some(role),
            steps,
        };
    }
    if let Some((role, uuid)) = group {
        steps.push(
            Step::new(
                Rule::GroupSpaceGrant,
                Some(role.as_str()),
                format!(
                    "highest grant in the chain: space role {} to a group of the user",
                    role.as_str()
                ),
            )
            .on(uuid),
        );
        return SpaceDecision {
            role: Some(role),
            steps,
        };
    }

    // d.
    if from_project {
        let role = highest.role.space_role();
        steps.push(Step::new(
            Rule::InheritedFromProject,
            Some(role.as_str()),
            format!(
                "no grant in the chain; project role {} gives space role {}",
                highest.role.as_str(),
                role.as_str()
            ),
        ));
        return SpaceDecision {
            role: Some(role),
            steps,
        };
    }

    // e.
    steps.push(Step::new(
        Rule::PrivateNoGrant,
        None,
        "project roles do not reach this space and nothing in the chain grants the user access"
            .into(),
    ));
    none(steps)
}

/// Whether a project role lets its holder see the project (item 3: viewer and up).
pub fn can_view_project(role: Option<ProjectRole>) -> bool {
    role.is_some()
}

/// Whether a project role lets its holder update the project: metadata, scheduler time zone,
/// tags (item 3, `update Project`: editor and up).
pub fn can_update_project(role: Option<ProjectRole>) -> bool {
    role.is_some_and(|r| r >= ProjectRole::Editor)
}

/// Whether a project role lets its holder create spaces in the project (items 3 and 6: editor
/// and up).
pub fn can_create_space(role: Option<ProjectRole>) -> bool {
    role.is_some_and(|r| r >= ProjectRole::Editor)
}

/// Whether a project role lets its holder manage the project: its grants to users and groups,
/// deleting it (item 3, `manage Project`: admin).
pub fn can_manage_project(role: Option<ProjectRole>) -> bool {
    role == Some(ProjectRole::Admin)
}

/// Whether a space role lets its holder see the space and its content (items 3 and 6).
pub fn can_view_space(role: Option<SpaceRole>) -> bool {
    role.is_some()
}

/// Whether a space role lets its holder change the space's charts and dashboards (item 3:
/// space editor and up).
pub fn can_edit_space_content(role: Option<SpaceRole>) -> bool {
    role.is_some_and(|r| r >= SpaceRole::Editor)
}

/// Whether a space role lets its holder update, delete and grant access to the space (item 6:
/// space admin).
pub fn can_manage_space(role: Option<SpaceRole>) -> bool {
    role == Some(SpaceRole::Admin)
}

#[cfg(test)]
mod tests;
