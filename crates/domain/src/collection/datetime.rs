//! Datetimes in records and filters: RFC 3339 in, one fixed UTC text out.
//!
//! Stored datetimes are UTC with microsecond precision (what both databases
//! keep) in the fixed-width form `YYYY-MM-DDTHH:MM:SS.ffffffZ`. Because the
//! width is fixed and the zone is always `Z`, comparing two such texts byte
//! by byte orders them in time, so a backend without a datetime type can
//! compare and index them as plain text.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::clock::truncate_to_micros;

/// Why a text is not a datetime Bulkhead accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidDatetime {
    #[error("a datetime must be an RFC 3339 text such as 2024-05-01T12:00:00Z")]
    Format,
    #[error("a datetime must fall between the years 0000 and 9999 in UTC")]
    OutOfRange,
}

/// Parses an RFC 3339 text into UTC, dropping anything finer than a
/// microsecond (storage keeps no more).
///
/// A time whose UTC year leaves 0000–9999 (`0000-01-01T00:00:00+01:00`) is
/// refused: the fixed-width text form could not hold it.
pub fn parse_datetime(text: &str) -> Result<OffsetDateTime, InvalidDatetime> {
    let parsed = OffsetDateTime::parse(text, &Rfc3339).map_err(|_| InvalidDatetime::Format)?;
    let utc = parsed
        .checked_to_offset(time::UtcOffset::UTC)
        .ok_or(InvalidDatetime::OutOfRange)?;
    if !(0..=9999).contains(&utc.year()) {
        return Err(InvalidDatetime::OutOfRange);
    }
    Ok(truncate_to_micros(utc))
}

/// Formats a time as the stored text, `YYYY-MM-DDTHH:MM:SS.ffffffZ`, in UTC
/// and truncated to the microsecond.
///
/// Only times from [`parse_datetime`] (years 0000–9999) are guaranteed the
/// fixed width. A time whose UTC equivalent lies beyond what `time` can
/// represent keeps its own offset in the text rather than panicking.
pub fn format_datetime(at: OffsetDateTime) -> String {
    match fixed_width(at) {
        Some(text) => text.iter().copied().map(char::from).collect(),
        None => general(at),
    }
}

/// Appends [`format_datetime`]'s text to `out` without a `String` of its
/// own: a page of records prints two times per record. The text never
/// needs escaping in JSON (digits, `-`, `:`, `.`, `T`, `Z`, `+`).
pub fn append_datetime(out: &mut Vec<u8>, at: OffsetDateTime) {
    match fixed_width(at) {
        Some(text) => out.extend_from_slice(&text),
        None => out.extend_from_slice(general(at).as_bytes()),
    }
}

const FIXED_WIDTH: usize = "YYYY-MM-DDTHH:MM:SS.ffffffZ".len();

/// The fixed-width text of a time whose UTC year is 0000–9999, digits
/// written in place; `None` for any other time.
fn fixed_width(at: OffsetDateTime) -> Option<[u8; FIXED_WIDTH]> {
    let utc = at.checked_to_offset(time::UtcOffset::UTC)?;
    let (year, month, day) = utc.to_calendar_date();
    if !(0..=9999).contains(&year) {
        return None;
    }
    let (hour, minute, second, micros) = utc.to_hms_micro();
    let mut text = *b"0000-00-00T00:00:00.000000Z";
    let fields: [(usize, usize, u32); 7] = [
        (0, 4, year.unsigned_abs()),
        (5, 7, u32::from(u8::from(month))),
        (8, 10, u32::from(day)),
        (11, 13, u32::from(hour)),
        (14, 16, u32::from(minute)),
        (17, 19, u32::from(second)),
        (20, 26, micros),
    ];
    for (start, end, mut value) in fields {
        for digit in text[start..end].iter_mut().rev() {
            *digit = b'0' + (value % 10) as u8;
            value /= 10;
        }
    }
    Some(text)
}

/// The text of a time the fixed width cannot hold.
fn general(at: OffsetDateTime) -> String {
    let (at, zone) = match at.checked_to_offset(time::UtcOffset::UTC) {
        Some(utc) => (utc, "Z".to_owned()),
        None => {
            let (hours, minutes, _) = at.offset().as_hms();
            let sign = if at.offset().is_negative() { '-' } else { '+' };
            let zone = format!(
                "{sign}{:02}:{:02}",
                hours.unsigned_abs(),
                minutes.unsigned_abs()
            );
            (at, zone)
        }
    };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}{zone}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.microsecond(),
    )
}

/// The stored form of an RFC 3339 text: [`parse_datetime`] then
/// [`format_datetime`].
pub fn normalize_datetime(text: &str) -> Result<String, InvalidDatetime> {
    parse_datetime(text).map(format_datetime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_are_normalised_to_utc_microseconds() {
        let cases = [
            ("2024-05-01T12:00:00Z", "2024-05-01T12:00:00.000000Z"),
            ("2024-05-01T12:00:00.5Z", "2024-05-01T12:00:00.500000Z"),
            (
                "2024-05-01T12:00:00.123456789Z",
                "2024-05-01T12:00:00.123456Z",
            ),
            ("2024-05-01T14:30:00+02:30", "2024-05-01T12:00:00.000000Z"),
            ("2024-12-31T23:00:00-01:00", "2025-01-01T00:00:00.000000Z"),
            ("2024-05-01t12:00:00z", "2024-05-01T12:00:00.000000Z"),
            // RFC 3339 lets a space stand for the 'T'.
            ("2024-05-01 12:00:00Z", "2024-05-01T12:00:00.000000Z"),
            ("0000-01-01T00:00:00Z", "0000-01-01T00:00:00.000000Z"),
            ("9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59.999999Z"),
        ];
        for (text, stored) in cases {
            assert_eq!(normalize_datetime(text).as_deref(), Ok(stored), "{text:?}");
        }
    }

    #[test]
    fn malformed_and_out_of_range_datetimes_are_refused() {
        let cases = [
            ("", InvalidDatetime::Format),
            ("2024-05-01", InvalidDatetime::Format),
            ("2024-05-01T12:00:00", InvalidDatetime::Format),
            ("2024-02-30T12:00:00Z", InvalidDatetime::Format),
            ("yesterday", InvalidDatetime::Format),
            ("0000-01-01T00:00:00+01:00", InvalidDatetime::OutOfRange),
            ("9999-12-31T23:00:00-01:00", InvalidDatetime::OutOfRange),
        ];
        for (text, expected) in cases {
            assert_eq!(normalize_datetime(text), Err(expected), "{text:?}");
        }
    }

    #[test]
    fn the_fixed_width_text_is_the_general_one() {
        // Times spread over the years 0000–9999, every digit position
        // exercised, including the first and last microsecond.
        let first = time::macros::datetime!(0000-01-01 00:00:00 UTC);
        let last = time::macros::datetime!(9999-12-31 23:59:59.999999 UTC);
        let span = (last - first).whole_microseconds();
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut times = vec![first, last];
        for _ in 0..5_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let offset = i128::from(state) % span;
            times.push(first + time::Duration::microseconds(offset as i64));
        }
        for at in times {
            let text = format_datetime(at);
            assert!(fixed_width(at).is_some(), "{at}");
            assert_eq!(text, general(at), "{at}");
            let mut appended = Vec::new();
            append_datetime(&mut appended, at);
            assert_eq!(appended, text.as_bytes(), "{at}");
            assert_eq!(parse_datetime(&text), Ok(at), "{at}");
        }
        // Another offset is printed in UTC.
        let shifted = time::macros::datetime!(2024-05-01 14:30:00.25 +02:30);
        assert_eq!(format_datetime(shifted), "2024-05-01T12:00:00.250000Z");
    }

    #[test]
    fn the_stored_text_is_itself_accepted_unchanged() {
        let stored = "2024-05-01T12:00:00.250000Z";
        assert_eq!(normalize_datetime(stored).as_deref(), Ok(stored));
    }
}
