//! Sessions and credentials: logout, the caller's own sessions and
//! profile, password change, and turning a bearer credential (an access
//! token or an API key) into a [`Principal`].

use bulkhead_domain::audit::Outcome;
use bulkhead_domain::{ApiKeyId, Password, SessionId, TenantId, UserId};
use bulkhead_store::{Access, Invalidation, Session};

use crate::ServiceError;
use crate::auth::{Identity, Me};
use crate::context::{Actor, Principal, RequestContext};
use crate::passwords::Verification;
use crate::secrets::{self, API_KEY_PREFIX};

impl Identity {
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
        let mut tx = self.core.store.platform(Access::Write).await?;
        match tx.session(session).await? {
            Some(found) if found.user_id == user => {}
            _ => return Err(ServiceError::NotFound("session_not_found")),
        }
        tx.revoke_session(session, self.core.now()).await?;
        tx.invalidate(Invalidation::Session(session));
        let draft = self.core.draft(
            ctx,
            Actor::user(user),
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
        let now = self.core.now();
        let mut tx = self.core.store.platform(Access::Read).await?;
        let mut sessions = tx.sessions_of_user(user).await?;
        // Only live sessions: ended ones are history, kept for the audit log.
        sessions.retain(|s| {
            s.revoked_at.is_none()
                && now < s.expires_at
                && now - s.last_used_at <= self.core.settings.session_idle
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
            let mut tx = self.core.store.platform(Access::Read).await?;
            tx.user(user_id)
                .await?
                .ok_or(ServiceError::Unauthenticated)?
        };
        if !matches!(
            self.verify_password(user.password_hash.clone(), current.to_owned())
                .await,
            Verification::Valid { .. }
        ) {
            let draft = self.core.draft(
                ctx,
                Actor::user(user_id),
                "user.password_change",
                ("user", Some(user_id.to_string())),
                Outcome::Denied,
                serde_json::json!({ "reason": "wrong_current_password" }),
            );
            self.core.record_denial(None, draft).await;
            return Err(ServiceError::invalid(
                "current_password",
                "wrong",
                "the current password is not correct",
            ));
        }
        let new = Password::parse(new)
            .map_err(|e| ServiceError::invalid("new_password", "invalid", e.to_string()))?;
        let hash = self.hash_password(new).await?;
        let now = self.core.now();
        let mut tx = self.core.store.platform(Access::Write).await?;
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
        let draft = self.core.draft(
            ctx,
            Actor::user(user_id),
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
            .core
            .user_state(user)
            .await?
            .ok_or(ServiceError::Unauthenticated)?;
        let memberships = self.core.user_memberships(user).await?;
        Ok(Me {
            user,
            state,
            memberships,
        })
    }

    /// Turns a bearer credential (an access token or an API key) into a
    /// principal, or [`ServiceError::Unauthenticated`]. The hot path reads
    /// only the cache.
    pub async fn authenticate(&self, bearer: &str) -> Result<Principal, ServiceError> {
        if bearer.starts_with(API_KEY_PREFIX) {
            return self.authenticate_api_key(bearer).await;
        }
        let now = self.core.now();
        let verified = match self.parts.tokens.verify(&self.parts.keys, bearer, now) {
            Some(verified) => verified,
            None => {
                // Perhaps signed with a key rotated in after we loaded ours.
                if self.parts.keys.may_reload(now) && has_unknown_kid(&self.parts.keys, bearer) {
                    self.reload_keys().await?;
                    self.parts
                        .tokens
                        .verify(&self.parts.keys, bearer, now)
                        .ok_or(ServiceError::Unauthenticated)?
                } else {
                    return Err(ServiceError::Unauthenticated);
                }
            }
        };
        let session = self
            .core
            .session_state(verified.session)
            .await?
            .ok_or(ServiceError::Unauthenticated)?;
        if session.revoked || session.user != verified.user || now >= session.expires_at {
            return Err(ServiceError::Unauthenticated);
        }
        let user = self
            .core
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

    pub(crate) async fn authenticate_api_key(
        &self,
        presented: &str,
    ) -> Result<Principal, ServiceError> {
        let parsed: Option<(TenantId, ApiKeyId)> =
            secrets::parse_scoped_token(API_KEY_PREFIX, presented);
        let Some((tenant, id)) = parsed else {
            return Err(ServiceError::Unauthenticated);
        };
        let key = match self.core.cache.api_key(&(tenant, id)) {
            Some(key) => key,
            None => {
                let epoch = self.core.cache.epoch();
                let mut tx = self.core.store.tenant(tenant, Access::Read).await?;
                let key = tx.api_key(id).await?;
                self.core
                    .cache
                    .put_api_key(epoch, (tenant, id), key.clone());
                key
            }
        };
        let Some(key) = key else {
            return Err(ServiceError::Unauthenticated);
        };
        let now = self.core.now();
        if !secrets::same_digest(&key.key_hash, &secrets::sha256(presented))
            || key.revoked_at.is_some()
            || key.expires_at.is_some_and(|at| at <= now)
        {
            return Err(ServiceError::Unauthenticated);
        }
        self.parts.api_key_usage.note(tenant, id, now);
        Ok(Principal::ApiKey {
            tenant,
            key: id,
            role: key.role,
        })
    }
}

fn has_unknown_kid(keys: &crate::keys::Keys, token: &str) -> bool {
    jsonwebtoken::decode_header(token)
        .ok()
        .and_then(|header| header.kid)
        .is_some_and(|kid| keys.verifying_key(&kid).is_none())
}
