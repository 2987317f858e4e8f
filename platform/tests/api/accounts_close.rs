//! Sub-accounts end to end (issue #16): an admin of a parent invites into a sub-account through
//! the seed 003 face without becoming a member of it; the invitee works in the sub-account with
//! the Lightdash API and reaches nothing of the parent's; closing the sub-account (over gRPC:
//! this face has no close route) ends its members' tokens at once and removes it, the account
//! below it and everything the other services kept of them, now or when they come back, while
//! the parent keeps its own.

use std::time::Duration;

use proto::identity::v1::{self as pb, accounts_client::AccountsClient};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use tonic::{Request, metadata::MetadataValue, transport::Channel};

use crate::{
    events::{start_consumers, traces_of_organization, traces_of_user},
    helpers::{
        Auth, Backend, TestApp, TestUser, count, dual, dual_backend, spawn_app_with, within,
    },
    organizations::{admin_of_new_org, cookie, register_invited},
    projects::new_project,
    swift::{detail, sorted_keys, ulid_of},
};

const LIMIT: Duration = Duration::from_secs(5);

/// The fields of an invitation in the face, sorted.
const INVITATION_FIELDS: [&str; 6] = [
    "account_id",
    "email",
    "expires_at",
    "invite_code",
    "invite_url",
    "user_id",
];

/// An admin of a top-level account with a personal access token, and the account API over
/// gRPC speaking for them.
struct Admin {
    user: TestUser,
    org: String,
    /// `Authorization: Bearer <personal access token>`.
    face: Auth,
    jwt: String,
    grpc: AccountsClient<Channel>,
}

impl Admin {
    async fn new(app: &TestApp, name: &str) -> Self {
        let (user, org) = admin_of_new_org(app, name).await;
        let (_, pat) = app.create_pat(&user, json!({"description": "face"})).await;
        let jwt = app.access_token(&pat).await;
        Self {
            user,
            org,
            face: Auth::Bearer(pat),
            jwt,
            grpc: AccountsClient::new(app.identity_channel().await),
        }
    }

    fn req<T>(&self, msg: T) -> Request<T> {
        let mut r = Request::new(msg);
        let value = MetadataValue::try_from(format!("Bearer {}", self.jwt)).unwrap();
        r.metadata_mut().insert("authorization", value);
        r
    }

    /// A sub-account under `parent`; its uuid.
    async fn sub_account(&self, name: &str, parent: &str) -> String {
        let msg = pb::CreateSubAccountRequest {
            name: name.into(),
            parent_uuid: Some(parent.into()),
        };
        let created = self.grpc.clone().create_sub_account(self.req(msg)).await;
        created
            .expect("sub-account created")
            .into_inner()
            .organization_uuid
    }

    /// Closes an account; the uuids of the accounts closed.
    async fn close(&self, account: &str) -> Vec<String> {
        let msg = pb::CloseAccountRequest {
            organization_uuid: account.into(),
        };
        let closed = self.grpc.clone().close_account(self.req(msg)).await;
        closed
            .expect("account closed")
            .into_inner()
            .organization_uuids
    }
}

fn invitation_body(email: &str, role: &str) -> Value {
    json!({"data": {"email": email, "role": role}, "type": "invitation"})
}

/// Invites a fresh address into `account` through the face and registers the invitee.
async fn invite_and_join(app: &TestApp, auth: &Auth, account: &str, role: &str) -> TestUser {
    let email = format!("sub-{}@example.com", uuid::Uuid::new_v4().simple());
    let path = format!("/api/v1/accounts/{}/invitations", ulid_of(account));
    let r = app.post(&path, auth, invitation_body(&email, role)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["type"], "invitation", "{}", r.body);
    let data = &r.body["data"];
    assert_eq!(sorted_keys(data), INVITATION_FIELDS);
    assert_eq!(data["account_id"], ulid_of(account));
    assert_eq!(data["email"], email);
    let code = data["invite_code"].as_str().unwrap();
    assert!(code.starts_with("ldinv_"), "{data}");
    let url = data["invite_url"].as_str().unwrap();
    assert!(url.ends_with(&format!("/invite/{code}")), "{url}");
    assert_eq!(data["user_id"].as_str().unwrap().len(), 26, "a ULID");
    assert!(data["expires_at"].as_str().unwrap().ends_with('Z'));
    register_invited(app, code, &email, role).await
}

/// A project, a private space shared with its creator and a shared connection, made by `user`
/// through the Lightdash API with `auth`: (project, space, connection).
pub(crate) async fn lightdash_world(
    app: &TestApp,
    user: &TestUser,
    auth: &Auth,
) -> (String, String, String) {
    let r = app
        .post("/api/v1/org/projects", auth, json!({"name": "Work"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let project = r.results()["projectUuid"].as_str().unwrap().to_owned();
    let space = app
        .post(
            &format!("/api/v1/projects/{project}/spaces"),
            auth,
            json!({"name": "S", "isPrivate": true, "access": [{"userUuid": user.user_uuid, "role": "admin"}]}),
        )
        .await;
    let space = space.results()["uuid"].as_str().unwrap().to_owned();
    let c = app
        .post(
            "/api/v1/connections",
            auth,
            json!({"provider": "postgresql", "name": "work", "secrets": {"password": "p"}}),
        )
        .await;
    assert_eq!(c.status, 201, "{}", c.body);
    let connection = c.results()["connectionUuid"].as_str().unwrap().to_owned();
    (project, space, connection)
}

/// The status of each of `auth`'s reads of a project, its space and a connection.
pub(crate) async fn reads(
    app: &TestApp,
    auth: &Auth,
    world: &(String, String, String),
) -> Vec<u16> {
    let (project, space, connection) = world;
    let mut statuses = Vec::new();
    for path in [
        format!("/api/v1/projects/{project}"),
        format!("/api/v1/projects/{project}/spaces/{space}"),
        format!("/api/v1/connections/{connection}"),
    ] {
        statuses.push(app.get(&path, auth).await.status.as_u16());
    }
    statuses
}

/// The traces of a world the other services keep: its project, spaces, grants, connection.
pub(crate) async fn traces_of_world(app: &TestApp, world: &(String, String, String)) -> i64 {
    let (project, _, connection) = world;
    let mut n = 0;
    for sql in [
        "SELECT COUNT(*) FROM projects WHERE project_uuid = $1",
        "SELECT COUNT(*) FROM spaces WHERE project_uuid = $1",
        "SELECT COUNT(*) FROM project_user_grants WHERE project_uuid = $1",
        "SELECT COUNT(*) FROM space_user_grants WHERE space_uuid IN \
         (SELECT space_uuid FROM spaces WHERE project_uuid = $1)",
    ] {
        n += count(&app.projects_db, sql, project).await;
    }
    let sql = "SELECT COUNT(*) FROM connections WHERE connection_uuid = $1";
    n + count(&app.connections_db, sql, connection).await
}

/// The ids the face lists to `auth`.
async fn listed(app: &TestApp, auth: &Auth) -> Vec<String> {
    let r = app.get("/api/v1/accounts?limit=100", auth).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mut ids: Vec<String> = r.body["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["data"]["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

async fn a_sub_account_is_invited_into_worked_in_and_closed(app: TestApp) {
    let parent = Admin::new(&app, "Parent").await;
    let parent_cookie = cookie(&parent.user);
    let parent_world = lightdash_world(&app, &parent.user, &parent_cookie).await;
    let sub = parent.sub_account("Sub", &parent.org).await;
    let below = parent.sub_account("Below", &sub).await;
    let sibling = parent.sub_account("Sibling", &parent.org).await;

    // The parent's admin invites into the sub-account; the invitee works there with a token.
    let member = invite_and_join(&app, &parent.face, &sub, "developer").await;
    let org = app.get("/api/v1/org", &cookie(&member)).await;
    assert_eq!(org.results()["organizationUuid"], sub.as_str());
    let (_, pat) = app
        .create_pat(&member, json!({"description": "work"}))
        .await;
    let token = Auth::ApiKey(pat.clone());
    let world = lightdash_world(&app, &member, &token).await;
    assert_eq!(reads(&app, &token, &world).await, [200, 200, 200]);
    // Nothing of the parent's is in reach: not its project, space or connection, nor it.
    for status in reads(&app, &token, &parent_world).await {
        assert!([403, 404].contains(&status), "{status}");
    }
    assert_eq!(
        listed(&app, &Auth::Bearer(pat.clone())).await,
        [ulid_of(&sub)]
    );
    detail(
        &app.get(
            &format!("/api/v1/accounts/{}", ulid_of(&parent.org)),
            &Auth::Bearer(pat.clone()),
        )
        .await,
        404,
    );
    // The parent's admin administers the sub-account without being a member of it.
    let org = app.get("/api/v1/org", &parent_cookie).await;
    assert_eq!(org.results()["organizationUuid"], parent.org.as_str());
    for status in reads(&app, &parent_cookie, &world).await {
        assert!([403, 404].contains(&status), "{status}");
    }
    assert!(traces_of_user(&app, &member.user_uuid).await > 0);

    let mut closed = parent.close(&sub).await;
    closed.sort();
    let mut expected = vec![sub.clone(), below.clone()];
    expected.sort();
    assert_eq!(closed, expected);

    // The member's token answers 401 on the very next request, on every path in.
    let r = app.get("/api/v1/org", &token).await;
    r.expect_error(401);
    detail(&app.get("/api/v1/accounts", &Auth::Bearer(pat)).await, 401);
    app.get("/api/v1/org", &cookie(&member))
        .await
        .expect_error(401);
    // The sub-account and the account below it are gone from the face.
    let mut expected = vec![ulid_of(&parent.org), ulid_of(&sibling)];
    expected.sort();
    assert_eq!(listed(&app, &parent.face).await, expected);
    for id in [&sub, &below] {
        let path = format!("/api/v1/accounts/{}", ulid_of(id));
        detail(&app.get(&path, &parent.face).await, 404);
    }
    // projects-svc and connections-svc remove what they kept of them; the parent's stays.
    within(LIMIT, "the closed account's world goes", || async {
        traces_of_world(&app, &world).await == 0
            && traces_of_organization(&app, &sub).await == 0
            && traces_of_user(&app, &member.user_uuid).await == 0
    })
    .await;
    assert_eq!(traces_of_world(&app, &parent_world).await, 5);
    assert_eq!(
        reads(&app, &parent_cookie, &parent_world).await,
        [200, 200, 200]
    );
}

/// A close reaches projects-svc and connections-svc when they come back, as the other
/// deletions do.
async fn a_close_reaches_services_that_were_down(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |c| c.consumer.consume_events = false).await else {
        return;
    };
    let parent = Admin::new(&app, "Parent").await;
    let kept = new_project(&app, &parent.user, "Kept").await;
    let sub = parent.sub_account("Sub", &parent.org).await;
    let member = invite_and_join(&app, &parent.face, &sub, "admin").await;
    let world = lightdash_world(&app, &member, &cookie(&member)).await;
    parent.close(&sub).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        traces_of_world(&app, &world).await,
        5,
        "nobody consumes yet"
    );

    let shutdown = CancellationToken::new();
    start_consumers(&app, &shutdown);
    within(LIMIT, "the close is applied on return", || async {
        traces_of_world(&app, &world).await == 0
            && traces_of_user(&app, &member.user_uuid).await == 0
    })
    .await;
    shutdown.cancel();
    let projects = "SELECT COUNT(*) FROM projects WHERE project_uuid = $1";
    assert_eq!(count(&app.projects_db, projects, &kept).await, 1);
}

/// Invitations through the face: bad input answers 400 in the face's shape, an account the
/// caller may not see 404, one they see but may not administer 403; past the depth limit, a
/// sub-account's admin creating another answers 400.
async fn invitations_and_the_depth_limit_in_the_face(app: TestApp) {
    let parent = Admin::new(&app, "Parent").await;
    let sub = parent.sub_account("Sub", &parent.org).await;
    let path = format!("/api/v1/accounts/{}/invitations", ulid_of(&sub));
    let email = format!("x-{}@example.com", uuid::Uuid::new_v4().simple());
    let bad = [
        (
            json!({"data": {"email": email}, "type": "account"}),
            "type must be \"invitation\"",
        ),
        (
            json!({"data": {"role": "member"}, "type": "invitation"}),
            "email",
        ),
        (
            json!({"data": {"email": email, "x": 1}, "type": "invitation"}),
            "unknown field",
        ),
        (invitation_body("not an email", "member"), "email"),
        (invitation_body(&email, "owner"), "role must be one of"),
    ];
    for (body, says) in bad {
        let d = detail(&app.post(&path, &parent.face, body.clone()).await, 400);
        assert!(d.contains(says), "{body}: {d}");
    }
    for id in ["nope", "01J0CRVTXX9KBD9NWS02R5R8RT"] {
        let path = format!("/api/v1/accounts/{id}/invitations");
        detail(
            &app.post(&path, &parent.face, invitation_body(&email, "member"))
                .await,
            404,
        );
    }
    let other = Admin::new(&app, "Other").await;
    detail(
        &app.post(&path, &other.face, invitation_body(&email, "member"))
            .await,
        404,
    );
    let member = invite_and_join(&app, &other.face, &other.org, "editor").await;
    let (_, pat) = app.create_pat(&member, json!({"description": "x"})).await;
    let own = format!("/api/v1/accounts/{}/invitations", ulid_of(&other.org));
    detail(
        &app.post(&own, &Auth::Bearer(pat), invitation_body(&email, "member"))
            .await,
        403,
    );

    // Three levels below the top, an admin of the deepest account may nest no further.
    let level2 = parent.sub_account("Level 2", &sub).await;
    let level3 = parent.sub_account("Level 3", &level2).await;
    let deepest_admin = invite_and_join(&app, &parent.face, &level3, "admin").await;
    let (_, pat) = app
        .create_pat(&deepest_admin, json!({"description": "x"}))
        .await;
    let d = detail(
        &app.post(
            "/api/v1/accounts",
            &Auth::Bearer(pat),
            json!({"data": {"name": "Level 4"}, "type": "account"}),
        )
        .await,
        400,
    );
    assert!(d.contains("at most 3 levels deep"), "{d}");
}

dual!(
    a_sub_account_is_invited_into_worked_in_and_closed,
    invitations_and_the_depth_limit_in_the_face,
);

dual_backend!(a_close_reaches_services_that_were_down);
