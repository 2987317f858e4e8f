//! Protocol Buffers definitions of the platform's services and the code tonic/prost generate
//! from them. Message types stop at each service's `grpc` module and the gateway's handlers:
//! they are never used as domain types.

/// `identity.v1`: users, sessions, personal access tokens, signing keys.
pub mod identity {
    /// Version 1 of the identity API.
    pub mod v1 {
        #![allow(missing_docs, unreachable_pub, clippy::all)]
        tonic::include_proto!("identity.v1");
    }
}

/// `projects.v1`: projects, their user and group grants, and spaces.
pub mod projects {
    /// Version 1 of the projects API.
    pub mod v1 {
        #![allow(missing_docs, unreachable_pub, clippy::all)]
        tonic::include_proto!("projects.v1");
    }
}

/// `connections.v1`: connections and their write-only secrets.
pub mod connections {
    /// Version 1 of the connections API.
    pub mod v1 {
        #![allow(missing_docs, unreachable_pub, clippy::all)]
        tonic::include_proto!("connections.v1");
    }
}

/// The encoded `FileDescriptorSet` of every package above, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("descriptor");
