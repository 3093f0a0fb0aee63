//! Timestamps: RFC 3339 UTC with milliseconds everywhere (`2026-11-25T12:00:00.123Z`), fixed
//! width, so they sort as strings.

use time::macros::format_description;
use time::OffsetDateTime;

pub fn now() -> String {
    format(OffsetDateTime::now_utc())
}

pub fn format(t: OffsetDateTime) -> String {
    let f = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    t.to_offset(time::UtcOffset::UTC).format(&f).expect("UTC timestamps format")
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps_have_fixed_millisecond_width() {
        let t = time::macros::datetime!(2026-11-25 12:00:00 UTC);
        assert_eq!(super::format(t), "2026-11-25T12:00:00.000Z");
        let t = time::macros::datetime!(2026-11-25 12:00:00.1 UTC);
        assert_eq!(super::format(t), "2026-11-25T12:00:00.100Z");
        assert_eq!(super::now().len(), 24);
    }
}
