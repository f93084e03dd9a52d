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
const CST: time::UtcOffset = match time::UtcOffset::from_hms(8, 0, 0) {
    Ok(o) => o,
    Err(_) => panic!("+08:00 is a valid offset"),
};

impl Instant {
    /// Converts a TOML date or offset date-time. `Err` carries what was expected.
    pub fn from_toml(dt: &toml::value::Datetime) -> Result<Self, &'static str> {
        let Some(date) = dt.date else {
            return Err("expected a date (2026-01-01) or an offset date-time, got a time of day");
        };
        let date = time::Month::try_from(date.month)
            .ok()
            .and_then(|m| time::Date::from_calendar_date(i32::from(date.year), m, date.day).ok())
            .ok_or("expected a calendar date that exists")?;
        let Some(clock) = dt.time else {
            return Ok(Instant(date.midnight().assume_offset(CST).unix_timestamp()));
        };
        let offset = match dt.offset {
            None => {
                return Err(
                    "a date-time needs an explicit offset (2026-01-01T00:00:00+08:00) or must be a plain date",
                );
            }
            Some(toml::value::Offset::Z) => time::UtcOffset::UTC,
            Some(toml::value::Offset::Custom { minutes }) => {
                time::UtcOffset::from_whole_seconds(i32::from(minutes) * 60)
                    .map_err(|_| "expected an offset between -25:59 and +25:59")?
            }
        };
        let clock = time::Time::from_hms(clock.hour, clock.minute, clock.second)
            .map_err(|_| "expected a time of day that exists")?;
        Ok(Instant(
            date.with_time(clock).assume_offset(offset).unix_timestamp(),
        ))
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
        match time::OffsetDateTime::from_unix_timestamp(self.0) {
            Ok(t) => {
                let t = t.to_offset(CST);
                write!(
                    f,
                    "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}+08:00",
                    t.year(),
                    u8::from(t.month()),
                    t.day(),
                    t.hour(),
                    t.minute(),
                    t.second()
                )
            }
            // Outside the years time can represent: the raw count, still unambiguous.
            Err(_) => write!(f, "@{}", self.0),
        }
    }
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
    fn dates_far_apart_and_leap_days_read_and_print_back() {
        for d in [
            "1970-01-01",
            "2000-02-29",
            "2024-02-29",
            "2099-12-31",
            "1900-03-01",
        ] {
            assert_eq!(
                parse(d).unwrap().to_string(),
                format!("{d}T00:00:00+08:00"),
                "{d}"
            );
        }
        assert_eq!(parse("1970-01-01T08:00:00+08:00").unwrap(), Instant(0));
    }
}
