//! The fuzz target `identity_inputs` (`fuzz/`, issue #18 item 8; checklist SC-3): identity's
//! parsers of untrusted text (emails, names, search patterns, allowed networks, callers'
//! addresses) fed any bytes. The property tests (`proptests.rs`) run the same checks on
//! generated text. Each check panics when its parser breaks its contract.

use std::net::IpAddr;

use super::{
    accounts::canonical_cidr, ip_access::client_ip, organizations::like_pattern, validate,
};

/// Every check, on `data` as text.
pub fn inputs(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    email(&text);
    name(&text);
    search(&text);
    cidr(&text);
    client(&text);
}

/// An accepted email is canonical (trimmed, lower-case, at most 254 bytes, one `@`, a dot):
/// validating it again gives it back.
pub fn email(v: &str) {
    if let Ok(e) = validate::email(v) {
        assert_eq!(e, v.trim().to_lowercase());
        assert!(e.len() <= validate::MAX_EMAIL_LEN && e.contains('@') && e.contains('.'));
        assert_eq!(validate::email(&e).ok(), Some(e.clone()));
    }
}

/// Names are trimmed, bounded and free of control characters; refusals name the field.
pub fn name(v: &str) {
    match validate::name("firstName", v) {
        Ok(n) => {
            assert_eq!(n.as_str(), v.trim());
            assert!(!n.is_empty() && n.chars().count() <= validate::MAX_NAME_CHARS);
            assert!(!n.chars().any(char::is_control));
        }
        Err(e) => assert!(e.to_string().contains("firstName"), "{e}"),
    }
}

/// A search is a substring pattern: every `%`, `_` and `\` it holds is escaped, so the pattern
/// is `%<literal>%`, and unescaping gives the lower-cased search back.
pub fn search(v: &str) {
    match like_pattern("filter", Some(v)) {
        Ok(None) => assert!(v.trim().is_empty()),
        Ok(Some(p)) => {
            let inner = p.strip_prefix('%').and_then(|p| p.strip_suffix('%'));
            let mut chars = inner.unwrap_or_else(|| panic!("{p}")).chars();
            let mut literal = String::new();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => literal.push(chars.next().expect("an escaped character")),
                    '%' | '_' => panic!("unescaped wildcard in {p:?}"),
                    c => literal.push(c),
                }
            }
            assert_eq!(literal, v.trim().to_lowercase());
        }
        Err(_) => assert!(v.trim().len() > 255 || v.trim().chars().any(char::is_control)),
    }
}

/// A network is stored canonical: parsing what is stored gives it back.
pub fn cidr(text: &str) {
    if let Ok(net) = canonical_cidr(text) {
        assert_eq!(canonical_cidr(&net.to_string()).ok(), Some(net));
        assert_eq!(net.trunc(), net);
    }
}

/// A caller's address is an address, in its canonical form, or none.
pub fn client(junk: &str) {
    if let Some(c) = client_ip(Some(junk)) {
        assert_eq!(
            Some(c),
            junk.trim().parse::<IpAddr>().ok().map(|i| i.to_canonical())
        );
    }
}
