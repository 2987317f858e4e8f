//! The access rules' tests: tables of cases, an independent reference model of the space rule
//! checked exhaustively on one- and two-level chains, and property tests.

use proptest::prelude::*;

use super::*;

use OrgRole as O;
use OrganizationRole as OrgRole;
use ProjectRole as P;
use SpaceRole as S;

fn facts(org: Option<OrgRole>, user: Option<ProjectRole>, groups: &[ProjectRole]) -> ProjectFacts {
    ProjectFacts {
        org_role: org,
        user_grant: user,
        group_grants: groups.to_vec(),
    }
}

/// A public space that inherits from its parent, with no grants.
fn space(n: u128) -> SpaceFacts {
    SpaceFacts {
        space_uuid: Uuid::from_u128(n),
        inherit_parent_permissions: true,
        ..SpaceFacts::default()
    }
}

impl SpaceFacts {
    fn private(mut self) -> Self {
        self.is_private = true;
        self
    }
    fn no_inherit(mut self) -> Self {
        self.inherit_parent_permissions = false;
        self
    }
    fn user(mut self, role: SpaceRole) -> Self {
        self.user_grant = Some(role);
        self
    }
    fn group(mut self, role: SpaceRole) -> Self {
        self.group_grants.push(role);
        self
    }
}

fn options<T: Copy>(all: &[T]) -> Vec<Option<T>> {
    std::iter::once(None)
        .chain(all.iter().copied().map(Some))
        .collect()
}

/// The rules again, written independently of the implementation: first the values (the
/// applicable spaces, by recursion; the highest role), then the rules as nested if/else.
fn reference(p: &ProjectFacts, chain: &[SpaceFacts]) -> Option<SpaceRole> {
    fn applicable(chain: &[SpaceFacts]) -> (Vec<&SpaceFacts>, bool) {
        match chain {
            [] => (vec![], false),
            [root] => (vec![root], !root.is_private),
            [space, parents @ ..] if space.inherit_parent_permissions => {
                let (mut spaces, from_project) = applicable(parents);
                spaces.insert(0, space);
                (spaces, from_project)
            }
            [space, ..] => (vec![space], false),
        }
    }
    let (spaces, from_project) = applicable(chain);
    let user_grants: Vec<SpaceRole> = spaces.iter().filter_map(|s| s.user_grant).collect();
    let group_grants: Vec<SpaceRole> = spaces
        .iter()
        .flat_map(|s| s.group_grants.iter().copied())
        .collect();
    let from_org = match p.org_role {
        None | Some(O::Unspecified | O::Member) => None,
        Some(O::Viewer) => Some(P::Viewer),
        Some(O::InteractiveViewer) => Some(P::InteractiveViewer),
        Some(O::Editor) => Some(P::Editor),
        Some(O::Developer) => Some(P::Developer),
        Some(O::Admin) => Some(P::Admin),
    };
    let groups_as_project = group_grants.iter().map(|g| match g {
        S::Viewer => P::Viewer,
        S::Editor => P::Editor,
        S::Admin => P::Admin,
    });
    let highest = from_org
        .into_iter()
        .chain(p.user_grant)
        .chain(p.group_grants.iter().copied())
        .chain(groups_as_project)
        .max();

    if p.org_role.is_none() || chain.is_empty() {
        None
    } else if let Some(highest) = highest {
        if highest == P::Admin {
            Some(S::Admin)
        } else if !user_grants.is_empty() {
            user_grants.into_iter().max()
        } else if !group_grants.is_empty() {
            group_grants.into_iter().max()
        } else if from_project {
            match highest {
                P::Viewer | P::InteractiveViewer => Some(S::Viewer),
                P::Editor | P::Developer => Some(S::Editor),
                P::Admin => Some(S::Admin),
            }
        } else {
            None
        }
    } else {
        None
    }
}

/// What every decision's explanation must satisfy.
fn check_explanation(d: &SpaceDecision) {
    let last = d.steps.last().expect("an explanation");
    assert_eq!(last.role, d.role.map(SpaceRole::as_str), "{d:?}");
    assert!(
        matches!(
            last.rule,
            Rule::NoProjectRole
                | Rule::EmptyChain
                | Rule::AdminOverride
                | Rule::DirectSpaceGrant
                | Rule::GroupSpaceGrant
                | Rule::InheritedFromProject
                | Rule::PrivateNoGrant
        ),
        "{d:?}"
    );
}

#[test]
fn roles_parse_their_wire_names_only() {
    for r in OrgRole::ALL {
        assert_eq!(OrgRole::parse(r.as_str()), Ok(r));
    }
    for r in ProjectRole::ALL {
        assert_eq!(ProjectRole::parse(r.as_str()), Ok(r));
    }
    for r in SpaceRole::ALL {
        assert_eq!(SpaceRole::parse(r.as_str()), Ok(r));
    }
    assert!(OrgRole::ALL.is_sorted() && ProjectRole::ALL.is_sorted() && SpaceRole::ALL.is_sorted());
    assert_eq!(
        ProjectRole::parse("member").unwrap_err().to_string(),
        "project role must be one of: viewer, interactive_viewer, editor, developer, admin; \
         got \"member\""
    );
    assert!(SpaceRole::parse("Admin").is_err());
}

#[test]
fn roles_convert_as_lightdash_does() {
    let implied: Vec<_> = OrgRole::ALL.map(OrgRole::project_role).into();
    assert_eq!(
        implied,
        [
            None,
            Some(P::Viewer),
            Some(P::InteractiveViewer),
            Some(P::Editor),
            Some(P::Developer),
            Some(P::Admin)
        ]
    );
    assert_eq!(
        ProjectRole::ALL.map(ProjectRole::space_role),
        [S::Viewer, S::Viewer, S::Editor, S::Editor, S::Admin]
    );
    assert_eq!(
        SpaceRole::ALL.map(SpaceRole::project_role),
        [P::Viewer, P::Editor, P::Admin]
    );
}

#[test]
fn project_role_is_the_highest_fact() {
    #[rustfmt::skip]
    let cases = [
        (facts(None, Some(P::Admin), &[P::Admin]), None, Rule::NoProjectRole),
        (facts(Some(O::Member), None, &[]), None, Rule::NoProjectRole),
        (facts(Some(O::Viewer), None, &[]), Some(P::Viewer), Rule::OrgRole),
        (facts(Some(O::Member), Some(P::Editor), &[]), Some(P::Editor), Rule::ProjectGrant),
        (facts(Some(O::Developer), Some(P::Viewer), &[]), Some(P::Developer), Rule::OrgRole),
        (facts(Some(O::Viewer), Some(P::Editor), &[P::InteractiveViewer, P::Admin]), Some(P::Admin), Rule::GroupProjectGrant),
        // A tie goes to the later fact.
        (facts(Some(O::Editor), Some(P::Editor), &[]), Some(P::Editor), Rule::ProjectGrant),
    ];
    for (facts, role, source) in cases {
        let d = project_role(&facts);
        assert_eq!(d.role, role, "{facts:?}");
        let last = d.steps.last().unwrap();
        assert_eq!(last.role, role.map(P::as_str));
        match role {
            Some(_) => {
                assert_eq!(last.rule, Rule::HighestRole);
                assert!(last.detail.ends_with(source.as_str()), "{d:?}");
            }
            None => assert_eq!(last.rule, source),
        }
    }
}

/// A case of the table: its name, the facts, the space and its ancestors, the role expected,
/// the rule expected to decide and the space it decides on.
type Case = (
    &'static str,
    ProjectFacts,
    Vec<SpaceFacts>,
    Option<SpaceRole>,
    Rule,
    Option<u128>,
);

#[test]
fn space_access_table() {
    let editor = facts(Some(O::Editor), None, &[]);
    let viewer = facts(Some(O::Viewer), None, &[]);
    let member = facts(Some(O::Member), None, &[]);
    #[rustfmt::skip]
    let cases: Vec<Case> = vec![
        ("a: not in the organization", facts(None, Some(P::Admin), &[]), vec![space(1).group(S::Admin)], None, Rule::NoProjectRole, None),
        ("a: member without grants", member.clone(), vec![space(1)], None, Rule::NoProjectRole, None),
        ("a: a user grant alone gives nothing", member.clone(), vec![space(1).user(S::Admin)], None, Rule::NoProjectRole, None),
        ("a: a group space grant is a project role", member.clone(), vec![space(1).private().group(S::Viewer)], Some(S::Viewer), Rule::GroupSpaceGrant, Some(1)),
        ("b: org admin on a private space", facts(Some(O::Admin), None, &[]), vec![space(1).private()], Some(S::Admin), Rule::AdminOverride, None),
        ("b: group project admin beats a user grant", facts(Some(O::Viewer), None, &[P::Admin]), vec![space(1).private().user(S::Viewer)], Some(S::Admin), Rule::AdminOverride, None),
        ("b: group space admin", viewer.clone(), vec![space(1).private().group(S::Admin)], Some(S::Admin), Rule::AdminOverride, None),
        ("b: project admin through a grant", facts(Some(O::Member), Some(P::Admin), &[]), vec![space(1)], Some(S::Admin), Rule::AdminOverride, None),
        ("c: a user grant below the project role", facts(Some(O::Member), Some(P::Developer), &[]), vec![space(1).user(S::Viewer)], Some(S::Viewer), Rule::DirectSpaceGrant, Some(1)),
        ("c: a user grant beats a higher group grant", facts(Some(O::Developer), None, &[]), vec![space(1).private().user(S::Viewer).group(S::Editor)], Some(S::Viewer), Rule::DirectSpaceGrant, Some(1)),
        ("c: the highest group grant", viewer.clone(), vec![space(1).private().group(S::Viewer).group(S::Editor)], Some(S::Editor), Rule::GroupSpaceGrant, Some(1)),
        ("d: interactive viewer views", facts(Some(O::InteractiveViewer), None, &[]), vec![space(1)], Some(S::Viewer), Rule::InheritedFromProject, None),
        ("d: developer through a group edits", facts(Some(O::Member), None, &[P::Developer]), vec![space(1)], Some(S::Editor), Rule::InheritedFromProject, None),
        ("e: private, no grant", facts(Some(O::Developer), None, &[]), vec![space(1).private()], None, Rule::PrivateNoGrant, None),
        ("nested: a parent's grant applies", viewer.clone(), vec![space(1), space(2).private().user(S::Editor)], Some(S::Editor), Rule::DirectSpaceGrant, Some(2)),
        ("nested: the highest user grant in the chain", viewer.clone(), vec![space(1).user(S::Viewer), space(2).private().user(S::Editor)], Some(S::Editor), Rule::DirectSpaceGrant, Some(2)),
        ("nested: a public root lets project roles in", viewer.clone(), vec![space(1), space(2)], Some(S::Viewer), Rule::InheritedFromProject, None),
        ("nested: a private root keeps them out", editor.clone(), vec![space(1), space(2), space(3).private()], None, Rule::PrivateNoGrant, None),
        ("nested: a non-inheriting child of a public root", editor.clone(), vec![space(1).no_inherit(), space(2)], None, Rule::PrivateNoGrant, None),
        ("nested: grants above a non-inheriting space do not apply", viewer.clone(), vec![space(1).no_inherit(), space(2).user(S::Editor)], None, Rule::PrivateNoGrant, None),
        ("nested: the chain stops at the first non-inheriting space", viewer.clone(), vec![space(1), space(2).no_inherit().group(S::Viewer), space(3).user(S::Admin)], Some(S::Viewer), Rule::GroupSpaceGrant, Some(2)),
        ("nested: a group admin grant on an ancestor", viewer.clone(), vec![space(1), space(2).private().group(S::Admin)], Some(S::Admin), Rule::AdminOverride, None),
        ("nested: is_private is read on the root only", viewer.clone(), vec![space(1).private(), space(2)], Some(S::Viewer), Rule::InheritedFromProject, None),
        ("nested: inherit_parent_permissions is read below the root only", viewer.clone(), vec![space(1).no_inherit()], Some(S::Viewer), Rule::InheritedFromProject, None),
        ("empty chain", facts(Some(O::Admin), None, &[]), vec![], None, Rule::EmptyChain, None),
    ];
    for (name, facts, chain, role, rule, decided_on) in cases {
        let d = space_access(&facts, &chain);
        assert_eq!(d.role, role, "{name}: {d:#?}");
        assert_eq!(reference(&facts, &chain), role, "{name}: reference");
        let last = d.steps.last().unwrap();
        assert_eq!(last.rule, rule, "{name}: {d:#?}");
        assert_eq!(last.space_uuid, decided_on.map(Uuid::from_u128), "{name}");
        check_explanation(&d);
    }
}

#[test]
fn explanation_names_the_facts() {
    let d = space_access(
        &facts(Some(O::Viewer), Some(P::Editor), &[P::Viewer]),
        &[
            space(1),
            space(2).no_inherit().group(S::Viewer),
            space(3).user(S::Admin),
        ],
    );
    let rules: Vec<_> = d
        .steps
        .iter()
        .map(|s| (s.rule.as_str(), s.space_uuid.map(|u| u.as_u128()), s.role))
        .collect();
    assert_eq!(
        rules,
        [
            ("org_role", None, Some("viewer")),
            ("project_grant", None, Some("editor")),
            ("group_project_grant", None, Some("viewer")),
            ("space_group_grant", Some(2), Some("viewer")),
            ("inheritance_chain", Some(2), None),
            ("group_space_grant", Some(2), Some("viewer")),
        ]
    );
}

#[test]
fn every_single_space_case_matches_the_reference() {
    let (mut admins, mut nones) = (0, 0);
    let mut decided_by = std::collections::HashMap::new();
    for org in options(&OrgRole::ALL) {
        for user in options(&ProjectRole::ALL) {
            for group in options(&ProjectRole::ALL) {
                for private in [false, true] {
                    for space_user in options(&SpaceRole::ALL) {
                        for space_group in options(&SpaceRole::ALL) {
                            let p = ProjectFacts {
                                org_role: org,
                                user_grant: user,
                                group_grants: group.into_iter().collect(),
                            };
                            let s = SpaceFacts {
                                space_uuid: Uuid::from_u128(1),
                                is_private: private,
                                inherit_parent_permissions: false,
                                user_grant: space_user,
                                group_grants: space_group.into_iter().collect(),
                            };
                            let chain = [s];
                            let d = space_access(&p, &chain);
                            assert_eq!(d.role, reference(&p, &chain), "{p:?} {chain:?}");
                            assert_eq!(
                                super::space_role(&p, &chain),
                                d.role,
                                "fast path: {p:?} {chain:?}"
                            );
                            check_explanation(&d);
                            admins += usize::from(d.role == Some(S::Admin));
                            nones += usize::from(d.role.is_none());
                            *decided_by.entry(d.steps.last().unwrap().rule).or_insert(0) += 1;
                        }
                    }
                }
            }
        }
    }
    assert_eq!(decided_by.values().sum::<usize>(), 7 * 6 * 6 * 2 * 4 * 4);
    // Highest is admin in 864 - 375 = 489 of the 6 * 6 * 6 * 4 (org, grant, group, space
    // group) member cases, times 8 (privacy, user space grant); plus a user space admin grant
    // under any other non-empty highest: 374 * 2.
    assert_eq!(admins, 489 * 8 + 374 * 2);
    // Non-members: 6 * 6 * 2 * 4 * 4; members without any role: 2 * 4; private spaces without
    // a grant under a non-admin highest: 5 * 5 * 5 - 1.
    assert_eq!(nones, 1152 + 8 + 124);
    assert_eq!(
        decided_by.len(),
        6,
        "every rule decides some case: {decided_by:?}"
    );
}

#[test]
fn every_two_level_case_matches_the_reference() {
    let mut cases = 0;
    for org in options(&OrgRole::ALL) {
        for user in options(&ProjectRole::ALL) {
            let p = ProjectFacts {
                org_role: org,
                user_grant: user,
                group_grants: vec![],
            };
            for (inherits, child_private, root_private) in itertools_bools() {
                for child_user in options(&SpaceRole::ALL) {
                    for child_group in options(&SpaceRole::ALL) {
                        for root_user in options(&SpaceRole::ALL) {
                            for root_group in options(&SpaceRole::ALL) {
                                let chain = [
                                    SpaceFacts {
                                        space_uuid: Uuid::from_u128(1),
                                        is_private: child_private,
                                        inherit_parent_permissions: inherits,
                                        user_grant: child_user,
                                        group_grants: child_group.into_iter().collect(),
                                    },
                                    SpaceFacts {
                                        space_uuid: Uuid::from_u128(2),
                                        is_private: root_private,
                                        inherit_parent_permissions: !inherits,
                                        user_grant: root_user,
                                        group_grants: root_group.into_iter().collect(),
                                    },
                                ];
                                let d = space_access(&p, &chain);
                                assert_eq!(d.role, reference(&p, &chain), "{p:?} {chain:?}");
                                assert_eq!(
                                    super::space_role(&p, &chain),
                                    d.role,
                                    "fast path: {p:?} {chain:?}"
                                );
                                check_explanation(&d);
                                cases += 1;
                            }
                        }
                    }
                }
            }
        }
    }
    assert_eq!(cases, 7 * 6 * 8 * 4usize.pow(4));
}

fn itertools_bools() -> impl Iterator<Item = (bool, bool, bool)> {
    (0..8).map(|i| (i & 1 != 0, i & 2 != 0, i & 4 != 0))
}

#[test]
fn abilities_follow_the_roles() {
    let project = options(&ProjectRole::ALL);
    let view: Vec<_> = project.iter().map(|r| can_view_project(*r)).collect();
    let update: Vec<_> = project.iter().map(|r| can_update_project(*r)).collect();
    let create: Vec<_> = project.iter().map(|r| can_create_space(*r)).collect();
    let manage: Vec<_> = project.iter().map(|r| can_manage_project(*r)).collect();
    assert_eq!(view, [false, true, true, true, true, true]);
    assert_eq!(update, [false, false, false, true, true, true]);
    assert_eq!(create, update);
    assert_eq!(manage, [false, false, false, false, false, true]);
    let space = options(&SpaceRole::ALL);
    let view: Vec<_> = space.iter().map(|r| can_view_space(*r)).collect();
    let edit: Vec<_> = space.iter().map(|r| can_edit_space_content(*r)).collect();
    let manage: Vec<_> = space.iter().map(|r| can_manage_space(*r)).collect();
    assert_eq!(view, [false, true, true, true]);
    assert_eq!(edit, [false, false, true, true]);
    assert_eq!(manage, [false, false, false, true]);
}

fn org_role() -> impl Strategy<Value = OrgRole> {
    prop::sample::select(OrgRole::ALL.to_vec())
}

fn any_project_role() -> impl Strategy<Value = ProjectRole> {
    prop::sample::select(ProjectRole::ALL.to_vec())
}

fn space_role() -> impl Strategy<Value = SpaceRole> {
    prop::sample::select(SpaceRole::ALL.to_vec())
}

fn project_facts() -> impl Strategy<Value = ProjectFacts> {
    (
        prop::option::of(org_role()),
        prop::option::of(any_project_role()),
        prop::collection::vec(any_project_role(), 0..3),
    )
        .prop_map(|(org_role, user_grant, group_grants)| ProjectFacts {
            org_role,
            user_grant,
            group_grants,
        })
}

fn chain() -> impl Strategy<Value = Vec<SpaceFacts>> {
    let space = (
        any::<bool>(),
        any::<bool>(),
        prop::option::of(space_role()),
        prop::collection::vec(space_role(), 0..3),
    )
        .prop_map(
            |(is_private, inherit_parent_permissions, user_grant, group_grants)| SpaceFacts {
                space_uuid: Uuid::nil(),
                is_private,
                inherit_parent_permissions,
                user_grant,
                group_grants,
            },
        );
    prop::collection::vec(space, 1..=4).prop_map(|mut chain| {
        for (i, s) in chain.iter_mut().enumerate() {
            s.space_uuid = Uuid::from_u128(i as u128 + 1);
        }
        chain
    })
}

/// Something more a user may be given.
#[derive(Debug, Clone)]
enum More {
    OrgRole(OrgRole),
    ProjectGrant(ProjectRole),
    GroupProjectGrant(ProjectRole),
    SpaceGrant(usize, SpaceRole),
    GroupSpaceGrant(usize, SpaceRole),
}

fn more() -> impl Strategy<Value = More> {
    prop_oneof![
        org_role().prop_map(More::OrgRole),
        any_project_role().prop_map(More::ProjectGrant),
        any_project_role().prop_map(More::GroupProjectGrant),
        (0..4usize, space_role()).prop_map(|(i, r)| More::SpaceGrant(i, r)),
        (0..4usize, space_role()).prop_map(|(i, r)| More::GroupSpaceGrant(i, r)),
    ]
}

/// Gives `more`; a single-valued fact only ever rises.
fn give(p: &mut ProjectFacts, chain: &mut [SpaceFacts], more: &More) {
    let n = chain.len();
    match *more {
        More::OrgRole(r) => p.org_role = p.org_role.max(Some(r)),
        More::ProjectGrant(r) => p.user_grant = p.user_grant.max(Some(r)),
        More::GroupProjectGrant(r) => p.group_grants.push(r),
        More::SpaceGrant(i, r) => chain[i % n].user_grant = chain[i % n].user_grant.max(Some(r)),
        More::GroupSpaceGrant(i, r) => chain[i % n].group_grants.push(r),
    }
}

/// How many spaces of `chain` its leaf takes grants from.
fn effective_len(chain: &[SpaceFacts]) -> usize {
    let mut n = 1;
    while n < chain.len() && chain[n - 1].inherit_parent_permissions {
        n += 1;
    }
    n
}

proptest! {
    #[test]
    fn matches_the_reference(p in project_facts(), chain in chain()) {
        prop_assert_eq!(space_access(&p, &chain).role, reference(&p, &chain));
    }

    #[test]
    fn the_fast_path_decides_alike(p in project_facts(), chain in chain()) {
        prop_assert_eq!(super::space_role(&p, &chain), space_access(&p, &chain).role);
    }

    #[test]
    fn more_never_takes_access_away(
        mut p in project_facts(),
        mut chain in chain(),
        more in prop::collection::vec(more(), 1..4),
    ) {
        let before = space_access(&p, &chain).role;
        for m in &more {
            give(&mut p, &mut chain, m);
        }
        let after = space_access(&p, &chain).role;
        prop_assert!(before.is_none() || after.is_some(), "{before:?} -> {after:?}");
    }

    #[test]
    fn admins_administer_every_space(p in project_facts(), chain in chain()) {
        if p.org_role == Some(O::Admin) || project_role(&p).role == Some(P::Admin) {
            prop_assert_eq!(space_access(&p, &chain).role, Some(S::Admin));
        }
    }

    #[test]
    fn a_private_root_without_grants_gives_non_admins_nothing(
        p in project_facts(),
        mut chain in chain(),
    ) {
        prop_assume!(project_role(&p).role != Some(P::Admin));
        chain.last_mut().unwrap().is_private = true;
        let n = effective_len(&chain);
        for s in &mut chain[..n] {
            s.user_grant = None;
            s.group_grants.clear();
        }
        let d = space_access(&p, &chain);
        prop_assert_eq!(d.role, None);
        prop_assert!(matches!(d.steps.last().unwrap().rule, Rule::NoProjectRole | Rule::PrivateNoGrant));
    }

    #[test]
    fn decisions_are_deterministic_and_explained(p in project_facts(), chain in chain()) {
        let d = space_access(&p, &chain);
        prop_assert_eq!(&d, &space_access(&p, &chain));
        check_explanation(&d);
        let pd = project_role(&p);
        prop_assert_eq!(&pd, &project_role(&p));
        prop_assert_eq!(pd.steps.last().unwrap().role, pd.role.map(P::as_str));
    }
}

/// UNSPECIFIED is no role: it implies no project role, so only grants give access.
#[test]
fn an_unspecified_organization_role_implies_nothing() {
    assert_eq!(O::Unspecified.project_role(), None);
    let d = project_role(&facts(Some(O::Unspecified), None, &[]));
    assert_eq!(d.role, None);
    assert_eq!(d.steps.last().unwrap().rule, Rule::NoProjectRole);
    let granted = project_role(&facts(Some(O::Unspecified), Some(P::Editor), &[]));
    assert_eq!(granted.role, Some(P::Editor));
}
