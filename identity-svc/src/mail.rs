//! Outgoing email: one-time passcodes, account invitations, password reset links. Two
//! transports behind one trait: SMTP (lettre, with STARTTLS or implicit TLS as the URL says)
//! for deployments, and a file outbox (one `.eml` file per message) for the embedded default,
//! where there is no mail server. The file outbox is a mailbox stand-in: it holds the
//! messages' text, passcodes and links included, so it lives in the data directory and never
//! in a log.

use std::{fmt, path::PathBuf, time::Duration};

use lettre::{
    AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, header::ContentType},
};
use secrecy::{ExposeSecret, SecretString};

/// One plain-text message to one recipient.
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

impl fmt::Debug for Mail {
    // The body may hold a passcode: never in Debug output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mail")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// Why a message was not sent. The text never carries the message or a credential.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The recipient or sender is not a valid address.
    #[error("invalid address: {0}")]
    Address(String),
    /// The transport failed.
    #[error("sending failed: {0}")]
    Transport(String),
}

/// Something that sends mail.
#[async_trait::async_trait]
pub trait Mailer: Send + Sync + fmt::Debug {
    /// Sends one message; done when the transport accepted it.
    async fn send(&self, mail: Mail) -> Result<(), MailError>;
}

/// The transport a `MAIL_URL` names.
///
/// - `smtp://[user:password@]host[:port][?tls=required|opportunistic]`: SMTP, STARTTLS as
///   `tls` says (none when absent, for a relay on loopback only);
/// - `smtps://[user:password@]host[:port]`: SMTP over implicit TLS;
/// - `file:<directory>`: the file outbox.
///
/// Call it inside a Tokio runtime: the SMTP connection pool starts a task.
pub fn from_url(
    url: &SecretString,
    from: &str,
    timeout: Duration,
) -> anyhow::Result<Box<dyn Mailer>> {
    let from: Mailbox = from
        .parse()
        .map_err(|e| anyhow::anyhow!("MAIL_FROM {from:?} is not a mailbox: {e}"))?;
    let raw = url.expose_secret();
    if let Some(dir) = raw.strip_prefix("file:") {
        let dir = PathBuf::from(dir.strip_prefix("//").unwrap_or(dir));
        std::fs::create_dir_all(&dir)
            .map_err(|e| anyhow::anyhow!("cannot create the mail outbox {}: {e}", dir.display()))?;
        return Ok(Box::new(FileMailer { dir, from }));
    }
    if !(raw.starts_with("smtp://") || raw.starts_with("smtps://")) {
        // The URL may carry a password: name the schemes, not the value.
        anyhow::bail!("MAIL_URL must start with smtp://, smtps:// or file:");
    }
    if let Some(rest) = raw.strip_prefix("smtp://") {
        let authority = rest.split(['/', '?']).next().unwrap_or_default();
        if let Some((_, host)) = authority.rsplit_once('@') {
            let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
            let loopback = matches!(host, "localhost" | "127.0.0.1" | "[::1]");
            if !loopback && !raw.contains("tls=required") {
                // The password would cross the network in the clear.
                anyhow::bail!(
                    "MAIL_URL carries credentials: use smtps:// or smtp://…?tls=required (or a relay on loopback)"
                );
            }
        }
    }
    let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(raw)
        .map_err(|_| anyhow::anyhow!("MAIL_URL is not a valid SMTP URL"))?
        .timeout(Some(timeout))
        .build();
    let host = raw
        .split_once("://")
        .map(|(_, rest)| rest.rsplit_once('@').map_or(rest, |(_, h)| h))
        .unwrap_or_default()
        .split(['/', '?'])
        .next()
        .unwrap_or_default()
        .to_owned();
    Ok(Box::new(SmtpMailer {
        transport,
        from,
        host,
    }))
}

fn message(from: &Mailbox, mail: Mail) -> Result<Message, MailError> {
    let to: Mailbox = mail
        .to
        .parse()
        .map_err(|e: lettre::address::AddressError| MailError::Address(e.to_string()))?;
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(mail.subject)
        .header(ContentType::TEXT_PLAIN)
        .body(mail.body)
        .map_err(|e| MailError::Address(e.to_string()))
}

/// Sends through an SMTP server.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// host:port only (no credentials), for Debug and logs.
    host: String,
}

impl fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("host", &self.host)
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, mail: Mail) -> Result<(), MailError> {
        let msg = message(&self.from, mail)?;
        self.transport
            .send(msg)
            .await
            .map(|_| ())
            .map_err(|e| MailError::Transport(e.to_string()))
    }
}

/// Writes each message to `<dir>/<uuid>.eml`.
#[derive(Debug)]
pub struct FileMailer {
    dir: PathBuf,
    from: Mailbox,
}

#[async_trait::async_trait]
impl Mailer for FileMailer {
    async fn send(&self, mail: Mail) -> Result<(), MailError> {
        let msg = message(&self.from, mail)?;
        AsyncFileTransport::<Tokio1Executor>::new(&self.dir)
            .send(msg)
            .await
            .map(|_| ())
            .map_err(|e| MailError::Transport(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    // The SMTP connection pool starts a task: a runtime must be running.
    #[tokio::test]
    async fn urls_choose_the_transport_and_never_echo_a_password() {
        let t = Duration::from_secs(1);
        let m = from_url(
            &url("smtp://bob:canary-pw@mail.example.com:2525?tls=required"),
            "a@b.co",
            t,
        )
        .unwrap();
        let debug = format!("{m:?}");
        assert!(debug.contains("mail.example.com:2525"), "{debug}");
        assert!(!debug.contains("canary-pw"), "{debug}");
        let err = from_url(&url("ftp://bob:canary-pw@x"), "a@b.co", t).unwrap_err();
        assert!(!err.to_string().contains("canary-pw"));
        let err = from_url(
            &url("smtp://bob:canary-pw@mail.example.com:587"),
            "a@b.co",
            t,
        )
        .unwrap_err();
        assert!(err.to_string().contains("tls=required") && !err.to_string().contains("canary-pw"));
        assert!(
            from_url(&url("smtp://bob:pw@127.0.0.1:2525"), "a@b.co", t).is_ok(),
            "loopback relay"
        );
        assert!(from_url(&url("smtps://bob:pw@mail.example.com"), "a@b.co", t).is_ok());
        assert!(from_url(&url("smtp://x"), "not a mailbox", t).is_err());
        let dir = std::env::temp_dir().join(format!("mail-test-{}", uuid::Uuid::now_v7()));
        let m = from_url(&url(&format!("file:{}", dir.display())), "a@b.co", t).unwrap();
        assert!(format!("{m:?}").starts_with("FileMailer"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn the_file_outbox_keeps_each_message() {
        let dir = std::env::temp_dir().join(format!("mail-test-{}", uuid::Uuid::now_v7()));
        let m = from_url(
            &url(&format!("file:{}", dir.display())),
            "Platform <no-reply@example.com>",
            Duration::from_secs(1),
        )
        .unwrap();
        m.send(Mail {
            to: "ann@example.com".into(),
            subject: "Hello".into(),
            body: "Your code is 123456".into(),
        })
        .await
        .unwrap();
        let files: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(files.len(), 1);
        let text = std::fs::read_to_string(files[0].as_ref().unwrap().path()).unwrap();
        assert!(
            text.contains("To: ann@example.com") && text.contains("123456"),
            "{text}"
        );
        let bad = m
            .send(Mail {
                to: "not an address".into(),
                subject: "x".into(),
                body: "y".into(),
            })
            .await;
        assert!(matches!(bad, Err(MailError::Address(_))));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
