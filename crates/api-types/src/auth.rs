//! Sign-up, login, token refresh and password change (`/v1/auth/*`,
//! `/v1/me/password`).

use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::REDACTED;
use crate::me::UserView;

/// The only `token_type` the server issues.
pub const BEARER: &str = "Bearer";

/// `POST /v1/auth/signup`: create an account and sign in.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    pub email: String,
    /// 12–128 characters, not a common password.
    #[schema(min_length = 12, max_length = 128)]
    pub password: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

impl fmt::Debug for SignupRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignupRequest")
            .field("email", &self.email)
            .field("password", &REDACTED)
            .field("display_name", &self.display_name)
            .finish()
    }
}

/// `POST /v1/auth/login`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

impl fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginRequest")
            .field("email", &self.email)
            .field("password", &REDACTED)
            .finish()
    }
}

/// `POST /v1/auth/refresh`: trade a refresh token for a new pair. The
/// presented token is dead afterwards.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

impl fmt::Debug for RefreshRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshRequest")
            .field("refresh_token", &REDACTED)
            .finish()
    }
}

/// The answer to sign-up (201), login and refresh (200): the user and a
/// fresh token pair.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TokenResponse {
    pub user: UserView,
    /// A short-lived JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// An opaque, single-use token for `POST /v1/auth/refresh`.
    pub refresh_token: String,
    /// Always `"Bearer"` (`BEARER`).
    pub token_type: String,
    /// Seconds until `access_token` expires.
    pub expires_in: u64,
}

impl TokenResponse {
    /// A response with `token_type` set to `BEARER`.
    pub fn bearer(
        user: UserView,
        access_token: String,
        refresh_token: String,
        expires_in: u64,
    ) -> Self {
        Self {
            user,
            access_token,
            refresh_token,
            token_type: BEARER.to_owned(),
            expires_in,
        }
    }
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("user", &self.user)
            .field("access_token", &REDACTED)
            .field("refresh_token", &REDACTED)
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// `POST /v1/me/password` (204): change one's own password, proving the
/// current one.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    /// 12–128 characters, not a common password.
    #[schema(min_length = 12, max_length = 128)]
    pub new_password: String,
    /// Revoke every session of the user except the one making this request.
    #[serde(default)]
    pub end_other_sessions: bool,
}

impl fmt::Debug for ChangePasswordRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChangePasswordRequest")
            .field("current_password", &REDACTED)
            .field("new_password", &REDACTED)
            .field("end_other_sessions", &self.end_other_sessions)
            .finish()
    }
}
