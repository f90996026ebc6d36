//! Exact decimals, kept as canonical text.
//!
//! A `decimal` field holds money-like values that must not pass through a
//! binary float. They are stored as JSON strings in one canonical form, so
//! two equal amounts are equal texts: no leading zeros, no trailing
//! fractional zeros, no `-0`. Equality can then be decided on the text, and
//! ordering by the database's exact numeric type where it has one.

/// At most this many digits in all: the integer digits (leading zeros not
/// counted) plus the [scale](MAX_SCALE). 38 is the precision of the widest
/// exact numeric most databases index efficiently.
pub const MAX_PRECISION: usize = 38;

/// At most this many digits after the point.
pub const MAX_SCALE: usize = 18;

/// Why a text is not a decimal Bulkhead accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidDecimal {
    #[error("a decimal must look like 123, -4.50 or 0.001")]
    Format,
    #[error("a decimal may have at most {MAX_PRECISION} digits")]
    Precision,
    #[error("a decimal may have at most {MAX_SCALE} digits after the point")]
    Scale,
}

/// The canonical form of a decimal written as `-?digits(.digits)?`.
///
/// `"007.50"` becomes `"7.5"`, `"-0.0"` becomes `"0"`, `"1.000"` becomes
/// `"1"`. The result parses back to itself.
pub fn normalize_decimal(text: &str) -> Result<String, InvalidDecimal> {
    parse(text, Syntax::Strict)
}

/// The canonical form of a number as the filter language and JSON numbers
/// write it: like [`normalize_decimal`], but a leading `+` and an exponent
/// (`1.5e3`, `2E-4`) are accepted too and expanded exactly.
pub(crate) fn normalize_decimal_number(text: &str) -> Result<String, InvalidDecimal> {
    parse(text, Syntax::Number)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Syntax {
    Strict,
    Number,
}

/// Splits off a run of ASCII digits at the start of `text`.
fn digits(text: &str) -> (&str, &str) {
    let end = text
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(text.len());
    text.split_at(end)
}

fn parse(text: &str, syntax: Syntax) -> Result<String, InvalidDecimal> {
    let (negative, rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') if syntax == Syntax::Number => (false, &text[1..]),
        _ => (false, text),
    };
    let (integer, rest) = digits(rest);
    if integer.is_empty() {
        return Err(InvalidDecimal::Format);
    }
    let (fraction, rest) = match rest.strip_prefix('.') {
        Some(after_point) => {
            let (fraction, rest) = digits(after_point);
            if fraction.is_empty() {
                return Err(InvalidDecimal::Format);
            }
            (fraction, rest)
        }
        None => ("", rest),
    };
    let exponent = match rest.strip_prefix(['e', 'E']) {
        Some(after_e) if syntax == Syntax::Number => Some(after_e),
        Some(_) => return Err(InvalidDecimal::Format),
        None if rest.is_empty() => None,
        None => return Err(InvalidDecimal::Format),
    };

    // The value is `digits × 10^shift`, with `digits` the integer and
    // fractional digits run together.
    let all_digits = format!("{integer}{fraction}");
    let significant = all_digits.trim_start_matches('0');
    let mantissa = significant.trim_end_matches('0');
    if mantissa.is_empty() {
        // Zero, whatever its sign or exponent: check the exponent's syntax
        // only, since its size cannot matter.
        if let Some(exponent) = exponent {
            let unsigned = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
            if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
                return Err(InvalidDecimal::Format);
            }
        }
        return Ok("0".to_owned());
    }
    let trailing_zeros = significant.len() - mantissa.len();
    let exponent = match exponent {
        Some(exponent) => parse_exponent(exponent)?,
        None => ExponentValue::Small(0),
    };
    let exponent = match exponent {
        ExponentValue::Small(value) => value,
        // An exponent beyond any input length puts the value out of range
        // one way or the other.
        ExponentValue::HugePositive => return Err(InvalidDecimal::Precision),
        ExponentValue::HugeNegative => return Err(InvalidDecimal::Scale),
    };
    // Lengths are bounded by the input, which fits in memory, so these
    // conversions cannot fail in practice; saturate rather than panic.
    let fraction_len = i64::try_from(fraction.len()).unwrap_or(i64::MAX);
    let trailing = i64::try_from(trailing_zeros).unwrap_or(i64::MAX);
    let shift = exponent
        .saturating_sub(fraction_len)
        .saturating_add(trailing);
    let mantissa_len = i64::try_from(mantissa.len()).unwrap_or(i64::MAX);

    let scale = if shift < 0 { shift.saturating_neg() } else { 0 };
    let integer_digits = mantissa_len.saturating_add(shift).max(0);
    if scale > MAX_SCALE as i64 {
        return Err(InvalidDecimal::Scale);
    }
    if integer_digits.saturating_add(scale) > MAX_PRECISION as i64 {
        return Err(InvalidDecimal::Precision);
    }

    // Both numbers are now at most 38, so the casts are exact.
    let scale = scale as usize;
    let mut canonical = String::with_capacity(MAX_PRECISION + 3);
    if negative {
        canonical.push('-');
    }
    if scale == 0 {
        canonical.push_str(mantissa);
        canonical.extend(std::iter::repeat_n('0', shift as usize));
    } else if mantissa.len() > scale {
        let (whole, part) = mantissa.split_at(mantissa.len() - scale);
        canonical.push_str(whole);
        canonical.push('.');
        canonical.push_str(part);
    } else {
        canonical.push_str("0.");
        canonical.extend(std::iter::repeat_n('0', scale - mantissa.len()));
        canonical.push_str(mantissa);
    }
    Ok(canonical)
}

enum ExponentValue {
    Small(i64),
    HugePositive,
    HugeNegative,
}

fn parse_exponent(text: &str) -> Result<ExponentValue, InvalidDecimal> {
    let (negative, unsigned) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
        return Err(InvalidDecimal::Format);
    }
    let significant = unsigned.trim_start_matches('0');
    // Nine digits keep the value far from overflowing an i64 once lengths
    // are added to it.
    if significant.len() > 9 {
        return Ok(if negative {
            ExponentValue::HugeNegative
        } else {
            ExponentValue::HugePositive
        });
    }
    let magnitude: i64 = significant
        .bytes()
        .fold(0, |value, b| value * 10 + i64::from(b - b'0'));
    Ok(ExponentValue::Small(if negative {
        -magnitude
    } else {
        magnitude
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn canonical_forms() {
        let cases = [
            ("0", "0"),
            ("-0", "0"),
            ("-0.000", "0"),
            ("000", "0"),
            ("007.50", "7.5"),
            ("1.000", "1"),
            ("100", "100"),
            ("-100.0100", "-100.01"),
            ("0.001", "0.001"),
            ("-0.5", "-0.5"),
            (
                "12345678901234567890.123456789012345678",
                "12345678901234567890.123456789012345678",
            ),
            ("0.000000000000000001", "0.000000000000000001"),
            (
                "99999999999999999999999999999999999999",
                "99999999999999999999999999999999999999",
            ),
        ];
        for (text, canonical) in cases {
            assert_eq!(
                normalize_decimal(text).as_deref(),
                Ok(canonical),
                "{text:?}"
            );
        }
    }

    #[test]
    fn malformed_and_out_of_range_decimals_are_refused() {
        let cases = [
            ("", InvalidDecimal::Format),
            ("-", InvalidDecimal::Format),
            ("+1", InvalidDecimal::Format),
            (".5", InvalidDecimal::Format),
            ("1.", InvalidDecimal::Format),
            ("1e5", InvalidDecimal::Format),
            (" 1", InvalidDecimal::Format),
            ("1,5", InvalidDecimal::Format),
            ("--1", InvalidDecimal::Format),
            ("1.2.3", InvalidDecimal::Format),
            ("١", InvalidDecimal::Format),
            ("0.0000000000000000001", InvalidDecimal::Scale),
            (
                "999999999999999999999999999999999999999",
                InvalidDecimal::Precision,
            ),
            (
                "100000000000000000000.123456789012345678",
                InvalidDecimal::Precision,
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(normalize_decimal(text), Err(expected), "{text:?}");
        }
    }

    #[test]
    fn numbers_may_carry_a_plus_sign_and_an_exponent() {
        let cases = [
            ("+1.50", Ok("1.5")),
            ("1e3", Ok("1000")),
            ("1.5E-3", Ok("0.0015")),
            ("-2.5e+2", Ok("-250")),
            ("0e999999999999", Ok("0")),
            ("123e-2", Ok("1.23")),
            ("1e38", Err(InvalidDecimal::Precision)),
            ("1e37", Ok("10000000000000000000000000000000000000")),
            ("1e-19", Err(InvalidDecimal::Scale)),
            ("1e99999999999999999999", Err(InvalidDecimal::Precision)),
            ("1e-99999999999999999999", Err(InvalidDecimal::Scale)),
            ("1e", Err(InvalidDecimal::Format)),
            ("1e+", Err(InvalidDecimal::Format)),
            ("0e", Err(InvalidDecimal::Format)),
        ];
        for (text, expected) in cases {
            assert_eq!(
                normalize_decimal_number(text),
                expected.map(str::to_owned),
                "{text:?}"
            );
        }
    }

    /// The decimal `mantissa × 10^-scale`, written plainly.
    fn reference(negative: bool, mantissa: u128, scale: usize) -> String {
        let digits = mantissa.to_string();
        let body = if scale == 0 {
            digits
        } else if digits.len() > scale {
            let (whole, part) = digits.split_at(digits.len() - scale);
            format!("{whole}.{part}")
        } else {
            format!("0.{}{digits}", "0".repeat(scale - digits.len()))
        };
        if negative && mantissa != 0 {
            format!("-{body}")
        } else {
            body
        }
    }

    proptest! {
        #[test]
        fn decimals_round_trip_exactly(
            negative in any::<bool>(),
            mantissa in 0u128..10u128.pow(20),
            scale in 0usize..=18,
            leading_zeros in 0usize..4,
            trailing_zeros in 0usize..4,
        ) {
            // Written with padding the canonical form must drop.
            let plain = reference(negative, mantissa, scale);
            let unsigned = plain.trim_start_matches('-');
            let mut padded = format!("{}{unsigned}", "0".repeat(leading_zeros));
            if trailing_zeros > 0 {
                if !padded.contains('.') {
                    padded.push('.');
                }
                padded.push_str(&"0".repeat(trailing_zeros));
            }
            if negative {
                padded.insert(0, '-');
            }

            // The expected canonical text: trailing fractional zeros removed.
            let mut expected_mantissa = mantissa;
            let mut expected_scale = scale;
            while expected_scale > 0 && expected_mantissa % 10 == 0 {
                expected_mantissa /= 10;
                expected_scale -= 1;
            }
            let expected = reference(negative, expected_mantissa, expected_scale);

            let canonical = normalize_decimal(&padded).unwrap();
            prop_assert_eq!(&canonical, &expected);
            prop_assert_eq!(normalize_decimal(&canonical).unwrap(), canonical.clone());
            prop_assert_eq!(normalize_decimal_number(&canonical).unwrap(), canonical);
        }

        #[test]
        fn exponents_shift_the_point_exactly(
            mantissa in 1u64..1_000_000,
            exponent in -12i32..12,
        ) {
            let text = format!("{mantissa}e{exponent}");
            let canonical = normalize_decimal_number(&text).unwrap();
            let (scale, value) = if exponent < 0 {
                (exponent.unsigned_abs() as usize, u128::from(mantissa))
            } else {
                (0, u128::from(mantissa) * 10u128.pow(exponent.unsigned_abs()))
            };
            let mut expected_mantissa = value;
            let mut expected_scale = scale;
            while expected_scale > 0 && expected_mantissa % 10 == 0 {
                expected_mantissa /= 10;
                expected_scale -= 1;
            }
            prop_assert_eq!(canonical, reference(false, expected_mantissa, expected_scale));
        }

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,40}") {
            if let Ok(canonical) = normalize_decimal_number(&text) {
                prop_assert_eq!(normalize_decimal(&canonical), Ok(canonical.clone()));
            }
        }
    }
}
