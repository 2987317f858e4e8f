//! An account's allowed IPs on every call (docs/accounts.md, "Allowed IPs"): a member of an
//! account whose `require_ip_api_access` is on calls only from an address inside one of its
//! allowed networks. The address is the call's `x-client-address`, which the gateway sets; one
//! that is missing or does not parse is outside every network.

use std::net::IpAddr;

use ipnet::IpNet;
use uuid::Uuid;

use super::Identity;
use crate::error::{Error, Result};

/// The answer to a call from an address the caller's account does not allow.
pub(crate) fn address_refused() -> Error {
    Error::PermissionDenied("Your address is not allowed for this account".into())
}

/// A caller's address, if it parses; an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, as a
/// dual-stack listener reports an IPv4 peer) as its IPv4 address, since networks are stored so
/// (`accounts::canonical_cidr`).
pub(crate) fn client_ip(value: Option<&str>) -> Option<IpAddr> {
    value
        .and_then(|v| v.trim().parse::<IpAddr>().ok())
        .map(|ip| ip.to_canonical())
}

/// Whether one of the stored networks `cidrs` contains `client`.
pub(crate) fn covered<'a>(client: IpAddr, cidrs: impl IntoIterator<Item = &'a str>) -> bool {
    cidrs
        .into_iter()
        .filter_map(|c| c.parse::<IpNet>().ok())
        .any(|net| net.contains(&client))
}

/// Whether deleting the allowed network `deleted`, leaving `rest`, takes away the last one
/// covering a caller at `client` (None: unknown, which no network is known not to cover).
pub(crate) fn uncovers(client: Option<IpAddr>, deleted: &str, rest: &[String]) -> bool {
    match client {
        None => true,
        Some(ip) => covered(ip, [deleted]) && !covered(ip, rest.iter().map(String::as_str)),
    }
}

impl Identity {
    /// Refuses `user`'s call from `client` unless it is inside one of the allowed networks of
    /// `account`, whose `require_ip_api_access` is on (the caller read it in the same statement
    /// as the credential; the networks are read only then, and on every call: a change holds on
    /// the next request, in every replica).
    pub(crate) async fn ensure_address_allowed(
        &self,
        user: Uuid,
        account: Uuid,
        client: Option<&str>,
    ) -> Result<()> {
        if let Some(ip) = client_ip(client) {
            let allowed = self.store.allowed_ips(account).await?;
            if covered(ip, allowed.iter().map(|a| a.cidr.as_str())) {
                return Ok(());
            }
        }
        tracing::info!(user_uuid = %user, organization_uuid = %account, client_address = ?client, "call refused: address not in the account's allowed IPs");
        Err(address_refused())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(v: &str) -> IpAddr {
        client_ip(Some(v)).expect("an address")
    }

    #[test]
    fn addresses_match_networks_of_their_family() {
        let nets = ["203.0.113.0/24", "198.51.100.7/32", "2001:db8::/32"];
        for inside in [
            "203.0.113.0",
            "203.0.113.255",
            "198.51.100.7",
            "2001:db8::1",
            "2001:db8:ffff::",
        ] {
            assert!(covered(ip(inside), nets), "{inside}");
        }
        for outside in [
            "203.0.114.0",
            "198.51.100.8",
            "2001:db9::1",
            "::1",
            "10.0.0.1",
        ] {
            assert!(!covered(ip(outside), nets), "{outside}");
        }
        assert!(
            !covered(ip("203.0.113.1"), []),
            "an empty list allows nobody"
        );
        assert!(covered(ip("192.0.2.1"), ["0.0.0.0/0"]));
        assert!(
            !covered(ip("2001:db8::1"), ["0.0.0.0/0"]),
            "IPv6 is no IPv4"
        );
        assert!(covered(ip("2001:db8::1"), ["::/0"]));
    }

    #[test]
    fn an_ipv4_mapped_peer_is_its_ipv4_address() {
        // How a dual-stack listener reports an IPv4 client.
        let mapped = ip("::ffff:203.0.113.9");
        assert_eq!(mapped, ip("203.0.113.9"));
        assert!(covered(mapped, ["203.0.113.0/24"]));
        assert!(
            !covered(mapped, ["::ffff:0:0/96"]),
            "stored networks are never mapped"
        );
        assert!(
            !covered(ip("::203.0.113.9"), ["203.0.113.0/24"]),
            "IPv4-compatible is not mapped"
        );
    }

    #[test]
    fn missing_or_malformed_addresses_parse_to_nothing() {
        for bad in [
            None,
            Some(""),
            Some("not an address"),
            Some("203.0.113.9:443"),
            Some("203.0.113.0/24"),
        ] {
            assert_eq!(client_ip(bad), None, "{bad:?}");
        }
        assert_eq!(client_ip(Some(" 203.0.113.9 ")), Some(ip("203.0.113.9")));
    }

    #[test]
    fn a_deletion_uncovers_only_the_last_network_covering_the_caller() {
        let rest = vec!["10.0.0.0/8".to_owned()];
        let caller = Some(ip("198.51.100.7"));
        assert!(uncovers(caller, "198.51.100.0/24", &rest));
        assert!(
            !uncovers(caller, "203.0.113.0/24", &rest),
            "not the caller's"
        );
        let both = vec!["198.51.100.7/32".to_owned()];
        assert!(
            !uncovers(caller, "198.51.100.0/24", &both),
            "another covers them"
        );
        assert!(uncovers(None, "203.0.113.0/24", &rest), "an unknown caller");
        assert!(uncovers(
            Some(ip("::ffff:198.51.100.7")),
            "198.51.100.0/24",
            &[]
        ));
    }
}
