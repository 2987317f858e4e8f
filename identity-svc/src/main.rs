//! identity-svc as its own process (Kubernetes). Run: `cargo run -p identity-svc -- --help`;
//! `identity-svc migrate`: applies the schema's migrations and exits (`service_kit::migrate`).
//! `identity-svc owner-token --help`: operator tokens (`identity_svc::operator`);
//! `identity-svc rotate-signing-key`, `identity-svc rewrap-signing-keys`: the signing keys
//! (`identity_svc::signing_keys`); `identity-svc create-admin`: the first user and
//! organization (`identity_svc::admin`).

use clap::Parser;

// mimalloc rather than the system allocator: see platform/src/main.rs.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // `migrate` is parsed on its own: it needs the database settings only (in Kubernetes the
    // migration role's URL), not the service's required ones.
    if std::env::args_os().nth(1).is_some_and(|a| a == "migrate") {
        return service_kit::migrate::main(&identity_svc::SCHEMA, std::env::args_os().skip(1))
            .await;
    }
    // `owner-token` is parsed on its own: it needs the database settings, not the service's
    // required ones (SERVICE_CREDENTIAL, SERVICE_CREDENTIALS).
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == "owner-token")
    {
        let args = std::env::args_os().skip(1);
        let cli = identity_svc::operator::OwnerTokenCli::parse_from(args);
        service_kit::telemetry::init_with_writer(&cli.log.rust_log, std::io::stderr);
        let db = cli.db.database();
        return identity_svc::operator::cli(&db, cli.command, &mut std::io::stdout()).await;
    }
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == "rotate-signing-key" || a == "rewrap-signing-keys")
    {
        let cli = identity_svc::signing_keys::SigningKeysCli::parse();
        service_kit::telemetry::init_with_writer(&cli.log.rust_log, std::io::stderr);
        let (db, keyring) = (cli.db.database(), cli.keyring()?);
        return identity_svc::signing_keys::cli(&db, &keyring, cli.command, &mut std::io::stdout())
            .await;
    }
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == "create-admin")
    {
        let cli = identity_svc::admin::CreateAdminCli::parse_from(std::env::args_os().skip(1));
        service_kit::telemetry::init_with_writer(&cli.log.rust_log, std::io::stderr);
        let password = identity_svc::admin::read_password(&cli.args)?;
        let db = cli.db.database();
        return identity_svc::admin::cli(&db, &cli.args, password, &mut std::io::stdout()).await;
    }
    let cli = identity_svc::Cli::parse();
    let telemetry = service_kit::telemetry::init_traced(&cli.log.rust_log, &["identity-svc"])?;
    let shutdown = tokio_util::sync::CancellationToken::new();
    service_kit::shutdown::cancel_on_signal(shutdown.clone());
    let result = match identity_svc::Application::build(cli.config, shutdown).await {
        Ok(app) => app.run().await,
        Err(e) => Err(e),
    };
    telemetry.shutdown().await;
    result
}
