//! Turning plain text into a safe FTS5 query.

/// Most terms a query keeps: each is a phrase FTS5 must look up.
const MAX_TERMS: usize = 32;

/// The terms of plain text, each quoted as an FTS5 phrase (inner quotes doubled). Terms
/// are split at whitespace and at control characters: FTS5 reads a NUL inside a string as
/// its end ("unterminated string"), so none may survive.
pub fn fts_terms(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|t| !t.is_empty())
        .take(MAX_TERMS)
        .map(|t| format!("\"{}\"", t.replace('"', "\"\"")))
}

/// Every term quoted and joined with spaces, which FTS5 reads as AND. No operator, column
/// filter, prefix `*` or `NEAR(` survives, so no query syntax error can reach a client.
/// None when the text has no term at all.
pub fn fts_query(text: &str) -> Option<String> {
    let terms: Vec<String> = fts_terms(text).collect();
    (!terms.is_empty()).then(|| terms.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_term_is_quoted() {
        assert_eq!(fts_query("hello world").as_deref(), Some("\"hello\" \"world\""));
        assert_eq!(fts_query("say \"hi").as_deref(), Some("\"say\" \"\"\"hi\""));
        assert_eq!(fts_query("   "), None);
        assert_eq!(fts_query("\0 \u{1}"), None, "control characters separate terms");
        assert_eq!(fts_query("a\0b").as_deref(), Some("\"a\" \"b\""));
    }

    #[test]
    fn fts_syntax_is_inert_in_sqlite() {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        c.execute_batch("CREATE VIRTUAL TABLE t USING fts5(x); INSERT INTO t VALUES ('near the star * here');")
            .unwrap();
        for q in ["\"NEAR(", "*", "a OR", "x:y", "(((", "\"unbalanced", "NOT", "near star", "-", "^", "a\0b", "x\u{1}"]
        {
            let fq = fts_query(q).unwrap();
            let r: rusqlite::Result<i64> = c.query_row("SELECT count(*) FROM t WHERE t MATCH ?1", [&fq], |r| r.get(0));
            assert!(r.is_ok(), "{q} → {fq}: {r:?}");
        }
        let n: i64 = c
            .query_row("SELECT count(*) FROM t WHERE t MATCH ?1", [fts_query("near star").unwrap()], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
    }
}
