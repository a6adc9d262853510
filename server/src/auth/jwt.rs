//! Access tokens: HS256 JWTs whose claims are only the subject and a token version
//! (plus issue and expiry times). Roles are read from the database on each request,
//! so a role change takes effect at once; bumping the version revokes every token.

use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode, errors::ErrorKind};
use serde::{Deserialize, Serialize};

use crate::{config::Secret, error::AppError};

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    /// The user's token version when the token was issued.
    pub tv: i32,
    pub iat: i64,
    pub exp: i64,
}

pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    pub ttl: Duration,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtKeys").field("ttl", &self.ttl).finish_non_exhaustive()
    }
}

impl JwtKeys {
    pub fn new(secret: &Secret, ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry is checked against the app's clock below, not the system's.
        validation.validate_exp = false;
        validation.set_required_spec_claims(&["sub", "exp"]);
        validation.validate_aud = false;
        Self {
            encoding: EncodingKey::from_secret(secret.expose().as_bytes()),
            decoding: DecodingKey::from_secret(secret.expose().as_bytes()),
            validation,
            ttl,
        }
    }

    pub fn issue(&self, user_id: i64, token_version: i32, now: DateTime<Utc>) -> Result<String, AppError> {
        let claims = Claims {
            sub: user_id.to_string(),
            tv: token_version,
            iat: now.timestamp(),
            exp: now.timestamp() + self.ttl.as_secs() as i64,
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("signing a token: {e}")))
    }

    /// Verifies the signature and algorithm (only HS256; `none` is refused), then the
    /// expiry against `now`.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<(i64, i32), AppError> {
        let data = decode::<Claims>(token, &self.decoding, &self.validation).map_err(|e| match e.kind() {
            ErrorKind::ExpiredSignature => AppError::TokenExpired,
            _ => AppError::InvalidToken,
        })?;
        if data.claims.exp <= now.timestamp() {
            return Err(AppError::TokenExpired);
        }
        let user_id = data.claims.sub.parse::<i64>().map_err(|_| AppError::InvalidToken)?;
        Ok((user_id, data.claims.tv))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> JwtKeys {
        JwtKeys::new(&Secret::new("test-secret-test-secret-test-secret"), Duration::from_secs(900))
    }

    #[test]
    fn a_token_round_trips() {
        let now = Utc::now();
        let token = keys().issue(7, 3, now).unwrap_or_default();
        assert_eq!(keys().verify(&token, now).ok(), Some((7, 3)));
    }

    #[test]
    fn expiry_follows_the_clock() {
        let now = Utc::now();
        let token = keys().issue(7, 0, now).unwrap_or_default();
        let later = now + chrono::Duration::seconds(901);
        assert!(matches!(keys().verify(&token, later), Err(AppError::TokenExpired)));
    }

    #[test]
    fn another_key_or_algorithm_is_refused() {
        let now = Utc::now();
        let other = JwtKeys::new(&Secret::new("another-secret-another-secret-xx"), Duration::from_secs(900));
        let token = other.issue(7, 0, now).unwrap_or_default();
        assert!(matches!(keys().verify(&token, now), Err(AppError::InvalidToken)));
        // {"alg":"none"} with the same claims and an empty signature.
        let header = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0";
        let body = token.split('.').nth(1).unwrap_or_default();
        assert!(matches!(keys().verify(&format!("{header}.{body}."), now), Err(AppError::InvalidToken)));
        assert!(matches!(keys().verify("garbage", now), Err(AppError::InvalidToken)));
    }
}
