//! Version numbering and diffs: pure logic.

use serde::Serialize;

use super::model::SetFile;
use crate::error::{AppError, AppResult};

/// `MAJOR.MINOR.PATCH` with non-negative integers; nothing else is a version number here.
pub fn parse_semver(v: &str) -> Option<(u64, u64, u64)> {
    let mut it = v.split('.').map(|p| {
        (!p.is_empty() && p.len() <= 9 && p.bytes().all(|b| b.is_ascii_digit())).then(|| p.parse().ok()).flatten()
    });
    let t = (it.next()??, it.next()??, it.next()??);
    it.next().is_none().then_some(t)
}

/// The number of the next version: `requested` when given (must be semver and unused),
/// `1.0.0` for the first, else the highest existing one with its patch number plus one.
pub fn next_version(existing: &[String], requested: Option<&str>) -> AppResult<String> {
    if let Some(r) = requested {
        parse_semver(r)
            .ok_or_else(|| AppError::validation("version_number", format!("{r:?} is not MAJOR.MINOR.PATCH")))?;
        if existing.iter().any(|e| e == r) {
            return Err(AppError::conflict(format!("version {r} already exists")));
        }
        return Ok(r.to_string());
    }
    match existing.iter().filter_map(|e| parse_semver(e)).max() {
        None => Ok("1.0.0".into()),
        Some((a, b, c)) => Ok(format!("{a}.{b}.{}", c + 1)),
    }
}

#[derive(Debug, Serialize, PartialEq)]
pub struct FileChange {
    pub file_type: String,
    pub file_name: String,
    /// Unified diff of the YAML text (`a/…` → `b/…`).
    pub diff: String,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Diff {
    pub added: Vec<SetFile>,
    pub removed: Vec<SetFile>,
    pub changed: Vec<FileChange>,
    pub unchanged: usize,
}

/// Compares two file sets by `(file_type, file_name)`.
pub fn diff(a: &[SetFile], b: &[SetFile]) -> Diff {
    let key = |f: &SetFile| (f.file_type.clone(), f.file_name.clone());
    let find = |set: &[SetFile], f: &SetFile| set.iter().find(|g| key(g) == key(f)).cloned();
    let mut d = Diff { added: vec![], removed: vec![], changed: vec![], unchanged: 0 };
    for f in b {
        match find(a, f) {
            None => d.added.push(f.clone()),
            Some(old) if old.yaml_content == f.yaml_content => d.unchanged += 1,
            Some(old) => d.changed.push(FileChange {
                file_type: f.file_type.clone(),
                file_name: f.file_name.clone(),
                diff: unified(&old.yaml_content, &f.yaml_content, &f.file_name),
            }),
        }
    }
    d.removed = a.iter().filter(|f| find(b, f).is_none()).cloned().collect();
    d
}

fn unified(old: &str, new: &str, name: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{name}"), &format!("b/{name}"))
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(t: &str, n: &str, y: &str) -> SetFile {
        SetFile { file_type: t.into(), file_name: n.into(), yaml_content: y.into() }
    }

    #[test]
    fn numbering() {
        assert_eq!(next_version(&[], None).unwrap(), "1.0.0");
        let existing = vec!["1.0.0".to_string(), "1.2.9".into(), "1.10.0".into()];
        assert_eq!(next_version(&existing, None).unwrap(), "1.10.1");
        assert_eq!(next_version(&existing, Some("2.0.0")).unwrap(), "2.0.0");
        assert_eq!(next_version(&existing, Some("1.0.0")).unwrap_err().code, "conflict");
        for bad in ["1.0", "v1.0.0", "1.0.0-rc1", "1..0", "a.b.c", "1.0.0.0"] {
            assert_eq!(next_version(&existing, Some(bad)).unwrap_err().code, "validation_failed", "{bad}");
        }
    }

    #[test]
    fn diffs_by_type_and_name() {
        let a = vec![
            f("session", "s.yaml", "a: 1\nb: 2\n"),
            f("roles", "r.yaml", "x: 1\n"),
            f("global", "g.yaml", "v: 1\n"),
        ];
        let b = vec![
            f("session", "s.yaml", "a: 1\nb: 3\n"),
            f("roles", "r.yaml", "x: 1\n"),
            f("skills", "k.yaml", "k: 1\n"),
        ];
        let d = diff(&a, &b);
        assert_eq!(d.added.len(), 1);
        assert_eq!(d.removed[0].file_name, "g.yaml");
        assert_eq!(d.unchanged, 1);
        assert!(d.changed[0].diff.contains("-b: 2\n+b: 3"), "{}", d.changed[0].diff);
        assert!(d.changed[0].diff.starts_with("--- a/s.yaml\n+++ b/s.yaml"));
    }
}
