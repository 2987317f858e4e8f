//! Who reaches what through the seed 003 face, as a matrix: callers (an operator, the admins
//! of a parent, of the account, of its sub-account and of another account, a plain member of
//! the account) by every route on one account (AC-8: out of sight is 404; in sight but not
//! administered is 403).

use reqwest::Method;
use serde_json::{Value, json};

use crate::{
    helpers::{Auth, TestApp, dual},
    operator::owner_token,
    organizations::{admin_of_new_org, register_invited},
    swift::ulid_of,
};

/// A sub-account under the account of the admin holding `auth`: its ULID.
async fn sub_account(app: &TestApp, auth: &Auth, name: &str) -> String {
    let body = json!({"data": {"name": name}, "type": "account"});
    let r = app.post("/api/v1/accounts", auth, body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["data"]["id"].as_str().unwrap().to_owned()
}

/// A fresh user invited into account `id` (a ULID) with `role` by `auth`, signed in; their
/// token as `Bearer`.
async fn member_of(app: &TestApp, auth: &Auth, id: &str, role: &str) -> Auth {
    let email = format!("{role}-{}@example.com", uuid::Uuid::new_v4().simple());
    let body = json!({"data": {"email": email, "role": role}, "type": "invitation"});
    let r = app
        .post(&format!("/api/v1/accounts/{id}/invitations"), auth, body)
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let code = r.body["data"]["invite_code"].as_str().unwrap();
    let user = register_invited(app, code, &email, role).await;
    let (_, pat) = app.create_pat(&user, json!({"description": "m"})).await;
    Auth::Bearer(pat)
}

/// An admin of a new top-level account: their token and the account's ULID.
async fn top_level(app: &TestApp, name: &str) -> (Auth, String) {
    let (admin, org) = admin_of_new_org(app, name).await;
    let (_, pat) = app.create_pat(&admin, json!({"description": "t"})).await;
    (Auth::Bearer(pat), ulid_of(&org))
}

fn ip(n: usize) -> Value {
    json!({"data": {"cidr": format!("198.51.100.{n}"), "description": "m"}, "type": "allowed_ip"})
}

async fn every_route_from_every_side(app: TestApp) {
    let out = owner_token(&app, &["create", "--name", "matrix"]);
    let op = Auth::Bearer(out.lines().last().unwrap().to_owned());
    let (admin_p, p) = top_level(&app, "Parent").await;
    let a = sub_account(&app, &admin_p, "Account").await;
    let admin_a = member_of(&app, &admin_p, &a, "admin").await;
    let member_a = member_of(&app, &admin_p, &a, "developer").await;
    let s = sub_account(&app, &admin_a, "Sub").await;
    let admin_s = member_of(&app, &admin_a, &s, "admin").await;
    let (admin_b, _) = top_level(&app, "Beside").await;
    let callers = [
        ("operator", &op),
        ("parent admin", &admin_p),
        ("admin", &admin_a),
        ("member", &member_a),
        ("sub-account admin", &admin_s),
        ("other admin", &admin_b),
    ];
    let path = format!("/api/v1/accounts/{a}");
    // One expected status per caller, in the order above.
    let sees = [200, 200, 200, 200, 404, 404];
    let administers = [200, 200, 200, 403, 404, 404];
    let creates = [201, 201, 201, 403, 404, 404];
    for (i, (who, auth)) in callers.iter().enumerate() {
        let at = |what: &str| format!("{who}: {what}");
        let get = app.get(&path, auth).await;
        assert_eq!(get.status, sees[i], "{} {}", at("get"), get.body);
        let body = json!({"data": {"name": "Account"}, "type": "account"});
        let patch = app.send(Method::PATCH, &path, auth, Some(body)).await;
        assert_eq!(
            patch.status,
            administers[i],
            "{} {}",
            at("patch"),
            patch.body
        );
        let ips = app.get(&format!("{path}/allowed_ips"), auth).await;
        assert_eq!(
            ips.status,
            administers[i],
            "{} {}",
            at("list ips"),
            ips.body
        );
        let add = app.post(&format!("{path}/allowed_ips"), auth, ip(i)).await;
        assert_eq!(add.status, creates[i], "{} {}", at("add ip"), add.body);
        let email = format!("m{i}-{}@example.com", uuid::Uuid::new_v4().simple());
        let body = json!({"data": {"email": email}, "type": "invitation"});
        let invite = app.post(&format!("{path}/invitations"), auth, body).await;
        assert_eq!(
            invite.status,
            creates[i],
            "{} {}",
            at("invite"),
            invite.body
        );
    }
    // Deleting an allowed IP: refused to all but those who administer the account.
    let added = app.post(&format!("{path}/allowed_ips"), &op, ip(99)).await;
    let ip_path = format!(
        "{path}/allowed_ips/{}",
        added.body["data"]["id"].as_str().unwrap()
    );
    for (who, auth, status) in [
        ("member", &member_a, 403),
        ("sub-account admin", &admin_s, 404),
        ("other admin", &admin_b, 404),
        ("admin", &admin_a, 204),
    ] {
        let r = app.send(Method::DELETE, &ip_path, auth, None).await;
        assert_eq!(r.status, status, "{who}: {}", r.body);
    }
    // Listing: everything for the operator, below for an admin, one's own for a member; and
    // nothing above or beside.
    for (who, auth, total) in [
        ("operator", &op, 4),
        ("parent admin", &admin_p, 3),
        ("admin", &admin_a, 2),
        ("member", &member_a, 1),
        ("sub-account admin", &admin_s, 1),
        ("other admin", &admin_b, 1),
    ] {
        let r = app.get("/api/v1/accounts?limit=100", auth).await;
        assert_eq!(
            r.body["data"]["page_info"]["total"], total,
            "{who}: {}",
            r.body
        );
    }
    for (auth, above) in [(&admin_a, &p), (&admin_s, &a), (&member_a, &p)] {
        let r = app.get(&format!("/api/v1/accounts/{above}"), auth).await;
        assert_eq!(r.status, 404, "{}", r.body);
    }
}

dual!(every_route_from_every_side);
