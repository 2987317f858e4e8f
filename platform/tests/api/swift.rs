//! The account face of seed 003 (`/api/v1/accounts…`, docs/accounts.md): the envelope and
//! every field of the seed's Account schema, paging, bad input in the face's error shape, the
//! hierarchy seen from each side, and allowed access IPs with the no-self-lockout rule.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Auth, Reply, TestApp, dual};
use crate::organizations::{admin_of_new_org, invite_and_join};

/// The fields of the seed's Account schema, sorted.
const ACCOUNT_FIELDS: [&str; 11] = [
    "customer_id",
    "id",
    "inserted_at",
    "legacy_access",
    "lrn_access",
    "mms_access",
    "name",
    "require_ip_api_access",
    "require_ip_gql_access",
    "sms_access",
    "updated_at",
];

/// A caller of the face: `Authorization: Bearer <personal access token>`.
async fn bearer(app: &TestApp, user: &crate::helpers::TestUser) -> Auth {
    let (_, pat) = app.create_pat(user, json!({"description": "swift"})).await;
    Auth::Bearer(pat)
}

fn account_body(name: &str) -> Value {
    json!({"data": {"name": name}, "type": "account"})
}

/// The keys of a JSON object, sorted.
pub(crate) fn sorted_keys(v: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

/// Asserts the face's error shape with `status`; returns the detail.
pub(crate) fn detail(r: &Reply, status: u16) -> String {
    assert_eq!(r.status.as_u16(), status, "body: {}", r.body);
    let keys: Vec<&String> = r.body.as_object().expect("an object").keys().collect();
    assert_eq!(keys, ["errors"], "body: {}", r.body);
    r.body["errors"]["detail"]
        .as_str()
        .unwrap_or_else(|| panic!("no errors.detail in {}", r.body))
        .to_owned()
}

fn is_micro_time(v: &Value) -> bool {
    let s = v.as_str().unwrap_or_default();
    // 2024-06-14T00:00:00.000000Z
    s.len() == 27
        && s.ends_with('Z')
        && s.as_bytes()[19] == b'.'
        && chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

/// Creates a sub-account; returns its data.
async fn create(app: &TestApp, auth: &Auth, name: &str) -> Value {
    let r = app.post("/api/v1/accounts", auth, account_body(name)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["type"], "account");
    r.body["data"].clone()
}

async fn patch(app: &TestApp, path: &str, auth: &Auth, body: Value) -> Reply {
    app.send(Method::PATCH, path, auth, Some(body)).await
}

async fn created_account_has_every_seed_field(app: TestApp) {
    let (admin, org) = admin_of_new_org(&app, "Parent").await;
    let auth = bearer(&app, &admin).await;
    let sub = create(&app, &auth, "ACME Corp").await;
    assert_eq!(sorted_keys(&sub), ACCOUNT_FIELDS);
    assert_eq!(sub["name"], "ACME Corp");
    assert_eq!(sub["id"].as_str().unwrap().len(), 26, "a ULID: {sub}");
    assert!(sub["customer_id"].as_i64().unwrap() > 0);
    for flag in [
        "legacy_access",
        "lrn_access",
        "require_ip_api_access",
        "require_ip_gql_access",
    ] {
        assert_eq!(sub[flag], false, "{flag}");
    }
    assert_eq!(sub["mms_access"], "NONE");
    assert_eq!(sub["sms_access"], "NONE");
    assert!(is_micro_time(&sub["inserted_at"]), "{}", sub["inserted_at"]);
    assert!(is_micro_time(&sub["updated_at"]), "{}", sub["updated_at"]);

    // The same account by id, and the list holds the parent (the caller's) and the sub-account.
    let id = sub["id"].as_str().unwrap();
    let got = app.get(&format!("/api/v1/accounts/{id}"), &auth).await;
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(got.body, json!({"data": sub, "type": "account"}));
    let listed = app.get("/api/v1/accounts", &auth).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(listed.body["type"], "list");
    let items = listed.body["data"]["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{}", listed.body);
    assert!(items.iter().all(|i| i["type"] == "account"));
    let parent_id = ulid_of(&org);
    let ids: Vec<&str> = items
        .iter()
        .map(|i| i["data"]["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&parent_id.as_str()) && ids.contains(&id),
        "{ids:?}"
    );
    assert_eq!(listed.body["data"]["page_info"]["total"], 2);

    // An access JWT works as the PAT does.
    let Auth::Bearer(pat) = &auth else {
        unreachable!()
    };
    let jwt = Auth::Bearer(app.access_token(pat).await);
    assert_eq!(
        app.get(&format!("/api/v1/accounts/{id}"), &jwt)
            .await
            .status,
        200
    );
}

/// The ULID the face writes for a service uuid (the same 128 bits, Crockford base32).
pub(crate) fn ulid_of(uuid: &str) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut n = uuid::Uuid::parse_str(uuid).unwrap().as_u128();
    let mut out = [0u8; 26];
    for c in out.iter_mut().rev() {
        *c = ALPHABET[(n & 31) as usize];
        n >>= 5;
    }
    String::from_utf8(out.to_vec()).unwrap()
}

async fn update_changes_name_and_flags(app: TestApp) {
    let (admin, _) = admin_of_new_org(&app, "Parent").await;
    let auth = bearer(&app, &admin).await;
    let sub = create(&app, &auth, "Before").await;
    let path = format!("/api/v1/accounts/{}", sub["id"].as_str().unwrap());
    let changes = json!({
        "name": "After", "legacy_access": true, "lrn_access": true, "mms_access": "FULL",
        "sms_access": "DOMESTIC", "require_ip_gql_access": true,
    });
    let r = patch(
        &app,
        &path,
        &auth,
        json!({"data": changes, "type": "account"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    for (k, v) in changes.as_object().unwrap() {
        assert_eq!(&r.body["data"][k], v, "{k}");
    }
    assert_eq!(r.body["data"]["inserted_at"], sub["inserted_at"]);
    assert_ne!(r.body["data"]["updated_at"], sub["updated_at"]);
    // Kept across reads.
    let got = app.get(&path, &auth).await;
    assert_eq!(got.body["data"], r.body["data"]);
}

async fn bad_input_answers_in_the_face_shape(app: TestApp) {
    let (admin, _) = admin_of_new_org(&app, "Parent").await;
    let auth = bearer(&app, &admin).await;
    let sub = create(&app, &auth, "Sub").await;
    let path = format!("/api/v1/accounts/{}", sub["id"].as_str().unwrap());

    let creates = [
        (
            json!({"data": {"name": "x"}, "type": "user"}),
            "type must be \"account\"",
        ),
        (json!({"data": {"name": "x"}}), "type"),
        (json!({"type": "account"}), "data"),
        (
            json!({"data": {"name": "x", "id": "01J0CRVTXX9KBD9NWS02R5R8RT"}, "type": "account"}),
            "unknown field",
        ),
        (
            json!({"data": {"name": 7}, "type": "account"}),
            "invalid type",
        ),
        (json!({"data": {"name": ""}, "type": "account"}), "name"),
    ];
    for (body, says) in creates {
        let r = app.post("/api/v1/accounts", &auth, body.clone()).await;
        let d = detail(&r, 400);
        assert!(d.contains(says), "{body}: {d}");
    }
    let updates = [
        json!({"data": {"mms_access": "none"}, "type": "account"}),
        json!({"data": {"customer_id": 9}, "type": "account"}),
        json!({"data": {"legacy_access": "yes"}, "type": "account"}),
        json!({"data": {"name": ""}, "type": "account"}),
        json!({"data": {}, "type": "allowed_ip"}),
    ];
    for body in updates {
        let r = patch(&app, &path, &auth, body.clone()).await;
        detail(&r, 400);
    }
    for query in [
        "limit=101",
        "limit=x",
        "after=nope",
        "before=nope",
        "page=2",
    ] {
        let r = app.get(&format!("/api/v1/accounts?{query}"), &auth).await;
        detail(&r, 400);
    }
    // An id that is no ULID, or no account of the caller's: 404.
    for id in ["nope", "01J0CRVTXX9KBD9NWS02R5R8RT"] {
        let r = app.get(&format!("/api/v1/accounts/{id}"), &auth).await;
        detail(&r, 404);
    }
    // No or a bad credential: 401 in the face's shape.
    detail(&app.get("/api/v1/accounts", &Auth::None).await, 401);
    detail(
        &app.get("/api/v1/accounts", &Auth::Bearer("ldpat_nope".into()))
            .await,
        401,
    );
}

async fn paging_walks_every_account_once_each_way(app: TestApp) {
    let (admin, org) = admin_of_new_org(&app, "Parent").await;
    let auth = bearer(&app, &admin).await;
    let mut expected = vec![ulid_of(&org)];
    for i in 0..5 {
        expected.push(
            create(&app, &auth, &format!("Sub {i}")).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    expected.sort();

    let mut seen = Vec::new();
    let mut query = "limit=2".to_owned();
    let mut pages = Vec::new();
    loop {
        let r = app.get(&format!("/api/v1/accounts?{query}"), &auth).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let info = &r.body["data"]["page_info"];
        assert_eq!(info["limit"], 2);
        assert_eq!(info["total"], 6);
        let ids: Vec<String> = r.body["data"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["data"]["id"].as_str().unwrap().to_owned())
            .collect();
        seen.extend(ids.clone());
        pages.push((ids, info.clone()));
        match info["after"].as_str() {
            Some(after) => query = format!("limit=2&after={after}"),
            None => break,
        }
    }
    assert_eq!(seen, expected, "forwards, in id order, each once");
    assert_eq!(pages.len(), 3);
    assert!(pages[0].1["before"].is_null(), "no page before the first");

    // Backwards from the last page.
    let before = pages[2].1["before"].as_str().unwrap();
    let r = app
        .get(&format!("/api/v1/accounts?limit=2&before={before}"), &auth)
        .await;
    let ids: Vec<String> = r.body["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["data"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, pages[1].0);
}

async fn the_hierarchy_is_seen_from_each_side(app: TestApp) {
    let (parent_admin, _) = admin_of_new_org(&app, "Parent").await;
    let parent_auth = bearer(&app, &parent_admin).await;
    let sub = create(&app, &parent_auth, "Sub").await;
    let sub_path = format!("/api/v1/accounts/{}", sub["id"].as_str().unwrap());
    // A plain member of the parent sees the parent only.
    let member = invite_and_join(&app, &parent_admin, "editor").await;
    let member_auth = bearer(&app, &member).await;
    detail(&app.get(&sub_path, &member_auth).await, 404);
    let listed = app.get("/api/v1/accounts", &member_auth).await;
    assert_eq!(
        listed.body["data"]["page_info"]["total"], 1,
        "{}",
        listed.body
    );
    detail(
        &app.post("/api/v1/accounts", &member_auth, account_body("x"))
            .await,
        403,
    );
    // Another top-level account sees none of it.
    let (other, _) = admin_of_new_org(&app, "Other").await;
    let other_auth = bearer(&app, &other).await;
    detail(&app.get(&sub_path, &other_auth).await, 404);
    detail(
        &patch(
            &app,
            &sub_path,
            &other_auth,
            json!({"data": {"name": "x"}, "type": "account"}),
        )
        .await,
        404,
    );
    detail(
        &app.get(&format!("{sub_path}/allowed_ips"), &other_auth)
            .await,
        404,
    );
    let theirs = app.get("/api/v1/accounts", &other_auth).await;
    assert_eq!(theirs.body["data"]["page_info"]["total"], 1);
}

async fn allowed_ips_and_no_self_lockout(app: TestApp) {
    let (admin, org) = admin_of_new_org(&app, "Parent").await;
    let auth = bearer(&app, &admin).await;
    let path = format!("/api/v1/accounts/{}", ulid_of(&org));
    let ips = format!("{path}/allowed_ips");
    let ip =
        |cidr: &str| json!({"data": {"cidr": cidr, "description": "office"}, "type": "allowed_ip"});

    let r = app.post(&ips, &auth, ip("203.0.113.0/24")).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["type"], "allowed_ip");
    assert_eq!(r.body["data"]["cidr"], "203.0.113.0/24");
    assert_eq!(r.body["data"]["description"], "office");
    assert_eq!(r.body["data"]["account_id"], ulid_of(&org));
    let first_id = r.body["data"]["id"].as_str().unwrap().to_owned();
    for bad in ["203.0.113.5/24", "nope", "10.0.0.0/33", ""] {
        detail(&app.post(&ips, &auth, ip(bad)).await, 400);
    }
    // Turning the requirement on from an address outside the list is refused ...
    let on = json!({"data": {"require_ip_api_access": true}, "type": "account"});
    let d = detail(&patch(&app, &path, &auth, on.clone()).await, 400);
    assert!(d.contains("127.0.0.1"), "{d}");
    // ... and allowed once the caller's address is listed.
    assert_eq!(app.post(&ips, &auth, ip("127.0.0.1")).await.status, 201);
    let r = patch(&app, &path, &auth, on).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["data"]["require_ip_api_access"], true);

    let listed = app.get(&ips, &auth).await;
    assert_eq!(listed.body["type"], "list");
    let cidrs: Vec<&str> = listed.body["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["data"]["cidr"].as_str().unwrap())
        .collect();
    assert_eq!(cidrs.len(), 2, "{cidrs:?}");
    assert!(cidrs.contains(&"127.0.0.1/32"), "{cidrs:?}");
    let del = app
        .send(Method::DELETE, &format!("{ips}/{first_id}"), &auth, None)
        .await;
    assert_eq!(del.status, 204, "{}", del.text);
    detail(
        &app.send(Method::DELETE, &format!("{ips}/{first_id}"), &auth, None)
            .await,
        404,
    );
    assert_eq!(
        app.get(&ips, &auth).await.body["data"]["page_info"]["total"],
        1
    );
}

/// An organization with sub-accounts is not removed from under them (until an account is
/// closed with everything below it): deleting it, or its only member, answers 400.
async fn an_organization_with_sub_accounts_stays(app: TestApp) {
    let (admin, org) = admin_of_new_org(&app, "Parent").await;
    let auth = bearer(&app, &admin).await;
    create(&app, &auth, "Sub").await;
    let cookie = Auth::Cookie(admin.cookie.clone());
    let r = app
        .send(Method::DELETE, &format!("/api/v1/org/{org}"), &cookie, None)
        .await;
    let e = r.expect_error(400);
    assert!(
        e["message"].as_str().unwrap().contains("sub-accounts"),
        "{e}"
    );
    let r = app
        .send(Method::DELETE, "/api/v1/user/me", &cookie, None)
        .await;
    let e = r.expect_error(400);
    assert!(
        e["message"].as_str().unwrap().contains("sub-accounts"),
        "{e}"
    );
    assert_eq!(
        app.get(&format!("/api/v1/accounts/{}", ulid_of(&org)), &auth)
            .await
            .status,
        200
    );
}

dual!(
    an_organization_with_sub_accounts_stays,
    created_account_has_every_seed_field,
    update_changes_name_and_flags,
    bad_input_answers_in_the_face_shape,
    paging_walks_every_account_once_each_way,
    the_hierarchy_is_seen_from_each_side,
    allowed_ips_and_no_self_lockout,
);
