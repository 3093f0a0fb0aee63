//! Human-friendly config values: byte sizes (`"1 GiB"`, `524288`) and intervals (`"off"`,
//! `"24h"`). Both serialize back to the same text form, so `planbase config` prints what a
//! person would write.

use std::fmt;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

const UNITS: [(&str, u64); 4] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10), ("B", 1)];

impl ByteSize {
    pub fn parse(s: &str) -> Result<ByteSize, String> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (num, unit) = s.split_at(split);
        let n: u64 = num.parse().map_err(|_| format!("expected a size like 512KiB or 1GiB, got {s:?}"))?;
        let unit = unit.trim();
        let mult = match unit.to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "k" | "kb" | "kib" => 1 << 10,
            "m" | "mb" | "mib" => 1 << 20,
            "g" | "gb" | "gib" => 1 << 30,
            _ => return Err(format!("unknown size unit {unit:?} (use B, KiB, MiB or GiB)")),
        };
        n.checked_mul(mult).map(ByteSize).ok_or_else(|| "size too large".to_string())
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (name, size) =
            UNITS.iter().find(|(_, m)| self.0 != 0 && self.0.is_multiple_of(*m)).copied().unwrap_or(("B", 1));
        write!(f, "{} {name}", self.0 / size)
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u64),
            S(String),
        }
        match Raw::deserialize(d).map_err(|_| de::Error::custom("expected a size like 512KiB or an integer"))? {
            Raw::N(n) => Ok(ByteSize(n)),
            Raw::S(s) => ByteSize::parse(&s).map_err(de::Error::custom),
        }
    }
}

/// A period in seconds, or `off` (None).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval(pub Option<u64>);

impl Interval {
    pub fn parse(s: &str) -> Result<Interval, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("off") {
            return Ok(Interval(None));
        }
        let bad = || format!("expected `off` or a period like 30m, 24h or 7d, got {s:?}");
        let (num, unit) = s.split_at(s.len().saturating_sub(1));
        let n: u64 = num.trim().parse().map_err(|_| bad())?;
        let mult = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            _ => return Err(bad()),
        };
        if n == 0 {
            return Err(bad());
        }
        Ok(Interval(Some(n * mult)))
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            None => f.write_str("off"),
            Some(s) => {
                let (n, u) = [(86_400, "d"), (3600, "h"), (60, "m"), (1, "s")]
                    .into_iter()
                    .find(|(m, _)| s.is_multiple_of(*m))
                    .map(|(m, u)| (s / m, u))
                    .unwrap_or((s, "s"));
                write!(f, "{n}{u}")
            }
        }
    }
}

impl Serialize for Interval {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Interval {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Interval::parse(&s).map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_print() {
        assert_eq!(ByteSize::parse("1 GiB").unwrap().0, 1 << 30);
        assert_eq!(ByteSize::parse("512KiB").unwrap().0, 512 << 10);
        assert_eq!(ByteSize::parse("1000").unwrap().0, 1000);
        assert!(ByteSize::parse("12 parsecs").is_err());
        assert_eq!(ByteSize(256 << 20).to_string(), "256 MiB");
        assert_eq!(ByteSize(1000).to_string(), "1000 B");
    }

    #[test]
    fn intervals_parse_and_print() {
        assert_eq!(Interval::parse("off").unwrap(), Interval(None));
        assert_eq!(Interval::parse("24h").unwrap(), Interval(Some(86_400)));
        assert_eq!(Interval::parse("24h").unwrap().to_string(), "1d");
        assert!(Interval::parse("0h").is_err());
        assert!(Interval::parse("soon").is_err());
    }
}
