//! The time: the wall clock, and the time commands work with (which tests can set).

use std::time::{SystemTime, UNIX_EPOCH};

/// The wall clock, in unix seconds.
pub fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// The time commands work with. Debug builds (the test suite) honour `KEYWARD_NOW` (unix seconds
/// or RFC 3339) so tests can build histories; a release binary's clock cannot be forged this way.
pub fn now() -> i64 {
    #[cfg(debug_assertions)]
    if let Some(t) = std::env::var("KEYWARD_NOW").ok().and_then(|s| {
        s.parse::<i64>().ok().or_else(|| {
            humantime::parse_rfc3339(s.trim())
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map(|d| d.as_secs() as i64)
        })
    }) {
        return t;
    }
    unix_now()
}
