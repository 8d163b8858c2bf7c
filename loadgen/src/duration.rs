//! Times on the command line: durations (`10s`, `1m`, `500ms`, `1.5s`,
//! `2h`, `250us`; a bare number is seconds) and the wall-clock instant of
//! `--start-at` (Unix seconds, or `HH:MM:SS` in UTC today).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Parses a duration as `loadgen`'s options take it.
///
/// ```
/// use std::time::Duration;
/// use loopcore_loadgen::duration::parse_duration;
/// assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
/// assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
/// assert_eq!(parse_duration("2.5"), Ok(Duration::from_millis(2500)));
/// assert!(parse_duration("fast").is_err());
/// assert!(parse_duration("-5s").is_err());
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (try 10s, 1m, 500ms)"))?;
    let scale = match unit {
        "" | "s" => 1.0,
        "ms" => 1e-3,
        "us" | "µs" => 1e-6,
        "m" => 60.0,
        "h" => 3600.0,
        other => {
            return Err(format!(
                "unknown unit {other:?} in {text:?} (use us, ms, s, m or h)"
            ))
        }
    };
    let seconds = value * scale;
    if !seconds.is_finite() || seconds > 1e9 {
        return Err(format!("{text:?} is too long"));
    }
    if seconds < 0.0 {
        return Err(format!("{text:?} is negative"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Parses `--start-at`: Unix time in seconds (`1767225600`, fractions
/// allowed) or a UTC time of day `HH:MM[:SS]` (today, or tomorrow if it
/// has passed).
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use loopcore_loadgen::duration::parse_start_at;
/// assert_eq!(parse_start_at("1767225600"), Ok(UNIX_EPOCH + Duration::from_secs(1767225600)));
/// assert!(parse_start_at("12:30").is_ok());
/// assert!(parse_start_at("25:00").is_err());
/// assert!(parse_start_at("1e30").is_err());
/// ```
pub fn parse_start_at(text: &str) -> Result<SystemTime, String> {
    let bad = || format!("{text:?} is not a start time: give Unix seconds or HH:MM[:SS] (UTC)");
    if let Ok(seconds) = text.parse::<f64>() {
        // Past the year 5000 is a typo, and would not fit a `SystemTime`.
        if !(seconds.is_finite() && (0.0..1e11).contains(&seconds)) {
            return Err(bad());
        }
        return Ok(UNIX_EPOCH + Duration::from_secs_f64(seconds));
    }
    let parts: Vec<u64> = text
        .split(':')
        .map(|p| p.parse::<u64>().map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    let (h, m, s) = match parts.as_slice() {
        [h, m] => (*h, *m, 0),
        [h, m, s] => (*h, *m, *s),
        _ => return Err(bad()),
    };
    if h > 23 || m > 59 || s > 59 {
        return Err(bad());
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|_| bad())?
        .as_secs();
    let midnight = now - now % 86_400;
    let mut at = midnight + h * 3600 + m * 60 + s;
    if at < now {
        at += 86_400;
    }
    Ok(UNIX_EPOCH + Duration::from_secs(at))
}
