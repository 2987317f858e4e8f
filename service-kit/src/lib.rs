//! Infrastructure that every binary of the platform does the same way.
//!
//! Architecture invariant: nothing here knows a domain type, a table or a business rule. It
//! knows how to log, how a failure answers a gRPC caller, how to sign and verify access tokens,
//! how a gRPC caller is authenticated (a user, or a part of the platform by its credential), how a database pool is opened and migrated, and how a
//! server shuts down. How events travel between services is the `outbox` crate's.

pub mod callers;
pub mod config;
pub mod db;
pub mod digest_cache;
pub mod envelope;
pub mod error;
pub mod grpc;
pub mod host;
pub mod identity;
pub mod jwt;
pub mod limits;
pub mod metrics;
pub mod migrate;
pub mod scope;
pub mod secret;
pub mod shutdown;
pub mod telemetry;
pub mod trace_context;

/// A boxed future. A server's `build` and `run` return one: an `async fn`'s body is compiled in
/// the crate that polls it, so unboxed, every server's code (each RPC's handling, tonic's and
/// h2's for its own types) was compiled last, with the binary, on one core (docs/benchmarks.md,
/// "First build"). Boxed in its own crate, it is compiled there, beside the other crates.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// sqlx, for [`from_row!`]'s expansion in the services' crates.
#[doc(hidden)]
pub use sqlx as __sqlx;
