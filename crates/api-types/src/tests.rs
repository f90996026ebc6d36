//! Wire-format tests: JSON round trips, field names, strictness of request
//! bodies, and the OpenAPI schemas derived from the types.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use time::macros::datetime;
use utoipa::OpenApi;
use uuid::Uuid;

use crate::*;

/// Serialises `value`, checks the JSON is `expected`, and checks that the
/// JSON deserialises back into an equal value.
fn check_round_trip<T>(value: &T, expected: Value)
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let json = serde_json::to_value(value).unwrap();
    assert_eq!(json, expected);
    let back: T = serde_json::from_value(json).unwrap();
    assert_eq!(&back, value);
}

fn uuid(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn user() -> UserView {
    UserView {
        id: uuid(1),
        email: "ada@example.com".into(),
        display_name: Some("Ada".into()),
        created_at: datetime!(2025-01-02 03:04:05 UTC),
    }
}

#[test]
fn a_token_response_round_trips_with_rfc3339_times() {
    let response = TokenResponse::bearer(user(), "access".into(), "refresh".into(), 900);
    check_round_trip(
        &response,
        json!({
            "user": {
                "id": "00000000-0000-0000-0000-000000000001",
                "email": "ada@example.com",
                "display_name": "Ada",
                "created_at": "2025-01-02T03:04:05Z",
            },
            "access_token": "access",
            "refresh_token": "refresh",
            "token_type": "Bearer",
            "expires_in": 900,
        }),
    );
}

#[test]
fn a_tenant_with_role_is_one_flat_object() {
    let tenant = TenantWithRole {
        tenant: TenantView {
            id: uuid(7),
            slug: "acme".into(),
            name: "Acme".into(),
            plan: "free".into(),
            created_at: datetime!(2025-01-02 03:04:05.5 UTC),
        },
        role: Role::Owner,
    };
    check_round_trip(
        &TenantList {
            items: vec![tenant],
        },
        json!({"items": [{
            "id": "00000000-0000-0000-0000-000000000007",
            "slug": "acme",
            "name": "Acme",
            "plan": "free",
            "created_at": "2025-01-02T03:04:05.5Z",
            "role": "owner",
        }]}),
    );
}

#[test]
fn absent_optional_values_in_responses_are_null() {
    let key = ApiKeyView {
        id: uuid(3),
        name: "ci".into(),
        prefix: "bk_abc".into(),
        role: Role::Viewer,
        created_at: datetime!(2025-01-02 03:04:05 UTC),
        expires_at: Some(datetime!(2026-01-01 00:00:00 UTC)),
        revoked_at: None,
        last_used_at: None,
    };
    check_round_trip(
        &ApiKeyList {
            items: vec![key],
            next_cursor: None,
        },
        json!({
            "items": [{
                "id": "00000000-0000-0000-0000-000000000003",
                "name": "ci",
                "prefix": "bk_abc",
                "role": "viewer",
                "created_at": "2025-01-02T03:04:05Z",
                "expires_at": "2026-01-01T00:00:00Z",
                "revoked_at": null,
                "last_used_at": null,
            }],
            "next_cursor": null,
        }),
    );
}

#[test]
fn responses_accept_unknown_and_missing_optional_fields() {
    // The API may add fields; an older client must keep working.
    let view: AdminTenantView = serde_json::from_value(json!({
        "id": "00000000-0000-0000-0000-000000000009",
        "slug": "acme",
        "name": "Acme",
        "plan": "free",
        "created_at": "2025-01-02T03:04:05+02:00",
        "a_field_added_later": true,
    }))
    .unwrap();
    assert_eq!(view.suspended_at, None);
    assert_eq!(view.charge_markup, None);
    assert_eq!(view.created_at, datetime!(2025-01-02 01:04:05 UTC));
}

#[test]
fn an_audit_entry_round_trips_with_its_details() {
    let entry = AuditEntryView {
        id: uuid(4),
        at: datetime!(2025-01-02 03:04:05 UTC),
        actor: ActorView {
            kind: "api_key".into(),
            id: Some(uuid(5)),
        },
        action: "member.role_changed".into(),
        resource_type: "membership".into(),
        resource_id: Some(uuid(6).to_string()),
        outcome: "success".into(),
        ip: None,
        request_id: Some("req-1".into()),
        details: json!({"from": "member", "to": "admin"}),
    };
    let list = AuditList {
        items: vec![entry],
        next_cursor: Some("c2".into()),
    };
    let json = serde_json::to_value(&list).unwrap();
    assert_eq!(
        json["items"][0]["actor"],
        json!({"kind": "api_key", "id": "00000000-0000-0000-0000-000000000005"})
    );
    assert_eq!(json["items"][0]["details"]["to"], "admin");
    assert_eq!(serde_json::from_value::<AuditList>(json).unwrap(), list);
}

#[test]
fn roles_are_snake_case_and_ordered_by_power() {
    for role in Role::ALL {
        let json = serde_json::to_value(role).unwrap();
        assert_eq!(json, json!(role.as_str()));
        assert_eq!(serde_json::from_value::<Role>(json).unwrap(), role);
    }
    assert!(Role::Owner > Role::Admin && Role::Manager > Role::Member);
    assert!(serde_json::from_value::<Role>(json!("Owner")).is_err());
}

/// Deserialises `body` as `T` and returns the error message.
fn rejection<T: DeserializeOwned + std::fmt::Debug>(body: Value) -> String {
    serde_json::from_value::<T>(body).unwrap_err().to_string()
}

#[test]
fn request_bodies_reject_unknown_fields() {
    let messages = [
        rejection::<SignupRequest>(
            json!({"email": "a@b.c", "password": "p", "is_platform_admin": true}),
        ),
        rejection::<LoginRequest>(json!({"email": "a@b.c", "password": "p", "otp": "1"})),
        rejection::<RefreshRequest>(json!({"refresh_token": "r", "session": "s"})),
        rejection::<ChangePasswordRequest>(
            json!({"current_password": "a", "new_password": "b", "endOtherSessions": true}),
        ),
        rejection::<CreateTenantRequest>(json!({"slug": "acme", "name": "A", "plan": "pro"})),
        rejection::<UpdateTenantRequest>(json!({"slug": "other"})),
        rejection::<UpdateMemberRequest>(json!({"role": "admin", "tenant_id": "x"})),
        rejection::<CreateInvitationRequest>(json!({"email": "a@b.c", "role": "viewer", "x": 1})),
        rejection::<AcceptInvitationRequest>(json!({"token": "t", "email": "a@b.c"})),
        rejection::<CreateApiKeyRequest>(json!({"name": "k", "role": "viewer", "tenant": "b"})),
    ];
    for message in messages {
        assert!(message.contains("unknown field"), "{message}");
    }
}

#[test]
fn optional_request_fields_may_be_left_out() {
    let signup: SignupRequest =
        serde_json::from_value(json!({"email": "a@b.c", "password": "p"})).unwrap();
    assert_eq!(signup.display_name, None);
    let change: ChangePasswordRequest =
        serde_json::from_value(json!({"current_password": "a", "new_password": "b"})).unwrap();
    assert!(!change.end_other_sessions);
    let key: CreateApiKeyRequest =
        serde_json::from_value(json!({"name": "k", "role": "member"})).unwrap();
    assert_eq!(key.expires_at, None);
    assert_eq!(
        serde_json::to_value(&key).unwrap(),
        json!({"name": "k", "role": "member"})
    );
    let update: UpdateTenantRequest = serde_json::from_value(json!({})).unwrap();
    assert_eq!(update, UpdateTenantRequest::default());
    let spec: CollectionSpec =
        serde_json::from_value(json!({"name": "notes", "fields": []})).unwrap();
    assert_eq!(spec.visibility, "tenant");
    assert_eq!(spec.indexes, Vec::<Vec<String>>::new());
}

#[test]
fn a_collection_spec_documents_visibility_as_optional_with_its_default() {
    let spec = serde_json::to_value(<CollectionSpec as utoipa::PartialSchema>::schema()).unwrap();
    let required = spec["required"].as_array().unwrap();
    assert!(!required.contains(&json!("visibility")), "{spec:#}");
    assert!(required.contains(&json!("name")), "{spec:#}");
    assert_eq!(spec["properties"]["visibility"]["default"], "tenant");
}

#[test]
fn a_problem_serialises_its_type_and_leaves_out_empty_errors() {
    let problem = Problem {
        r#type: "about:blank".into(),
        title: "Not Found".into(),
        status: 404,
        code: "tenant_not_found".into(),
        detail: "No such tenant.".into(),
        errors: Vec::new(),
        quota: None,
    };
    check_round_trip(
        &problem,
        json!({
            "type": "about:blank",
            "title": "Not Found",
            "status": 404,
            "code": "tenant_not_found",
            "detail": "No such tenant.",
        }),
    );
}

#[test]
fn a_validation_problem_lists_its_field_errors() {
    let problem = Problem {
        r#type: "about:blank".into(),
        title: "Unprocessable Entity".into(),
        status: 422,
        code: "validation_failed".into(),
        detail: "The request has invalid fields.".into(),
        errors: vec![FieldError {
            field: "slug".into(),
            code: "too_short".into(),
            message: "A slug has at least 3 characters.".into(),
        }],
        quota: None,
    };
    let json = serde_json::to_value(&problem).unwrap();
    assert_eq!(
        json["errors"],
        json!([{"field": "slug", "code": "too_short", "message": "A slug has at least 3 characters."}])
    );
    assert_eq!(serde_json::from_value::<Problem>(json).unwrap(), problem);
}

#[test]
fn debug_output_redacts_secrets() {
    let printed = [
        format!(
            "{:?}",
            LoginRequest {
                email: "a@b.c".into(),
                password: "hunter2-hunter2".into(),
            }
        ),
        format!(
            "{:?}",
            TokenResponse::bearer(user(), "hunter2-access".into(), "hunter2-refresh".into(), 1)
        ),
        format!(
            "{:?}",
            ChangePasswordRequest {
                current_password: "hunter2-old".into(),
                new_password: "hunter2-new".into(),
                end_other_sessions: true,
            }
        ),
        format!(
            "{:?}",
            ApiKeyCreated {
                id: uuid(1),
                key: "bk_hunter2".into(),
                prefix: "bk_".into(),
                role: Role::Admin,
                name: "ci".into(),
                expires_at: None,
            }
        ),
    ];
    for text in printed {
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("<redacted>"), "{text}");
    }
}

#[test]
fn queries_read_and_write_query_strings() {
    let query: AuditQuery = serde_urlencoded::from_str(
        "action=member.removed&since=2025-01-02T03%3A04%3A05%2B01%3A00&limit=20",
    )
    .unwrap();
    assert_eq!(
        query,
        AuditQuery {
            action: Some("member.removed".into()),
            since: Some(datetime!(2025-01-02 02:04:05 UTC)),
            limit: Some(20),
            ..AuditQuery::default()
        }
    );
    let written = serde_urlencoded::to_string(&query).unwrap();
    assert_eq!(
        serde_urlencoded::from_str::<AuditQuery>(&written).unwrap(),
        query
    );
    assert_eq!(
        serde_urlencoded::to_string(AuditQuery::default()).unwrap(),
        ""
    );
    assert_eq!(
        serde_urlencoded::from_str::<PageQuery>("cursor=abc&unknown=1").unwrap(),
        PageQuery {
            limit: None,
            cursor: Some("abc".into()),
        }
    );
    assert_eq!(
        serde_urlencoded::to_string(AdminTenantQuery {
            q: Some("ac me".into()),
            ..AdminTenantQuery::default()
        })
        .unwrap(),
        "q=ac+me"
    );
}

/// Every type of the crate, gathered the way the server will gather them.
#[derive(OpenApi)]
#[openapi(components(schemas(
    Role,
    SignupRequest,
    LoginRequest,
    RefreshRequest,
    TokenResponse,
    ChangePasswordRequest,
    UserView,
    TenantRef,
    MembershipView,
    MeResponse,
    SessionView,
    SessionList,
    CreateTenantRequest,
    UpdateTenantRequest,
    TenantView,
    TenantWithRole,
    TenantList,
    MemberUser,
    MemberView,
    MemberList,
    UpdateMemberRequest,
    CreateInvitationRequest,
    InvitationCreated,
    AcceptInvitationRequest,
    AcceptedMembership,
    CreateApiKeyRequest,
    ApiKeyCreated,
    ApiKeyView,
    ApiKeyList,
    ActorView,
    AuditEntryView,
    AuditList,
    AdminTenantView,
    AdminTenantList,
    Problem,
    FieldError,
    HealthStatus,
    PageQuery,
    AuditQuery,
    AdminTenantQuery,
)))]
struct Document;

fn schema(name: &str) -> Value {
    let document = serde_json::to_value(Document::openapi()).unwrap();
    document["components"]["schemas"][name].clone()
}

#[test]
fn the_schemas_form_an_openapi_3_1_document() {
    let document = serde_json::to_value(Document::openapi()).unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"));
    assert_eq!(
        document["components"]["schemas"].as_object().unwrap().len(),
        40
    );
}

#[test]
fn the_problem_schema_names_its_type_field_type() {
    let problem = schema("Problem");
    let properties = problem["properties"].as_object().unwrap();
    assert!(properties.contains_key("type"), "{problem:#}");
    assert!(!properties.contains_key("r#type"), "{problem:#}");
    let required = problem["required"].as_array().unwrap();
    assert!(required.contains(&json!("type")));
    assert!(!required.contains(&json!("errors")));
}

#[test]
fn request_schemas_forbid_additional_properties_and_times_are_date_times() {
    assert_eq!(schema("LoginRequest")["additionalProperties"], json!(false));
    assert_eq!(schema("TokenResponse")["additionalProperties"], Value::Null);
    assert_eq!(
        schema("UserView")["properties"]["created_at"]["format"],
        "date-time"
    );
    assert_eq!(
        schema("Role")["enum"],
        json!(["viewer", "member", "manager", "admin", "owner"])
    );
}

#[test]
fn the_tenant_with_role_schema_is_the_tenant_and_the_role() {
    let schema = schema("TenantWithRole");
    let parts = schema["allOf"].as_array().unwrap();
    assert_eq!(parts[0]["$ref"], "#/components/schemas/TenantView");
    assert_eq!(
        parts[1]["properties"]["role"]["$ref"],
        "#/components/schemas/Role"
    );
    assert_eq!(parts[1]["required"], json!(["role"]));
}
