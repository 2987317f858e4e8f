//! Allowed IPs: canonical networks, descriptions, the limit per account, deleting, and the
//! refusals that keep a caller from locking themselves out: turning on IP checks from an
//! address the account does not allow, deleting the last entry covering their address.

use proto::identity::v1 as pb;
use tonic::Code;

use crate::{
    crud::nanos,
    harness::{TestService, assert_status, dual},
};

dual!(
    allowed_ips_are_added_listed_and_deleted,
    cidrs_must_be_canonical_networks,
    an_account_holds_at_most_100_allowed_ips,
    turning_on_ip_checks_cannot_lock_the_caller_out,
    deleting_the_callers_last_allowed_ip_is_refused_while_required,
);

async fn allowed_ips_are_added_listed_and_deleted(svc: TestService) {
    let (admin, top) = svc.admin("Top").await;
    let sub = admin.create("Sub", None).await.unwrap();
    let id = sub.organization_uuid.clone();
    assert!(admin.ips(&id).await.unwrap().is_empty());
    let mut added = Vec::new();
    for (input, stored) in [
        ("203.0.113.0/24", "203.0.113.0/24"),
        ("198.51.100.7", "198.51.100.7/32"),
        ("2001:DB8::/32", "2001:db8::/32"),
        (" 2001:db8:1::1 ", "2001:db8:1::1/128"),
    ] {
        let ip = admin.add_ip(&id, input, " office ").await.unwrap();
        assert_eq!(
            (ip.cidr.as_str(), ip.description.as_str()),
            (stored, "office")
        );
        assert_eq!(ip.organization_uuid, id);
        added.push(ip);
    }
    // Oldest first, whatever the CIDRs' text order.
    assert_eq!(admin.ips(&id).await.unwrap(), added);
    assert!(
        admin.ips(&top).await.unwrap().is_empty(),
        "another account's list"
    );
    assert!(
        nanos(&admin.get(&id).await.unwrap()) > nanos(&sub),
        "a change to the account"
    );
    assert_status(
        admin.add_ip(&id, "203.0.113.0/24", "again").await,
        Code::AlreadyExists,
        "203.0.113.0/24 is already an allowed IP",
    );
    let the_same_elsewhere = admin.add_ip(&top, "203.0.113.0/24", "").await.unwrap();

    let gone = added.remove(0);
    admin.delete_ip(&id, &gone.allowed_ip_uuid).await.unwrap();
    assert_eq!(admin.ips(&id).await.unwrap(), added);
    let unknown = uuid::Uuid::now_v7().to_string();
    for ip in [
        gone.allowed_ip_uuid.as_str(),
        "not-a-uuid",
        unknown.as_str(),
    ] {
        assert_status(
            admin.delete_ip(&id, ip).await,
            Code::NotFound,
            "allowed IP not found",
        );
    }
    // Another account's allowed IP, named through this one.
    assert_status(
        admin
            .delete_ip(&id, &the_same_elsewhere.allowed_ip_uuid)
            .await,
        Code::NotFound,
        "allowed IP not found",
    );
    assert_status(
        admin.delete_ip(&top, &added[0].allowed_ip_uuid).await,
        Code::NotFound,
        "allowed IP not found",
    );
    assert_eq!(admin.ips(&id).await.unwrap(), added);
    assert_eq!(admin.ips(&top).await.unwrap(), [the_same_elsewhere]);
}

async fn cidrs_must_be_canonical_networks(svc: TestService) {
    let (admin, top) = svc.admin("Top").await;
    for (input, canonical) in [
        ("203.0.113.5/24", "203.0.113.0/24"),
        ("10.1.2.3/8", "10.0.0.0/8"),
        ("2001:db8::1/32", "2001:db8::/32"),
    ] {
        assert_status(
            admin.add_ip(&top, input, "").await,
            Code::InvalidArgument,
            &format!("cidr must be a network address: {canonical}"),
        );
    }
    for input in [
        "",
        "nonsense",
        "203.0.113.0/33",
        "2001:db8::/129",
        "1.2.3",
        "1.2.3.4/",
    ] {
        assert_status(
            admin.add_ip(&top, input, "").await,
            Code::InvalidArgument,
            "cidr must be an IPv4 or IPv6",
        );
    }
    assert_status(
        admin.add_ip(&top, "203.0.113.0/24", &"d".repeat(201)).await,
        Code::InvalidArgument,
        "description must be at most 200 characters",
    );
    assert_status(
        admin.add_ip(&top, "203.0.113.0/24", "a\nb").await,
        Code::InvalidArgument,
        "description",
    );
    let long = admin
        .add_ip(&top, "203.0.113.0/24", &"é".repeat(200))
        .await
        .unwrap();
    assert_eq!(long.description.chars().count(), 200);
    assert_eq!(admin.ips(&top).await.unwrap().len(), 1);
}

async fn an_account_holds_at_most_100_allowed_ips(svc: TestService) {
    let (admin, top) = svc.admin("Top").await;
    for i in 0..100 {
        admin
            .add_ip(&top, &format!("10.0.{i}.0/24"), "")
            .await
            .unwrap();
    }
    assert_status(
        admin.add_ip(&top, "10.1.0.0/24", "").await,
        Code::FailedPrecondition,
        "at most 100 allowed IPs",
    );
    let ips = admin.ips(&top).await.unwrap();
    assert_eq!(ips.len(), 100);
    // The limit is per account.
    let sub = admin.create("Sub", None).await.unwrap().organization_uuid;
    admin.add_ip(&sub, "10.1.0.0/24", "").await.unwrap();
    admin
        .delete_ip(&top, &ips[0].allowed_ip_uuid)
        .await
        .unwrap();
    admin.add_ip(&top, "10.1.0.0/24", "").await.unwrap();
}

pub(crate) fn require_ip(id: &str, on: bool) -> pb::UpdateAccountRequest {
    pb::UpdateAccountRequest {
        organization_uuid: id.into(),
        require_ip_api_access: Some(on),
        ..Default::default()
    }
}

async fn turning_on_ip_checks_cannot_lock_the_caller_out(svc: TestService) {
    let (admin, top) = svc.admin("Top").await;
    let refused = |address: &str| {
        format!("your address {address} is not in the account's allowed IPs; add it first")
    };
    for (address, shown) in [
        (None, "(unknown)"),
        (Some("not an address"), "(unknown)"),
        (Some("198.51.100.1"), "198.51.100.1"),
    ] {
        assert_status(
            admin.from(address).update(require_ip(&top, true)).await,
            Code::FailedPrecondition,
            &refused(shown),
        );
    }
    admin
        .add_ip(&top, "198.51.100.0/24", "office")
        .await
        .unwrap();
    // Refused as a whole: the name does not change either.
    let with_name = pb::UpdateAccountRequest {
        name: Some("Renamed".into()),
        ..require_ip(&top, true)
    };
    assert_status(
        admin.from(Some("203.0.113.1")).update(with_name).await,
        Code::FailedPrecondition,
        &refused("203.0.113.1"),
    );
    assert_status(
        admin
            .from(Some("2001:db8::1"))
            .update(require_ip(&top, true))
            .await,
        Code::FailedPrecondition,
        &refused("2001:db8::1"),
    );
    let unchanged = admin.get(&top).await.unwrap();
    assert_eq!(
        (unchanged.name.as_str(), unchanged.require_ip_api_access),
        ("Top", false)
    );

    let office = admin.from(Some("198.51.100.1"));
    let on = office.update(require_ip(&top, true)).await.unwrap();
    assert!(on.require_ip_api_access);
    // Only turning it on is checked: keeping it on, or turning it off, is not (from an address
    // the account allows: from any other, every call is refused, ip_enforcement.rs).
    assert!(
        office
            .update(require_ip(&top, true))
            .await
            .unwrap()
            .require_ip_api_access
    );
    assert!(
        !office
            .update(require_ip(&top, false))
            .await
            .unwrap()
            .require_ip_api_access
    );
    // An IPv4-mapped IPv6 address is its IPv4 address.
    assert!(
        admin
            .from(Some("::ffff:198.51.100.9"))
            .update(require_ip(&top, true))
            .await
            .unwrap()
            .require_ip_api_access
    );
    // The GQL flag is not checked.
    let gql = pb::UpdateAccountRequest {
        organization_uuid: top.clone(),
        require_ip_gql_access: Some(true),
        ..Default::default()
    };
    assert!(office.update(gql).await.unwrap().require_ip_gql_access);
}

async fn deleting_the_callers_last_allowed_ip_is_refused_while_required(svc: TestService) {
    let (admin, top) = svc.admin("Top").await;
    let office = admin.from(Some("198.51.100.1"));
    let wide = office.add_ip(&top, "198.51.100.0/24", "").await.unwrap();
    let host = office.add_ip(&top, "198.51.100.1", "").await.unwrap();
    let other = office.add_ip(&top, "203.0.113.0/24", "").await.unwrap();
    let spare = office.add_ip(&top, "192.0.2.0/24", "").await.unwrap();
    // Off: any entry goes.
    office
        .delete_ip(&top, &spare.allowed_ip_uuid)
        .await
        .unwrap();
    office.update(require_ip(&top, true)).await.unwrap();
    // On: an entry that does not cover the caller goes, and one another entry still covers.
    office
        .delete_ip(&top, &other.allowed_ip_uuid)
        .await
        .unwrap();
    office.delete_ip(&top, &host.allowed_ip_uuid).await.unwrap();
    let refused = "this allowed IP is the last that covers your address 198.51.100.1";
    assert_status(
        office.delete_ip(&top, &wide.allowed_ip_uuid).await,
        Code::FailedPrecondition,
        refused,
    );
    assert_eq!(office.ips(&top).await.unwrap(), std::slice::from_ref(&wide));
    // Refused, the deletion leaves the account's updated_at alone too.
    let before = office.get(&top).await.unwrap();
    assert_status(
        office
            .from(Some("::ffff:198.51.100.1"))
            .delete_ip(&top, &wide.allowed_ip_uuid)
            .await,
        Code::FailedPrecondition,
        refused,
    );
    assert_eq!(office.get(&top).await.unwrap(), before);
    // An unknown entry is still NOT_FOUND.
    assert_status(
        office
            .delete_ip(&top, &uuid::Uuid::now_v7().to_string())
            .await,
        Code::NotFound,
        "allowed IP not found",
    );
    // Off again: it goes.
    office.update(require_ip(&top, false)).await.unwrap();
    office.delete_ip(&top, &wide.allowed_ip_uuid).await.unwrap();
    assert!(office.ips(&top).await.unwrap().is_empty());
}
