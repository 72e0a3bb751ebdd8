//! Allocation-free parsing of the byte fields of a price file: dates, timestamps and prices.
//! Each function returns a short static reason on failure; the parsers turn it into a
//! [`DataError`](super::DataError) that names file, line and field.

use chrono::NaiveDate;

/// Seconds since midnight of a timestamp's time part.
pub type SecondsOfDay = u32;

/// 23:00:00, the time of pysystemtrade's daily closing rows.
pub const DAILY_CLOSE_TIME: SecondsOfDay = 23 * 3600;

/// A parsed date, with its time of day when the field had one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Stamp {
    pub date: NaiveDate,
    pub time: Option<SecondsOfDay>,
}

impl Stamp {
    /// The instant as a sortable key; a date without time sorts as midnight.
    pub fn key(&self) -> (NaiveDate, SecondsOfDay) {
        (self.date, self.time.unwrap_or(0))
    }
}

fn digits(bytes: &[u8]) -> Option<u32> {
    if bytes.is_empty() {
        return None;
    }
    let mut value: u32 = 0;
    for &b in bytes {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value * 10 + u32::from(b - b'0');
    }
    Some(value)
}

/// Parses `YYYY-MM-DD`, optionally followed by ` HH:MM:SS` or `THH:MM:SS` (or `HH:MM`).
pub fn parse_stamp(field: &[u8]) -> Result<Stamp, &'static str> {
    let field = field.trim_ascii();
    if field.is_empty() {
        return Err("empty date");
    }
    if field.len() < 10 || field[4] != b'-' || field[7] != b'-' {
        return Err("not a date (expected YYYY-MM-DD or YYYY-MM-DD HH:MM:SS)");
    }
    let (Some(year), Some(month), Some(day)) = (
        digits(&field[0..4]),
        digits(&field[5..7]),
        digits(&field[8..10]),
    ) else {
        return Err("not a date (expected YYYY-MM-DD or YYYY-MM-DD HH:MM:SS)");
    };
    let date = NaiveDate::from_ymd_opt(year as i32, month, day)
        .ok_or("no such calendar date (expected YYYY-MM-DD)")?;
    let rest = &field[10..];
    if rest.is_empty() {
        return Ok(Stamp { date, time: None });
    }
    let time = rest
        .strip_prefix(b" ")
        .or_else(|| rest.strip_prefix(b"T"))
        .ok_or("unexpected text after the date (expected YYYY-MM-DD HH:MM:SS)")?;
    let (hh, mm, ss) = match time.len() {
        8 if time[2] == b':' && time[5] == b':' => (&time[0..2], &time[3..5], &time[6..8]),
        5 if time[2] == b':' => (&time[0..2], &time[3..5], &b"00"[..]),
        _ => return Err("not a time of day (expected HH:MM:SS)"),
    };
    match (digits(hh), digits(mm), digits(ss)) {
        (Some(h), Some(m), Some(s)) if h < 24 && m < 60 && s < 60 => Ok(Stamp {
            date,
            time: Some(h * 3600 + m * 60 + s),
        }),
        _ => Err("not a time of day (expected HH:MM:SS)"),
    }
}

/// Why a price field could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PriceProblem {
    /// The field is empty.
    Blank,
    /// The field is Yahoo's `null`.
    Null,
    /// The field is not a finite decimal number.
    NotANumber,
}

/// True for Yahoo's `null` marker (any case).
pub fn is_null(field: &[u8]) -> bool {
    field.trim_ascii().eq_ignore_ascii_case(b"null")
}

/// Exact powers of ten as `f64` (10^0 to 10^22 are all exactly representable).
const POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Clinger's fast path for plain decimals (`-12.345`): when the digits as an integer are at
/// most 2^53 and there are at most 22 decimals, both the integer and the power of ten are
/// exact `f64`s and one division is correctly rounded, the same result as `str::parse`.
/// `None` for anything else (exponents, long mantissas), which takes the slow path.
fn parse_plain_decimal(field: &[u8]) -> Option<f64> {
    let (negative, digits) = match field.first()? {
        b'-' => (true, &field[1..]),
        b'+' => (false, &field[1..]),
        _ => (false, field),
    };
    // 19 digits always fit in a u64; longer inputs take the slow path.
    if digits.len() > 19 {
        return None;
    }
    let mut mantissa: u64 = 0;
    let mut point: Option<usize> = None;
    for (index, &b) in digits.iter().enumerate() {
        let digit = b.wrapping_sub(b'0');
        if digit < 10 {
            mantissa = mantissa * 10 + u64::from(digit);
        } else if b == b'.' && point.is_none() {
            point = Some(index);
        } else {
            return None;
        }
    }
    let decimals = point.map_or(0, |p| digits.len() - p - 1);
    let digit_count = digits.len() - usize::from(point.is_some());
    if digit_count == 0 || mantissa > (1u64 << 53) || decimals >= POWERS_OF_TEN.len() {
        return None;
    }
    let value = mantissa as f64 / POWERS_OF_TEN[decimals];
    Some(if negative { -value } else { value })
}

/// Parses a finite decimal number without allocating. `NaN` and `inf` are rejected.
pub fn parse_number(field: &[u8]) -> Result<f64, PriceProblem> {
    let field = field.trim_ascii();
    if let Some(value) = parse_plain_decimal(field) {
        return Ok(value);
    }
    if field.is_empty() {
        return Err(PriceProblem::Blank);
    }
    if is_null(field) {
        return Err(PriceProblem::Null);
    }
    let text = std::str::from_utf8(field).map_err(|_| PriceProblem::NotANumber)?;
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() => Ok(value),
        _ => Err(PriceProblem::NotANumber),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    #[test]
    fn dates_and_timestamps() {
        assert_eq!(
            parse_stamp(b"1993-01-29"),
            Ok(Stamp {
                date: ymd(1993, 1, 29),
                time: None
            })
        );
        let stamp = parse_stamp(b"2020-04-21 23:00:00").expect("timestamp");
        assert_eq!(stamp.date, ymd(2020, 4, 21));
        assert_eq!(stamp.time, Some(82_800));
        assert_eq!(
            parse_stamp(b"2020-04-21T21:30").expect("T form").time,
            Some(77_400)
        );
        assert!(parse_stamp(b"2021-02-30").is_err());
        assert!(parse_stamp(b"21-02-03").is_err());
        assert!(parse_stamp(b"2021-02-03 24:00:00").is_err());
        assert!(parse_stamp(b"2021-02-03x").is_err());
        assert!(parse_stamp(b"").is_err());
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_number(b"24.526075"), Ok(24.526075));
        assert_eq!(parse_number(b"-7.14"), Ok(-7.14));
        assert_eq!(parse_number(b" 1e3 "), Ok(1000.0));
        assert_eq!(parse_number(b""), Err(PriceProblem::Blank));
        assert_eq!(parse_number(b"null"), Err(PriceProblem::Null));
        assert_eq!(parse_number(b"NaN"), Err(PriceProblem::NotANumber));
        assert_eq!(parse_number(b"inf"), Err(PriceProblem::NotANumber));
        assert_eq!(parse_number(b"12,5"), Err(PriceProblem::NotANumber));
        assert_eq!(parse_number(b"1.2.3"), Err(PriceProblem::NotANumber));
        assert_eq!(parse_number(b"-"), Err(PriceProblem::NotANumber));
        assert_eq!(parse_number(b"."), Err(PriceProblem::NotANumber));
        assert_eq!(parse_number(b"-0"), Ok(0.0));
    }

    /// The fast path must give exactly what the standard library's parser gives.
    #[test]
    fn fast_path_agrees_with_std() {
        let samples = [
            "24.526075",
            "0.9500000000000028",
            "2.210000000000001",
            "28.950000000000003",
            "-7.139999999999997",
            "9007199254740993",
            "0.1",
            "123456789012345678901234567890",
            "1.",
            ".5",
            "-0.000001",
            "00012.5000",
            "0.0000000000000000000001",
            "0.00000000000000000000001",
        ];
        for text in samples {
            let expected: f64 = text.parse().expect("std parses");
            let got = parse_number(text.as_bytes()).expect("parses");
            assert_eq!(got.to_bits(), expected.to_bits(), "{text}");
        }
        // A deterministic sweep of 6-decimal prices like Yahoo's.
        let mut state: u64 = 1;
        for _ in 0..100_000 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            let text = format!(
                "{}.{:06}",
                (state >> 40) % 100_000,
                (state >> 8) % 1_000_000
            );
            let expected: f64 = text.parse().expect("std parses");
            let got = parse_number(text.as_bytes()).expect("parses");
            assert_eq!(got.to_bits(), expected.to_bits(), "{text}");
        }
    }
}
