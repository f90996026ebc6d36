//! The recursive-descent parser of the filter grammar.
//!
//! Recursion happens only on `!` and `(`, and the depth is checked before
//! each such step, so a hostile filter cannot exhaust the stack.

use super::ast::{Expr, Literal, Spanned};
use super::lexer::{Lexer, Token};
use super::{FilterError, MAX_DEPTH, MAX_FILTER_LEN, MAX_IN_VALUES};

/// Parses a filter; see the [module documentation](super) for the grammar.
pub fn parse(text: &str) -> Result<Expr, FilterError> {
    if text.len() > MAX_FILTER_LEN {
        return Err(FilterError::new(
            MAX_FILTER_LEN,
            format!("a filter may be at most {MAX_FILTER_LEN} bytes long"),
        ));
    }
    let mut parser = Parser::new(text)?;
    let expr = parser.or(0)?;
    match parser.token {
        Token::End => Ok(expr),
        _ => Err(parser.unexpected("'&&', '||' or the end of the filter")),
    }
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    /// The current token, not yet consumed, and where it starts.
    token: Token<'a>,
    position: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Result<Self, FilterError> {
        let mut lexer = Lexer::new(text);
        let (token, position) = lexer.next_token()?;
        Ok(Self {
            lexer,
            token,
            position,
        })
    }

    /// Consumes the current token and returns it with its position.
    fn advance(&mut self) -> Result<(Token<'a>, usize), FilterError> {
        let (next, position) = self.lexer.next_token()?;
        let token = std::mem::replace(&mut self.token, next);
        let at = std::mem::replace(&mut self.position, position);
        Ok((token, at))
    }

    fn unexpected(&self, expected: &str) -> FilterError {
        FilterError::new(
            self.position,
            format!("expected {expected}, found {}", self.token.describe()),
        )
    }

    /// Checks that entering one more `!` or `(` stays within [`MAX_DEPTH`].
    fn deeper(&self, depth: usize) -> Result<usize, FilterError> {
        let depth = depth + 1;
        if depth > MAX_DEPTH {
            return Err(FilterError::new(
                self.position,
                format!("a filter may nest '!' and parentheses at most {MAX_DEPTH} deep"),
            ));
        }
        Ok(depth)
    }

    /// `or := and ('||' and)*`
    fn or(&mut self, depth: usize) -> Result<Expr, FilterError> {
        let first = self.and(depth)?;
        if self.token != Token::Or {
            return Ok(first);
        }
        let mut operands = vec![first];
        while self.token == Token::Or {
            self.advance()?;
            operands.push(self.and(depth)?);
        }
        Ok(Expr::Or(operands))
    }

    /// `and := unary ('&&' unary)*`
    fn and(&mut self, depth: usize) -> Result<Expr, FilterError> {
        let first = self.unary(depth)?;
        if self.token != Token::And {
            return Ok(first);
        }
        let mut operands = vec![first];
        while self.token == Token::And {
            self.advance()?;
            operands.push(self.unary(depth)?);
        }
        Ok(Expr::And(operands))
    }

    /// `unary := '!' unary | '(' or ')' | comparison`
    fn unary(&mut self, depth: usize) -> Result<Expr, FilterError> {
        match self.token {
            Token::Not => {
                let depth = self.deeper(depth)?;
                self.advance()?;
                Ok(Expr::Not(Box::new(self.unary(depth)?)))
            }
            Token::Open => {
                let depth = self.deeper(depth)?;
                self.advance()?;
                let inner = self.or(depth)?;
                if self.token != Token::Close {
                    return Err(self.unexpected("'&&', '||' or ')'"));
                }
                self.advance()?;
                Ok(inner)
            }
            Token::Word(_) => self.comparison(),
            _ => Err(self.unexpected("a field name, '!' or '('")),
        }
    }

    /// `comparison := field op literal | field 'in' '(' literal (',' literal)* ')'`
    fn comparison(&mut self) -> Result<Expr, FilterError> {
        let (Token::Word(name), field_at) = self.advance()? else {
            return Err(self.unexpected("a field name"));
        };
        let field = Spanned::new(name.to_owned(), field_at);
        match self.token {
            Token::Op(op) => {
                let (_, op_at) = self.advance()?;
                let value = self.literal()?;
                Ok(Expr::Compare {
                    field,
                    op: Spanned::new(op, op_at),
                    value,
                })
            }
            Token::Word("in") => {
                self.advance()?;
                if self.token != Token::Open {
                    return Err(self.unexpected("'(' after 'in'"));
                }
                self.advance()?;
                let mut values = vec![self.literal()?];
                while self.token == Token::Comma {
                    self.advance()?;
                    if values.len() == MAX_IN_VALUES {
                        return Err(FilterError::new(
                            self.position,
                            format!("an 'in' list may hold at most {MAX_IN_VALUES} values"),
                        ));
                    }
                    values.push(self.literal()?);
                }
                if self.token != Token::Close {
                    return Err(self.unexpected("',' or ')'"));
                }
                self.advance()?;
                Ok(Expr::In { field, values })
            }
            _ => Err(self.unexpected("an operator (= != < <= > >= ~) or 'in'")),
        }
    }

    /// `literal := string | number | 'true' | 'false' | 'null'`
    fn literal(&mut self) -> Result<Spanned<Literal>, FilterError> {
        let literal = match &self.token {
            Token::String(text) => Literal::String(text.clone()),
            Token::Number(text) => Literal::Number((*text).to_owned()),
            Token::Word("true") => Literal::Bool(true),
            Token::Word("false") => Literal::Bool(false),
            Token::Word("null") => Literal::Null,
            _ => {
                return Err(
                    self.unexpected("a value (a quoted string, a number, true, false or null)")
                );
            }
        };
        let (_, at) = self.advance()?;
        Ok(Spanned::new(literal, at))
    }
}
