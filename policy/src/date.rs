//! Contract validity dates.
//!
//! A contract's `valid_from` / `valid_until` are TOML dates, read as midnight China Standard Time
//! (UTC+08:00), or TOML offset date-times. A local date-time without an offset is refused: the
//! instant a contract starts or ends must not depend on the server's time zone. The window is
//! half-open: `valid_from <= now < valid_until`.

use std::fmt;

/// Seconds since the Unix epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(pub i64);

/// China Standard Time, the offset that bare dates are read in.
const CST_OFFSET_SECONDS: i64 = 8 * 3600;

impl Instant {
    /// Converts a TOML date or offset date-time. `Err` carries what was expected.
    pub fn from_toml(dt: &toml::value::Datetime) -> Result<Self, &'static str> {
        let Some(date) = dt.date else {
            return Err("expected a date (2026-01-01) or an offset date-time, got a time of day");
        };
        let days = days_from_civil(i64::from(date.year), date.month.into(), date.day.into());
        let Some(time) = dt.time else {
            return Ok(Instant(days * 86_400 - CST_OFFSET_SECONDS));
        };
        let offset_seconds = match dt.offset {
            None => {
                return Err(
                    "a date-time needs an explicit offset (2026-01-01T00:00:00+08:00) or must be a plain date",
                );
            }
            Some(toml::value::Offset::Z) => 0,
            Some(toml::value::Offset::Custom { minutes }) => i64::from(minutes) * 60,
        };
        let secs =
            i64::from(time.hour) * 3600 + i64::from(time.minute) * 60 + i64::from(time.second);
        Ok(Instant(days * 86_400 + secs - offset_seconds))
    }

    /// The current time.
    pub fn now() -> Self {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Instant(d.as_secs() as i64)
    }
}

impl fmt::Display for Instant {
    /// RFC 3339 in China Standard Time, the zone contracts are written in.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let local = self.0 + CST_OFFSET_SECONDS;
        let (days, secs) = (local.div_euclid(86_400), local.rem_euclid(86_400));
        let (y, m, d) = civil_from_days(days);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}+08:00",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Instant, &'static str> {
        let v: toml::Value = toml::from_str(&format!("x = {s}")).unwrap();
        Instant::from_toml(v["x"].as_datetime().unwrap())
    }

    #[test]
    fn bare_date_is_midnight_china_standard_time() {
        // 2026-01-01T00:00:00+08:00 == 2025-12-31T16:00:00Z == 1767196800
        assert_eq!(parse("2026-01-01").unwrap(), Instant(1_767_196_800));
        assert_eq!(
            parse("2026-01-01").unwrap().to_string(),
            "2026-01-01T00:00:00+08:00"
        );
    }

    #[test]
    fn offset_date_times_are_exact() {
        assert_eq!(
            parse("2025-12-31T16:00:00Z").unwrap(),
            Instant(1_767_196_800)
        );
        assert_eq!(
            parse("2026-01-01T01:30:00+09:30").unwrap(),
            Instant(1_767_196_800)
        );
    }

    #[test]
    fn local_date_time_is_refused() {
        assert!(parse("2026-01-01T00:00:00").is_err());
        assert!(parse("10:00:00").is_err());
    }

    #[test]
    fn civil_round_trip() {
        for days in [-800_000, -1, 0, 1, 19_000, 20_454, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
