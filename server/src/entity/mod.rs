//! sea-orm entities: table shapes only. Behaviour lives in `service/`.

pub mod refresh_token;
pub mod region;
pub mod role_grant;
pub mod user;
