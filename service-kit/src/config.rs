//! Helpers shared by every binary's typed configuration (clap with `#[arg(long, env)]`).

use secrecy::SecretString;

/// Parses a secret from the command line or the environment without ever echoing it back.
pub fn parse_secret(value: &str) -> Result<SecretString, String> {
    Ok(SecretString::from(value.to_owned()))
}

/// How many CPUs this process may use (at least 1).
pub fn available_cpus() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}
