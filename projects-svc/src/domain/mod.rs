//! projects-svc's rules. No tonic or sqlx types here: handlers convert at the edge, the store
//! sits behind a trait, identity-svc behind [`directory::Directory`].

pub mod access;
pub mod directory;
pub mod projects;
pub mod scene_cache;
pub mod spaces;
pub mod tags;
