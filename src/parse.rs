//! Parsers for the metadata given on the command line: dates, durations, rate limits, CIDRs,
//! origins, environments and labels. Each returns a message saying what form is expected.

use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::vault::secret::RateLimit;

const DAY: u64 = 86_400;

/// `90d`, `12h`, `2w`, `1y` ... (humantime's units), at least one second.
pub fn duration(s: &str) -> Result<u64, String> {
    let d = humantime::parse_duration(s.trim())
        .map_err(|_| "expected a duration such as 90d, 12h, 2w or 1y".to_string())?;
    if d.as_secs() == 0 {
        return Err("a duration must be at least one second".into());
    }
    Ok(d.as_secs())
}

/// `DURATION` or `never`.
pub fn optional_duration(s: &str) -> Result<Option<u64>, String> {
    if s.trim() == "never" { Ok(None) } else { duration(s).map(Some) }
}

/// `2027-01-31` (the end of that day, UTC), an RFC 3339 time, or a duration from now.
pub fn expiry(s: &str, now: i64) -> Result<i64, String> {
    let s = s.trim();
    let bad = || "expected a date (2027-01-31), an RFC 3339 time or a duration from now (90d)".to_string();
    if s.len() == 10 && s.as_bytes().get(4) == Some(&b'-') {
        let t = humantime::parse_rfc3339(&format!("{s}T23:59:59Z")).map_err(|_| bad())?;
        return Ok(unix(t));
    }
    if s.contains('T') {
        return humantime::parse_rfc3339_weak(s.trim_end_matches('Z')).map(unix).map_err(|_| bad());
    }
    let secs = duration(s).map_err(|_| bad())?;
    Ok(now.saturating_add(i64::try_from(secs).unwrap_or(i64::MAX)))
}

/// A point in time for `--since`/`--until`: a date (its start, or its end with `end_of_day`), an
/// RFC 3339 time, or a duration before `now` (`7d`).
pub fn point_in_time(s: &str, now: i64, end_of_day: bool) -> Result<i64, String> {
    let s = s.trim();
    let bad = || "expected a date (2026-11-01), an RFC 3339 time or a duration ago (7d)".to_string();
    if s.len() == 10 && s.as_bytes().get(4) == Some(&b'-') {
        let time = if end_of_day { "23:59:59" } else { "00:00:00" };
        return humantime::parse_rfc3339(&format!("{s}T{time}Z")).map(unix).map_err(|_| bad());
    }
    if s.contains('T') {
        return humantime::parse_rfc3339_weak(s.trim_end_matches('Z')).map(unix).map_err(|_| bad());
    }
    let secs = duration(s).map_err(|_| bad())?;
    Ok(now.saturating_sub(i64::try_from(secs).unwrap_or(i64::MAX)))
}

/// Parses the RFC 3339 times this program writes.
pub fn parse_time(s: &str) -> Option<i64> {
    humantime::parse_rfc3339(s).ok().map(unix)
}

fn unix(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// RFC 3339 in UTC, to the second.
pub fn time(secs: i64) -> String {
    // humantime formats years up to 9999 and fails (a panic in `to_string`) after: a time read
    // from a file is clamped, never trusted.
    let secs = secs.clamp(0, 253_402_300_799);
    let t = UNIX_EPOCH + Duration::from_secs(secs.unsigned_abs());
    humantime::format_rfc3339_seconds(t).to_string()
}

/// A compact duration: `90d`, `36h`, `45m`, `20s`.
pub fn short_duration(secs: u64) -> String {
    match secs {
        s if s >= DAY && s % DAY == 0 => format!("{}d", s / DAY),
        s if s >= 3600 && s % 3600 == 0 => format!("{}h", s / 3600),
        s if s >= 60 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// `N/PERIOD`, e.g. `1000/min`, `10/s`, `5000/hour`, `100/day`.
pub fn rate_limit(s: &str) -> Result<RateLimit, String> {
    let bad = || "expected N/PERIOD, such as 1000/min, 10/s, 5000/hour or 100/day".to_string();
    let (n, period) = s.trim().split_once('/').ok_or_else(bad)?;
    let count: u64 = n.trim().parse().map_err(|_| bad())?;
    let per_secs = match period.trim() {
        "s" | "sec" | "second" => 1,
        "m" | "min" | "minute" => 60,
        "h" | "hr" | "hour" => 3600,
        "d" | "day" => DAY,
        _ => return Err(bad()),
    };
    if count == 0 {
        return Err("a rate limit must allow at least one request".into());
    }
    Ok(RateLimit { count, per_secs })
}

pub fn format_rate_limit(r: &RateLimit) -> String {
    let unit = match r.per_secs {
        1 => "s",
        60 => "min",
        3600 => "hour",
        _ => "day",
    };
    format!("{}/{unit}", r.count)
}

/// An address or a network in CIDR form; returned normalized.
pub fn cidr(s: &str) -> Result<String, String> {
    let s = s.trim();
    let bad = || "expected an IP address or network such as 203.0.113.0/24 or 2001:db8::/32".to_string();
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let ip: IpAddr = addr.parse().map_err(|_| bad())?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let prefix: u8 = match prefix {
        Some(p) => p.parse().ok().filter(|p| *p <= max).ok_or_else(bad)?,
        None => max,
    };
    Ok(format!("{ip}/{prefix}"))
}

/// `scheme://host[:port]` with no path, or `*`.
pub fn origin(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s == "*" {
        return Ok(s.into());
    }
    let bad = || "expected an origin such as https://app.example.com or http://localhost:3000".to_string();
    let (scheme, rest) = s.split_once("://").ok_or_else(bad)?;
    if !matches!(scheme, "http" | "https") || rest.is_empty() || rest.contains(['/', '?', '#', ' ', '@']) {
        return Err(bad());
    }
    Ok(s.to_ascii_lowercase())
}

/// `dev`, `staging`, `prod` or another short lower-case name; common spellings are normalized.
pub fn environment(s: &str) -> Result<String, String> {
    let lower = s.trim().to_ascii_lowercase();
    let normal = match lower.as_str() {
        "development" | "develop" => "dev",
        "stage" | "stg" => "staging",
        "production" | "prd" => "prod",
        other => other,
    };
    if crate::vault::secret::validate_env(normal).is_err() {
        return Err("expected dev, staging, prod or a short lower-case name".into());
    }
    Ok(normal.to_owned())
}

/// Token labels: 1-48 of letters, digits, `.`, `_`, `-`, `@`.
pub fn label(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() <= 48
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if !ok {
        return Err("expected 1-48 letters, digits, '.', '_', '-' or '@'".into());
    }
    Ok(s.to_owned())
}

/// Free text (notes, scopes, tags, providers): no control characters, bounded length.
pub fn text(s: &str, max: usize) -> Result<String, String> {
    if s.chars().any(char::is_control) {
        return Err("control characters are not allowed".into());
    }
    if s.len() > max {
        return Err(format!("at most {max} bytes"));
    }
    Ok(s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_past_year_9999_are_clamped_not_a_panic() {
        assert_eq!(time(i64::MAX), "9999-12-31T23:59:59Z");
        assert_eq!(time(-5), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn durations() {
        assert_eq!(duration("90d"), Ok(90 * DAY));
        assert_eq!(duration("12h"), Ok(12 * 3600));
        assert!(duration("soon").is_err());
        assert!(duration("0s").is_err());
        assert_eq!(optional_duration("never"), Ok(None));
        assert_eq!(short_duration(90 * DAY), "90d");
        assert_eq!(short_duration(3 * 3600), "3h");
    }

    #[test]
    fn expiry_dates_end_of_day_utc() {
        let t = expiry("2027-01-31", 0).unwrap();
        assert_eq!(time(t), "2027-01-31T23:59:59Z");
        assert_eq!(expiry("30d", 1000), Ok(1000 + 30 * 86400));
        assert_eq!(time(expiry("2027-02-01T10:00:00Z", 0).unwrap()), "2027-02-01T10:00:00Z");
        assert!(expiry("2027-13-01", 0).is_err());
        assert!(expiry("tomorrow", 0).is_err());
    }

    #[test]
    fn rate_limits() {
        assert_eq!(rate_limit("1000/min"), Ok(RateLimit { count: 1000, per_secs: 60 }));
        assert_eq!(format_rate_limit(&rate_limit("5/hour").unwrap()), "5/hour");
        for bad in ["1000", "x/min", "10/fortnight", "0/s"] {
            assert!(rate_limit(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cidrs_and_origins() {
        assert_eq!(cidr("10.0.0.0/8").unwrap(), "10.0.0.0/8");
        assert_eq!(cidr("203.0.113.7").unwrap(), "203.0.113.7/32");
        assert_eq!(cidr("2001:db8::/32").unwrap(), "2001:db8::/32");
        for bad in ["10.0.0.0/33", "300.1.1.1", "host.example", "10.0.0.0/x"] {
            assert!(cidr(bad).is_err(), "{bad}");
        }
        assert!(origin("https://app.example.com").is_ok());
        assert!(origin("http://localhost:3000").is_ok());
        for bad in ["app.example.com", "ftp://x", "https://x/path", "https://"] {
            assert!(origin(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn environments() {
        assert_eq!(environment("Production").unwrap(), "prod");
        assert_eq!(environment("qa-2").unwrap(), "qa-2");
        assert!(environment("").is_err());
        assert!(environment("../x").is_err());
    }
}
