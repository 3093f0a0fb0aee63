//! Pure task-tree logic: materialized paths and dependency cycles.
//!
//! A task's `path` lists the ids from its root down to itself: `/1/4/9`. A subtree is
//! `path = p OR path LIKE p || '/%'` — the `/` matters, or `/1` would match `/12`.

use std::collections::{HashMap, HashSet};

/// The path of a task with `id` under a parent with `parent_path` (None for a root).
pub fn child_path(parent_path: Option<&str>, id: i64) -> String {
    format!("{}/{id}", parent_path.unwrap_or(""))
}

/// The LIKE pattern for the strict descendants of `path` (bind it; never build it in SQL).
pub fn descendants_pattern(path: &str) -> String {
    format!("{path}/%")
}

/// Whether `path` is `root` itself or lies below it.
pub fn in_subtree(path: &str, root: &str) -> bool {
    path == root || path.strip_prefix(root).is_some_and(|rest| rest.starts_with('/'))
}

/// Depth of a path: `/1` is 0, `/1/4` is 1.
pub fn depth_of(path: &str) -> i64 {
    path.matches('/').count() as i64 - 1
}

/// Clamps a requested insert position to `0..=len`; None appends.
pub fn insert_position(requested: Option<i64>, len: i64) -> i64 {
    requested.map(|p| p.clamp(0, len)).unwrap_or(len)
}

/// If adding `task → depends_on` closes a cycle, returns it as `[task, depends_on, …, task]`.
/// `edges` maps a task to what it depends on.
pub fn find_cycle(edges: &HashMap<i64, Vec<i64>>, task: i64, depends_on: i64) -> Option<Vec<i64>> {
    if task == depends_on {
        return Some(vec![task, task]);
    }
    // Depth-first search from depends_on for a path back to task.
    let mut stack = vec![(depends_on, vec![task, depends_on])];
    let mut seen = HashSet::new();
    while let Some((node, trail)) = stack.pop() {
        if !seen.insert(node) {
            continue;
        }
        for &next in edges.get(&node).into_iter().flatten() {
            let mut t = trail.clone();
            t.push(next);
            if next == task {
                return Some(t);
            }
            stack.push((next, t));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sharing_a_prefix_never_leak_into_each_others_subtree() {
        assert!(in_subtree("/1/12", "/1/12"));
        assert!(in_subtree("/1/12/123", "/1/12"));
        assert!(!in_subtree("/1/123", "/1/12"));
        assert!(!in_subtree("/12", "/1"));
        assert!(!in_subtree("/123/1", "/12"));
        assert_eq!(descendants_pattern("/1"), "/1/%");
    }

    #[test]
    fn paths_and_depths() {
        assert_eq!(child_path(None, 7), "/7");
        assert_eq!(child_path(Some("/1/4"), 9), "/1/4/9");
        assert_eq!((depth_of("/7"), depth_of("/1/4/9")), (0, 2));
        assert_eq!((insert_position(None, 3), insert_position(Some(-2), 3), insert_position(Some(9), 3)), (3, 0, 3));
    }

    #[test]
    fn cycles_are_found_and_named() {
        let edges = HashMap::from([(1, vec![2]), (2, vec![3])]);
        assert_eq!(find_cycle(&edges, 3, 1), Some(vec![3, 1, 2, 3]));
        assert_eq!(find_cycle(&edges, 1, 3), None);
        assert_eq!(find_cycle(&edges, 4, 4), Some(vec![4, 4]));
    }
}
