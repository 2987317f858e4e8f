//! Who reaches what through the seed 004 face, as a matrix of callers (an operator, admins of a
//! parent, of an account, of its sub-account and of another account, a plain member) and
//! actions; and paging through `/account/find` that stays correct while accounts come and go.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::{call, created_account, ok, operator, refused};
use crate::{
    helpers::{Auth, TestApp, dual},
    organizations::{admin_of_new_org, register_invited},
    swift::ulid_of,
};

/// A sub-account of the account of the admin holding `pat`, made through the seed 003 face:
/// its uuid.
async fn sub_account(app: &TestApp, pat: &str, name: &str) -> String {
    let body = json!({"data": {"name": name}, "type": "account"});
    let r = app
        .post("/api/v1/accounts", &Auth::Bearer(pat.into()), body)
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    // The face writes ULIDs; find it by name through this face for its uuid.
    let found = call(app, &format!("find?filter={name}"), Some(pat), json!({})).await;
    let data = ok(&found)["data"].as_array().unwrap().clone();
    assert_eq!(data.len(), 1, "{data:?}");
    data[0]["id"].as_str().unwrap().to_owned()
}

/// Invites a fresh address into `account` with `role` (seed 003 face, by the admin holding
/// `pat`) and signs them in; their personal access token.
async fn member_of(app: &TestApp, pat: &str, account: &str, role: &str) -> String {
    let email = format!("{role}-{}@example.com", uuid::Uuid::new_v4().simple());
    let path = format!("/api/v1/accounts/{}/invitations", ulid_of(account));
    let body = json!({"data": {"email": email, "role": role}, "type": "invitation"});
    let r = app.post(&path, &Auth::Bearer(pat.into()), body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let code = r.body["data"]["invite_code"].as_str().unwrap();
    let user = register_invited(app, code, &email, role).await;
    app.create_pat(&user, json!({"description": "ioto"}))
        .await
        .1
}

/// The ids `/account/find` lists to `auth`, walking every page.
async fn listed(app: &TestApp, auth: &str, limit: u32) -> Vec<String> {
    let mut ids = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let action = match &next {
            Some(n) => format!("find?limit={limit}&next={n}"),
            None => format!("find?limit={limit}"),
        };
        let r = call(app, &action, Some(auth), json!({})).await;
        let page = ok(&r);
        assert_eq!(sorted(page), ["data", "next", "prev"], "{page}");
        ids.extend(ids_of(page));
        match page["next"].as_str() {
            Some(n) => next = Some(n.to_owned()),
            None => return ids,
        }
    }
}

fn sorted(v: &Value) -> Vec<&str> {
    crate::swift::sorted_keys(v)
}

fn ids_of(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect()
}

fn set(ids: &[&String]) -> BTreeSet<String> {
    ids.iter().map(|s| (*s).clone()).collect()
}

async fn who_reaches_what(app: TestApp) {
    let op = operator(&app);
    let (p, _, admin_p) = created_account(&app, &op, "Parent").await;
    let p = p["id"].as_str().unwrap().to_owned();
    let a = sub_account(&app, &admin_p, "Middle").await;
    let admin_a = member_of(&app, &admin_p, &a, "admin").await;
    let member_a = member_of(&app, &admin_p, &a, "editor").await;
    let s = sub_account(&app, &admin_a, "Lowest").await;
    let admin_s = member_of(&app, &admin_a, &s, "admin").await;
    let (b, _, admin_b) = created_account(&app, &op, "Beside").await;
    let b = b["id"].as_str().unwrap().to_owned();

    // find: an owner lists every account, an admin theirs and those below, a member theirs.
    for (who, expected) in [
        (&op, set(&[&p, &a, &s, &b])),
        (&admin_p, set(&[&p, &a, &s])),
        (&admin_a, set(&[&a, &s])),
        (&member_a, set(&[&a])),
        (&admin_s, set(&[&s])),
        (&admin_b, set(&[&b])),
    ] {
        let got: BTreeSet<String> = listed(&app, who, 100).await.into_iter().collect();
        assert_eq!(got, expected);
    }
    // get: every user gets their own account; `id` is the owner's.
    for (who, own) in [
        (&admin_p, &p),
        (&admin_a, &a),
        (&member_a, &a),
        (&admin_s, &s),
    ] {
        let r = call(&app, "get", Some(who), json!({})).await;
        assert_eq!(ok(&r)["id"], own.as_str());
        refused(&call(&app, "get", Some(who), json!({"id": own})).await, 403);
    }
    for id in [&p, &a, &s, &b] {
        let r = call(&app, "get", Some(&op), json!({"id": id})).await;
        assert_eq!(ok(&r)["id"], id.as_str());
    }
    // updateIdentity by id: the owner and the admins of the account or above; a member sees
    // it but may not change it; nobody else sees it.
    for (who, status) in [
        (&op, 200),
        (&admin_p, 200),
        (&admin_a, 200),
        (&member_a, 403),
        (&admin_s, 404),
        (&admin_b, 404),
    ] {
        let r = call(
            &app,
            "updateIdentity",
            Some(who),
            json!({"id": a, "name": "Middle"}),
        )
        .await;
        assert_eq!(r.status.as_u16(), status, "{}", r.body);
    }
    let up = call(
        &app,
        "updateIdentity",
        Some(&admin_a),
        json!({"id": p, "name": "X"}),
    )
    .await;
    refused(&up, 404);
    // close by id: the same rule; nothing closes on a refusal.
    for (who, status) in [(&member_a, 403), (&admin_s, 404), (&admin_b, 404)] {
        assert_eq!(
            call(&app, "close", Some(who), json!({"id": a}))
                .await
                .status
                .as_u16(),
            status
        );
    }
    refused(
        &call(&app, "close", Some(&admin_a), json!({"id": p})).await,
        404,
    );
    let r = call(&app, "close", Some(&admin_p), json!({"id": a})).await;
    assert_eq!(ok(&r), &json!({"id": a, "closed": true}));
    // The account and the one below it are gone with their members; the parent stays.
    for who in [&admin_a, &member_a, &admin_s] {
        refused(&call(&app, "get", Some(who), json!({})).await, 401);
    }
    let left: BTreeSet<String> = listed(&app, &admin_p, 100).await.into_iter().collect();
    assert_eq!(left, set(&[&p]));
    for id in [&a, &s] {
        let r = call(&app, "get", Some(&op), json!({"id": id})).await;
        assert_eq!(ok(&r), &json!({"id": id, "closed": true}));
    }
    let r = call(&app, "get", Some(&admin_b), json!({})).await;
    assert_eq!(ok(&r)["name"], "Beside");
}

async fn find_pages_each_way_while_accounts_change(app: TestApp) {
    let op = operator(&app);
    let mut all = Vec::new();
    for i in 0..5 {
        let (_, org) = admin_of_new_org(&app, &format!("Paged {i}")).await;
        all.push(org);
    }
    all.sort();
    assert_eq!(listed(&app, &op, 2).await, all);

    // Forward two at a time; an account made after the first page does not disturb the walk.
    let first = call(&app, "find?limit=2", Some(&op), json!({})).await;
    assert_eq!(ids_of(ok(&first)), all[..2]);
    assert!(first.body["prev"].is_null(), "{}", first.body);
    admin_of_new_org(&app, "Paged late").await;
    let next = first.body["next"].as_str().unwrap();
    let second = call(
        &app,
        &format!("find?limit=2&next={next}"),
        Some(&op),
        json!({}),
    )
    .await;
    let second_ids = ids_of(ok(&second));
    assert!(second_ids.iter().all(|id| id > &all[1]), "{second_ids:?}");
    // Back from the second page: the first page again.
    let prev = second.body["prev"].as_str().unwrap();
    let back = call(
        &app,
        &format!("find?limit=2&prev={prev}"),
        Some(&op),
        json!({}),
    )
    .await;
    assert_eq!(ids_of(ok(&back)), all[..2]);
    assert!(back.body["prev"].is_null(), "{}", back.body);

    // filter: a case-insensitive substring of the name (or the email).
    let r = call(&app, "find?filter=PAGED%203", Some(&op), json!({})).await;
    let found = ids_of(ok(&r));
    assert_eq!(found, [all[3].clone()]);
    let r = call(&app, "find?filter=nothing-like-it", Some(&op), json!({})).await;
    assert_eq!(ok(&r), &json!({"data": [], "next": null, "prev": null}));
}

dual!(who_reaches_what, find_pages_each_way_while_accounts_change);
