//! The value types of the credit ledger: currencies, scales, amounts and markups.
//!
//! Money never passes through a binary float. An [`Amount`] is a whole number
//! of minor units (cents for a USD account at scale 2); it becomes a decimal
//! string only at the edge, at the [`Scale`] of the account it belongs to, and
//! parsing refuses what that scale cannot hold rather than rounding it away.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A currency code: 3 to 12 characters of `A-Z` and `0-9`, starting with a
/// letter. Fits ISO 4217 codes such as `USD` and made-up units such as
/// `CREDITS`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency(String);

/// Why a text is not a [`Currency`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidCurrency {
    #[error("a currency code must be 3 to 12 characters long")]
    Length,
    #[error("a currency code may contain only A-Z and 0-9")]
    Characters,
    #[error("a currency code must start with a letter A-Z")]
    Start,
}

impl Currency {
    pub const MIN_LEN: usize = 3;
    pub const MAX_LEN: usize = 12;

    pub fn parse(text: &str) -> Result<Self, InvalidCurrency> {
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&text.len()) {
            return Err(InvalidCurrency::Length);
        }
        if !text
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        {
            return Err(InvalidCurrency::Characters);
        }
        if !text.as_bytes()[0].is_ascii_uppercase() {
            return Err(InvalidCurrency::Start);
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Currency {
    type Err = InvalidCurrency;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl TryFrom<String> for Currency {
    type Error = InvalidCurrency;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl From<Currency> for String {
    fn from(currency: Currency) -> Self {
        currency.0
    }
}

/// How many digits an account keeps after the decimal point: 0 to
/// [`Scale::MAX`]. 18 is the most that still leaves a useful integer part in
/// an `i64`, and the scale of the collections' `decimal` fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Scale(u8);

/// Why a number is not a [`Scale`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidScale {
    #[error("a scale must be 0 to {max} digits, not {0}", max = Scale::MAX)]
    TooLarge(u8),
}

impl Scale {
    pub const MAX: u8 = 18;

    pub fn new(digits: u8) -> Result<Self, InvalidScale> {
        if digits > Self::MAX {
            return Err(InvalidScale::TooLarge(digits));
        }
        Ok(Self(digits))
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

/// An amount in minor units. Signed, because balances and postings may be
/// negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(i64);

/// Why a text is not an [`Amount`] at a given scale.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("an amount must be a decimal string such as \"12\", \"-3.50\" or \"0.001\"")]
    Malformed,
    #[error("an amount may have at most {scale} digits after the point here")]
    TooPrecise { scale: u8 },
    #[error("the amount is too large")]
    OutOfRange,
}

impl AmountError {
    /// A stable code for API clients, which must not match on the message.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed | Self::TooPrecise { .. } => "invalid_amount",
            Self::OutOfRange => "amount_out_of_range",
        }
    }
}

/// The longest amount text read. No amount needs more (19 digits, a sign and
/// a point), so a longer text is refused before any work is done on it.
const MAX_AMOUNT_TEXT: usize = 40;

impl Amount {
    pub const ZERO: Amount = Amount(0);

    pub fn from_minor(minor: i64) -> Self {
        Self(minor)
    }

    pub fn minor(self) -> i64 {
        self.0
    }

    /// Parses a decimal string at `scale`: an optional `-`, one or more ASCII
    /// digits, then optionally a `.` and 1 to `scale` digits.
    ///
    /// Leading zeros are fine (`"007.5"`) and `"-0"` is zero. There is no `+`,
    /// exponent, whitespace, bare `"1."` or `".5"`. More fractional digits
    /// than the scale, even zeros (`"1.500"` at scale 2), are
    /// [`AmountError::TooPrecise`]: an amount is never rounded on the way in.
    pub fn parse(text: &str, scale: Scale) -> Result<Self, AmountError> {
        if text.len() > MAX_AMOUNT_TEXT {
            return Err(AmountError::Malformed);
        }
        let (negative, unsigned) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (integer, fraction) = match unsigned.split_once('.') {
            Some((integer, fraction)) => (integer, fraction),
            None => (unsigned, ""),
        };
        let all_digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(integer) || (unsigned.contains('.') && !all_digits(fraction)) {
            return Err(AmountError::Malformed);
        }
        if fraction.len() > usize::from(scale.0) {
            return Err(AmountError::TooPrecise { scale: scale.0 });
        }

        // The magnitude is built in i128 so that i64::MIN's, one more than
        // i64::MAX, fits; anything past it stops the loop at once.
        let limit = i128::from(i64::MAX) + 1;
        let padding = std::iter::repeat_n(b'0', usize::from(scale.0) - fraction.len());
        let mut magnitude: i128 = 0;
        for digit in integer.bytes().chain(fraction.bytes()).chain(padding) {
            magnitude = magnitude * 10 + i128::from(digit - b'0');
            if magnitude > limit {
                return Err(AmountError::OutOfRange);
            }
        }
        let minor = if negative { -magnitude } else { magnitude };
        i64::try_from(minor)
            .map(Self)
            .map_err(|_| AmountError::OutOfRange)
    }

    /// Formats with exactly `scale` fractional digits: `"12.50"` at scale 2,
    /// `"-0.05"`, `"7"` at scale 0.
    pub fn format(self, scale: Scale) -> String {
        let scale = usize::from(scale.0);
        // unsigned_abs, because i64::MIN has no positive i64 counterpart.
        let digits = format!("{:0>width$}", self.0.unsigned_abs(), width = scale + 1);
        let (integer, fraction) = digits.split_at(digits.len() - scale);
        let sign = if self.0 < 0 { "-" } else { "" };
        if fraction.is_empty() {
            format!("{sign}{integer}")
        } else {
            format!("{sign}{integer}.{fraction}")
        }
    }

    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        self.0.checked_add(other.0).map(Self)
    }

    pub fn checked_sub(self, other: Amount) -> Option<Amount> {
        self.0.checked_sub(other.0).map(Self)
    }

    pub fn checked_neg(self) -> Option<Amount> {
        self.0.checked_neg().map(Self)
    }

    pub fn is_positive(self) -> bool {
        self.0 > 0
    }
}

/// A charge's multiplier over cost, such as `5` or `1.25`: a decimal with at
/// most 6 fractional digits, greater than 0 and at most 1 000 000. Kept as
/// millionths so that applying it is integer arithmetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Markup {
    millionths: i64,
}

/// Why a text or number is not a [`Markup`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MarkupError {
    #[error("a markup must be a decimal string such as \"1\", \"5\" or \"1.25\"")]
    Malformed,
    #[error("a markup may have at most 6 digits after the point")]
    TooPrecise,
    #[error("a markup must be greater than 0")]
    NotPositive,
    #[error("a markup may be at most 1000000")]
    TooLarge,
}

/// A markup's fractional digits; a [`Markup`] is an amount at this scale.
const MARKUP_SCALE: Scale = Scale(6);
const MILLION: i64 = 1_000_000;
const MAX_MILLIONTHS: i64 = MILLION * MILLION;

impl Markup {
    pub const ONE: Markup = Markup {
        millionths: MILLION,
    };

    /// Parses `"1"`, `"5"`, `"1.25"`, `"0.5"`: the syntax of
    /// [`Amount::parse`] at scale 6, then the range check.
    pub fn parse(text: &str) -> Result<Self, MarkupError> {
        let amount = Amount::parse(text, MARKUP_SCALE).map_err(|error| match error {
            AmountError::Malformed => MarkupError::Malformed,
            AmountError::TooPrecise { .. } => MarkupError::TooPrecise,
            AmountError::OutOfRange => MarkupError::TooLarge,
        })?;
        Self::from_millionths(amount.minor())
    }

    pub fn from_millionths(millionths: i64) -> Result<Self, MarkupError> {
        if millionths <= 0 {
            return Err(MarkupError::NotPositive);
        }
        if millionths > MAX_MILLIONTHS {
            return Err(MarkupError::TooLarge);
        }
        Ok(Self { millionths })
    }

    pub fn millionths(self) -> i64 {
        self.millionths
    }

    /// The shortest decimal form: `"5"`, `"1.25"`, `"0.000001"`.
    pub fn format(self) -> String {
        let text = Amount(self.millionths).format(MARKUP_SCALE);
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    }

    /// `cost × markup` in the same minor units, rounded to a whole minor unit
    /// half up: a remainder of exactly half or more rounds up, less rounds
    /// down. Costs are never negative, so half up is also half away from
    /// zero, and a tie on a debit goes in the house's favour.
    ///
    /// `None` for a negative cost, or when the result does not fit an
    /// [`Amount`].
    pub fn apply(self, cost: Amount) -> Option<Amount> {
        if cost.0 < 0 {
            return None;
        }
        // At most i64::MAX × 10^12, far inside i128.
        let product = i128::from(cost.0) * i128::from(self.millionths);
        let million = i128::from(MILLION);
        let rounded = (product + million / 2) / million;
        i64::try_from(rounded).ok().map(Amount)
    }
}

impl fmt::Display for Markup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.format())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn scale(digits: u8) -> Scale {
        Scale::new(digits).unwrap()
    }

    #[test]
    fn currency_codes() {
        for good in ["USD", "EUR", "CREDITS", "ABCDEFGHIJKL", "T0KENS"] {
            assert_eq!(Currency::parse(good).unwrap().as_str(), good);
        }
        let cases = [
            ("US", InvalidCurrency::Length),
            ("ABCDEFGHIJKLM", InvalidCurrency::Length),
            ("1USD", InvalidCurrency::Start),
            ("usd", InvalidCurrency::Characters),
            ("US D", InvalidCurrency::Characters),
            ("USd", InvalidCurrency::Characters),
            ("ÜSD", InvalidCurrency::Characters),
        ];
        for (text, error) in cases {
            assert_eq!(Currency::parse(text), Err(error), "{text}");
        }
        let usd: Currency = serde_json::from_str("\"USD\"").unwrap();
        assert_eq!(serde_json::to_string(&usd).unwrap(), "\"USD\"");
        assert!(serde_json::from_str::<Currency>("\"usd\"").is_err());
        assert_eq!("EUR".parse::<Currency>().unwrap().to_string(), "EUR");
    }

    #[test]
    fn scales_stop_at_eighteen() {
        assert_eq!(scale(18).get(), 18);
        assert_eq!(Scale::new(19), Err(InvalidScale::TooLarge(19)));
    }

    #[test]
    fn parse_table() {
        use AmountError::*;
        let cases: &[(&str, u8, Result<i64, AmountError>)] = &[
            ("0", 0, Ok(0)),
            ("7", 0, Ok(7)),
            ("-7", 0, Ok(-7)),
            ("12.5", 2, Ok(1250)),
            ("12.50", 2, Ok(1250)),
            ("-0.05", 2, Ok(-5)),
            ("007.5", 2, Ok(750)),
            ("-0", 2, Ok(0)),
            ("-0.00", 2, Ok(0)),
            ("1", 18, Ok(1_000_000_000_000_000_000)),
            ("0.000000000000000001", 18, Ok(1)),
            ("9223372036854775807", 0, Ok(i64::MAX)),
            ("-9223372036854775808", 0, Ok(i64::MIN)),
            ("92233720368547758.07", 2, Ok(i64::MAX)),
            ("-92233720368547758.08", 2, Ok(i64::MIN)),
            ("9.223372036854775807", 18, Ok(i64::MAX)),
            ("-9.223372036854775808", 18, Ok(i64::MIN)),
            ("0000000000000000000000000000000000000001", 0, Ok(1)),
            ("9223372036854775808", 0, Err(OutOfRange)),
            ("-9223372036854775809", 0, Err(OutOfRange)),
            ("92233720368547758070", 0, Err(OutOfRange)),
            ("92233720368547758.08", 2, Err(OutOfRange)),
            ("10", 18, Err(OutOfRange)),
            ("99999999999999999999999999999999999999", 0, Err(OutOfRange)),
            ("1.234", 2, Err(TooPrecise { scale: 2 })),
            ("1.500", 2, Err(TooPrecise { scale: 2 })),
            ("1.0", 0, Err(TooPrecise { scale: 0 })),
            ("", 2, Err(Malformed)),
            ("-", 2, Err(Malformed)),
            ("1.", 2, Err(Malformed)),
            (".5", 2, Err(Malformed)),
            ("-.5", 2, Err(Malformed)),
            ("+1", 2, Err(Malformed)),
            ("--1", 2, Err(Malformed)),
            ("1e3", 2, Err(Malformed)),
            ("1.2.3", 2, Err(Malformed)),
            (" 1", 2, Err(Malformed)),
            ("1 ", 2, Err(Malformed)),
            ("1 000", 2, Err(Malformed)),
            ("1,5", 2, Err(Malformed)),
            ("١٢", 2, Err(Malformed)),
            ("１", 2, Err(Malformed)),
            (
                "00000000000000000000000000000000000000001",
                0,
                Err(Malformed),
            ),
        ];
        for (text, digits, expected) in cases {
            let parsed = Amount::parse(text, scale(*digits)).map(Amount::minor);
            assert_eq!(&parsed, expected, "{text:?} at scale {digits}");
        }
    }

    #[test]
    fn format_table() {
        let cases: &[(i64, u8, &str)] = &[
            (0, 0, "0"),
            (0, 2, "0.00"),
            (7, 0, "7"),
            (1250, 2, "12.50"),
            (-5, 2, "-0.05"),
            (-1250, 2, "-12.50"),
            (1, 18, "0.000000000000000001"),
            (i64::MAX, 0, "9223372036854775807"),
            (i64::MIN, 0, "-9223372036854775808"),
            (i64::MIN, 2, "-92233720368547758.08"),
            (i64::MIN, 18, "-9.223372036854775808"),
            (i64::MAX, 18, "9.223372036854775807"),
        ];
        for (minor, digits, expected) in cases {
            assert_eq!(Amount::from_minor(*minor).format(scale(*digits)), *expected);
        }
    }

    #[test]
    fn error_codes_are_stable() {
        assert_eq!(AmountError::Malformed.code(), "invalid_amount");
        assert_eq!(
            AmountError::TooPrecise { scale: 2 }.code(),
            "invalid_amount"
        );
        assert_eq!(AmountError::OutOfRange.code(), "amount_out_of_range");
    }

    #[test]
    fn checked_arithmetic() {
        let one = Amount::from_minor(1);
        assert_eq!(Amount::ZERO.checked_add(one), Some(one));
        assert_eq!(Amount::from_minor(i64::MAX).checked_add(one), None);
        assert_eq!(Amount::from_minor(i64::MIN).checked_sub(one), None);
        assert_eq!(Amount::from_minor(i64::MIN).checked_neg(), None);
        assert_eq!(one.checked_neg(), Some(Amount::from_minor(-1)));
        assert!(one.is_positive());
        assert!(!Amount::ZERO.is_positive());
    }

    #[test]
    fn markup_parse_and_format() {
        for (text, millionths, shortest) in [
            ("1", 1_000_000, "1"),
            ("5", 5_000_000, "5"),
            ("1.25", 1_250_000, "1.25"),
            ("0.5", 500_000, "0.5"),
            ("2.500000", 2_500_000, "2.5"),
            ("0.000001", 1, "0.000001"),
            ("1000000", MAX_MILLIONTHS, "1000000"),
        ] {
            let markup = Markup::parse(text).unwrap();
            assert_eq!(markup.millionths(), millionths, "{text}");
            assert_eq!(markup.to_string(), shortest, "{text}");
        }
        for (text, error) in [
            ("0", MarkupError::NotPositive),
            ("0.0000000", MarkupError::TooPrecise),
            ("-1", MarkupError::NotPositive),
            ("1000000.000001", MarkupError::TooLarge),
            ("99999999999999999999", MarkupError::TooLarge),
            ("1.0000001", MarkupError::TooPrecise),
            ("x", MarkupError::Malformed),
            ("1.", MarkupError::Malformed),
        ] {
            assert_eq!(Markup::parse(text), Err(error), "{text}");
        }
        assert_eq!(Markup::from_millionths(0), Err(MarkupError::NotPositive));
        assert_eq!(Markup::ONE.format(), "1");
    }

    #[test]
    fn markup_rounds_half_up() {
        let markup = |text| Markup::parse(text).unwrap();
        let cases: &[(i64, &str, Option<i64>)] = &[
            (3, "1.5", Some(5)),
            (1, "0.5", Some(1)),
            (1, "0.4", Some(0)),
            (1, "0.499999", Some(0)),
            (0, "5", Some(0)),
            (1250, "1.25", Some(1563)),
            (100, "1", Some(100)),
            (i64::MAX, "1", Some(i64::MAX)),
            (i64::MAX, "1.000001", None),
            (i64::MAX, "1000000", None),
            (-1, "1", None),
        ];
        for (cost, text, expected) in cases {
            let charged = markup(text).apply(Amount::from_minor(*cost));
            assert_eq!(charged.map(Amount::minor), *expected, "{cost} × {text}");
        }
    }

    /// The normal form worked out on the text: no leading zeros, the fraction
    /// padded to the scale, no sign on zero.
    fn normalise(text: &str, digits: u8) -> String {
        let (negative, unsigned) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (integer, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
        let integer = match integer.trim_start_matches('0') {
            "" => "0",
            trimmed => trimmed,
        };
        let fraction = format!("{fraction:0<width$}", width = usize::from(digits));
        let zero = integer == "0" && fraction.bytes().all(|b| b == b'0');
        let sign = if negative && !zero { "-" } else { "" };
        match fraction.as_str() {
            "" => format!("{sign}{integer}"),
            fraction => format!("{sign}{integer}.{fraction}"),
        }
    }

    proptest! {
        #[test]
        fn format_then_parse_is_identity(minor in any::<i64>(), digits in 0..=Scale::MAX) {
            let amount = Amount::from_minor(minor);
            prop_assert_eq!(Amount::parse(&amount.format(scale(digits)), scale(digits)), Ok(amount));
        }

        #[test]
        fn parse_then_format_normalises(
            integer in "-?0{0,3}[0-9]{1,19}",
            fraction in "[0-9]{0,18}",
            digits in 0..=Scale::MAX,
        ) {
            // Most fractions are cut to fit the scale, so that most texts parse.
            let text = match &fraction[..fraction.len().min(usize::from(digits))] {
                "" => integer,
                fraction => format!("{integer}.{fraction}"),
            };
            if let Ok(amount) = Amount::parse(&text, scale(digits)) {
                prop_assert_eq!(amount.format(scale(digits)), normalise(&text, digits));
            }
        }

        #[test]
        fn markup_format_then_parse_is_identity(millionths in 1..=MAX_MILLIONTHS) {
            let markup = Markup::from_millionths(millionths).unwrap();
            prop_assert_eq!(Markup::parse(&markup.format()), Ok(markup));
        }
    }
}
