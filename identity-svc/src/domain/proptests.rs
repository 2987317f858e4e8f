//! Property tests of identity's parsers of untrusted input (issue #18 item 8), 10,000 cases
//! each: emails, names, search patterns, allowed networks (CIDRs) and callers' addresses.
//! The checks on any text are the fuzz target's (`fuzzing.rs`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use proptest::prelude::*;

use super::{
    accounts::canonical_cidr,
    fuzzing,
    ip_access::{client_ip, covered},
};

const CASES: u32 = 10_000;

/// Text near an email address: local parts, domains, odd characters, whitespace around.
fn email_like() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ ]{0,2}[A-Za-z0-9._%+-]{0,12}@[A-Za-z0-9-]{0,10}(\\.[A-Za-z]{0,4}){0,2}[ ]{0,2}",
        "\\PC{0,8}@\\PC{0,8}",
    ]
}

fn v4_net() -> impl Strategy<Value = (Ipv4Addr, u8)> {
    (any::<u32>(), 0u8..=32).prop_map(|(a, n)| (Ipv4Addr::from(a), n))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// An accepted email is canonical (trimmed, lower-case, at most 254 bytes, one `@`,
    /// a dot): validating it again gives it back.
    #[test]
    fn emails_are_canonical(v in email_like()) {
        fuzzing::email(&v);
    }

    /// Names are trimmed, bounded and free of control characters; refusals are
    /// INVALID_ARGUMENT naming the field.
    #[test]
    fn names_are_trimmed_and_bounded(v in any::<String>()) {
        fuzzing::name(&v);
    }

    /// A search is a substring pattern: every `%`, `_` and `\` it holds is escaped, so the
    /// pattern is `%<literal>%`, and unescaping gives the lower-cased search back.
    #[test]
    fn search_patterns_match_only_the_literal(v in any::<String>()) {
        fuzzing::search(&v);
    }

    /// A network is stored canonical: parsing what is stored gives it back; a bare address
    /// is a network of one; an IPv4-mapped IPv6 network is its IPv4 network.
    #[test]
    fn cidrs_are_canonical(
        text in prop_oneof![any::<String>(), "[0-9a-f:./]{0,24}"],
        (a, n) in v4_net(),
        v6 in any::<u128>(),
        n6 in 0u8..=128,
    ) {
        fuzzing::cidr(&text);
        let v4 = ipnet::Ipv4Net::new(a, n).unwrap().trunc();
        prop_assert_eq!(canonical_cidr(&v4.to_string()).ok(), Some(IpNet::V4(v4)));
        let mapped = format!("::ffff:{}/{}", v4.addr(), n + 96);
        prop_assert_eq!(canonical_cidr(&mapped).ok(), Some(IpNet::V4(v4)));
        let v6net = ipnet::Ipv6Net::new(Ipv6Addr::from(v6), n6).unwrap();
        prop_assert_eq!(canonical_cidr(&v6net.to_string()).is_ok(), v6net.trunc() == v6net);
        let host = IpAddr::V6(Ipv6Addr::from(v6));
        let bare = format!(" {host} ");
        let one = canonical_cidr(&bare);
        prop_assert!(one.is_ok_and(|net| net.contains(&host.to_canonical())), "{bare}");
    }

    /// A caller is inside a stored network exactly when the network contains their address,
    /// an IPv4-mapped address counting as its IPv4 address; an address that does not parse
    /// is inside none.
    #[test]
    fn callers_are_inside_exactly_their_networks(
        (a, n) in v4_net(),
        caller in any::<u32>(),
        junk in any::<String>(),
    ) {
        let net = canonical_cidr(&ipnet::Ipv4Net::new(a, n).unwrap().trunc().to_string()).unwrap();
        let stored = net.to_string();
        let ip = Ipv4Addr::from(caller);
        let inside = net.contains(&IpAddr::V4(ip));
        for spelled in [ip.to_string(), ip.to_ipv6_mapped().to_string(), format!(" {ip} ")] {
            let client = client_ip(Some(&spelled));
            prop_assert_eq!(client, Some(IpAddr::V4(ip)));
            prop_assert_eq!(covered(client.unwrap(), [stored.as_str()]), inside);
        }
        fuzzing::client(&junk);
    }
}
