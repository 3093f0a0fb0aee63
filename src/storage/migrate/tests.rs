use super::*;

const V1: Migration = Migration { name: "0001_a", sql: "CREATE TABLE a(x INTEGER);" };
const V2: Migration = Migration { name: "0002_b", sql: "CREATE TABLE b(y INTEGER); INSERT INTO a VALUES (2);" };
const BAD: Migration = Migration { name: "0003_bad", sql: "CREATE TABLE c(z); INSERT INTO nowhere VALUES (1);" };

fn version(conn: &Connection) -> u32 {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap()
}

#[test]
fn every_kind_migrates_a_fresh_file_to_the_latest_version() {
    for kind in FileKind::ALL {
        let mut conn = Connection::open_in_memory().unwrap();
        let (from, to) = migrate(&mut conn, kind).unwrap();
        assert_eq!((from, to), (0, kind.latest()), "{}", kind.name());
        assert_eq!(inspect(&conn).unwrap().application_id, kind.application_id());
        assert_eq!(migrate(&mut conn, kind).unwrap(), (to, to), "second run is a no-op");
        let fk: Option<String> = conn.query_row("PRAGMA foreign_key_check", [], |r| r.get(0)).ok();
        assert!(fk.is_none());
    }
}

#[test]
fn application_ids_are_distinct() {
    let mut ids: Vec<i32> = FileKind::ALL.iter().map(|k| k.application_id()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), FileKind::ALL.len());
}

#[test]
fn an_old_version_is_upgraded_in_place() {
    let mut conn = Connection::open_in_memory().unwrap();
    migrate_with(&mut conn, FileKind::Session, &[V1]).unwrap();
    conn.execute("INSERT INTO a VALUES (1)", []).unwrap();
    assert_eq!(migrate_with(&mut conn, FileKind::Session, &[V1, V2]).unwrap(), (1, 2));
    let n: i64 = conn.query_row("SELECT count(*) FROM a", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 2, "old rows are kept and the new migration ran once");
}

#[test]
fn a_failing_migration_leaves_the_old_version() {
    let mut conn = Connection::open_in_memory().unwrap();
    migrate_with(&mut conn, FileKind::Session, &[V1]).unwrap();
    let e = migrate_with(&mut conn, FileKind::Session, &[V1, V2, BAD]).unwrap_err();
    assert_eq!(e.code, "internal");
    assert_eq!(version(&conn), 1);
    let b: Option<String> =
        conn.query_row("SELECT name FROM sqlite_schema WHERE name = 'b'", [], |r| r.get(0)).optional().unwrap();
    assert!(b.is_none(), "the earlier pending migration rolled back too");
}

#[test]
fn newer_and_wrong_kind_files_are_refused() {
    let mut conn = Connection::open_in_memory().unwrap();
    migrate_with(&mut conn, FileKind::Session, &[V1, V2]).unwrap();
    assert_eq!(migrate_with(&mut conn, FileKind::Session, &[V1]).unwrap_err().code, "schema_too_new");
    assert_eq!(migrate_with(&mut conn, FileKind::Project, &[V1, V2]).unwrap_err().code, "wrong_file_kind");
    let foreign = Connection::open_in_memory().unwrap();
    foreign.execute_batch("CREATE TABLE t(x)").unwrap();
    assert_eq!(check(&foreign, FileKind::Session).unwrap_err().code, "wrong_file_kind");
}

#[test]
fn expected_schema_matches_a_migrated_file() {
    let mut conn = Connection::open_in_memory().unwrap();
    migrate(&mut conn, FileKind::Project).unwrap();
    let latest = FileKind::Project.latest();
    assert_eq!(expected_schema(FileKind::Project, latest).unwrap(), schema_of(&conn).unwrap());
}
