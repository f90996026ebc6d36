//! Accounts and sessions: sign-up, login, refresh, logout, the caller's own
//! profile and sessions, password change, and turning a bearer credential
//! into a [`Principal`].

use std::sync::Arc;

use bulkhead_domain::audit::Outcome;
use bulkhead_domain::{Email, EmailLookup, Password, SessionId, UserId};
use bulkhead_store::{
    Access, ConflictKind, Invalidation, NewSession, NewUser, Session, StoreError, User,
    UserMembership,
};

use crate::cache::{SessionState, UserState};
use crate::context::{Actor, Principal, RequestContext};
use crate::error::FieldError;
use crate::passwords::Verification;
use crate::secrets::{self, API_KEY_PREFIX};
use crate::signing_keys::ACCESS_TOKEN_TTL;
use crate::throttle::ThrottleKey;
use crate::{ServiceError, Services};

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

impl Services {
    pub async fn signup(
        &self,
        email: &str,
        password: &str,
        display_name: Option<&str>,
        ctx: &RequestContext,
    ) -> Result<Tokens, ServiceError> {
        if !self.settings.signup_open {
            return Err(ServiceError::SignupClosed);
        }
        let ip_key = ctx
            .ip
            .as_ref()
            .map(|ip| ThrottleKey::SignupAddress(ip.clone()));
        if let Some(key) = &ip_key {
            self.throttle
                .check(&[key])
                .map_err(|retry_after_secs| ServiceError::Throttled { retry_after_secs })?;
        }
        let (email, password, display_name) = parse_credentials(email, password, display_name)?;
        let password_hash = self.hash_password(password).await?;
        let now = self.now();
        let user_id = UserId::new();
        let refresh_token = secrets::new_refresh_token()?;
        let mut tx = self.store.platform(Access::Write).await?;
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
                    self.throttle.record_failure(&[key]);
                }
                return Err(ServiceError::EmailTaken);
            }
            Err(error) => return Err(error.into()),
        };
        let session = self
            .new_session(&mut *tx, user.id, &refresh_token, ctx)
            .await?;
        let draft = self.draft(
            ctx,
            Actor {
                kind: bulkhead_domain::audit::ActorKind::User,
                id: Some(*user.id.as_uuid()),
            },
            "auth.signup",
            ("user", Some(user.id.to_string())),
            Outcome::Success,
            serde_json::json!({}),
        );
        tx.append_platform_audit(draft).await?;
        tx.commit().await?;
        // Whoever signed up from an address logs in from it unhindered by
        // its delay (see `login`).
        if let Some(ip) = &ctx.ip {
            self.known_logins.remember(ip, user.email.as_str());
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
        if let Err(retry_after_secs) = self.throttle.check(&[&account_key]) {
            self.note_throttled_login(ctx, "throttled");
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
            && !self.known_logins.is_known(key.name(), account_key.name())
            && let Err(retry_after_secs) = self.throttle.check(&[key])
        {
            self.note_throttled_login(ctx, "address_slowed");
            return Err(ServiceError::Throttled { retry_after_secs });
        }

        let user = {
            let mut tx = self.store.platform(Access::Read).await?;
            tx.user_by_email(&lookup).await?
        };
        // Exactly one Argon2 verification on every path, so an unknown email
        // costs the same time as a wrong password.
        let (hash, known) = match &user {
            Some(user) => (user.password_hash.clone(), true),
            None => (self.dummy_hash.clone(), false),
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
                self.throttle.record_failure(&keys);
                let actor = match &user {
                    Some(user) => Actor {
                        kind: bulkhead_domain::audit::ActorKind::User,
                        id: Some(*user.id.as_uuid()),
                    },
                    None => Actor::ANONYMOUS,
                };
                let draft = self.draft(
                    ctx,
                    actor,
                    "auth.login",
                    ("user", user.as_ref().map(|u| u.id.to_string())),
                    Outcome::Failure,
                    serde_json::json!({ "reason": "invalid_credentials" }),
                );
                self.record_denial(None, draft).await;
                // Unknown email and wrong password answer alike (A4).
                return Err(ServiceError::InvalidCredentials);
            }
        };
        let (user, needs_rehash) = user;
        self.throttle.record_success(&account_key);
        if let Some(ip) = &ctx.ip {
            self.known_logins.remember(ip, account_key.name());
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
        let now = self.now();
        let mut tx = self.store.platform(Access::Write).await?;
        if let Some(hash) = &new_hash {
            tx.set_password_hash(user.id, hash, now).await?;
        }
        // Always a fresh session: a session id fixed before login is worthless.
        let session = self
            .new_session(&mut *tx, user.id, &refresh_token, ctx)
            .await?;
        let draft = self.draft(
            ctx,
            Actor {
                kind: bulkhead_domain::audit::ActorKind::User,
                id: Some(*user.id.as_uuid()),
            },
            "auth.login",
            ("session", Some(session.id.to_string())),
            Outcome::Success,
            serde_json::json!({ "factor": "password", "rehashed": new_hash.is_some() }),
        );
        tx.append_platform_audit(draft).await?;
        tx.commit().await?;
        self.tokens_for(user, session.id, refresh_token)
    }

    /// A login refused by a limit before any password was tried: cheap to
    /// send, so counted rather than written one by one.
    /// `reason` is `throttled` (the account's limit) or `address_slowed`.
    fn note_throttled_login(&self, ctx: &RequestContext, reason: &'static str) {
        self.note_denial(crate::denials::Denial {
            actor: Actor::ANONYMOUS,
            action: "auth.login",
            reason,
            target: None,
            ctx,
        });
    }

    async fn new_session(
        &self,
        tx: &mut dyn bulkhead_store::PlatformTx,
        user: UserId,
        refresh_token: &str,
        ctx: &RequestContext,
    ) -> Result<Session, ServiceError> {
        let now = self.now();
        Ok(tx
            .insert_session(NewSession {
                id: SessionId::new(),
                user_id: user,
                refresh_token_hash: secrets::sha256(refresh_token),
                expires_at: now + self.settings.session_absolute,
                ip: ctx.ip.clone(),
                user_agent: ctx.user_agent.clone(),
                at: now,
            })
            .await?)
    }

    fn tokens_for(
        &self,
        user: User,
        session: SessionId,
        refresh_token: String,
    ) -> Result<Tokens, ServiceError> {
        let access_token = self
            .tokens
            .issue(&self.keys, user.id, session, self.now())?;
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
        let now = self.now();
        let mut tx = self.store.platform(Access::Write).await?;
        let Some(record) = tx.refresh_token(&presented).await? else {
            return Err(ServiceError::InvalidRefreshToken);
        };
        let Some(session) = tx.session(record.session_id).await? else {
            return Err(ServiceError::InvalidRefreshToken);
        };
        if let Some(rotated_at) = record.rotated_at {
            if now - rotated_at > self.settings.refresh_grace && session.revoked_at.is_none() {
                tx.revoke_session(session.id, now).await?;
                tx.invalidate(Invalidation::Session(session.id));
                let draft = self.draft(
                    ctx,
                    Actor {
                        kind: bulkhead_domain::audit::ActorKind::User,
                        id: Some(*session.user_id.as_uuid()),
                    },
                    "auth.refresh",
                    ("session", Some(session.id.to_string())),
                    Outcome::Denied,
                    serde_json::json!({ "reason": "refresh_token_reuse", "session_revoked": true }),
                );
                tx.append_platform_audit(draft).await?;
                tx.commit().await?;
            }
            return Err(ServiceError::InvalidRefreshToken);
        }
        let idle_expired = now - session.last_used_at > self.settings.session_idle;
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
        if !tx
            .rotate_refresh_token(session.id, &presented, &secrets::sha256(&next), now)
            .await?
        {
            // A concurrent refresh of the same token won.
            return Err(ServiceError::InvalidRefreshToken);
        }
        tx.commit().await?;
        self.tokens_for(user, session.id, next)
    }

    /// Ends the caller's session: its refresh token and access tokens stop
    /// working on the next request.
    pub async fn logout(
        &self,
        principal: &Principal,
        ctx: &RequestContext,
    ) -> Result<(), ServiceError> {
        let Principal::User { user, session } = *principal else {
            return Err(ServiceError::Forbidden);
        };
        self.end_session(user, session, "auth.logout", ctx).await
    }

    async fn end_session(
        &self,
        user: UserId,
        session: SessionId,
        action: &str,
        ctx: &RequestContext,
    ) -> Result<(), ServiceError> {
        let mut tx = self.store.platform(Access::Write).await?;
        match tx.session(session).await? {
            Some(found) if found.user_id == user => {}
            _ => return Err(ServiceError::NotFound("session_not_found")),
        }
        tx.revoke_session(session, self.now()).await?;
        tx.invalidate(Invalidation::Session(session));
        let draft = self.draft(
            ctx,
            Actor {
                kind: bulkhead_domain::audit::ActorKind::User,
                id: Some(*user.as_uuid()),
            },
            action,
            ("session", Some(session.to_string())),
            Outcome::Success,
            serde_json::json!({}),
        );
        tx.append_platform_audit(draft).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The caller's own live sessions, newest first.
    pub async fn my_sessions(
        &self,
        principal: &Principal,
    ) -> Result<Vec<(Session, bool)>, ServiceError> {
        let Principal::User {
            user,
            session: current,
        } = *principal
        else {
            return Err(ServiceError::Forbidden);
        };
        let now = self.now();
        let mut tx = self.store.platform(Access::Read).await?;
        let mut sessions = tx.sessions_of_user(user).await?;
        // Only live sessions: ended ones are history, kept for the audit log.
        sessions.retain(|s| {
            s.revoked_at.is_none()
                && now < s.expires_at
                && now - s.last_used_at <= self.settings.session_idle
        });
        sessions.sort_by_key(|s| std::cmp::Reverse(s.id));
        Ok(sessions
            .into_iter()
            .map(|s| {
                let is_current = s.id == current;
                (s, is_current)
            })
            .collect())
    }

    pub async fn revoke_my_session(
        &self,
        principal: &Principal,
        session: SessionId,
        ctx: &RequestContext,
    ) -> Result<(), ServiceError> {
        let Principal::User { user, .. } = *principal else {
            return Err(ServiceError::Forbidden);
        };
        self.end_session(user, session, "session.revoke", ctx).await
    }

    /// Changes the caller's password; needs the current one. With
    /// `end_other_sessions`, every other session of the user ends.
    pub async fn change_password(
        &self,
        principal: &Principal,
        current: &str,
        new: &str,
        end_other_sessions: bool,
        ctx: &RequestContext,
    ) -> Result<(), ServiceError> {
        let Principal::User {
            user: user_id,
            session: current_session,
        } = *principal
        else {
            return Err(ServiceError::Forbidden);
        };
        let user = {
            let mut tx = self.store.platform(Access::Read).await?;
            tx.user(user_id)
                .await?
                .ok_or(ServiceError::Unauthenticated)?
        };
        if !matches!(
            self.verify_password(user.password_hash.clone(), current.to_owned())
                .await,
            Verification::Valid { .. }
        ) {
            let draft = self.draft(
                ctx,
                Actor {
                    kind: bulkhead_domain::audit::ActorKind::User,
                    id: Some(*user_id.as_uuid()),
                },
                "user.password_change",
                ("user", Some(user_id.to_string())),
                Outcome::Denied,
                serde_json::json!({ "reason": "wrong_current_password" }),
            );
            self.record_denial(None, draft).await;
            return Err(ServiceError::invalid(
                "current_password",
                "wrong",
                "the current password is not correct",
            ));
        }
        let new = Password::parse(new)
            .map_err(|e| ServiceError::invalid("new_password", "invalid", e.to_string()))?;
        let hash = self.hash_password(new).await?;
        let now = self.now();
        let mut tx = self.store.platform(Access::Write).await?;
        tx.set_password_hash(user_id, &hash, now).await?;
        let mut n_ended = 0;
        if end_other_sessions {
            for session in tx.sessions_of_user(user_id).await? {
                if session.id != current_session && session.revoked_at.is_none() {
                    tx.revoke_session(session.id, now).await?;
                    tx.invalidate(Invalidation::Session(session.id));
                    n_ended += 1;
                }
            }
        }
        tx.invalidate(Invalidation::User(user_id));
        let draft = self.draft(
            ctx,
            Actor {
                kind: bulkhead_domain::audit::ActorKind::User,
                id: Some(*user_id.as_uuid()),
            },
            "user.password_change",
            ("user", Some(user_id.to_string())),
            Outcome::Success,
            serde_json::json!({ "other_sessions_ended": n_ended }),
        );
        tx.append_platform_audit(draft).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The caller's profile and memberships (served from the cache).
    pub async fn me(&self, principal: &Principal) -> Result<Me, ServiceError> {
        let Principal::User { user, .. } = *principal else {
            return Err(ServiceError::Forbidden);
        };
        let state = self
            .user_state(user)
            .await?
            .ok_or(ServiceError::Unauthenticated)?;
        let memberships = self.user_memberships(user).await?;
        Ok(Me {
            user,
            state,
            memberships,
        })
    }

    pub(crate) async fn user_memberships(
        &self,
        user: UserId,
    ) -> Result<Arc<Vec<UserMembership>>, ServiceError> {
        if let Some(cached) = self.cache.user_memberships(&user) {
            return Ok(cached);
        }
        let epoch = self.cache.epoch();
        let memberships = Arc::new(self.store.memberships_of_user(user).await?);
        self.cache
            .put_user_memberships(epoch, user, Arc::clone(&memberships));
        Ok(memberships)
    }

    pub(crate) async fn user_state(&self, user: UserId) -> Result<Option<UserState>, ServiceError> {
        if let Some(cached) = self.cache.user(&user) {
            return Ok(cached);
        }
        let epoch = self.cache.epoch();
        let mut tx = self.store.platform(Access::Read).await?;
        let state = tx.user(user).await?.map(|user| UserState {
            email: user.email.to_string(),
            display_name: user.display_name,
            created_at: user.created_at,
            deactivated: user.deactivated_at.is_some(),
            is_platform_admin: user.is_platform_admin,
        });
        self.cache.put_user(epoch, user, state.clone());
        Ok(state)
    }

    async fn session_state(
        &self,
        session: SessionId,
    ) -> Result<Option<SessionState>, ServiceError> {
        if let Some(cached) = self.cache.session(&session) {
            return Ok(cached);
        }
        let epoch = self.cache.epoch();
        let mut tx = self.store.platform(Access::Read).await?;
        let state = tx.session(session).await?.map(|s| SessionState {
            user: s.user_id,
            revoked: s.revoked_at.is_some(),
            expires_at: s.expires_at,
        });
        self.cache.put_session(epoch, session, state);
        Ok(state)
    }

    /// Turns a bearer credential (an access token or an API key) into a
    /// principal, or [`ServiceError::Unauthenticated`]. The hot path reads
    /// only the cache.
    pub async fn authenticate(&self, bearer: &str) -> Result<Principal, ServiceError> {
        if bearer.starts_with(API_KEY_PREFIX) {
            return self.authenticate_api_key(bearer).await;
        }
        let now = self.now();
        let verified = match self.tokens.verify(&self.keys, bearer, now) {
            Some(verified) => verified,
            None => {
                // Perhaps signed with a key rotated in after we loaded ours.
                if self.keys.may_reload(now) && has_unknown_kid(&self.keys, bearer) {
                    self.reload_keys().await?;
                    self.tokens
                        .verify(&self.keys, bearer, now)
                        .ok_or(ServiceError::Unauthenticated)?
                } else {
                    return Err(ServiceError::Unauthenticated);
                }
            }
        };
        let session = self
            .session_state(verified.session)
            .await?
            .ok_or(ServiceError::Unauthenticated)?;
        if session.revoked || session.user != verified.user || now >= session.expires_at {
            return Err(ServiceError::Unauthenticated);
        }
        let user = self
            .user_state(verified.user)
            .await?
            .ok_or(ServiceError::Unauthenticated)?;
        if user.deactivated {
            return Err(ServiceError::Unauthenticated);
        }
        Ok(Principal::User {
            user: verified.user,
            session: verified.session,
        })
    }
}

fn has_unknown_kid(keys: &crate::keys::Keys, token: &str) -> bool {
    jsonwebtoken::decode_header(token)
        .ok()
        .and_then(|header| header.kid)
        .is_some_and(|kid| keys.verifying_key(&kid).is_none())
}
