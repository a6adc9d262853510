//! Who the caller is (`extractor`), how their access token is made (`jwt`), and what
//! they may do (`scope`).

pub mod extractor;
pub mod jwt;
pub mod scope;

pub use extractor::{AuthUser, Grant, MaybeAuthUser};
