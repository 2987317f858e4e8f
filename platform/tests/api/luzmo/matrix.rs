//! Who reaches an account through the Luzmo face, as a matrix: its owner, an organization
//! admin, a member it is shared with, a member it is not shared with, a member of another
//! organization; by every action. And the canary secret in no column of any table of the three
//! services' databases (`crate::stored`) and in no log line.

use serde_json::json;

use super::{CANARY, Key, call, create, found, refused};
use crate::{
    helpers::{TestApp, dual, log_text},
    organizations::{admin_of_new_org, invite_and_join},
    stored::assert_sealed_only,
};

async fn every_action_from_every_side(app: TestApp) {
    let (admin, _) = admin_of_new_org(&app, "Matrix").await;
    let owner = invite_and_join(&app, &admin, "editor").await;
    let shared = invite_and_join(&app, &admin, "developer").await;
    let stranger = invite_and_join(&app, &admin, "developer").await;
    let (outsider, _) = admin_of_new_org(&app, "Elsewhere").await;
    let (owner_k, admin_k) = (Key::of(&app, &owner).await, Key::of(&app, &admin).await);
    let (shared_k, stranger_k) = (Key::of(&app, &shared).await, Key::of(&app, &stranger).await);
    let outsider_k = Key::of(&app, &outsider).await;
    let made = create(&app, &owner_k, "Restricted").await;
    let id = made["id"].as_str().unwrap().to_owned();
    let link = |user: &str| json!({"action": "associate", "id": id, "resource": {"role": "User", "id": user}});
    assert_eq!(
        call(&app, "LINK", &owner_k, link(&shared.user_uuid))
            .await
            .status,
        200
    );

    // Who lists it.
    for (who, key, sees) in [
        ("owner", &owner_k, 1),
        ("admin", &admin_k, 1),
        ("shared", &shared_k, 1),
        ("stranger", &stranger_k, 0),
        ("outsider", &outsider_k, 0),
    ] {
        assert_eq!(found(&app, key, json!({})).await.0, sees, "{who}");
    }
    // Who changes it, shares it, deletes it: the owner and an admin; a reader is refused
    // (403); anyone who may not read it finds nothing (404).
    let update = json!({"action": "update", "id": id, "properties": {"cache": 1}});
    for (who, key, status) in [
        ("owner", &owner_k, 200),
        ("admin", &admin_k, 200),
        ("shared", &shared_k, 403),
        ("stranger", &stranger_k, 404),
        ("outsider", &outsider_k, 404),
    ] {
        let r = call(&app, "PATCH", key, update.clone()).await;
        assert_eq!(r.status.as_u16(), status, "update by {who}: {}", r.body);
        let r = call(&app, "LINK", key, link(&stranger.user_uuid)).await;
        let expected = if status == 200 { 200 } else { status };
        assert_eq!(
            r.status.as_u16(),
            expected,
            "associate by {who}: {}",
            r.body
        );
        if status == 200 {
            let unlink = json!({"action": "dissociate", "id": id, "resource": {"role": "User", "id": stranger.user_uuid}});
            assert_eq!(call(&app, "UNLINK", key, unlink).await.status, 200);
        }
    }
    // Sharing with someone outside the organization finds no such user.
    let r = call(&app, "LINK", &owner_k, link(&outsider.user_uuid)).await;
    refused(&r, 404);
    for (who, key, status) in [
        ("shared", &shared_k, 403),
        ("stranger", &stranger_k, 404),
        ("outsider", &outsider_k, 404),
    ] {
        let r = call(&app, "DELETE", key, json!({"action": "delete", "id": id})).await;
        assert_eq!(r.status.as_u16(), status, "delete by {who}: {}", r.body);
    }

    // The secret is stored sealed only (one sealed copy): no column of any table of any
    // service's database holds it as sent, and no log line.
    assert_sealed_only(&app, CANARY, 1).await;
    assert!(!log_text().contains(CANARY), "a log line holds the secret");
    let r = call(
        &app,
        "DELETE",
        &admin_k,
        json!({"action": "delete", "id": id}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

dual!(every_action_from_every_side);
