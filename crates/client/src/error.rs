//! [`ClientError`]: everything a request can end in besides success.

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};

use crate::types::Problem;

/// The most characters of a body quoted in an error message.
const QUOTED_BODY_CHARS: usize = 500;

/// Why a request did not produce the value its method promises.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error status. `problem` is its
    /// problem+json body; when the body was not one, a problem with code
    /// `unexpected` that quotes the body. `retry_after` is the
    /// `Retry-After` header in seconds, when the server sent one as a number
    /// (429 and 503 answers).
    #[error("{status} {}: {}", problem.code, problem.detail)]
    Api {
        status: u16,
        problem: Box<Problem>,
        retry_after: Option<u64>,
    },
    /// No answer: the connection failed, was cut, or timed out.
    #[error("transport: {0}")]
    Transport(String),
    /// A successful answer whose body is not what the contract promises.
    #[error("decode: {0}")]
    Decode(String),
    /// The request could not be built: an invalid base URL, a header given
    /// to `with_token` or `with_header` that is not a valid header, or a
    /// body that cannot be serialised. Nothing was sent.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
}

impl ClientError {
    /// The HTTP status of an error answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The problem's `code` of an error answer, e.g. `tenant_not_found`.
    pub fn code(&self) -> Option<&str> {
        self.problem().map(|problem| problem.code.as_str())
    }

    /// The problem of an error answer.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            ClientError::Api { problem, .. } => Some(problem),
            _ => None,
        }
    }

    /// The `Retry-After` of an error answer, in seconds.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            ClientError::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The error for an answer with an error `status`.
    pub(crate) fn from_answer(status: u16, headers: &HeaderMap, body: &[u8]) -> ClientError {
        let retry_after = headers
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse().ok());
        ClientError::Api {
            status,
            problem: Box::new(problem_from_body(status, body)),
            retry_after,
        }
    }

    /// The error for a successful answer whose body did not decode.
    pub(crate) fn decode(status: u16, error: &serde_json::Error, body: &[u8]) -> ClientError {
        ClientError::Decode(format!(
            "{error} in the body of a {status} answer: {}",
            quote(body)
        ))
    }

    pub(crate) fn from_reqwest(error: reqwest::Error) -> ClientError {
        if error.is_builder() {
            ClientError::InvalidRequest(chain(&error))
        } else if error.is_decode() {
            ClientError::Decode(chain(&error))
        } else {
            ClientError::Transport(chain(&error))
        }
    }
}

/// The problem in an error answer's `body`, or one made up for a body that
/// is not a problem (an HTML page from a proxy, an empty 502, …).
pub(crate) fn problem_from_body(status: u16, body: &[u8]) -> Problem {
    if let Ok(problem) = serde_json::from_slice::<Problem>(body) {
        return problem;
    }
    let title = StatusCode::from_u16(status)
        .ok()
        .and_then(|status| status.canonical_reason())
        .unwrap_or("Error");
    let detail = if body.is_empty() {
        format!("The server answered {status} with an empty body.")
    } else {
        format!(
            "The server answered {status} with a body that is not a problem: {}",
            quote(body)
        )
    };
    Problem {
        r#type: "about:blank".to_owned(),
        title: title.to_owned(),
        status,
        code: "unexpected".to_owned(),
        detail,
        errors: Vec::new(),
        quota: None,
    }
}

/// The beginning of `body` as text, for an error message.
fn quote(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    match text.char_indices().nth(QUOTED_BODY_CHARS) {
        Some((end, _)) => format!("{:?}…", &text[..end]),
        None => format!("{text:?}"),
    }
}

/// `error` and its sources, joined with `: `. reqwest's own message is
/// terse ("error sending request"); the cause is in the chain.
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}
