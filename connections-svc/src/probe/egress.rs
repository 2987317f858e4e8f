//! Which hosts and addresses a connection test may reach.
//!
//! # Egress policy (checklist AP-8, server-side request forgery)
//!
//! The host and port come from a tenant, so a connection test is a request the platform sends on
//! a tenant's behalf to an address the tenant chose. Without a policy it would let a tenant reach
//! what only the platform can reach: the cloud's metadata service (credentials of the machine),
//! the cluster's own services, or anything on the loopback interface.
//! [`test_connection`](super::test_connection)
//! therefore refuses, without ever opening a socket to the target:
//!
//! 1. **By name**, before any lookup ([`check_host_name`]): names ending in `.svc`,
//!    `.cluster.local`, `.local` or `.internal` (Kubernetes services, mDNS, and cloud metadata
//!    such as `metadata.google.internal`), and `kubernetes.default` / `kubernetes.default.svc`,
//!    always; `localhost` and `*.localhost` unless loopback is allowed; single-label names
//!    (`postgres`, `kubernetes`) unless private addresses are allowed, since resolver search
//!    domains turn them into cluster-internal services.
//! 2. **By address** ([`check_address`]): the name is resolved here, within the timeout, and the
//!    test is refused if *any* resolved address is denied. Always denied: unspecified
//!    (`0.0.0.0/8`, `::`), link-local (`169.254.0.0/16`, `fe80::/10`, home of the
//!    `169.254.169.254` metadata service), other cloud metadata and platform addresses
//!    (`100.100.100.200`, `168.63.129.16`, `fd00:ec2::/32`, `fd20:ce::254`), multicast,
//!    broadcast and reserved space (`240.0.0.0/4`, `192.0.0.0/24`, documentation and
//!    benchmarking ranges, IPv6 outside `2000::/3`). Loopback (`127.0.0.0/8`, `::1`) is denied
//!    unless [`EgressPolicy::allow_loopback`]; private space (`10/8`, `172.16/12`,
//!    `192.168/16`, `100.64/10` shared address space, `fc00::/7`, `fec0::/10`,
//!    `64:ff9b:1::/48`) unless [`EgressPolicy::allow_private`]. An IPv4 address carried
//!    in IPv6 (mapped `::ffff:a.b.c.d`, compatible `::a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4
//!    `2002::/16`) is unwrapped and judged as IPv4.
//! 3. **No second lookup**: the driver is given the vetted IP address, never the name, so a
//!    DNS answer that changes between the check and the connection (DNS rebinding) cannot
//!    redirect it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::{Outcome, message::sanitize};

/// Which addresses a connection test may reach (AP-8).
///
/// The default denies both loopback and private addresses, as production must.
#[derive(Debug, Clone, Copy, Default)]
pub struct EgressPolicy {
    /// Allows `127.0.0.0/8`, `::1` and the name `localhost` (development and tests).
    pub allow_loopback: bool,
    /// Allows private and shared address space and single-label host names (self-hosted
    /// deployments whose customers' databases live on the same private network).
    pub allow_private: bool,
}

/// Vets `host` by name, resolves it (an IP literal resolves to itself) and vets every address.
pub(super) async fn resolve(
    policy: &EgressPolicy,
    host: &str,
    port: u16,
) -> Result<Vec<SocketAddr>, Outcome> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let addresses = if let Ok(ip) = bare.parse::<IpAddr>() {
        vec![SocketAddr::new(ip, port)]
    } else {
        check_host_name(policy, host).map_err(|reason| Outcome::Refused { reason })?;
        match tokio::net::lookup_host((host, port)).await {
            Ok(found) => found.collect(),
            Err(e) => {
                return Err(Outcome::Failed {
                    message: sanitize(&format!("could not resolve {host}: {e}"), None),
                });
            }
        }
    };
    for address in &addresses {
        check_address(policy, address.ip()).map_err(|reason| Outcome::Refused {
            reason: if bare.parse::<IpAddr>().is_ok() {
                reason
            } else {
                sanitize(
                    &format!("{host} resolves to a denied address: {reason}"),
                    None,
                )
            },
        })?;
    }
    Ok(addresses)
}

/// Refuses host names that point inside the platform (see the module docs); `Err` is the reason.
/// Does not judge IP literals: [`check_address`] does.
pub fn check_host_name(policy: &EgressPolicy, host: &str) -> Result<(), String> {
    let name = host.trim_end_matches('.').to_ascii_lowercase();
    if name.is_empty() || name.len() > 253 {
        return Err("the host name is empty or longer than 253 characters".into());
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        || name.split('.').any(str::is_empty)
    {
        return Err("the host name is not a valid DNS name".into());
    }
    const INTERNAL_SUFFIXES: [&str; 5] = [
        ".svc",
        ".svc.cluster.local",
        ".cluster.local",
        ".local",
        ".internal",
    ];
    const INTERNAL_NAMES: [&str; 2] = ["kubernetes.default", "kubernetes.default.svc"];
    if INTERNAL_NAMES.contains(&name.as_str())
        || INTERNAL_SUFFIXES.iter().any(|s| name.ends_with(s))
    {
        return Err(format!(
            "{name} is a cluster-internal or cloud-internal name"
        ));
    }
    if name == "localhost" || name.ends_with(".localhost") {
        return if policy.allow_loopback {
            Ok(())
        } else {
            Err(format!("{name} is a loopback name"))
        };
    }
    if !name.contains('.') && !policy.allow_private {
        return Err(format!(
            "{name} is a single-label name, which resolver search domains turn into an internal service"
        ));
    }
    Ok(())
}

/// Why an address is denied.
enum Denial {
    Always(&'static str),
    Loopback,
    Private(&'static str),
}

/// Whether `policy` lets a connection test reach `ip`; `Err` is the reason when not.
pub fn check_address(policy: &EgressPolicy, ip: IpAddr) -> Result<(), String> {
    let (judged, denial) = match ip {
        IpAddr::V4(v4) => (v4.into(), classify_v4(v4)),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => (IpAddr::V4(v4), classify_v4(v4)),
            None => (ip, classify_v6(v6)),
        },
    };
    let shown = if judged == ip {
        ip.to_string()
    } else {
        format!("{ip} (IPv4 {judged})")
    };
    match denial {
        None => Ok(()),
        Some(Denial::Loopback) if policy.allow_loopback => Ok(()),
        Some(Denial::Private(_)) if policy.allow_private => Ok(()),
        Some(Denial::Loopback) => Err(format!("{shown} is a loopback address")),
        Some(Denial::Private(what)) | Some(Denial::Always(what)) => {
            Err(format!("{shown} is {what}"))
        }
    }
}

/// The IPv4 address an IPv6 address carries, if it is a way of reaching IPv4: mapped
/// (`::ffff:0:0/96`), compatible (`::/96`, except `::` and `::1`), NAT64 (`64:ff9b::/96`) or
/// 6to4 (`2002::/16`).
fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    let low = |hi: u16, lo: u16| Ipv4Addr::from(((hi as u32) << 16) | lo as u32);
    match s {
        [0, 0, 0, 0, 0, 0xffff, hi, lo] => Some(low(hi, lo)),
        [0, 0, 0, 0, 0, 0, 0, 0 | 1] => None,
        [0, 0, 0, 0, 0, 0, hi, lo] => Some(low(hi, lo)),
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => Some(low(hi, lo)),
        [0x2002, hi, lo, ..] => Some(low(hi, lo)),
        _ => None,
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

fn in_v6(ip: Ipv6Addr, net: [u16; 8], prefix: u32) -> bool {
    let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
    u128::from(ip) & mask == u128::from(Ipv6Addr::from(net)) & mask
}

fn classify_v4(ip: Ipv4Addr) -> Option<Denial> {
    // Specific addresses first: some lie inside ranges that a policy may allow.
    const ALWAYS: &[([u8; 4], u32, &str)] = &[
        (
            [100, 100, 100, 200],
            32,
            "a cloud metadata address (Alibaba Cloud)",
        ),
        (
            [168, 63, 129, 16],
            32,
            "a cloud platform address (Azure WireServer)",
        ),
        ([0, 0, 0, 0], 8, "an unspecified (\"this network\") address"),
        (
            [169, 254, 0, 0],
            16,
            "a link-local address (cloud metadata services live there)",
        ),
        ([192, 0, 0, 0], 24, "reserved (IETF protocol assignments)"),
        ([192, 0, 2, 0], 24, "reserved (documentation)"),
        ([198, 51, 100, 0], 24, "reserved (documentation)"),
        ([203, 0, 113, 0], 24, "reserved (documentation)"),
        ([198, 18, 0, 0], 15, "reserved (benchmarking)"),
        ([224, 0, 0, 0], 4, "a multicast address"),
        ([255, 255, 255, 255], 32, "the broadcast address"),
        ([240, 0, 0, 0], 4, "reserved (240.0.0.0/4)"),
    ];
    const PRIVATE: &[([u8; 4], u32, &str)] = &[
        ([10, 0, 0, 0], 8, "a private address (10.0.0.0/8)"),
        ([172, 16, 0, 0], 12, "a private address (172.16.0.0/12)"),
        ([192, 168, 0, 0], 16, "a private address (192.168.0.0/16)"),
        (
            [100, 64, 0, 0],
            10,
            "a shared (carrier-grade NAT) address (100.64.0.0/10)",
        ),
    ];
    if let Some(&(_, _, what)) = ALWAYS.iter().find(|(net, p, _)| in_v4(ip, *net, *p)) {
        return Some(Denial::Always(what));
    }
    if in_v4(ip, [127, 0, 0, 0], 8) {
        return Some(Denial::Loopback);
    }
    PRIVATE
        .iter()
        .find(|(net, p, _)| in_v4(ip, *net, *p))
        .map(|&(_, _, what)| Denial::Private(what))
}

fn classify_v6(ip: Ipv6Addr) -> Option<Denial> {
    const ALWAYS: &[([u16; 8], u32, &str)] = &[
        ([0, 0, 0, 0, 0, 0, 0, 0], 128, "the unspecified address"),
        (
            [0xfd00, 0xec2, 0, 0, 0, 0, 0, 0],
            32,
            "a cloud metadata address (AWS, fd00:ec2::/32)",
        ),
        (
            [0xfd20, 0xce, 0, 0, 0, 0, 0, 0x254],
            128,
            "a cloud metadata address (Google Cloud)",
        ),
        ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, "a link-local address"),
        ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, "a multicast address"),
        (
            [0x2001, 0xdb8, 0, 0, 0, 0, 0, 0],
            32,
            "reserved (documentation)",
        ),
        (
            [0x3fff, 0, 0, 0, 0, 0, 0, 0],
            20,
            "reserved (documentation)",
        ),
        (
            [0x2001, 0, 0, 0, 0, 0, 0, 0],
            23,
            "reserved (IETF protocol assignments, Teredo)",
        ),
    ];
    const PRIVATE: &[([u16; 8], u32, &str)] = &[
        (
            [0xfc00, 0, 0, 0, 0, 0, 0, 0],
            7,
            "a unique local address (fc00::/7)",
        ),
        (
            [0xfec0, 0, 0, 0, 0, 0, 0, 0],
            10,
            "a site-local address (fec0::/10)",
        ),
        (
            [0x64, 0xff9b, 1, 0, 0, 0, 0, 0],
            48,
            "a local-use NAT64 address (64:ff9b:1::/48)",
        ),
    ];
    if let Some(&(_, _, what)) = ALWAYS.iter().find(|(net, p, _)| in_v6(ip, *net, *p)) {
        return Some(Denial::Always(what));
    }
    if ip == Ipv6Addr::LOCALHOST {
        return Some(Denial::Loopback);
    }
    if let Some(&(_, _, what)) = PRIVATE.iter().find(|(net, p, _)| in_v6(ip, *net, *p)) {
        return Some(Denial::Private(what));
    }
    // Global unicast is 2000::/3; the rest is reserved or unassigned.
    if !in_v6(ip, [0x2000, 0, 0, 0, 0, 0, 0, 0], 3) {
        return Some(Denial::Always("reserved (outside global unicast 2000::/3)"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONE: EgressPolicy = EgressPolicy {
        allow_loopback: false,
        allow_private: false,
    };
    const LOOPBACK: EgressPolicy = EgressPolicy {
        allow_loopback: true,
        allow_private: false,
    };
    const PRIVATE: EgressPolicy = EgressPolicy {
        allow_loopback: false,
        allow_private: true,
    };
    const BOTH: EgressPolicy = EgressPolicy {
        allow_loopback: true,
        allow_private: true,
    };

    /// Category of an address: what each policy says about it.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Expect {
        /// Allowed by every policy.
        Public,
        /// Allowed only with `allow_loopback`.
        Loopback,
        /// Allowed only with `allow_private`.
        Private,
        /// Denied by every policy.
        Never,
    }

    #[test]
    fn address_policy_table() {
        use Expect::*;
        let table: &[(&str, Expect)] = &[
            // public
            ("8.8.8.8", Public),
            ("1.1.1.1", Public),
            ("172.15.255.255", Public),
            ("172.32.0.1", Public),
            ("100.63.255.255", Public),
            ("100.128.0.0", Public),
            ("2001:4860::8888", Public),
            ("2606:4700:4700::1111", Public),
            ("::ffff:8.8.8.8", Public),
            ("64:ff9b::808:808", Public),
            // loopback
            ("127.0.0.1", Loopback),
            ("127.255.255.254", Loopback),
            ("::1", Loopback),
            ("::ffff:127.0.0.1", Loopback),
            ("::127.0.0.1", Loopback),
            ("2002:7f00:1::", Loopback),
            // private
            ("10.0.0.1", Private),
            ("10.255.255.255", Private),
            ("172.16.0.1", Private),
            ("172.31.255.1", Private),
            ("192.168.1.10", Private),
            ("100.64.0.1", Private),
            ("100.127.255.255", Private),
            ("fc00::1", Private),
            ("fd12:3456::1", Private),
            ("fec0::1", Private),
            ("::ffff:10.1.2.3", Private),
            ("64:ff9b:1::1", Private),
            // never
            ("0.0.0.0", Never),
            ("0.1.2.3", Never),
            ("::", Never),
            ("169.254.169.254", Never),
            ("169.254.0.1", Never),
            ("::ffff:169.254.169.254", Never),
            ("::169.254.169.254", Never),
            ("64:ff9b::a9fe:a9fe", Never),
            ("2002:a9fe:a9fe::1", Never),
            ("fe80::1", Never),
            ("febf::1", Never),
            ("fd00:ec2::254", Never),
            ("fd20:ce::254", Never),
            ("100.100.100.200", Never),
            ("168.63.129.16", Never),
            ("224.0.0.1", Never),
            ("239.255.255.250", Never),
            ("ff02::1", Never),
            ("255.255.255.255", Never),
            ("240.0.0.1", Never),
            ("192.0.0.192", Never),
            ("192.0.2.1", Never),
            ("198.18.0.1", Never),
            ("2001:db8::1", Never),
            ("2001::1", Never),
            ("100::1", Never),
            ("::ffff:0.0.0.0", Never),
            ("::ffff:255.255.255.255", Never),
        ];
        for &(text, expect) in table {
            let ip: IpAddr = text.parse().unwrap();
            let allowed = [NONE, LOOPBACK, PRIVATE, BOTH].map(|p| check_address(&p, ip).is_ok());
            let wanted = match expect {
                Public => [true, true, true, true],
                Loopback => [false, true, false, true],
                Private => [false, false, true, true],
                Never => [false, false, false, false],
            };
            assert_eq!(
                allowed, wanted,
                "{text} should be {expect:?} (none, loopback, private, both)"
            );
            if expect != Public {
                let reason = check_address(&NONE, ip).unwrap_err();
                assert!(
                    reason.starts_with(&ip.to_string()),
                    "{text}: reason {reason:?}"
                );
            }
        }
    }

    #[test]
    fn reasons_name_the_category() {
        let reason = |s: &str| check_address(&NONE, s.parse().unwrap()).unwrap_err();
        assert!(reason("169.254.169.254").contains("link-local"));
        assert!(reason("::ffff:169.254.169.254").contains("IPv4 169.254.169.254"));
        assert!(reason("127.0.0.1").contains("loopback"));
        assert!(reason("10.1.1.1").contains("private"));
        assert!(reason("fd00:ec2::254").contains("metadata"));
    }

    #[test]
    fn host_names() {
        for name in [
            "kubernetes.default",
            "kubernetes.default.svc",
            "KUBERNETES.default.svc.cluster.local",
            "postgres.db.svc",
            "metadata.google.internal",
            "metadata.google.internal.",
            "printer.local",
            "foo.cluster.local",
            "",
            "a..b",
            "bad host.example.com",
            "/var/run/postgresql",
            "user@evil.example.com",
        ] {
            assert!(
                check_host_name(&BOTH, name).is_err(),
                "{name:?} should always be refused"
            );
        }
        for name in ["localhost", "LOCALHOST.", "db.localhost"] {
            assert!(check_host_name(&NONE, name).is_err(), "{name}");
            assert!(check_host_name(&PRIVATE, name).is_err(), "{name}");
            assert!(check_host_name(&LOOPBACK, name).is_ok(), "{name}");
        }
        for name in ["postgres", "kubernetes", "metadata"] {
            assert!(check_host_name(&NONE, name).is_err(), "{name}");
            assert!(check_host_name(&LOOPBACK, name).is_err(), "{name}");
            assert!(check_host_name(&PRIVATE, name).is_ok(), "{name}");
        }
        for name in [
            "db.example.com",
            "db-1.eu_west.example.com.",
            "xn--bcher-kva.example",
        ] {
            assert!(check_host_name(&NONE, name).is_ok(), "{name}");
        }
    }
}
