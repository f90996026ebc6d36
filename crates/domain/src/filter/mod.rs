//! The filter language for listing records, and the sort parameter.
//!
//! A filter reads like `status = "open" && (total >= 100 || !paid = true)`.
//! It goes through two steps: [`parse`] turns text into an untyped [`Expr`]
//! (syntax only, no schema), and [`typecheck`] checks it against a
//! collection's schema and yields a [`TypedExpr`], which each store backend
//! compiles to its own query (see [`typed`] for how). [`parse_sort`] reads
//! the companion sort parameter.
//!
//! # Grammar
//!
//! ```text
//! or         := and ('||' and)*
//! and        := unary ('&&' unary)*
//! unary      := '!' unary | '(' or ')' | comparison
//! comparison := field op literal | field 'in' '(' literal (',' literal)* ')'
//! op         := '=' | '!=' | '<' | '<=' | '>' | '>=' | '~'
//! field      := [A-Za-z_][A-Za-z0-9_]*
//! literal    := string | number | 'true' | 'false' | 'null'
//! string     := '"' … '"' | "'" … "'"      escapes: \\ \" \' \n \r \t \u{1F600}
//! number     := [+-]? digits ('.' digits)? ([eE] [+-]? digits)?
//! ```
//!
//! `!` binds tightest, then `&&`, then `||`. `~` means "contains" (text
//! only). Keywords are lower-case and recognised by position, so a field
//! may be named `in` or `null`. Spaces (ASCII whitespace) may go between
//! any two tokens.
//!
//! # Limits
//!
//! Filters come from untrusted clients, so parsing is bounded: at most
//! [`MAX_FILTER_LEN`] bytes, `!` and parentheses nested at most
//! [`MAX_DEPTH`] deep (the parser checks before it recurses, so the stack
//! is bounded too), at most [`MAX_IN_VALUES`] values in an `in` list.
//! Parsing never panics; every error carries the byte offset of the problem.

mod ast;
mod lexer;
mod parser;
mod sort;
mod typecheck;
pub mod typed;

#[cfg(any(test, feature = "sample"))]
pub mod sample;
#[cfg(test)]
mod tests;

pub use ast::{CompareOp, Expr, Literal, Spanned};
pub use parser::parse;
pub use sort::parse_sort;
pub use typecheck::typecheck;
pub use typed::{FieldRef, SortKey, SystemField, TypedExpr, TypedValue};

/// The longest filter or sort text, in bytes.
pub const MAX_FILTER_LEN: usize = 4096;
/// How deep `!` and parentheses may nest.
pub const MAX_DEPTH: usize = 16;
/// The most values an `in` list may hold.
pub const MAX_IN_VALUES: usize = 100;
/// The most keys a sort may have.
pub const MAX_SORT_KEYS: usize = 3;

/// Why a filter or sort was refused, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at byte {position})")]
pub struct FilterError {
    /// Byte offset into the text where the problem starts; at most the
    /// text's length (equal to it for an unexpected end). It falls on a
    /// character boundary, except for a text over [`MAX_FILTER_LEN`] bytes,
    /// whose error is at exactly that offset, wherever it falls.
    pub position: usize,
    pub message: String,
}

impl FilterError {
    pub(crate) fn new(position: usize, message: impl Into<String>) -> Self {
        Self {
            position,
            message: message.into(),
        }
    }
}
