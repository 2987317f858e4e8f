//! The account rules as pure functions: visibility, paths, validation, the lockout check.

use super::*;
use crate::store::PageCursor;

fn account(parent: Option<&AccountRecord>) -> AccountRecord {
    new_account(Uuid::now_v7(), parent, "a".into(), None, Utc::now())
}

fn caller(account: &AccountRecord, role: OrgRole) -> Caller {
    Caller::User {
        user: Uuid::now_v7(),
        account: Box::new(account.clone()),
        role,
    }
}

#[test]
fn admins_administer_their_subtree_members_see_their_own_account() {
    let top = account(None);
    let sub = account(Some(&top));
    let sibling = account(Some(&top));
    let deep = account(Some(&sub));
    let other = account(None);
    let all = [&top, &sub, &sibling, &deep, &other];
    let expect = |c: &Caller, administered: &[&AccountRecord]| {
        let Caller::User { account, role, .. } = c else {
            unreachable!("a user")
        };
        for t in all {
            let want = if administered.contains(&t) {
                Access::Administer
            } else if t.organization_uuid == account.organization_uuid {
                Access::View
            } else {
                Access::None
            };
            assert_eq!(access(c, t), want, "{role:?} on {}", t.path);
        }
    };
    expect(
        &caller(&top, OrgRole::Admin),
        &[&top, &sub, &sibling, &deep],
    );
    expect(&caller(&sub, OrgRole::Admin), &[&sub, &deep]);
    expect(&caller(&deep, OrgRole::Admin), &[&deep]);
    expect(&caller(&other, OrgRole::Admin), &[&other]);
    for role in OrgRole::ALL.into_iter().filter(|r| !is_admin(*r)) {
        expect(&caller(&top, role), &[]);
        expect(&caller(&sub, role), &[]);
    }
}

#[test]
fn an_operator_administers_and_lists_every_account() {
    let top = account(None);
    let deep = account(Some(&account(Some(&top))));
    let other = account(None);
    let op = Caller::Operator(Uuid::now_v7());
    for t in [&top, &deep, &other] {
        assert_eq!(access(&op, t), Access::Administer);
        assert!(op.listable().contains(&t.path));
    }
    let guard = op.guard(&deep);
    assert!(guard.operator && guard.organization_uuid == deep.organization_uuid);
    assert_eq!(op.user(), None);
}

#[test]
fn only_admins_list_below_their_account() {
    let top = account(None);
    let sub = account(Some(&top));
    assert!(caller(&top, OrgRole::Admin).listable().contains(&sub.path));
    let member = caller(&top, OrgRole::Editor).listable();
    assert!(member.contains(&top.path) && !member.contains(&sub.path));
}

#[test]
fn a_subtree_range_holds_exactly_the_paths_below() {
    let top = account(None);
    let range = PathRange::subtree(&top.path);
    assert!(range.contains(&top.path));
    assert!(range.contains(&format!("{}/{}", top.path, "f".repeat(32))));
    assert!(range.contains(&format!(
        "{}/{}/{}",
        top.path,
        "0".repeat(32),
        "f".repeat(32)
    )));
    // A path that only shares a prefix of the uuid, and the neighbours of the range.
    assert!(!range.contains(&top.path[..31]));
    assert!(!range.contains(&format!("{}0", top.path)));
    assert!(!range.contains(&account(None).path));
    let only = PathRange::only(&top.path);
    assert!(
        only.contains(&top.path) && !only.contains(&format!("{}/{}", top.path, "0".repeat(32)))
    );
}

#[test]
fn cidrs_are_canonical_networks() {
    for (input, stored) in [
        ("203.0.113.0/24", "203.0.113.0/24"),
        (" 198.51.100.7 ", "198.51.100.7/32"),
        ("0.0.0.0/0", "0.0.0.0/0"),
        ("2001:db8::/32", "2001:db8::/32"),
        ("2001:DB8:0::/48", "2001:db8::/48"),
        ("2001:db8::1", "2001:db8::1/128"),
        // IPv4-mapped: as the IPv4 network, which a caller's address (as IPv4) can match.
        ("::ffff:203.0.113.0/120", "203.0.113.0/24"),
        ("::ffff:198.51.100.7", "198.51.100.7/32"),
        ("::ffff:0:0/96", "0.0.0.0/0"),
    ] {
        assert_eq!(
            canonical_cidr(input).unwrap().to_string(),
            stored,
            "{input}"
        );
    }
    for (input, canonical) in [
        ("203.0.113.5/24", "203.0.113.0/24"),
        ("2001:db8::1/32", "2001:db8::/32"),
        ("::ffff:203.0.113.5/120", "203.0.113.0/24"),
    ] {
        match canonical_cidr(input) {
            Err(Error::InvalidArgument(m)) => {
                assert_eq!(m, format!("cidr must be a network address: {canonical}"))
            }
            other => panic!("{input}: {other:?}"),
        }
    }
    for input in [
        "",
        "203.0.113.0/33",
        "2001:db8::/129",
        "example.com",
        "1.2.3",
        "1.2.3.4/",
    ] {
        assert!(
            matches!(canonical_cidr(input), Err(Error::InvalidArgument(_))),
            "{input}"
        );
    }
    // A caller's address, compared as IPv4, is in the network a mapped CIDR is stored as.
    let mapped = canonical_cidr("::ffff:203.0.113.0/120").unwrap();
    assert!(mapped.contains(&client_ip(Some("::ffff:203.0.113.9")).unwrap()));
}

#[test]
fn coverage_flags_are_upper_case_tokens() {
    for ok in [
        "NONE",
        "A",
        "FULL_US",
        "TIER2",
        &format!("A{}", "B".repeat(31)),
    ] {
        assert!(coverage_flag("sms_access", ok.to_owned()).is_ok(), "{ok}");
    }
    for bad in [
        "",
        "none",
        "1NONE",
        "_X",
        "NO NE",
        "NONÉ",
        &format!("A{}", "B".repeat(32)),
    ] {
        assert!(
            coverage_flag("sms_access", bad.to_owned()).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn descriptions_are_short_plain_text() {
    assert_eq!(ip_description("  office  ").unwrap(), "office");
    assert!(ip_description(&"é".repeat(200)).is_ok());
    assert!(ip_description(&"é".repeat(201)).is_err());
    assert!(ip_description("a\nb").is_err());
}

#[test]
fn turning_on_ip_checks_needs_the_callers_address_allowed() {
    let off = account(None);
    let on = AccountRecord {
        require_ip_api_access: true,
        ..off.clone()
    };
    let cidrs = ["203.0.113.0/24".to_owned(), "2001:db8::/32".to_owned()];
    let ip = |s: &str| client_ip(Some(s));
    assert!(!locks_out(&off, &on, ip("203.0.113.9"), &cidrs));
    assert!(!locks_out(&off, &on, ip("::ffff:203.0.113.9"), &cidrs));
    assert!(!locks_out(&off, &on, ip("2001:db8::5"), &cidrs));
    assert!(locks_out(&off, &on, ip("198.51.100.1"), &cidrs));
    assert!(locks_out(&off, &on, None, &cidrs));
    assert!(locks_out(&off, &on, ip("not an address"), &cidrs));
    assert!(locks_out(&off, &on, ip("203.0.113.9"), &[]));
    // Only the change from off to on is checked.
    assert!(!locks_out(&on, &on, None, &[]));
    assert!(!locks_out(&off, &off, None, &[]));
    assert!(!locks_out(&on, &off, None, &[]));
}

#[test]
fn page_requests_are_checked() {
    let page = |limit, after: Option<&str>, before: Option<&str>| PageRequest {
        limit,
        after: after.map(str::to_owned),
        before: before.map(str::to_owned),
        ..PageRequest::default()
    };
    let id = Uuid::now_v7();
    let s = id.to_string();
    assert_eq!(
        page(0, None, None).validated().unwrap(),
        (DEFAULT_PAGE_LIMIT, PageCursor::First)
    );
    assert_eq!(
        page(100, Some(&s), None).validated().unwrap(),
        (100, PageCursor::After(id))
    );
    assert_eq!(
        page(1, Some(""), Some(&s)).validated().unwrap(),
        (1, PageCursor::Before(id))
    );
    for bad in [
        page(101, None, None),
        page(5, Some(&s), Some(&s)),
        page(5, Some("nope"), None),
        page(5, None, Some("nope")),
    ] {
        assert!(
            matches!(bad.clone().validated(), Err(Error::InvalidArgument(_))),
            "{bad:?}"
        );
    }
}

#[test]
fn an_update_changes_only_what_it_names() {
    let current = account(None);
    let at = now();
    let update = AccountUpdate {
        name: Some(" Renamed ".into()),
        sms_access: Some("FULL".into()),
        lrn_access: Some(true),
        ..AccountUpdate::default()
    }
    .validated()
    .unwrap();
    let next = update.apply(&current, at);
    assert_eq!(
        next,
        AccountRecord {
            name: "Renamed".into(),
            sms_access: "FULL".into(),
            lrn_access: true,
            updated_at: at,
            ..current
        }
    );
    for bad in [
        AccountUpdate {
            name: Some(" ".into()),
            ..AccountUpdate::default()
        },
        AccountUpdate {
            mms_access: Some("none".into()),
            ..AccountUpdate::default()
        },
    ] {
        assert!(matches!(bad.validated(), Err(Error::InvalidArgument(_))));
    }
}
