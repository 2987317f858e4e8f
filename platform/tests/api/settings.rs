//! The all-in-one binary, started as a newcomer starts it with variables in its environment,
//! does what each variable says: every setting whose effect shows from outside is set to a
//! value other than its default and its effect is seen through the public API (or, for the
//! two with no outside effect, in the start-up log line of the service that applies it).

use std::{
    io::BufRead,
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// A `platform` process and its log lines.
struct Running {
    child: Child,
    base: String,
    data_dir: PathBuf,
    logs: Arc<Mutex<Vec<Value>>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

impl Running {
    /// Starts `platform` on SQLite with `vars` and nothing else in its environment, and waits
    /// for its "platform started" line.
    fn start(vars: &[(&str, &str)]) -> Self {
        let data_dir =
            std::env::temp_dir().join(format!("platform-settings-{}", uuid::Uuid::new_v4()));
        let mut child = Command::new(env!("CARGO_BIN_EXE_platform"))
            .env_clear()
            .env("DATA_DIR", &data_dir)
            .env("PLATFORM_LISTEN_ADDR", "127.0.0.1:0")
            .env("METRICS_LISTEN_ADDR", "127.0.0.1:0")
            .envs(vars.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let logs = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().unwrap();
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    sink.lock().unwrap().push(v);
                }
            }
        });
        let mut running = Self {
            child,
            base: String::new(),
            data_dir,
            logs,
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        while running.base.is_empty() {
            assert!(Instant::now() < deadline, "platform did not start");
            assert!(
                running.child.try_wait().unwrap().is_none(),
                "platform exited at start-up"
            );
            if let Some(line) = running.log_line("platform started") {
                running.base = line["url"].as_str().unwrap().to_owned();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        running
    }

    /// The first log line with this message.
    fn log_line(&self, message: &str) -> Option<Value> {
        self.logs
            .lock()
            .unwrap()
            .iter()
            .find(|l| l["message"] == message)
            .cloned()
    }
}

/// A call's status, `Set-Cookie` and JSON body.
struct Answer {
    status: StatusCode,
    set_cookie: Option<String>,
    body: Value,
}

async fn call(
    http: &reqwest::Client,
    run: &Running,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> Answer {
    let mut req = http.request(method, format!("{}{path}", run.base));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let set_cookie = res
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().to_owned());
    let status = res.status();
    let body = res.json().await.unwrap_or(Value::Null);
    Answer {
        status,
        set_cookie,
        body,
    }
}

/// The `name=value` part of a `Set-Cookie` header.
fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

/// The claims of a JWT (read, not verified: the services verify).
fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_observable_setting_takes_effect_in_the_all_in_one() {
    let run = Running::start(&[
        ("ACCESS_TOKEN_TTL_SECONDS", "120"),
        ("SESSION_TTL_SECONDS", "3600"),
        ("COOKIE_SECURE", "true"),
        ("MAIL_FROM", "Settings Test <settings@example.test>"),
        ("PUBLIC_URL", "https://platform.example.test/base/"),
        ("LOGIN_FAILURES_PER_ACCOUNT", "2"),
        ("LOGIN_FAILURES_PER_ADDRESS", "4"),
        ("TRUST_FORWARDED_FOR", "true"),
        ("EMAIL_PASSCODES_PER_HOUR", "1"),
        ("INVITATIONS_PER_HOUR", "1"),
        ("PASSWORD_RESETS_PER_HOUR", "1"),
        ("PASSWORD_RESETS_PER_ADDRESS_PER_HOUR", "2"),
        ("CONNECTIONS_MAX_PERSONAL_PER_USER", "1"),
        ("BODY_LIMIT_BYTES", "2048"),
        ("PASSWORD_HASH_CONCURRENCY", "3"),
        ("PROJECTS_SPACES_CACHE_ROWS", "7"),
    ]);
    let http = reqwest::Client::new();
    let password = "correct horse battery staple";
    let register = |email: &'static str| {
        call(
            &http,
            &run,
            Method::POST,
            "/api/v1/user",
            &[],
            Some(json!({"email": email, "password": password, "firstName": "S", "lastName": "T"})),
        )
    };
    let ada = register("ada@example.test").await;
    assert_eq!(ada.status, 200, "{}", ada.body);
    register("bob@example.test").await;

    // SESSION_TTL_SECONDS and COOKIE_SECURE: the session cookie.
    let set_cookie = ada.set_cookie.expect("registration logs in");
    let max_age: u64 = set_cookie
        .split("; ")
        .find_map(|p| p.strip_prefix("Max-Age="))
        .unwrap()
        .parse()
        .unwrap();
    assert!((3590..=3600).contains(&max_age), "{set_cookie}");
    assert!(set_cookie.contains("; Secure"), "{set_cookie}");
    let cookie = cookie_pair(&set_cookie);
    let session = [("cookie", cookie.as_str())];

    // ACCESS_TOKEN_TTL_SECONDS: the access JWT's lifetime.
    let token = call(
        &http,
        &run,
        Method::POST,
        "/api/v1/auth/token",
        &session,
        None,
    )
    .await;
    let jwt = claims(token.body["results"]["accessToken"].as_str().unwrap());
    assert_eq!(
        jwt["exp"].as_i64().unwrap() - jwt["iat"].as_i64().unwrap(),
        120
    );

    // MAIL_FROM and EMAIL_PASSCODES_PER_HOUR: the mailbox, then the limit.
    let otp = "/api/v1/user/me/email/otp";
    assert_eq!(
        call(&http, &run, Method::PUT, otp, &session, None)
            .await
            .status,
        200
    );
    let mail = std::fs::read_dir(run.data_dir.join("mail"))
        .unwrap()
        .map(|f| std::fs::read_to_string(f.unwrap().path()).unwrap())
        .find(|m| m.contains("To: ada@example.test"))
        .expect("a passcode mail");
    assert!(
        mail.contains("From: \"Settings Test\" <settings@example.test>"),
        "{mail}"
    );
    assert_eq!(
        call(&http, &run, Method::PUT, otp, &session, None)
            .await
            .status,
        429
    );

    // PUBLIC_URL and INVITATIONS_PER_HOUR: the invitation link, then the limit.
    let org = call(
        &http,
        &run,
        Method::PUT,
        "/api/v1/org",
        &session,
        Some(json!({"name": "S"})),
    )
    .await;
    assert!(org.status.is_success(), "{}", org.body);
    let invite = |email: &str| {
        call(
            &http,
            &run,
            Method::POST,
            "/api/v1/invite-links",
            &session,
            Some(json!({"email": email, "role": "viewer"})),
        )
    };
    let first = invite("carol@example.test").await;
    let url = first.body["results"]["inviteUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        url.starts_with("https://platform.example.test/base/invite/ldinv_"),
        "{url}"
    );
    assert_eq!(invite("dan@example.test").await.status, 429);

    // PASSWORD_RESETS_PER_HOUR and PASSWORD_RESETS_PER_ADDRESS_PER_HOUR: per email address,
    // then per client address.
    let reset = |email: &'static str, from: &'static str| {
        let (http, run) = (&http, &run);
        async move {
            let from = [("x-forwarded-for", from)];
            let body = json!({ "email": email });
            let r = call(
                http,
                run,
                Method::POST,
                "/api/v1/password-reset",
                &from,
                Some(body),
            );
            r.await.status
        }
    };
    assert_eq!(reset("ada@example.test", "203.0.113.7").await, 200);
    assert_eq!(reset("ada@example.test", "203.0.113.7").await, 429);
    assert_eq!(reset("eve@example.test", "203.0.113.7").await, 429);
    assert_eq!(reset("eve@example.test", "203.0.113.8").await, 200);

    // CONNECTIONS_MAX_PERSONAL_PER_USER: a second personal credential is refused.
    let credential = |name: &str| json!({"name": name, "credentials": {"type": "postgres", "user": "u", "password": "p"}});
    let creds = "/api/v1/user/warehouseCredentials";
    let one = call(
        &http,
        &run,
        Method::POST,
        creds,
        &session,
        Some(credential("one")),
    )
    .await;
    assert_eq!(one.status, 200, "{}", one.body);
    let two = call(
        &http,
        &run,
        Method::POST,
        creds,
        &session,
        Some(credential("two")),
    )
    .await;
    assert_eq!(two.status, 400, "{}", two.body);

    // BODY_LIMIT_BYTES: a body over 2 KiB answers 413.
    let big = json!({"email": "x".repeat(4096), "password": password});
    let r = call(&http, &run, Method::POST, "/api/v1/login", &[], Some(big)).await;
    assert_eq!(r.status, 413);

    // LOGIN_FAILURES_PER_ACCOUNT, LOGIN_FAILURES_PER_ADDRESS and TRUST_FORWARDED_FOR: the
    // limits count per (account, forwarded client address) pair and per address.
    let login = |email: &'static str, pass: &'static str, from: &'static str| {
        let (http, run) = (&http, &run);
        async move {
            let from = [("x-forwarded-for", from)];
            let body = json!({"email": email, "password": pass});
            call(http, run, Method::POST, "/api/v1/login", &from, Some(body)).await
        }
    };
    let (here, there) = ("203.0.113.1", "203.0.113.2");
    // Two free failures; the third sets a wait for (ada, here) alone.
    for _ in 0..3 {
        assert_eq!(
            login("ada@example.test", "wrong password!", here)
                .await
                .status,
            401
        );
    }
    assert_eq!(login("ada@example.test", password, here).await.status, 429);
    assert_eq!(login("ada@example.test", password, there).await.status, 200);
    // The address's fourth judged attempt in its window, then none.
    let ghost = |n| {
        if n == 1 {
            "ghost1@example.test"
        } else {
            "ghost2@example.test"
        }
    };
    assert_eq!(login(ghost(1), "wrong password!", here).await.status, 401);
    assert_eq!(login(ghost(2), "wrong password!", here).await.status, 429);
    assert_eq!(login("bob@example.test", password, here).await.status, 429);
    assert_eq!(login("bob@example.test", password, there).await.status, 200);

    // PASSWORD_HASH_CONCURRENCY and PROJECTS_SPACES_CACHE_ROWS change no answer; the services
    // that apply them say what they applied.
    assert_eq!(run.log_line("password hashing").unwrap()["threads"], 3);
    assert_eq!(run.log_line("spaces cache").unwrap()["rows"], 7);
}
