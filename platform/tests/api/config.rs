//! Configuration as an operator meets it: the README's tables against every binary's
//! configuration types, `--help`, and values the binaries refuse at start-up.
//!
//! The effect of each setting on the running all-in-one is in `settings.rs`.

use std::collections::BTreeMap;

use clap::CommandFactory;

/// A documented variable: its default as the README writes it (`None`: no literal default).
type Table = BTreeMap<String, Option<String>>;

/// The variables of one of the README's configuration tables: the one that follows `heading`.
fn readme_table(heading: &str) -> Table {
    let readme = include_str!("../../../README.md");
    let at = readme
        .find(heading)
        .unwrap_or_else(|| panic!("README has no heading {heading:?}"));
    let mut rows = Table::new();
    let mut started = false;
    for line in readme[at..].lines().skip(1) {
        if !line.starts_with('|') {
            if started {
                break;
            }
            continue;
        }
        started = true;
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let (name, default) = (cells[1], cells[2]);
        let Some(name) = name.strip_prefix('`').and_then(|n| n.strip_suffix('`')) else {
            continue; // the header and its rule
        };
        let default = default
            .strip_prefix('`')
            .and_then(|d| d.strip_suffix('`'))
            .map(str::to_owned)
            .or_else(|| (default == "empty").then(String::new));
        assert!(
            rows.insert(name.to_owned(), default).is_none(),
            "README lists {name} twice"
        );
    }
    assert!(!rows.is_empty(), "no rows under {heading:?}");
    rows
}

/// Every binary's command line, as its `main` parses it.
fn binaries() -> Vec<clap::Command> {
    vec![
        platform::Cli::command(),
        gateway::Cli::command(),
        identity_svc::Cli::command(),
        connections_svc::Cli::command(),
        projects_svc::Cli::command(),
    ]
}

/// The variables one binary reads, with their defaults.
fn variables(command: &clap::Command) -> Table {
    command
        .get_arguments()
        .filter_map(|a| {
            let env = a.get_env()?.to_str().unwrap().to_owned();
            let default = a
                .get_default_values()
                .first()
                .map(|d| d.to_str().unwrap().to_owned());
            Some((env, default))
        })
        .collect()
}

const ALL_IN_ONE: &str = "### The all-in-one";
const APART: &str = "### The separate binaries";

/// The README's tables and the configuration types say the same: the all-in-one's table is
/// exactly what `platform` reads, the other table exactly what only the separate binaries read,
/// and every default is the same in both.
#[test]
fn the_readme_documents_every_variable_with_its_default() {
    let all_in_one = readme_table(ALL_IN_ONE);
    let apart = readme_table(APART);
    let platform = variables(&platform::Cli::command());
    assert_eq!(
        platform.keys().collect::<Vec<_>>(),
        all_in_one.keys().collect::<Vec<_>>(),
        "README's all-in-one table and platform's configuration disagree"
    );
    for (name, default) in &platform {
        assert_eq!(
            &all_in_one[name], default,
            "default of {name}: README against platform"
        );
    }
    let mut only_apart = Table::new();
    for command in binaries().iter().skip(1) {
        for (name, default) in variables(command) {
            let documented = all_in_one.get(&name).or_else(|| apart.get(&name));
            let documented =
                documented.unwrap_or_else(|| panic!("{command} reads {name}: not in README"));
            // A default the README gives must be the binary's; a variable the all-in-one makes
            // optional may be required apart.
            if default.is_some() || !all_in_one.contains_key(&name) {
                assert_eq!(documented, &default, "default of {name} in {command}");
            }
            if !all_in_one.contains_key(&name) {
                only_apart.insert(name, default);
            }
        }
    }
    assert_eq!(
        only_apart.keys().collect::<Vec<_>>(),
        apart.keys().collect::<Vec<_>>(),
        "README's table of the separate binaries lists a variable none of them reads only"
    );
}

/// Each setting's flag is its variable in lower case, and its value is named by the variable,
/// so an error names it: `invalid value '5' for '--x <X>'`.
#[test]
fn every_setting_is_a_variable_named_in_its_errors() {
    for command in binaries() {
        for arg in command.get_arguments() {
            let id = arg.get_id().as_str();
            if matches!(id, "help" | "version") {
                continue;
            }
            let env = arg
                .get_env()
                .unwrap_or_else(|| panic!("{command}: --{id} has no environment variable"))
                .to_str()
                .unwrap();
            let flag = env.to_lowercase().replace('_', "-");
            assert_eq!(arg.get_long(), Some(flag.as_str()), "{command}: {env}");
            let names: Vec<_> = arg.get_value_names().unwrap_or_default().to_vec();
            assert_eq!(names, [env], "{command}: the value name of {env}");
        }
    }
}

/// `--help` of every binary lists each variable it reads with its default, and never shows a
/// secret's value from the environment.
#[test]
fn help_lists_every_variable_with_its_default() {
    for mut command in binaries() {
        let name = command.get_name().to_owned();
        let help = command.render_long_help().to_string();
        for (var, default) in variables(&command) {
            let at = help
                .find(&format!("[env: {var}"))
                .unwrap_or_else(|| panic!("{name} --help does not list {var}"));
            // What help says of this argument: up to the next argument's name.
            let line: String = help[at..]
                .lines()
                .take_while(|l| !l.trim_start().starts_with('-'))
                .collect();
            match default {
                Some(d) if d.is_empty() || d.contains(' ') => {
                    assert!(
                        line.contains(&format!("[default: \"{d}\"]")),
                        "{name}: {line}"
                    )
                }
                Some(d) => assert!(line.contains(&format!("[default: {d}]")), "{name}: {line}"),
                None => assert!(!line.contains("[default:"), "{name}: {line}"),
            }
        }
    }
    let canary = "help-canary-0123456789abcdefghijklmnopqrstuvwxyz";
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_platform"))
        .arg("--help")
        .env_clear()
        .env("OPERATOR_CREDENTIAL", canary)
        .env("DATABASE_URL", format!("postgres://u:{canary}@db/x"))
        .env("MAIL_URL", format!("smtp://u:{canary}@mail"))
        .env("CONNECTIONS_KEYS", canary)
        .env("CONNECTIONS_OAUTH_PROVIDERS", canary)
        .output()
        .unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success() && help.contains("[env: MAIL_URL]"),
        "{help}"
    );
    assert!(!help.contains(canary), "--help showed a secret");
}

/// Runs `platform` with `vars` (and nothing else) in the environment until it exits or 60 s
/// pass; its exit status and standard error.
fn run_platform(vars: &[(&str, &str)]) -> (Option<i32>, String) {
    let dir = std::env::temp_dir().join(format!("platform-config-{}", uuid::Uuid::new_v4()));
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_platform"))
        .env_clear()
        .env("DATA_DIR", &dir)
        .env("PLATFORM_LISTEN_ADDR", "127.0.0.1:0")
        .env("METRICS_LISTEN_ADDR", "127.0.0.1:0")
        .envs(vars.iter().copied())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    let _ = std::fs::remove_dir_all(dir);
    (status, stderr)
}

/// A value that cannot be parsed or is out of range stops start-up, with a message that names
/// the variable (and never repeats a secret's value).
#[test]
fn a_bad_value_stops_start_up_naming_the_variable() {
    let secret = "canary-secret-value";
    let cases: &[(&str, &str)] = &[
        ("PLATFORM_LISTEN_ADDR", "nowhere"),
        ("METRICS_LISTEN_ADDR", "nowhere"),
        ("ACCESS_TOKEN_TTL_SECONDS", "5"),
        ("ACCESS_TOKEN_TTL_SECONDS", "fifteen"),
        ("SESSION_TTL_SECONDS", "-1"),
        ("LOGIN_FAILURES_PER_ACCOUNT", "0"),
        ("LOGIN_FAILURES_PER_ADDRESS", "many"),
        ("PASSWORD_HASH_CONCURRENCY", "0"),
        ("JWKS_CACHE_SECONDS", "0"),
        ("PUBLIC_URL", "platform.example.com"),
        ("TRUST_FORWARDED_FOR", "yes please"),
        ("CONSUME_EVENTS", "maybe"),
        ("PROJECTS_SPACES_CACHE_ROWS", "-5"),
        ("CONNECTIONS_MAX_PER_ORGANIZATION", "0"),
        ("BODY_LIMIT_BYTES", "10"),
        ("HEADER_READ_TIMEOUT_SECS", "0"),
        ("BODY_READ_TIMEOUT_SECS", "301"),
        ("KEEP_ALIVE_IDLE_SECS", "soon"),
        ("MAX_CONNECTIONS", "0"),
        ("RUST_LOG", "info,[[["),
        ("MAIL_FROM", "not a mailbox"),
        ("MAIL_URL", secret),
        ("OPERATOR_CREDENTIAL", secret),
        ("CONNECTIONS_KEYS", secret),
        ("CONNECTIONS_OAUTH_PROVIDERS", secret),
        ("IDENTITY_KEYS", secret),
        ("IDENTITY_KEY_MIN_DECRYPT_VERSION", "0"),
    ];
    for (var, value) in cases {
        let (status, stderr) = run_platform(&[(var, value)]);
        assert!(
            matches!(status, Some(code) if code != 0),
            "{var}={value} did not stop start-up ({status:?}): {stderr}"
        );
        assert!(stderr.contains(var), "{var}={value}: {stderr}");
        assert!(
            !stderr.contains(secret),
            "{var}: the error repeated the value"
        );
    }
}

/// A metrics address another process holds stops start-up, naming the variable: an operator
/// who asked for metrics gets them or an error, never a silent process without them.
#[test]
fn a_taken_metrics_address_stops_start_up() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (status, stderr) = run_platform(&[("METRICS_LISTEN_ADDR", &addr)]);
    assert!(matches!(status, Some(code) if code != 0), "{stderr}");
    assert!(stderr.contains("METRICS_LISTEN_ADDR"), "{stderr}");
}
