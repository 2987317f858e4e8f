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
    println!("cargo:rerun-if-changed=proto");
    Ok(())
}
