//! Splits filter text into tokens, one at a time, as the parser asks.

use super::FilterError;
use super::ast::CompareOp;

/// A token. Words (`status`, `in`, `true`) are all [`Token::Word`]: the
/// parser knows from their place which is a field and which a keyword, so a
/// field may be called `in` or `null`.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Token<'a> {
    Word(&'a str),
    String(String),
    Number(&'a str),
    Op(CompareOp),
    And,
    Or,
    Not,
    Open,
    Close,
    Comma,
    End,
}

impl Token<'_> {
    /// How an error message names the token.
    pub(super) fn describe(&self) -> String {
        match self {
            Self::Word(word) => format!("'{word}'"),
            Self::String(_) => "a string".to_owned(),
            Self::Number(text) => format!("the number {text}"),
            Self::Op(op) => format!("'{op}'"),
            Self::And => "'&&'".to_owned(),
            Self::Or => "'||'".to_owned(),
            Self::Not => "'!'".to_owned(),
            Self::Open => "'('".to_owned(),
            Self::Close => "')'".to_owned(),
            Self::Comma => "','".to_owned(),
            Self::End => "the end of the filter".to_owned(),
        }
    }
}

pub(super) struct Lexer<'a> {
    text: &'a str,
    /// Byte offset of the next unread character; always a char boundary.
    offset: usize,
}

impl<'a> Lexer<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        Self { text, offset: 0 }
    }

    fn byte_at(&self, offset: usize) -> Option<u8> {
        self.text.as_bytes().get(offset).copied()
    }

    /// The next token and the byte offset where it starts.
    pub(super) fn next_token(&mut self) -> Result<(Token<'a>, usize), FilterError> {
        while self
            .byte_at(self.offset)
            .is_some_and(|b| b.is_ascii_whitespace())
        {
            self.offset += 1;
        }
        let start = self.offset;
        let Some(first) = self.byte_at(start) else {
            return Ok((Token::End, start));
        };
        let second = self.byte_at(start + 1);
        let (token, len) = match (first, second) {
            (b'&', Some(b'&')) => (Token::And, 2),
            (b'|', Some(b'|')) => (Token::Or, 2),
            (b'&', _) => return Err(FilterError::new(start, "expected '&&'")),
            (b'|', _) => return Err(FilterError::new(start, "expected '||'")),
            (b'!', Some(b'=')) => (Token::Op(CompareOp::Ne), 2),
            (b'<', Some(b'=')) => (Token::Op(CompareOp::Le), 2),
            (b'>', Some(b'=')) => (Token::Op(CompareOp::Ge), 2),
            (b'!', _) => (Token::Not, 1),
            (b'<', _) => (Token::Op(CompareOp::Lt), 1),
            (b'>', _) => (Token::Op(CompareOp::Gt), 1),
            (b'=', _) => (Token::Op(CompareOp::Eq), 1),
            (b'~', _) => (Token::Op(CompareOp::Contains), 1),
            (b'(', _) => (Token::Open, 1),
            (b')', _) => (Token::Close, 1),
            (b',', _) => (Token::Comma, 1),
            (b'"' | b'\'', _) => return self.string(first),
            (b'0'..=b'9', _) | (b'-' | b'+', Some(b'0'..=b'9')) => return self.number(),
            (b'a'..=b'z' | b'A'..=b'Z' | b'_', _) => return Ok(self.word()),
            _ => {
                let character = self.text[start..].chars().next().unwrap_or('?');
                return Err(FilterError::new(
                    start,
                    format!("unexpected character {character:?}"),
                ));
            }
        };
        self.offset += len;
        Ok((token, start))
    }

    fn skip_digits(&mut self) -> usize {
        let start = self.offset;
        while self
            .byte_at(self.offset)
            .is_some_and(|b| b.is_ascii_digit())
        {
            self.offset += 1;
        }
        self.offset - start
    }

    fn number(&mut self) -> Result<(Token<'a>, usize), FilterError> {
        let start = self.offset;
        if matches!(self.byte_at(self.offset), Some(b'-' | b'+')) {
            self.offset += 1;
        }
        self.skip_digits();
        if self.byte_at(self.offset) == Some(b'.') {
            self.offset += 1;
            if self.skip_digits() == 0 {
                return Err(FilterError::new(self.offset, "expected a digit after '.'"));
            }
        }
        if matches!(self.byte_at(self.offset), Some(b'e' | b'E')) {
            self.offset += 1;
            if matches!(self.byte_at(self.offset), Some(b'-' | b'+')) {
                self.offset += 1;
            }
            if self.skip_digits() == 0 {
                return Err(FilterError::new(
                    self.offset,
                    "expected a digit in the exponent",
                ));
            }
        }
        Ok((Token::Number(&self.text[start..self.offset]), start))
    }

    fn word(&mut self) -> (Token<'a>, usize) {
        let start = self.offset;
        while self
            .byte_at(self.offset)
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            self.offset += 1;
        }
        (Token::Word(&self.text[start..self.offset]), start)
    }

    fn string(&mut self, quote: u8) -> Result<(Token<'a>, usize), FilterError> {
        let start = self.offset;
        let quote = char::from(quote);
        let body_start = start + 1;
        let mut value = String::new();
        let mut characters = self.text[body_start..].char_indices();
        let unterminated = || FilterError::new(start, "unterminated string");
        loop {
            let Some((index, character)) = characters.next() else {
                return Err(unterminated());
            };
            if character == quote {
                self.offset = body_start + index + 1;
                return Ok((Token::String(value), start));
            }
            if character == '\0' {
                // No stored text can contain NUL (PostgreSQL refuses it), so
                // no literal may either.
                return Err(FilterError::new(
                    body_start + index,
                    "a NUL character is not allowed",
                ));
            }
            if character != '\\' {
                value.push(character);
                continue;
            }
            let escape_at = body_start + index;
            let Some((_, escaped)) = characters.next() else {
                return Err(unterminated());
            };
            let resolved = match escaped {
                '\\' => '\\',
                '\'' => '\'',
                '"' => '"',
                'n' => '\n',
                'r' => '\r',
                't' => '\t',
                'u' => unicode_escape(&mut characters)
                    .filter(|c| *c != '\0')
                    .ok_or_else(|| {
                        FilterError::new(escape_at, "invalid \\u{...} escape (NUL is not allowed)")
                    })?,
                _ => {
                    return Err(FilterError::new(
                        escape_at,
                        format!("unknown escape '\\{escaped}'"),
                    ));
                }
            };
            value.push(resolved);
        }
    }
}

/// Reads the `{1F600}` part of a `\u{1F600}` escape.
fn unicode_escape(characters: &mut std::str::CharIndices<'_>) -> Option<char> {
    if characters.next()?.1 != '{' {
        return None;
    }
    let mut code: u32 = 0;
    for n_digits in 0..=6 {
        let (_, character) = characters.next()?;
        if character == '}' {
            return if n_digits == 0 {
                None
            } else {
                char::from_u32(code)
            };
        }
        code = code * 16 + character.to_digit(16)?;
    }
    None
}
