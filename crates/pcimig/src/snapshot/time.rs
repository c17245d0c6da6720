//! The snapshot's time: RFC 3339 in UTC (`2025-06-01T12:00:00Z`), written and checked without a
//! date library (the civil-from-days conversion of the proleptic Gregorian calendar).

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn now_rfc3339() -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    format_unix(secs)
}

/// Seconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_unix(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// (year, month, day) of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Check `YYYY-MM-DDTHH:MM:SS[.fraction]Z` (RFC 3339, UTC); the message says what is wrong.
pub fn check_rfc3339_utc(s: &str) -> Result<(), String> {
    let bad = || format!("'{s}' is not an RFC 3339 UTC time like 2025-06-01T12:00:00Z");
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return Err(bad());
    }
    if b[b.len() - 1] != b'Z' {
        return Err(format!("'{s}' is not in UTC: write it with a trailing Z"));
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let t = &s[r];
        t.bytes().all(|c| c.is_ascii_digit()).then(|| t.parse().ok()).flatten()
    };
    let fields = [num(0..4), num(5..7), num(8..10), num(11..13), num(14..16), num(17..19)];
    let [Some(year), Some(month), Some(day), Some(h), Some(min), Some(sec)] = fields else {
        return Err(bad());
    };
    let frac = &s[19..s.len() - 1];
    let frac_ok =
        frac.is_empty() || (frac.len() > 1 && frac.starts_with('.') && frac[1..].bytes().all(|c| c.is_ascii_digit()));
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days_in = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let date_ok = (1..=12).contains(&month) && day >= 1 && day <= days_in[(month.max(1) - 1) as usize];
    if !frac_ok || !date_ok || h > 23 || min > 59 || sec > 60 {
        return Err(bad());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_unix(0), "1970-01-01T00:00:00Z");
        // 2000-02-29 (a leap day of a century leap year) 12:34:56.
        assert_eq!(format_unix(951_827_696), "2000-02-29T12:34:56Z");
        assert_eq!(format_unix(1_748_779_200), "2025-06-01T12:00:00Z");
    }

    #[test]
    fn accepts_utc_and_refuses_the_rest() {
        check_rfc3339_utc("2025-06-01T12:00:00Z").unwrap();
        check_rfc3339_utc("2024-02-29T23:59:60.123Z").unwrap();
        for bad in [
            "2025-06-01 12:00:00Z",
            "2025-06-01T12:00:00+02:00",
            "2023-02-29T00:00:00Z",
            "2025-13-01T00:00:00Z",
            "2025-06-01T24:00:00Z",
            "2025-06-01T12:00:00.Z",
            "yesterday",
        ] {
            assert!(check_rfc3339_utc(bad).is_err(), "{bad}");
        }
        check_rfc3339_utc(&now_rfc3339()).unwrap();
    }
}
