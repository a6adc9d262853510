//! Pure types and rules: no I/O. Each newtype parses its input once, at the edge.

pub mod clock;
pub mod organization;
pub mod pagination;
pub mod role;
pub mod text;
