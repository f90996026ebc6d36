//! The untyped syntax tree of a filter, and its canonical text.

use std::fmt;

/// A node with the byte offset where it starts in the filter text, so later
/// checks can point at it.
///
/// Equality ignores the position (as `syn` ignores spans): the same filter
/// written with other spacing is the same filter.
#[derive(Debug, Clone)]
pub struct Spanned<T> {
    pub node: T,
    pub position: usize,
}

impl<T> Spanned<T> {
    pub fn new(node: T, position: usize) -> Self {
        Self { node, position }
    }
}

impl<T: PartialEq> PartialEq for Spanned<T> {
    fn eq(&self, other: &Self) -> bool {
        self.node == other.node
    }
}

impl<T: Eq> Eq for Spanned<T> {}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// `~`: the text contains the literal as a substring.
    Contains,
}

impl CompareOp {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "=",
            Self::Ne => "!=",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Contains => "~",
        }
    }

    /// Whether the operator orders values (`<`, `<=`, `>`, `>=`).
    pub fn is_ordering(self) -> bool {
        matches!(self, Self::Lt | Self::Le | Self::Gt | Self::Ge)
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A literal as written, before it meets a field's type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Literal {
    /// The string's value, escapes resolved.
    String(String),
    /// The number's text exactly as written (`-1.50e3`), so a decimal field
    /// can use every digit; it always matches
    /// `[+-]?digits(.digits)?([eE][+-]?digits)?`.
    Number(String),
    Bool(bool),
    Null,
}

/// A parsed filter.
///
/// [`Display`](fmt::Display) writes a canonical text (double-quoted strings,
/// one space around operators, parentheses only where the tree needs them)
/// that [`parse`](super::parse) reads back to an equal `Expr`, as long as it
/// stays within the length limit. `And` and `Or` from the parser have at
/// least two operands; one built by hand with fewer has no text of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Compare {
        field: Spanned<String>,
        op: Spanned<CompareOp>,
        value: Spanned<Literal>,
    },
    In {
        field: Spanned<String>,
        values: Vec<Spanned<Literal>>,
    },
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::String(text) => write_quoted(f, text),
            Self::Number(text) => f.write_str(text),
            Self::Bool(value) => write!(f, "{value}"),
            Self::Null => f.write_str("null"),
        }
    }
}

/// Writes `text` in double quotes with the escapes the lexer reads back.
fn write_quoted(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    f.write_str("\"")?;
    for character in text.chars() {
        match character {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            // Other control characters would be invisible in logs and URLs.
            character if character.is_control() => {
                write!(f, "\\u{{{:x}}}", u32::from(character))?;
            }
            character => write!(f, "{character}")?,
        }
    }
    f.write_str("\"")
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::And(operands) => write_joined(f, operands, " && ", |operand| {
                matches!(operand, Self::And(_) | Self::Or(_))
            }),
            // `&&` binds tighter than `||`, so only a nested `||` needs
            // parentheses to keep the tree's shape.
            Self::Or(operands) => write_joined(f, operands, " || ", |operand| {
                matches!(operand, Self::Or(_))
            }),
            Self::Not(operand) => match operand.as_ref() {
                Self::And(_) | Self::Or(_) => write!(f, "!({operand})"),
                _ => write!(f, "!{operand}"),
            },
            Self::Compare { field, op, value } => {
                write!(f, "{} {} {}", field.node, op.node, value.node)
            }
            Self::In { field, values } => {
                write!(f, "{} in (", field.node)?;
                for (index, value) in values.iter().enumerate() {
                    if index > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}", value.node)?;
                }
                f.write_str(")")
            }
        }
    }
}

fn write_joined(
    f: &mut fmt::Formatter<'_>,
    operands: &[Expr],
    separator: &str,
    needs_parentheses: impl Fn(&Expr) -> bool,
) -> fmt::Result {
    for (index, operand) in operands.iter().enumerate() {
        if index > 0 {
            f.write_str(separator)?;
        }
        if needs_parentheses(operand) {
            write!(f, "({operand})")?;
        } else {
            write!(f, "{operand}")?;
        }
    }
    Ok(())
}
