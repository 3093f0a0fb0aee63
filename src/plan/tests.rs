//! Store-level tests of the tree on an in-memory project database, and a property test
//! against an in-memory model.

use std::collections::HashMap;

use proptest::prelude::*;
use rusqlite::Connection;

use super::model::NewTask;
use super::store;
use crate::storage::migrate::{self, FileKind};

fn db() -> Connection {
    let mut c = Connection::open_in_memory().unwrap();
    c.execute_batch("PRAGMA foreign_keys = ON").unwrap();
    migrate::migrate(&mut c, FileKind::Project).unwrap();
    c
}

fn add(c: &Connection, name: &str, parent: Option<i64>) -> i64 {
    let t = NewTask {
        name: name.into(),
        parent_id: parent,
        position: None,
        before: None,
        after: None,
        instruction: None,
        metadata: None,
        status: None,
    };
    store::create(c, &t, "now").unwrap().id
}

/// Checks every invariant: path = parent's path + /id, depth, dense positions, no cycle.
fn check_invariants(c: &Connection) {
    let tasks = store::load(c, None, None).unwrap();
    let by_id: HashMap<i64, _> = tasks.iter().map(|t| (t.id, t.clone())).collect();
    let mut siblings: HashMap<Option<i64>, Vec<i64>> = HashMap::new();
    for t in &tasks {
        let expected = super::tree::child_path(t.parent_id.map(|p| by_id[&p].path.as_str()), t.id);
        assert_eq!(t.path, expected, "path of {}", t.id);
        assert_eq!(t.depth, super::tree::depth_of(&t.path));
        siblings.entry(t.parent_id).or_default().push(t.position);
    }
    for (parent, mut pos) in siblings {
        pos.sort();
        assert_eq!(pos, (0..pos.len() as i64).collect::<Vec<_>>(), "positions under {parent:?}");
    }
}

#[test]
fn subtree_of_1_excludes_12_and_123() {
    let c = db();
    let mut ids = vec![];
    for i in 1..=123 {
        ids.push(add(&c, &format!("t{i}"), None));
    }
    let a = add(&c, "child of 1", Some(1));
    add(&c, "child of 12", Some(12));
    add(&c, "child of 123", Some(123));
    let sub: Vec<i64> = store::load(&c, Some(1), None).unwrap().iter().map(|t| t.id).collect();
    assert_eq!(sub, vec![1, a]);
    assert_eq!(store::delete_subtree(&c, 1).unwrap(), 2);
    assert!(store::get(&c, 12).is_ok() && store::get(&c, 123).is_ok());
    check_invariants(&c);
}

#[test]
fn moving_into_own_descendant_is_refused() {
    let c = db();
    let a = add(&c, "a", None);
    let b = add(&c, "b", Some(a));
    let cc = add(&c, "c", Some(b));
    for target in [a, b, cc] {
        let e = store::move_task(&c, a, Some(target), None, "now").unwrap_err();
        assert_eq!(e.code, "invalid_move");
    }
    check_invariants(&c);
}

#[test]
fn moving_a_three_level_subtree_rewrites_paths_and_keeps_positions_dense() {
    let c = db();
    let r1 = add(&c, "r1", None);
    let r2 = add(&c, "r2", None);
    let x = add(&c, "x", Some(r1));
    let y = add(&c, "y", Some(r1));
    let z = add(&c, "z", Some(r1));
    let y1 = add(&c, "y1", Some(y));
    let y2 = add(&c, "y2", Some(y1));
    let deep = add(&c, "deep", Some(r2));
    let moved = store::move_task(&c, y, Some(deep), Some(0), "now").unwrap();
    assert_eq!(moved.path, format!("/{r2}/{deep}/{y}"));
    assert_eq!(store::get(&c, y2).unwrap().path, format!("/{r2}/{deep}/{y}/{y1}/{y2}"));
    assert_eq!(store::get(&c, y2).unwrap().depth, 4);
    assert_eq!((store::get(&c, x).unwrap().position, store::get(&c, z).unwrap().position), (0, 1));
    check_invariants(&c);
    store::move_task(&c, z, None, Some(0), "now").unwrap();
    let roots: Vec<(i64, i64)> = store::load(&c, None, Some(0)).unwrap().iter().map(|t| (t.id, t.position)).collect();
    assert_eq!(roots.iter().find(|(id, _)| *id == z).unwrap().1, 0);
    check_invariants(&c);
}

#[test]
fn dependency_rules() {
    let c = db();
    let (a, b, d) = (add(&c, "a", None), add(&c, "b", None), add(&c, "d", None));
    store::add_dependency(&c, a, b).unwrap();
    store::add_dependency(&c, b, d).unwrap();
    let e = store::add_dependency(&c, d, a).unwrap_err();
    assert_eq!(e.code, "dependency_cycle");
    assert_eq!(e.details["cycle"], serde_json::json!([d, a, b, d]));
    assert_eq!(store::add_dependency(&c, a, a).unwrap_err().code, "dependency_cycle");
    assert_eq!(store::add_dependency(&c, a, 999).unwrap_err().status, 422);
    store::delete_subtree(&c, b).unwrap();
    assert!(store::edges(&c).unwrap().is_empty(), "deleting a task removes its edges");
}

#[derive(Debug, Clone)]
enum Op {
    Create { parent: usize },
    Move { node: usize, parent: Option<usize>, pos: i64 },
    Delete { node: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0usize..50).prop_map(|parent| Op::Create { parent }),
        3 => (0usize..50, proptest::option::of(0usize..50), 0i64..6).prop_map(|(node, parent, pos)| Op::Move { node, parent, pos }),
        1 => (0usize..50).prop_map(|node| Op::Delete { node }),
    ]
}

/// The model: parent of each live node. Ids are picked from the live set by index.
fn apply(c: &Connection, model: &mut HashMap<i64, Option<i64>>, op: &Op) {
    let mut live: Vec<i64> = model.keys().copied().collect();
    live.sort();
    let pick = |i: usize| (!live.is_empty()).then(|| live[i % live.len()]);
    match op {
        Op::Create { parent } => {
            let p = if parent % 3 == 0 { None } else { pick(*parent) };
            let id = add(c, "n", p);
            model.insert(id, p);
        }
        Op::Move { node, parent, pos } => {
            let Some(n) = pick(*node) else { return };
            let target = parent.and_then(pick);
            let into_own_subtree = target.is_some_and(|t| ancestors(model, t).contains(&n));
            let r = store::move_task(c, n, target, Some(*pos), "now");
            assert_eq!(r.is_err(), into_own_subtree, "move {n} under {target:?}");
            if !into_own_subtree {
                model.insert(n, target);
            }
        }
        Op::Delete { node } => {
            let Some(n) = pick(*node) else { return };
            store::delete_subtree(c, n).unwrap();
            let doomed: Vec<i64> = model.keys().copied().filter(|k| ancestors(model, *k).contains(&n)).collect();
            doomed.iter().for_each(|k| {
                model.remove(k);
            });
        }
    }
}

/// The node itself and every ancestor, in the model.
fn ancestors(model: &HashMap<i64, Option<i64>>, mut n: i64) -> Vec<i64> {
    let mut out = vec![n];
    while let Some(Some(p)) = model.get(&n) {
        assert!(!out.contains(p), "cycle in the model");
        out.push(*p);
        n = *p;
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn random_edits_keep_every_invariant(ops in proptest::collection::vec(op(), 1..60)) {
        let c = db();
        let mut model = HashMap::new();
        for op in &ops {
            apply(&c, &mut model, op);
            check_invariants(&c);
            let tasks = store::load(&c, None, None).unwrap();
            prop_assert_eq!(tasks.len(), model.len());
            for t in tasks {
                prop_assert_eq!(t.parent_id, model[&t.id]);
            }
        }
    }
}
