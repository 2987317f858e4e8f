//! Body size per route (issue #18 item 3; AP-2, API4:2023): routes that take credentials,
//! tokens, invitations or accounts accept 16 KiB, the others `BODY_LIMIT_BYTES` (1 MiB); a
//! larger body answers 413 in the face's own error shape (gateway/src/http/limits.rs).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, dual};

dual!(
    ap_2_each_route_limits_its_body_and_answers_413_in_its_face_shape,
    ap_2_a_413_reaches_a_client_still_sending_its_body,
);

const KIB: usize = 1024;

/// A JSON object of exactly `size` bytes.
fn body_of(size: usize) -> String {
    let frame = "{\"pad\":\"\"}".len();
    format!("{{\"pad\":\"{}\"}}", "x".repeat(size - frame))
}

/// The message of an error in `face`'s shape with `status`; panics when the shape is not the
/// face's.
fn message_in_shape(face: &str, status: u16, body: &Value) -> String {
    let message = match face {
        "lightdash" => {
            assert_eq!(body["status"], "error", "{body}");
            assert_eq!(body["error"]["statusCode"], status, "{body}");
            if status == 413 {
                assert_eq!(body["error"]["name"], "PayloadTooLargeError", "{body}");
            }
            &body["error"]["message"]
        }
        "swift" => &body["errors"]["detail"],
        "ioto" => {
            assert_eq!(body["error"], true, "{body}");
            &body["message"]
        }
        "luzmo" => {
            assert!(body.get("status").is_none(), "{body}");
            &body["message"]
        }
        "sumvin" if status == 422 => {
            // FastAPI's validation shape: the failures, each with its `msg`.
            &body["detail"][0]["msg"]
        }
        "sumvin" => {
            if status == 413 {
                assert_eq!(body["error_code"], "CON-413-001", "{body}");
            }
            &body["detail"]
        }
        _ => unreachable!(),
    };
    message
        .as_str()
        .unwrap_or_else(|| panic!("{face}: no message in {body}"))
        .to_owned()
}

/// AP-2 / API4: each face's routes at their limit: just over answers 413 in the face's shape,
/// just under is read (and refused for what it says, never for its size).
async fn ap_2_each_route_limits_its_body_and_answers_413_in_its_face_shape(app: TestApp) {
    let user = app.register().await;
    let (_, token) = app
        .create_pat(&user, json!({"description": "limits"}))
        .await;
    let small = 16 * KIB;
    let large = KIB * KIB;
    // (face, path, header, limit)
    let routes: [(&str, &str, (&str, String), usize); 8] = [
        (
            "lightdash",
            "/api/v1/login",
            ("x-none", String::new()),
            small,
        ),
        (
            "lightdash",
            "/api/v1/user/me/personal-access-tokens",
            ("cookie", format!("connect.sid={}", user.cookie)),
            small,
        ),
        (
            "lightdash",
            "/api/v1/connections",
            ("authorization", format!("ApiKey {token}")),
            large,
        ),
        (
            "swift",
            "/api/v1/accounts",
            ("authorization", format!("Bearer {token}")),
            small,
        ),
        (
            "ioto",
            "/account/get",
            ("authorization", token.clone()),
            small,
        ),
        ("luzmo", "/0.1.0/account", ("x-none", String::new()), large),
        (
            "sumvin",
            "/v0/user/connectors/",
            ("x-sumvin-pat", token.clone()),
            large,
        ),
        (
            "lightdash",
            "/api/v1/org/groups",
            ("authorization", format!("ApiKey {token}")),
            large,
        ),
    ];
    for (face, path, (name, value), limit) in routes {
        let send = |size: usize| {
            app.http
                .post(format!("{}{path}", app.base))
                .header(name, &value)
                .header("content-type", "application/json")
                .body(body_of(size))
                .send()
        };
        let over = send(limit + 1).await.unwrap();
        assert_eq!(
            over.status(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "{face} {path}"
        );
        let body: Value = over.json().await.unwrap();
        message_in_shape(face, 413, &body);

        let under = send(limit - KIB).await.unwrap();
        let status = under.status();
        assert!(
            status.is_client_error()
                && status != StatusCode::PAYLOAD_TOO_LARGE
                && status != StatusCode::UNAUTHORIZED,
            "{face} {path}: {status}"
        );
        let body: Value = under.json().await.unwrap();
        message_in_shape(face, status.as_u16(), &body);
    }
}

/// AP-2: a body far over the limit is refused with 413 while the client is still sending it;
/// the gateway reads and drops the rest before closing (a lingering close), so the client gets
/// the 413 rather than a connection reset, every time.
async fn ap_2_a_413_reaches_a_client_still_sending_its_body(app: TestApp) {
    for _ in 0..8 {
        let r = app
            .http
            .post(format!("{}/api/v1/login", app.base))
            .header("content-type", "application/json")
            .body(body_of(3 * KIB * KIB))
            .send()
            .await
            .expect("the 413 arrives, not a reset");
        assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let body: Value = r.json().await.unwrap();
        message_in_shape("lightdash", 413, &body);
    }
}
