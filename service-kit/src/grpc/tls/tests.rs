//! The settings' refusals; the handshakes themselves are proven end to end by
//! `platform/tests/api/tls.rs`.

use super::*;

/// A self-signed certificate for `localhost` and its key, in PEM.
fn self_signed() -> (String, String) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    (certified.cert.pem(), certified.signing_key.serialize_pem())
}

/// Writes `files` into a fresh directory; returns their paths.
fn write(files: &[(&str, &str)]) -> Vec<PathBuf> {
    let dir = std::env::temp_dir().join(format!("tls-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    files
        .iter()
        .map(|(name, text)| {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            path
        })
        .collect()
}

fn certificate(cert: &Path, key: &Path) -> CertificateArgs {
    CertificateArgs {
        cert_file: Some(cert.to_owned()),
        key_file: Some(key.to_owned()),
    }
}

fn ca(path: &Path) -> CaArgs {
    CaArgs {
        ca_file: Some(path.to_owned()),
    }
}

#[test]
fn nothing_configured_is_plaintext_both_ways() {
    let server = ServerTls::load(&CertificateArgs::default(), &ServerTlsArgs::default()).unwrap();
    assert_eq!(server.mode(), "plaintext");
    let client = ClientTls::load(&CertificateArgs::default(), &CaArgs::default()).unwrap();
    assert!(!client.is_tls());
    client.endpoint("http://127.0.0.1:50051").unwrap();
}

#[test]
fn a_configured_certificate_makes_the_server_tls_and_a_client_ca_mutual() {
    let (cert, key) = self_signed();
    let paths = write(&[("tls.crt", &cert), ("tls.key", &key)]);
    let args = certificate(&paths[0], &paths[1]);
    let tls = ServerTls::load(&args, &ServerTlsArgs::default()).unwrap();
    assert_eq!(tls.mode(), "tls");
    let mutual = ServerTlsArgs {
        client_ca_file: Some(paths[0].clone()),
        ..Default::default()
    };
    assert_eq!(
        ServerTls::load(&args, &mutual).unwrap().mode(),
        "mutual tls"
    );
}

#[test]
fn half_a_configuration_is_refused_by_name() {
    let (cert, key) = self_signed();
    let paths = write(&[("tls.crt", &cert), ("tls.key", &key)]);
    let only_cert = CertificateArgs {
        cert_file: Some(paths[0].clone()),
        key_file: None,
    };
    let e = ServerTls::load(&only_cert, &ServerTlsArgs::default()).unwrap_err();
    assert!(e.to_string().contains("without GRPC_TLS_KEY_FILE"), "{e}");
    let e = ClientTls::load(&only_cert, &ca(&paths[0])).unwrap_err();
    assert!(e.to_string().contains("without GRPC_TLS_KEY_FILE"), "{e}");
    let mutual_without_cert = ServerTlsArgs {
        client_ca_file: Some(paths[0].clone()),
        ..Default::default()
    };
    let e = ServerTls::load(&CertificateArgs::default(), &mutual_without_cert).unwrap_err();
    assert!(e.to_string().starts_with("GRPC_TLS_CLIENT_CA_FILE"), "{e}");
}

#[test]
fn bad_files_are_refused_with_the_variable_and_never_quoted() {
    let (cert, _) = self_signed();
    let canary =
        "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1jYW5hcnk=\n-----END PRIVATE KEY-----\n";
    let paths = write(&[
        ("tls.crt", &cert),
        ("tls.key", canary),
        ("ca.crt", "no pem"),
    ]);
    let e = ServerTls::load(
        &certificate(&paths[0], &paths[1]),
        &ServerTlsArgs::default(),
    )
    .unwrap_err()
    .to_string();
    // The file parses as PEM but is no key of this certificate: rustls refuses it.
    assert!(
        e.starts_with("GRPC_TLS_CERT_FILE, GRPC_TLS_KEY_FILE"),
        "{e}"
    );
    assert!(!e.contains("c2VjcmV0"), "{e}");
    let garbage = write(&[("tls.key", "line one of a secret-key-canary\n")]);
    let e = ServerTls::load(
        &certificate(&paths[0], &garbage[0]),
        &ServerTlsArgs::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.starts_with("GRPC_TLS_KEY_FILE"), "{e}");
    assert!(!e.contains("canary"), "{e}");
    let e = ClientTls::load(&CertificateArgs::default(), &ca(&paths[2])).unwrap_err();
    assert!(e.to_string().starts_with("GRPC_TLS_CA_FILE"), "{e}");
    let missing = ca(Path::new("/nonexistent/ca.crt"));
    let e = ClientTls::load(&CertificateArgs::default(), &missing).unwrap_err();
    assert!(
        e.to_string().starts_with("GRPC_TLS_CA_FILE: cannot read"),
        "{e}"
    );
}

#[test]
fn a_key_that_is_not_the_certificates_stops_start_up() {
    let (cert, _) = self_signed();
    let (_, other_key) = self_signed();
    let paths = write(&[("tls.crt", &cert), ("tls.key", &other_key)]);
    let e = ServerTls::load(
        &certificate(&paths[0], &paths[1]),
        &ServerTlsArgs::default(),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("GRPC_TLS_CERT_FILE, GRPC_TLS_KEY_FILE"),
        "{e}"
    );
}

#[test]
fn a_client_speaks_tls_to_https_urls_only_and_never_without_a_ca() {
    let (cert, key) = self_signed();
    let paths = write(&[("tls.crt", &cert), ("tls.key", &key)]);
    let tls = ClientTls::load(&certificate(&paths[0], &paths[1]), &ca(&paths[0])).unwrap();
    assert!(tls.is_tls());
    tls.endpoint("https://identity-svc:50051").unwrap();
    let e = tls.endpoint("http://identity-svc:50051").unwrap_err();
    assert!(e.to_string().contains("use an https:// URL"), "{e}");
    let plaintext = ClientTls::plaintext();
    let e = plaintext
        .endpoint("https://identity-svc:50051")
        .unwrap_err();
    assert!(e.to_string().contains("needs GRPC_TLS_CA_FILE"), "{e}");
}

#[test]
fn debug_never_shows_the_private_key() {
    let (cert, key) = self_signed();
    let paths = write(&[("tls.crt", &cert), ("tls.key", &key)]);
    let args = certificate(&paths[0], &paths[1]);
    let client = ClientTls::load(&args, &ca(&paths[0])).unwrap();
    let server = ServerTls::load(&args, &ServerTlsArgs::default()).unwrap();
    let body: String = key.lines().nth(1).unwrap().chars().take(24).collect();
    for debug in [format!("{client:?}"), format!("{server:?}")] {
        assert!(!debug.contains(&body), "{debug}");
    }
    // What the wrapper keeps out: tonic's own Debug of the same configuration shows key bytes.
    assert!(format!("{:?}", client.config).contains("key"));
}
