//! Server text made safe to store and show: error messages come from a remote server and are
//! untrusted (OWASP API10).

/// Longest message, in characters, that an [`Outcome`](super::Outcome) carries.
pub const MAX_MESSAGE_CHARS: usize = 300;

/// Makes untrusted server text safe to store and show: the password scrubbed, control and
/// bidirectional-formatting characters removed, at most [`MAX_MESSAGE_CHARS`] characters.
pub(super) fn sanitize(text: &str, password: Option<&str>) -> String {
    const REDACTED: &str = "[redacted]";
    let scrub = |s: &str| match password {
        Some(p) if !p.is_empty() => s.replace(p, REDACTED),
        _ => s.to_owned(),
    };
    let invisible = |c: char| {
        c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
    };
    // Scrubbed before and after removing characters, which could otherwise split a password.
    let cleaned: String = scrub(text).chars().filter(|&c| !invisible(c)).collect();
    let cleaned = scrub(&cleaned);
    if cleaned.chars().count() <= MAX_MESSAGE_CHARS {
        return cleaned;
    }
    let mut capped: String = cleaned.chars().take(MAX_MESSAGE_CHARS - 1).collect();
    capped.push('…');
    capped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_strips_caps_and_scrubs() {
        let canary = "canary-Pw-7f3e9b";
        let text =
            format!("bad\u{0}\u{1b}[31m thing\r\n\u{202e}evil {canary} and c\u{7}anary-Pw-7f3e9b");
        let clean = sanitize(&text, Some(canary));
        assert!(!clean.contains(canary), "{clean}");
        assert!(!clean.contains("canary"), "{clean}");
        assert!(
            !clean.chars().any(|c| c.is_control() || c == '\u{202e}'),
            "{clean:?}"
        );
        assert_eq!(clean, "bad[31m thingevil [redacted] and [redacted]");

        let long = "é".repeat(1000);
        let capped = sanitize(&long, None);
        assert_eq!(capped.chars().count(), MAX_MESSAGE_CHARS);
        assert!(capped.ends_with('…'));
        assert_eq!(sanitize("short", Some("")), "short");
    }
}
