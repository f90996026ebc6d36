//! The OpenAPI document as a contract that every answer is checked against.
//!
//! The harness's clients carry an observer ([`checked`]) that shows each
//! answer to [`Contract::check`], so no test opts in and none can opt out:
//! the route is found by matching the request path against the document's
//! path templates, the status must be documented for that operation, the
//! `Content-Type` must be one the document gives for that status, and a
//! JSON body must validate against its schema (`$ref`s resolve to the
//! document's components; formats such as `uuid` and `date-time` are
//! checked). Bodies of other media types (the event stream) and answers
//! whose body is not read are checked for status and content type only.
//!
//! The document is built in process from the server's own router, once per
//! test binary; `the_served_document_is_the_one_checked_against` makes sure
//! it is the one `/openapi.json` serves.
//!
//! Outside the document, on purpose: paths that match no template (they
//! must be problem+json errors), a documented path with a method it lacks
//! (405 problem+json), a tenant host's `/v1/...` paths (checked as the
//! `/v1/tenants/{t}/...` they are rewritten to), and `OPTIONS` (CORS
//! preflights are answered by a layer in front of the API, not by it).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use bulkhead_client::header::{CONTENT_TYPE, HOST, HeaderMap};
use bulkhead_client::{Client, Exchange};
use serde_json::{Map, Value};

/// One answer, as much of it as was seen.
#[derive(Debug, Clone, Copy)]
pub struct Answer<'a> {
    pub method: &'a str,
    /// The request's path, without the query string.
    pub path: &'a str,
    /// The request named a host of its own (a tenant host, maybe).
    pub host_header: bool,
    pub status: u16,
    pub content_type: Option<&'a str>,
    /// `None` when the body was not read (a stream).
    pub body: Option<&'a [u8]>,
}

impl<'a> Answer<'a> {
    pub fn from_exchange(exchange: &'a Exchange<'a>) -> Answer<'a> {
        Answer {
            method: exchange.method.as_str(),
            path: exchange.url.path(),
            host_header: exchange.request_headers.contains_key(HOST),
            status: exchange.status,
            content_type: content_type(exchange.headers),
            body: Some(exchange.body),
        }
    }
}

pub fn content_type(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
}

/// The document's operations, ready to check answers against.
pub struct Contract {
    /// `paths` of the document, templates split into segments.
    routes: Vec<Route>,
    components: Value,
    /// Compiled schemas, by their JSON text: most answers share a few.
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

struct Route {
    template: String,
    segments: Vec<Segment>,
    /// Method (lower case) to its `responses` object.
    operations: Map<String, Value>,
}

enum Segment {
    Literal(String),
    Parameter,
}

/// The contract of the server under test: its OpenAPI document, built from
/// the same router the binary serves.
pub fn contract() -> &'static Contract {
    static CONTRACT: OnceLock<Contract> = OnceLock::new();
    CONTRACT.get_or_init(|| Contract::new(&served_document()))
}

/// The document `bulkhead serve` publishes at `/openapi.json`.
pub fn served_document() -> Value {
    let document = bulkhead_http::openapi::document(bulkhead_http::documented_routes());
    serde_json::to_value(document).unwrap()
}

/// `client`, with every answer it receives checked against [`contract`];
/// a mismatch panics, failing the test that made the call.
pub fn checked(client: Client) -> Client {
    client.with_observer(|exchange| {
        let answer = Answer::from_exchange(exchange);
        if let Err(mismatch) = contract().check(&answer) {
            panic!(
                "the answer to {} {} does not match the OpenAPI document: {mismatch}\nbody: {}",
                answer.method,
                exchange.url,
                String::from_utf8_lossy(exchange.body)
            );
        }
    })
}

/// Checks an answer whose body is not read (a stream), by its status and
/// headers.
#[track_caller]
pub fn check_unread(method: &str, url: &reqwest::Url, status: u16, headers: &HeaderMap) {
    let answer = Answer {
        method,
        path: url.path(),
        host_header: false,
        status,
        content_type: content_type(headers),
        body: None,
    };
    if let Err(mismatch) = contract().check(&answer) {
        panic!("the answer to {method} {url} does not match the OpenAPI document: {mismatch}");
    }
}

impl Contract {
    pub fn new(document: &Value) -> Contract {
        let routes = document["paths"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(template, item)| Route {
                template: template.clone(),
                segments: template
                    .split('/')
                    .map(|segment| {
                        if segment.starts_with('{') && segment.ends_with('}') {
                            Segment::Parameter
                        } else {
                            Segment::Literal(segment.to_owned())
                        }
                    })
                    .collect(),
                operations: item
                    .as_object()
                    .unwrap()
                    .iter()
                    .filter_map(|(method, operation)| {
                        Some((method.clone(), operation.get("responses")?.clone()))
                    })
                    .collect(),
            })
            .collect();
        Contract {
            routes,
            components: document["components"].clone(),
            validators: Mutex::new(HashMap::new()),
        }
    }

    /// `Ok` when the document allows this answer; otherwise what differs.
    pub fn check(&self, answer: &Answer<'_>) -> Result<(), String> {
        if answer.method.eq_ignore_ascii_case("OPTIONS") {
            return Ok(());
        }
        let route = self.route(answer.path).or_else(|| {
            // A tenant host's `/v1/<rest>` is served as `/v1/tenants/{t}/<rest>`.
            let rest = answer.path.strip_prefix("/v1/")?;
            answer
                .host_header
                .then(|| self.route(&format!("/v1/tenants/_/{rest}")))
                .flatten()
        });
        let Some(route) = route else {
            return self.check_problem(answer, &[404, 405], "a path the document does not list");
        };
        let method = match answer.method.to_ascii_lowercase() {
            // axum answers HEAD with the GET handler, without a body.
            head if head == "head" => "get".to_owned(),
            method => method,
        };
        let Some(responses) = route.operations.get(&method) else {
            return self.check_problem(answer, &[405], "a method this path does not have");
        };
        let operation = format!("{} {}", method.to_uppercase(), route.template);
        let status = answer.status.to_string();
        let range = format!("{}XX", status.chars().next().unwrap_or('?'));
        let Some(response) = responses
            .get(&status)
            .or_else(|| responses.get(&range))
            .or_else(|| responses.get("default"))
        else {
            let documented: Vec<&String> = responses.as_object().unwrap().keys().collect();
            return Err(format!(
                "status {status} is not documented for {operation} (documented: {documented:?})"
            ));
        };
        self.check_content(answer, response, &format!("{operation} {status}"))
    }

    /// The route whose template matches `path`; literal segments beat
    /// parameters, as in the router.
    fn route(&self, path: &str) -> Option<&Route> {
        let segments: Vec<&str> = path.split('/').collect();
        self.routes
            .iter()
            .filter(|route| {
                route.segments.len() == segments.len()
                    && route
                        .segments
                        .iter()
                        .zip(&segments)
                        .all(|(expected, actual)| match expected {
                            Segment::Literal(literal) => literal == actual,
                            Segment::Parameter => !actual.is_empty(),
                        })
            })
            .max_by_key(|route| {
                route
                    .segments
                    .iter()
                    .filter(|segment| matches!(segment, Segment::Literal(_)))
                    .count()
            })
    }

    /// An answer outside the document must be a problem+json error with
    /// one of `statuses`.
    fn check_problem(
        &self,
        answer: &Answer<'_>,
        statuses: &[u16],
        what: &str,
    ) -> Result<(), String> {
        if !statuses.contains(&answer.status) {
            return Err(format!(
                "{what} answered {}, not one of {statuses:?}",
                answer.status
            ));
        }
        let problem = serde_json::json!({
            "description": "an error made outside any operation",
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
        });
        self.check_content(answer, &problem, what)
    }

    fn check_content(
        &self,
        answer: &Answer<'_>,
        response: &Value,
        what: &str,
    ) -> Result<(), String> {
        let content = response
            .get("content")
            .and_then(Value::as_object)
            .filter(|content| !content.is_empty());
        let Some(content) = content else {
            return match answer.body {
                Some(body) if !body.is_empty() => Err(format!(
                    "{what} is documented without a body, but one came ({} bytes)",
                    body.len()
                )),
                _ => Ok(()),
            };
        };
        let Some(content_type) = answer.content_type else {
            return Err(format!("{what} came without a Content-Type"));
        };
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        let Some(media) = content.get(&essence) else {
            let documented: Vec<&String> = content.keys().collect();
            return Err(format!(
                "{what} came as {essence}, documented as {documented:?}"
            ));
        };
        let is_json = essence == "application/json" || essence.ends_with("+json");
        let (Some(body), Some(schema), true) = (answer.body, media.get("schema"), is_json) else {
            return Ok(());
        };
        if answer.method.eq_ignore_ascii_case("HEAD") {
            return Ok(());
        }
        let instance: Value = serde_json::from_slice(body).map_err(|error| {
            format!("{what} is documented as {essence}, but is not JSON: {error}")
        })?;
        let validator = self.validator(schema)?;
        let errors: Vec<String> = validator
            .iter_errors(&instance)
            .map(|error| format!("at {:?}: {error}", error.instance_path().as_str()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{what}: the body fails its schema {schema}: {}",
                errors.join("; ")
            ))
        }
    }

    /// The compiled `schema`, whose `$ref`s point into the document's
    /// components: they are put beside it, so `#/components/...` resolves.
    fn validator(&self, schema: &Value) -> Result<Arc<jsonschema::Validator>, String> {
        let key = schema.to_string();
        let mut validators = self.validators.lock().unwrap();
        if let Some(validator) = validators.get(&key) {
            return Ok(Arc::clone(validator));
        }
        let mut root = schema.clone();
        let Some(object) = root.as_object_mut() else {
            return Err(format!("a schema that is not an object: {schema}"));
        };
        object.insert("components".to_owned(), self.components.clone());
        let validator = jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&root)
            .map_err(|error| format!("the document's schema {schema} does not compile: {error}"))?;
        let validator = Arc::new(validator);
        validators.insert(key, Arc::clone(&validator));
        Ok(validator)
    }
}
