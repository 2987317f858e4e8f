//! The account face of seed 004 (`POST /account/…`, docs/accounts.md): an operator creates an
//! account with its first user, who is mailed an invitation and signs in; get, find,
//! updateIdentity and close with every field of the seed's Account and User; bad input in the
//! face's error shape (`input.rs`); paging and who reaches what (`matrix.rs`).

mod input;
mod matrix;

use reqwest::Method;
use serde_json::{Value, json};

use crate::{
    accounts_close::{lightdash_world, traces_of_world},
    events::traces_of_user,
    helpers::{
        Auth, Backend, Reply, SmtpSink, TestApp, TestUser, dual, dual_backend, spawn_app_with,
        within,
    },
    operator::owner_token,
    organizations::{cookie, register_invited},
    swift::sorted_keys,
};

/// The seed's Account fields, sorted.
const ACCOUNT_FIELDS: [&str; 7] = [
    "activity", "closed", "cloudId", "created", "email", "id", "name",
];
/// The seed's User fields, sorted.
const USER_FIELDS: [&str; 8] = [
    "accountId",
    "activity",
    "cloudId",
    "email",
    "first",
    "id",
    "last",
    "role",
];

/// `POST /account/<action>` with `authorization` sent as given (None: no header).
pub(crate) async fn call(
    app: &TestApp,
    action: &str,
    authorization: Option<&str>,
    body: Value,
) -> Reply {
    let path = format!("/account/{action}");
    let mut req = app.http.post(format!("{}{path}", app.base)).json(&body);
    if let Some(a) = authorization {
        req = req.header("authorization", a);
    }
    app.finish(Method::POST, &path, req).await
}

/// Asserts a success; returns the body.
pub(crate) fn ok(r: &Reply) -> &Value {
    assert_eq!(r.status, 200, "{}", r.body);
    &r.body
}

/// Asserts the face's error shape with `status`; returns the message.
pub(crate) fn refused(r: &Reply, status: u16) -> String {
    assert_eq!(r.status.as_u16(), status, "body: {}", r.body);
    assert_eq!(sorted_keys(&r.body), ["error", "message"], "{}", r.body);
    assert_eq!(r.body["error"], true, "{}", r.body);
    r.body["message"].as_str().unwrap().to_owned()
}

/// A new operator token (`platform owner-token create`).
pub(crate) fn operator(app: &TestApp) -> String {
    let out = owner_token(app, &["create", "--name", "ioto"]);
    out.lines().last().unwrap().to_owned()
}

/// A time as the face writes it: ISO 8601 UTC with milliseconds.
fn is_milli_time(v: &Value) -> bool {
    let s = v.as_str().unwrap_or_default();
    s.len() == 24 && s.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

/// The invitation code in the newest mail to `email` (quoted-printable soft breaks undone).
fn invitation_code(app: &TestApp, email: &str) -> String {
    let text = app
        .mail_from_outbox(email)
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    let at = text
        .find("/invite/ldinv_")
        .unwrap_or_else(|| panic!("no invitation link in {text}"));
    text[at + 8..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect()
}

/// An account made by `op` through `/account/create`, its first user signed in through the
/// mailed invitation, and that user's token: (account, user, personal access token).
pub(crate) async fn created_account(
    app: &TestApp,
    op: &str,
    name: &str,
) -> (Value, TestUser, String) {
    let email = format!("first-{}@example.com", uuid::Uuid::new_v4().simple());
    let r = call(
        app,
        "create",
        Some(op),
        json!({"email": email, "name": name}),
    )
    .await;
    let account = ok(&r)["account"].clone();
    let code = invitation_code(app, &email);
    let user = register_invited(app, &code, &email, "First").await;
    let (_, pat) = app.create_pat(&user, json!({"description": "ioto"})).await;
    (account, user, pat)
}

async fn an_operator_creates_an_account_whose_admin_signs_in(app: TestApp) {
    let op = operator(&app);
    let email = format!("Owner-{}@Example.com", uuid::Uuid::new_v4().simple());
    // The operator token without a scheme, as the seed's clients send it.
    let r = call(
        &app,
        "create",
        Some(&op),
        json!({"email": email, "name": "Acme"}),
    )
    .await;
    let body = ok(&r);
    assert_eq!(sorted_keys(body), ["account", "user"]);
    let (account, user) = (&body["account"], &body["user"]);
    assert_eq!(sorted_keys(account), ACCOUNT_FIELDS);
    assert_eq!(sorted_keys(user), USER_FIELDS);
    let id = account["id"].as_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{account}");
    let lower = email.to_lowercase();
    assert_eq!(
        (&account["name"], &account["email"], &account["closed"]),
        (&json!("Acme"), &json!(lower), &json!(false))
    );
    assert!(account["cloudId"].is_null() && user["cloudId"].is_null());
    for t in [&account["created"], &account["activity"], &user["activity"]] {
        assert!(is_milli_time(t), "{t}");
    }
    assert_eq!(user["accountId"], id.as_str());
    assert_eq!(user["email"], lower.as_str());
    assert_eq!(user["role"], "admin");
    // The code travels only by mail: never in the answer.
    assert!(!r.text.contains("ldinv_"), "{}", r.text);

    // The first user sets a password through the mailed link and is the account's admin.
    let code = invitation_code(&app, &lower);
    let first = register_invited(&app, &code, &lower, "First").await;
    assert_eq!(first.user_uuid, user["id"].as_str().unwrap());
    let me = app.get("/api/v1/user", &cookie(&first)).await;
    assert_eq!(me.results()["organizationUuid"], id.as_str());
    assert_eq!(me.results()["role"], "admin");

    // Their token, with `Bearer`, gets their account; the operator gets it by id and by email.
    let (_, pat) = app.create_pat(&first, json!({"description": "ioto"})).await;
    let mine = format!("Bearer {pat}");
    let got = call(&app, "get", Some(&mine), json!({})).await;
    assert_eq!(ok(&got)["id"], id.as_str());
    assert_eq!(sorted_keys(&got.body), ACCOUNT_FIELDS);
    for lookup in [json!({"id": id}), json!({"email": email})] {
        let by = call(&app, "get", Some(&op), lookup).await;
        assert_eq!(ok(&by)["id"], id.as_str());
    }

    // updateIdentity changes the name and the email, and `activity` moves.
    let other = format!("renamed-{}@example.com", uuid::Uuid::new_v4().simple());
    let r = call(
        &app,
        "updateIdentity",
        Some(&mine),
        json!({"name": "Acme 2", "email": other}),
    )
    .await;
    let changed = ok(&r);
    assert_eq!(
        (&changed["name"], &changed["email"]),
        (&json!("Acme 2"), &json!(other))
    );
    assert!(changed["activity"].as_str() >= got.body["activity"].as_str());
    let found = call(&app, "find", Some(&op), json!({"email": other})).await;
    assert_eq!(ok(&found)["data"][0]["id"], id.as_str());

    // The admin closes their own account: their token stops at once, the operator is answered
    // the tombstone, and the other services remove what they kept.
    let world = lightdash_world(&app, &first, &cookie(&first)).await;
    let closed = call(&app, "close", Some(&mine), json!({})).await;
    assert_eq!(ok(&closed), &json!({"id": id, "closed": true}));
    refused(&call(&app, "get", Some(&mine), json!({})).await, 401);
    app.get("/api/v1/user", &Auth::ApiKey(pat))
        .await
        .expect_error(401);
    let tomb = call(&app, "get", Some(&op), json!({"id": id})).await;
    assert_eq!(ok(&tomb), &json!({"id": id, "closed": true}));
    let by_email = call(&app, "get", Some(&op), json!({"email": other})).await;
    refused(&by_email, 404);
    within(
        std::time::Duration::from_secs(5),
        "the closed account's world goes",
        || async {
            traces_of_world(&app, &world).await == 0
                && traces_of_user(&app, &first.user_uuid).await == 0
        },
    )
    .await;
}

async fn a_taken_address_creates_nothing(app: TestApp) {
    let op = operator(&app);
    let (account, user, _) = created_account(&app, &op, "First").await;
    let email = account["email"].as_str().unwrap().to_owned();
    // The address of an account (and of its user), and of a user of another organization.
    let registered = app.register().await;
    for taken in [email.as_str(), registered.email.as_str()] {
        let r = call(
            &app,
            "create",
            Some(&op),
            json!({"email": taken, "name": "Again"}),
        )
        .await;
        refused(&r, 409);
    }
    let all = call(&app, "find", Some(&op), json!({})).await;
    let names: Vec<&str> = ok(&all)["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["First"], "nothing of the refused creates remains");
    // Another account cannot take the address by updateIdentity either.
    let (_, _, pat) = created_account(&app, &op, "Second").await;
    let r = call(&app, "updateIdentity", Some(&pat), json!({"email": email})).await;
    refused(&r, 409);
    assert!(!user.user_uuid.is_empty());
}

/// The invitation travels over real SMTP; when the mail server cannot be reached, the create
/// answers 503 and leaves nothing behind: the address stays free for a later try.
async fn no_mail_no_account(backend: Backend) {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let url = secrecy::SecretString::from(format!("smtp://127.0.0.1:{port}"));
    let Some(app) = spawn_app_with(backend, |c| c.identity.mail_url = Some(url)).await else {
        return;
    };
    let op = operator(&app);
    let email = format!("nomail-{}@example.com", uuid::Uuid::new_v4().simple());
    let r = call(
        &app,
        "create",
        Some(&op),
        json!({"email": email, "name": "Unsent"}),
    )
    .await;
    refused(&r, 503);
    let all = call(&app, "find", Some(&op), json!({})).await;
    assert_eq!(ok(&all)["data"], json!([]));
    let users = "SELECT COUNT(*) FROM users WHERE email = $1";
    assert_eq!(count_text(&app.identity_db, users, &email).await, 0);

    let sink = SmtpSink::start().await;
    let Some(app) = spawn_app_with(backend, |c| c.identity.mail_url = Some(sink.url())).await
    else {
        return;
    };
    let op = operator(&app);
    let r = call(
        &app,
        "create",
        Some(&op),
        json!({"email": email, "name": "Sent"}),
    )
    .await;
    ok(&r);
    let mails = sink.messages();
    assert_eq!(mails.len(), 1);
    assert!(mails[0].to[0].contains(&email), "{:?}", mails[0].to);
    assert!(mails[0].data.contains("/invite/"), "{}", mails[0].data);
}

/// `SELECT COUNT(*) …` binding one text value as `$1`.
async fn count_text(db: &service_kit::db::Pool, sql: &str, value: &str) -> i64 {
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    match db {
        service_kit::db::Pool::Sqlite(p) => sqlx::query_scalar(sql).bind(value).fetch_one(p).await,
        service_kit::db::Pool::Postgres(p) => {
            sqlx::query_scalar(sql).bind(value).fetch_one(p).await
        }
    }
    .unwrap()
}

dual!(
    an_operator_creates_an_account_whose_admin_signs_in,
    a_taken_address_creates_nothing,
);
dual_backend!(no_mail_no_account);
