//! Prepares a running platform for the benchmark: a user, a session, a personal access token,
//! and (per scenario) an access JWT.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Base URL of the gateway, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    gateway: String,
    /// Password of the new user.
    #[arg(long, default_value = "loadgen-benchmark-password")]
    password: String,
    /// Also create an organization of this name, the new user its admin; prints `ORG=<uuid>`.
    #[arg(long)]
    org: Option<String>,
}

pub(crate) fn client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .cookie_store(true)
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()?)
}

pub(crate) fn base(url: &str) -> anyhow::Result<String> {
    let u = reqwest::Url::parse(url)?;
    crate::ensure_loopback(u.host_str().unwrap_or_default())?;
    Ok(u.origin().ascii_serialization())
}

/// Sends a request and returns the `results` of an `{"status":"ok"}` answer.
pub(crate) async fn results(req: reqwest::RequestBuilder, what: &str) -> anyhow::Result<Value> {
    let res = req.send().await?;
    let status = res.status();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    anyhow::ensure!(
        status.is_success() && body["status"] == "ok",
        "{what} failed: {status} {body}"
    );
    Ok(body["results"].clone())
}

/// Exchanges a personal access token for an access JWT (`POST /api/v1/auth/token`).
pub(crate) async fn access_token(gateway: &str, pat: &str) -> anyhow::Result<String> {
    let gateway = base(gateway)?;
    let r = results(
        client()?
            .post(format!("{gateway}/api/v1/auth/token"))
            .header("Authorization", format!("ApiKey {pat}")),
        "POST /api/v1/auth/token",
    )
    .await?;
    anyhow::ensure!(r["tokenType"] == "Bearer", "unexpected token type: {r}");
    r["accessToken"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("no accessToken in {r}"))
}

pub(crate) async fn main(args: Args) -> anyhow::Result<()> {
    let gateway = base(&args.gateway)?;
    let http = client()?;
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos();
    let email = format!("loadgen-{nanos}@example.com");
    results(
        http.post(format!("{gateway}/api/v1/user")).json(&json!({
            "email": email,
            "password": args.password,
            "firstName": "Load",
            "lastName": "Generator",
        })),
        "POST /api/v1/user (register)",
    )
    .await?;
    // Registration logged us in: the session cookie is in the client's cookie store.
    let org = match &args.org {
        Some(name) => {
            results(
                http.put(format!("{gateway}/api/v1/org"))
                    .json(&json!({ "name": name })),
                "PUT /api/v1/org",
            )
            .await?;
            let org = results(http.get(format!("{gateway}/api/v1/org")), "GET /api/v1/org").await?;
            let uuid = org["organizationUuid"]
                .as_str()
                .ok_or_else(|| anyhow::anyhow!("no organizationUuid in {org}"))?;
            Some(uuid.to_owned())
        }
        None => None,
    };
    let pat = results(
        http.post(format!("{gateway}/api/v1/user/me/personal-access-tokens"))
            .json(&json!({ "description": "loadgen benchmark" })),
        "POST /api/v1/user/me/personal-access-tokens",
    )
    .await?;
    let pat = pat["token"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("no token in {pat}"))?;
    // Check both credentials work before any scenario relies on them.
    let jwt = access_token(&gateway, pat).await?;
    results(
        http.get(format!("{gateway}/api/v1/user"))
            .header("Authorization", format!("Bearer {jwt}")),
        "GET /api/v1/user with the access JWT",
    )
    .await?;
    println!("EMAIL={email}");
    println!("PASSWORD={}", args.password);
    println!("PAT={pat}");
    if let Some(org) = org {
        println!("ORG={org}");
    }
    Ok(())
}
