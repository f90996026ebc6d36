//! `/v1/auth/*` and `POST /v1/me/password`.

use reqwest::Method;

use crate::types::{
    ChangePasswordRequest, LoginRequest, RefreshRequest, SignupRequest, TokenResponse,
};
use crate::{Client, ClientError};

impl Client {
    /// `POST /v1/auth/signup` (201): create an account and sign in.
    pub async fn signup(&self, request: &SignupRequest) -> Result<TokenResponse, ClientError> {
        self.call_with_body(Method::POST, "/v1/auth/signup", request)
            .await
    }

    /// `POST /v1/auth/login`. A wrong password and an unknown email both
    /// fail with 401 `invalid_credentials`; throttling with 429.
    pub async fn login(&self, request: &LoginRequest) -> Result<TokenResponse, ClientError> {
        self.call_with_body(Method::POST, "/v1/auth/login", request)
            .await
    }

    /// `POST /v1/auth/refresh`: a new token pair; the presented refresh
    /// token is dead afterwards, and presenting it again revokes the session.
    pub async fn refresh(&self, request: &RefreshRequest) -> Result<TokenResponse, ClientError> {
        self.call_with_body(Method::POST, "/v1/auth/refresh", request)
            .await
    }

    /// `POST /v1/auth/logout` (204): end the session of this client's token.
    pub async fn logout(&self) -> Result<(), ClientError> {
        self.call_for_nothing(Method::POST, "/v1/auth/logout").await
    }

    /// `POST /v1/me/password` (204): change the password, proving the
    /// current one.
    pub async fn change_password(
        &self,
        request: &ChangePasswordRequest,
    ) -> Result<(), ClientError> {
        self.call_with_body_for_nothing(Method::POST, "/v1/me/password", request)
            .await
    }
}
