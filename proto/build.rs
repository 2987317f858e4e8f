//! Compiles `proto/**/*.proto` with protox (pure Rust: no `protoc` on any machine) and writes the
//! descriptor set that gRPC reflection serves.
use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    let files = [
        "proto/identity/v1/identity.proto",
        "proto/identity/v1/accounts.proto",
        "proto/projects/v1/projects.proto",
        "proto/connections/v1/connections.proto",
        "proto/events/v1/events.proto",
    ];
    let fds = protox::compile(files, ["proto"])?;
    // compile_fds does not write the descriptor set itself (reference/crates.md).
    std::fs::write(out.join("descriptor.bin"), fds.encode_to_vec())?;
    // Messages that carry secrets (connection secrets, passwords, session, refresh and access
    // tokens, personal access token secrets, passcodes, invitation and password reset codes) get a hand-written
    // Debug (src/lib.rs) that redacts them (CR-8).
    tonic_prost_build::configure()
        .skip_debug([
            ".connections.v1.ConnectionFields",
            ".connections.v1.UpdateConnectionRequest",
            ".identity.v1.RegisterUserRequest",
            ".identity.v1.LoginRequest",
            ".identity.v1.SessionGrant",
            ".identity.v1.AuthenticateResponse",
            ".identity.v1.RefreshSessionRequest",
            ".identity.v1.PersonalAccessTokenWithSecret",
            ".identity.v1.GetEmailStatusRequest",
            ".identity.v1.InviteLink",
            ".identity.v1.GetInviteLinkRequest",
            ".identity.v1.GetPasswordResetLinkRequest",
            ".identity.v1.ResetPasswordRequest",
            ".identity.v1.ChangePasswordRequest",
        ])
        .compile_fds(fds)?;
    for package in ["identity.v1", "projects.v1", "connections.v1"] {
        let path = out.join(format!("{package}.rs"));
        let generated = std::fs::read_to_string(&path)?;
        std::fs::write(&path, share_unary_code(&generated, package))?;
    }
    println!("cargo:rerun-if-changed=proto");
    Ok(())
}

/// The generated code with every unary method going through `src/unary.rs` (one copy of
/// tonic's call machinery for all methods, instead of one per method). Panics unless each
/// unary client method and each unary server method was rewritten: a tonic-build that
/// generates other code must fail the build, not fall back unseen.
fn share_unary_code(generated: &str, package: &str) -> String {
    const CODEC: &str = "let codec = tonic_prost::ProstCodec::default();";
    const CLIENT_CALL: &str = "self.inner.unary(req, path, codec).await";
    const SERVER_CALL: &str = "let res = grpc.unary(method, req).await;";
    // Client methods start with `pub async fn`, server arms with the attribute of their
    // per-method service type; a piece holds at most one method's code.
    let pieces = generated
        .split_inclusive("pub async fn ")
        .flat_map(|p| p.split_inclusive("#[allow(non_camel_case_types)]"));
    let (mut clients, mut servers) = (0, 0);
    let mut rewritten = String::with_capacity(generated.len());
    for piece in pieces {
        if piece.contains(CLIENT_CALL) {
            clients += 1;
            let piece = piece.replacen(CODEC, "", 1).replacen(
                CLIENT_CALL,
                "crate::unary::call(&mut self.inner, req, path).await",
                1,
            );
            rewritten.push_str(&piece);
        } else if piece.contains(SERVER_CALL) {
            servers += 1;
            let piece = piece
                .replacen(CODEC, "let codec = crate::unary::BytesCodec;", 1)
                .replacen(
                    SERVER_CALL,
                    "let res = grpc.unary(crate::unary::Unary::new(method), req).await;",
                    1,
                );
            rewritten.push_str(&piece);
        } else {
            rewritten.push_str(piece);
        }
    }
    let unary = generated.matches(CLIENT_CALL).count();
    assert!(
        clients == unary && servers == generated.matches(SERVER_CALL).count() && clients == servers,
        "{package}: {clients} client and {servers} server unary methods rewritten of {unary}"
    );
    assert!(clients > 0, "{package}: no unary method found to rewrite");
    rewritten
}
