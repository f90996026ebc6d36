//! The identity area: sign-up, login and refresh here; logout, sessions,
//! the caller's profile, password change and authentication in
//! [`crate::sessions`].

use std::sync::Arc;

use bulkhead_domain::audit::Outcome;
use bulkhead_domain::{Email, EmailLookup, Password, SessionId, UserId};
use bulkhead_store::{
    Access, ConflictKind, Invalidation, NewSession, NewUser, PlatformTx, Session, StoreError,
    TokenRotation, User, UserMembership,
};
use serde_json::json;

use crate::ServiceError;
use crate::api_key_usage::ApiKeyUsage;
use crate::cache::UserState;
use crate::context::{Actor, RequestContext};
use crate::error::FieldError;
use crate::keys::Keys;
use crate::passwords::{self, Verification};
use crate::rate_limits::redis::RedisLink;
use crate::secrets;
use crate::shared::Core;
use crate::signing_keys::ACCESS_TOKEN_TTL;
use crate::throttle::known_logins::KnownLogins;
use crate::throttle::{Throttle, ThrottleKey};
use crate::tokens::AccessTokens;

/// The counter of failed logins, labelled by [`LoginFailure`].
pub const LOGIN_FAILURES: &str = "bulkhead_login_failures_total";

/// Why a login failed: the label of [`LOGIN_FAILURES`], so a fixed few.
/// An unknown email and a wrong password are one reason, as they are one
/// answer (RELIABILITY A4): the metric must not tell them apart either.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LoginFailure {
    /// Unknown email, wrong password or deactivated account.
    InvalidCredentials,
    /// The account's own limit held; no password was tried.
    Throttled,
    /// The client address was slowed; no password was tried.
    AddressSlowed,
}

impl LoginFailure {
    /// Also the reason in the summaries of denied attempts.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            LoginFailure::InvalidCredentials => "invalid_credentials",
            LoginFailure::Throttled => "throttled",
            LoginFailure::AddressSlowed => "address_slowed",
        }
    }
}

fn count_login_failure(reason: LoginFailure) {
    metrics::counter!(LOGIN_FAILURES, "reason" => reason.as_str()).increment(1);
}

/// How a session began, as the platform's audit log records it.
enum SessionStart {
    Signup,
    Login { rehashed: bool },
}

/// Sign-up, login, tokens, sessions and the caller's own profile.
#[derive(Debug, Clone)]
pub struct Identity {
    pub(crate) core: Arc<Core>,
    pub(crate) parts: Arc<IdentityParts>,
}

/// What only the identity area keeps.
#[derive(Debug)]
pub(crate) struct IdentityParts {
    pub(crate) keys: Keys,
    pub(crate) tokens: AccessTokens,
    pub(crate) throttle: Throttle,
    /// The (address, account) pairs exempt from their address's delay.
    pub(crate) known_logins: KnownLogins,
    pub(crate) api_key_usage: ApiKeyUsage,
    /// Verified against when the email is unknown, so that a login for a
    /// missing account costs the same time as one with a wrong password.
    dummy_hash: String,
    /// One permit per core for Argon2 work. Each hash holds 19 MiB and a
    /// core for tens of milliseconds; unbounded, a burst of sign-ups or
    /// logins ran dozens at once (the blocking pool allows 512), which only
    /// queued them on the cores while the allocator kept the peak memory.
    password_slots: Arc<tokio::sync::Semaphore>,
}

/// What sign-up, login and refresh hand back.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub user: User,
    pub access_token: String,
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

/// The caller's own profile.
#[derive(Debug, Clone)]
pub struct Me {
    pub user: UserId,
    pub state: UserState,
    pub memberships: Arc<Vec<UserMembership>>,
}

/// Longest display name accepted, in characters.
const MAX_DISPLAY_NAME: usize = 100;

fn parse_credentials(
    email: &str,
    password: &str,
    display_name: Option<&str>,
) -> Result<(Email, Password, Option<String>), ServiceError> {
    let mut errors = Vec::new();
    let email = Email::parse(email)
        .map_err(|e| {
            errors.push(FieldError {
                field: "email".into(),
                code: "invalid",
                message: e.to_string(),
            })
        })
        .ok();
    let password = Password::parse(password)
        .map_err(|e| {
            errors.push(FieldError {
                field: "password".into(),
                code: "invalid",
                message: e.to_string(),
            })
        })
        .ok();
    let display_name = display_name
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned);
    if display_name
        .as_ref()
        .is_some_and(|n| n.chars().count() > MAX_DISPLAY_NAME)
    {
        errors.push(FieldError {
            field: "display_name".into(),
            code: "too_long",
            message: format!("display_name must be at most {MAX_DISPLAY_NAME} characters"),
        });
    }
    match (email, password) {
        (Some(email), Some(password)) if errors.is_empty() => Ok((email, password, display_name)),
        _ => Err(ServiceError::Validation(errors)),
    }
}

impl Identity {
    pub(crate) fn new(
        core: Arc<Core>,
        keys: Keys,
        redis: Option<Arc<RedisLink>>,
    ) -> Result<Self, ServiceError> {
        let settings = &core.settings;
        let dummy = passwords::generate_password()?;
        let parts = IdentityParts {
            tokens: AccessTokens::new(settings.issuer.clone(), settings.audience.clone()),
            throttle: Throttle::new(Arc::clone(&core.clock), redis),
            known_logins: KnownLogins::new(Arc::clone(&core.clock)),
            api_key_usage: ApiKeyUsage::default(),
            dummy_hash: passwords::hash_password(&dummy)?,
            password_slots: Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get),
            )),
            keys,
        };
        Ok(Self {
            core,
            parts: Arc::new(parts),
        })
    }

    /// Re-reads the signing keys from the database (after a rotation).
    pub(crate) async fn reload_keys(&self) -> Result<(), ServiceError> {
        self.parts
            .keys
            .reload(&*self.core.store, &*self.core.clock)
            .await
    }

    /// Writes the API keys' last-use times gathered since the last flush.
    pub(crate) async fn flush_api_key_usage(&self) -> Result<(), ServiceError> {
        self.parts.api_key_usage.flush(&*self.core.store).await
    }

    /// Hashes on the blocking pool: Argon2 takes tens of milliseconds of CPU.
    pub(crate) async fn hash_password(&self, password: Password) -> Result<String, ServiceError> {
        let slot = self.password_slot().await?;
        tokio::task::spawn_blocking(move || {
            let _slot = slot; // held until the work ends, even if the caller left
            passwords::hash_password(&password)
        })
        .await
        .map_err(|error| ServiceError::Hashing(error.to_string()))?
    }

    pub(crate) async fn verify_password(&self, hash: String, candidate: String) -> Verification {
        let Ok(slot) = self.password_slot().await else {
            return Verification::Invalid;
        };
        tokio::task::spawn_blocking(move || {
            let _slot = slot;
            passwords::verify_password(&hash, &candidate)
        })
        .await
        .unwrap_or(Verification::Invalid)
    }

    /// Waits for a core to hash on (see `password_slots`).
    async fn password_slot(&self) -> Result<tokio::sync::OwnedSemaphorePermit, ServiceError> {
        Arc::clone(&self.parts.password_slots)
            .acquire_owned()
            .await
            .map_err(|error| ServiceError::Hashing(error.to_string()))
    }

    pub async fn signup(
        &self,
        email: &str,
        password: &str,
        display_name: Option<&str>,
        ctx: &RequestContext,
    ) -> Result<Tokens, ServiceError> {
        if !self.core.settings.signup_open {
            return Err(ServiceError::SignupClosed);
        }
        let ip_key = ctx
            .ip
            .as_ref()
            .map(|ip| ThrottleKey::SignupAddress(ip.clone()));
        if let Some(key) = &ip_key {
            self.parts
                .throttle
                .check(&[key])
                .await
                .map_err(|retry_after_secs| ServiceError::Throttled { retry_after_secs })?;
        }
        let (email, password, display_name) = parse_credentials(email, password, display_name)?;
        let password_hash = self.hash_password(password).await?;
        let now = self.core.now();
        let user_id = UserId::new();
        let refresh_token = secrets::new_refresh_token()?;
        let mut tx = self.core.store.platform(Access::Write).await?;
        let user = match tx
            .insert_user(NewUser {
                id: user_id,
                email,
                display_name,
                password_hash,
                is_platform_admin: false,
                at: now,
            })
            .await
        {
            Ok(user) => user,
            Err(StoreError::Conflict(ConflictKind::UserEmail)) => {
                // Counts against the address, so the endpoint cannot be used
                // to enumerate accounts at speed.
                if let Some(key) = &ip_key {
                    self.parts.throttle.record_failure(&[key]).await;
                }
                return Err(ServiceError::EmailTaken);
            }
            Err(error) => return Err(error.into()),
        };
        let session = self
            .commit_new_session(tx, user.id, &refresh_token, ctx, SessionStart::Signup)
            .await?;
        // Whoever signed up from an address logs in from it unhindered by
        // its delay (see `login`).
        if let Some(ip) = &ctx.ip {
            self.parts.known_logins.remember(ip, user.email.as_str());
        }
        self.tokens_for(user, session.id, refresh_token)
    }

    pub async fn login(
        &self,
        email: &str,
        password: &str,
        ctx: &RequestContext,
    ) -> Result<Tokens, ServiceError> {
        // Looked up by email key, so `ADA@example.com`, its fullwidth form
        // and `ada@EXAMPLE.com` reach the one account, and share one
        // throttle budget. The lookup refuses nothing: an account whose
        // address today's rules would refuse still logs in with it.
        let lookup = EmailLookup::of(email);
        let account_key = ThrottleKey::Account(lookup.key.to_string());
        let address_key = ctx
            .ip
            .as_ref()
            .map(|ip| ThrottleKey::LoginAddress(ip.clone()));
        // The account's limit is strict (RELIABILITY A3): while it holds, not
        // even the right password is tried.
        if let Err(retry_after_secs) = self.parts.throttle.check(&[&account_key]).await {
            self.note_throttled_login(ctx, LoginFailure::Throttled);
            return Err(ServiceError::Throttled { retry_after_secs });
        }
        // A slowed address waits too, before its password is checked, so a
        // client that ignores Retry-After learns nothing sooner; the refusal
        // depends on the email only through the in-memory known pairs, never
        // on whether the account exists (A4), and is not a failure, so it
        // does not lengthen the delay. An account that succeeded from this
        // address recently is exempt: the people who usually log in from
        // it are not held up by someone guessing at other accounts there.
        if let Some(key) = &address_key
            && !self
                .parts
                .known_logins
                .is_known(key.name(), account_key.name())
            && let Err(retry_after_secs) = self.parts.throttle.check(&[key]).await
        {
            self.note_throttled_login(ctx, LoginFailure::AddressSlowed);
            return Err(ServiceError::Throttled { retry_after_secs });
        }

        let user = {
            let mut tx = self.core.store.platform(Access::Read).await?;
            tx.user_by_email(&lookup).await?
        };
        // Exactly one Argon2 verification on every path, so an unknown email
        // costs the same time as a wrong password.
        let (hash, known) = match &user {
            Some(user) => (user.password_hash.clone(), true),
            None => (self.parts.dummy_hash.clone(), false),
        };
        let verification = self.verify_password(hash, password.to_owned()).await;
        let user = match (user, verification) {
            // A correct password never counts as a failure.
            (Some(user), Verification::Valid { needs_rehash })
                if known && user.deactivated_at.is_none() =>
            {
                (user, needs_rehash)
            }
            (user, _) => {
                let mut keys = vec![&account_key];
                keys.extend(address_key.as_ref());
                self.parts.throttle.record_failure(&keys).await;
                let actor = match &user {
                    Some(user) => Actor::user(user.id),
                    None => Actor::ANONYMOUS,
                };
                let draft = self.core.draft(
                    ctx,
                    actor,
                    "auth.login",
                    ("user", user.as_ref().map(|u| u.id.to_string())),
                    Outcome::Failure,
                    json!({ "reason": "invalid_credentials" }),
                );
                self.core.record_denial(None, draft).await;
                count_login_failure(LoginFailure::InvalidCredentials);
                // Unknown email and wrong password answer alike (A4).
                return Err(ServiceError::InvalidCredentials);
            }
        };
        let (user, needs_rehash) = user;
        self.parts.throttle.record_success(&account_key).await;
        if let Some(ip) = &ctx.ip {
            self.parts.known_logins.remember(ip, account_key.name());
        }

        let new_hash = match needs_rehash {
            true => match Password::parse(password) {
                Ok(password) => Some(self.hash_password(password).await?),
                // An old password that today's policy would refuse still
                // logs in; it is upgraded when the user changes it.
                Err(_) => None,
            },
            false => None,
        };
        let refresh_token = secrets::new_refresh_token()?;
        let now = self.core.now();
        let mut tx = self.core.store.platform(Access::Write).await?;
        if let Some(hash) = &new_hash {
            tx.set_password_hash(user.id, hash, now).await?;
        }
        // Always a fresh session: a session id fixed before login is worthless.
        let start = SessionStart::Login {
            rehashed: new_hash.is_some(),
        };
        let session = self
            .commit_new_session(tx, user.id, &refresh_token, ctx, start)
            .await?;
        self.tokens_for(user, session.id, refresh_token)
    }

    /// A login refused by a limit before any password was tried: cheap to
    /// send, so counted rather than written one by one.
    fn note_throttled_login(&self, ctx: &RequestContext, reason: LoginFailure) {
        count_login_failure(reason);
        self.core.note_denial(crate::denials::Denial {
            actor: Actor::ANONYMOUS,
            action: "auth.login",
            reason: reason.as_str(),
            target: None,
            ctx,
        });
    }

    /// The last steps of both sign-up and login: opens a fresh session for
    /// `user` in `tx`, writes how it began to the platform's log, commits.
    async fn commit_new_session(
        &self,
        mut tx: Box<dyn PlatformTx>,
        user: UserId,
        refresh_token: &str,
        ctx: &RequestContext,
        start: SessionStart,
    ) -> Result<Session, ServiceError> {
        let now = self.core.now();
        let session = tx
            .insert_session(NewSession {
                id: SessionId::new(),
                user_id: user,
                refresh_token_hash: secrets::sha256(refresh_token),
                expires_at: now + self.core.settings.session_absolute,
                ip: ctx.ip.clone(),
                user_agent: ctx.user_agent.clone(),
                at: now,
            })
            .await?;
        let (action, resource, details) = match start {
            SessionStart::Signup => ("auth.signup", ("user", Some(user.to_string())), json!({})),
            SessionStart::Login { rehashed } => (
                "auth.login",
                ("session", Some(session.id.to_string())),
                json!({ "factor": "password", "rehashed": rehashed }),
            ),
        };
        let draft = self.core.draft(
            ctx,
            Actor::user(user),
            action,
            resource,
            Outcome::Success,
            details,
        );
        tx.append_platform_audit(draft).await?;
        tx.commit().await?;
        Ok(session)
    }

    fn tokens_for(
        &self,
        user: User,
        session: SessionId,
        refresh_token: String,
    ) -> Result<Tokens, ServiceError> {
        let access_token =
            self.parts
                .tokens
                .issue(&self.parts.keys, user.id, session, self.core.now())?;
        Ok(Tokens {
            user,
            access_token,
            refresh_token,
            expires_in: ACCESS_TOKEN_TTL.whole_seconds().unsigned_abs(),
        })
    }

    /// Exchanges a refresh token for a new pair; the old token dies. A token
    /// that was already rotated is reuse: outside the grace window the whole
    /// session is revoked.
    pub async fn refresh(
        &self,
        refresh_token: &str,
        ctx: &RequestContext,
    ) -> Result<Tokens, ServiceError> {
        let presented = secrets::sha256(refresh_token);
        let now = self.core.now();
        let mut tx = self.core.store.platform(Access::Write).await?;
        let Some(record) = tx.refresh_token(&presented).await? else {
            return Err(ServiceError::InvalidRefreshToken);
        };
        let Some(session) = tx.session(record.session_id).await? else {
            return Err(ServiceError::InvalidRefreshToken);
        };
        if let Some(rotated_at) = record.rotated_at {
            if now - rotated_at > self.core.settings.refresh_grace && session.revoked_at.is_none() {
                tx.revoke_session(session.id, now).await?;
                tx.invalidate(Invalidation::Session(session.id));
                let draft = self.core.draft(
                    ctx,
                    Actor::user(session.user_id),
                    "auth.refresh",
                    ("session", Some(session.id.to_string())),
                    Outcome::Denied,
                    json!({ "reason": "refresh_token_reuse", "session_revoked": true }),
                );
                tx.append_platform_audit(draft).await?;
                tx.commit().await?;
            }
            return Err(ServiceError::InvalidRefreshToken);
        }
        let idle_expired = now - session.last_used_at > self.core.settings.session_idle;
        if session.revoked_at.is_some() || now >= session.expires_at || idle_expired {
            return Err(ServiceError::InvalidRefreshToken);
        }
        let Some(user) = tx.user(session.user_id).await? else {
            return Err(ServiceError::InvalidRefreshToken);
        };
        if user.deactivated_at.is_some() {
            return Err(ServiceError::InvalidRefreshToken);
        }
        let next = secrets::new_refresh_token()?;
        let rotation = TokenRotation {
            session: session.id,
            current: presented,
            next: secrets::sha256(&next),
            at: now,
        };
        if !tx.rotate_refresh_token(rotation).await? {
            // A concurrent refresh of the same token won.
            return Err(ServiceError::InvalidRefreshToken);
        }
        tx.commit().await?;
        self.tokens_for(user, session.id, next)
    }
}
