//! The business rules of projects-svc, free of I/O: no tonic, sqlx or async in here. The gRPC
//! layer gathers the facts from the store and asks these functions what they allow.

pub mod access;
