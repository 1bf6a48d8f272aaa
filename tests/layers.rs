//! The module graph, checked from the source: which room (top-level
//! module) may import which, no import circle between rooms or between the
//! modules of one room, and only services writing audit events. The rules
//! are the ones ARCHITECTURE.md states; this keeps them true.
//!
//! An import is any path through `crate::` (or `$crate::` in macros, or
//! `super::`), in a `use` or inline, resolved to the deepest module it
//! names. A module's references to its own ancestors (a child using its
//! parent's helpers) are not edges: a parent and its children are one
//! room's inside.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// What each room may import. A room not listed here fails the test, so
/// a new one must be placed in the layering on purpose.
const ALLOWED: &[(&str, &[&str])] = &[
    ("domain", &[]),
    ("clock", &[]),
    ("meter", &[]),
    ("config", &["domain"]),
    ("telemetry", &["config"]),
    ("crypto", &["config", "domain", "meter"]),
    ("store", &["config", "domain"]),
    ("error", &["crypto", "domain", "store"]),
    ("audit", &["clock", "domain", "store"]),
    (
        "replica",
        &[
            "clock", "config", "crypto", "domain", "error", "meter", "store",
        ],
    ),
    (
        "context",
        &[
            "audit", "clock", "config", "crypto", "domain", "replica", "store",
        ],
    ),
    (
        "service",
        &[
            "audit", "clock", "config", "context", "crypto", "domain", "error", "meter", "replica",
            "store",
        ],
    ),
    // Handlers get domain types: the store is reached only through services.
    (
        "http",
        &[
            "clock", "config", "context", "crypto", "domain", "error", "meter", "service",
        ],
    ),
    (
        "startup",
        &[
            "audit", "clock", "config", "context", "crypto", "domain", "error", "http", "meter",
            "replica", "service", "store",
        ],
    ),
    (
        "cli",
        &[
            "clock",
            "config",
            "context",
            "crypto",
            "domain",
            "error",
            "service",
            "startup",
            "store",
            "telemetry",
        ],
    ),
    // The downstream verifier builds without the server.
    ("verifier", &["crypto", "domain"]),
];

/// What only services may do: record audit events.
const AUDIT_WRITES: &[&str] = &[
    "audit.record(",
    "audit.refused(",
    "insert_audit",
    "AuditEvent {",
];

struct Module {
    path: Vec<String>,
    source: String,
}

fn modules() -> Vec<Module> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    collect(&root, &mut files);
    files
        .into_iter()
        .filter_map(|file| {
            let relative = file.strip_prefix(&root).unwrap().with_extension("");
            let mut path: Vec<String> = relative
                .iter()
                .map(|part| part.to_string_lossy().into_owned())
                .collect();
            if path.last().is_some_and(|last| last == "mod") {
                path.pop();
            }
            if path == ["lib"] {
                path.clear();
            }
            if path == ["main"] {
                return None;
            }
            let source = std::fs::read_to_string(&file).unwrap();
            Some(Module { path, source })
        })
        .collect()
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every path a source refers to, made absolute (`crate`-relative), with
/// `use` trees expanded.
fn references(module: &Module) -> Vec<Vec<String>> {
    let code = strip_comments(&module.source);
    let mut found = Vec::new();
    for (start, prefix) in path_starts(&code) {
        let tail = path_text(&code[start..]);
        let base: Vec<String> = match prefix {
            Prefix::Crate => Vec::new(),
            Prefix::Super(levels) => {
                let keep = module.path.len().saturating_sub(levels);
                module.path[..keep].to_vec()
            }
        };
        for path in expand(&tail) {
            let mut absolute = base.clone();
            absolute.extend(path);
            found.push(absolute);
        }
    }
    found
}

enum Prefix {
    Crate,
    Super(usize),
}

/// Where `crate::`, `$crate::` or a run of `super::` starts a path (the
/// index just past the prefix).
fn path_starts(code: &str) -> Vec<(usize, Prefix)> {
    let bytes = code.as_bytes();
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut starts = Vec::new();
    let mut i = 0;
    while i < code.len() {
        let boundary = i == 0 || !is_ident(bytes[i - 1]);
        if boundary && code[i..].starts_with("crate::") {
            starts.push((i + "crate::".len(), Prefix::Crate));
            i += "crate::".len();
        } else if boundary && code[i..].starts_with("super::") {
            let mut levels = 0;
            let mut j = i;
            while code[j..].starts_with("super::") {
                levels += 1;
                j += "super::".len();
            }
            starts.push((j, Prefix::Super(levels)));
            i = j;
        } else {
            i += 1;
        }
    }
    starts
}

/// The path text from `start`: identifiers, `::` and balanced braces.
fn path_text(rest: &str) -> String {
    let mut depth = 0;
    let mut end = 0;
    for (i, c) in rest.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            c if c.is_alphanumeric() || c == '_' || c == ':' => {}
            ',' | ' ' | '\n' | '*' if depth > 0 => {}
            _ if depth > 0 => {}
            _ => break,
        }
        end = i + c.len_utf8();
    }
    rest[..end].to_owned()
}

/// `a::{b, c::{d, e}}` into `[a, b]`, `[a, c, d]`, `[a, c, e]`.
fn expand(tree: &str) -> Vec<Vec<String>> {
    let tree = tree.trim().trim_end_matches("::");
    let Some(open) = tree.find('{') else {
        return vec![segments(tree)];
    };
    let head = segments(tree[..open].trim_end_matches("::"));
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut parts = Vec::new();
    let (mut depth, mut from) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[from..i]);
                from = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[from..]);
    parts
        .into_iter()
        .filter(|part| !part.trim().is_empty())
        .flat_map(|part| {
            expand(part).into_iter().map(|tail| {
                let mut path = head.clone();
                path.extend(tail.into_iter().filter(|s| s != "self"));
                path
            })
        })
        .collect()
}

fn segments(path: &str) -> Vec<String> {
    path.split("::")
        .map(|s| s.split_whitespace().next().unwrap_or("").to_owned())
        .filter(|s| !s.is_empty() && s != "self" && s != "*")
        .collect()
}

/// The source without comments and string literals, so prose that names
/// a path is not taken for an import.
fn strip_comments(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    for line in source.lines() {
        let code = match line.find("//") {
            Some(i) if !line[..i].contains('"') => &line[..i],
            _ => line,
        };
        let mut in_string = false;
        let mut escaped = false;
        for c in code.chars() {
            match (in_string, c) {
                (true, '\\') if !escaped => escaped = true,
                (true, '"') if !escaped => in_string = false,
                (false, '"') => in_string = true,
                (true, _) => escaped = false,
                (false, c) => out.push(c),
            }
        }
        out.push('\n');
    }
    out
}

/// The deepest known module `path` lies in.
fn resolve<'a>(path: &[String], known: &'a BTreeSet<Vec<String>>) -> Option<&'a Vec<String>> {
    (1..=path.len()).rev().find_map(|n| known.get(&path[..n]))
}

/// Which modules each module imports.
type Graph = BTreeMap<Vec<String>, BTreeSet<Vec<String>>>;

fn edges() -> (Vec<Module>, Graph) {
    let modules = modules();
    let known: BTreeSet<Vec<String>> = modules.iter().map(|m| m.path.clone()).collect();
    let mut graph = BTreeMap::new();
    for module in &modules {
        let targets: &mut BTreeSet<Vec<String>> = graph.entry(module.path.clone()).or_default();
        for reference in references(module) {
            let Some(target) = resolve(&reference, &known) else {
                continue;
            };
            let is_ancestor = module.path.starts_with(target);
            if !is_ancestor {
                targets.insert(target.clone());
            }
        }
    }
    (modules, graph)
}

fn room(path: &[String]) -> &str {
    path.first().map_or("", String::as_str)
}

/// A circle in `graph`, if there is one, as the modules along it.
fn find_cycle<N: Ord + Clone>(graph: &BTreeMap<N, BTreeSet<N>>) -> Option<Vec<N>> {
    fn visit<N: Ord + Clone>(
        node: &N,
        graph: &BTreeMap<N, BTreeSet<N>>,
        stack: &mut Vec<N>,
        done: &mut BTreeSet<N>,
    ) -> Option<Vec<N>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            return Some(stack[at..].to_vec());
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.clone());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, stack, done) {
                return Some(cycle);
            }
        }
        stack.pop();
        done.insert(node.clone());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn rooms_import_only_what_their_layer_allows() {
    let (_, graph) = edges();
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut wrong = Vec::new();
    for (from, targets) in &graph {
        if from.is_empty() {
            continue;
        }
        let Some(may) = allowed.get(room(from)) else {
            wrong.push(format!("{} is not placed in the layering", from.join("::")));
            continue;
        };
        for to in targets {
            let to_room = room(to);
            if to_room != room(from) && !may.contains(&to_room) {
                wrong.push(format!("{} imports {}", from.join("::"), to.join("::")));
            }
        }
    }
    assert!(wrong.is_empty(), "layering broken:\n{}", wrong.join("\n"));
}

#[test]
fn no_import_circle_between_rooms_or_inside_one() {
    let (_, graph) = edges();
    let mut rooms: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, targets) in &graph {
        for to in targets {
            if !from.is_empty() && room(from) != room(to) {
                rooms
                    .entry(room(from).to_owned())
                    .or_default()
                    .insert(room(to).to_owned());
            }
        }
    }
    assert_eq!(find_cycle(&rooms), None, "circle between rooms");
    // Inside each room: between modules that are not each other's parent.
    let inside: Graph = graph
        .iter()
        .filter(|(from, _)| from.len() > 1)
        .map(|(from, targets)| {
            let siblings = targets
                .iter()
                .filter(|to| room(to) == room(from) && to.len() > 1)
                .filter(|to| !to.starts_with(from))
                .cloned()
                .collect();
            (from.clone(), siblings)
        })
        .collect();
    assert_eq!(find_cycle(&inside), None, "circle inside a room");
}

#[test]
fn only_services_write_audit_events() {
    let (modules, _) = edges();
    let mut wrong = Vec::new();
    for module in &modules {
        let writer = matches!(room(&module.path), "service" | "audit" | "store");
        let code = strip_comments(&module.source);
        for needle in AUDIT_WRITES {
            if !writer && code.contains(needle) {
                wrong.push(format!("{} uses {needle}", module.path.join("::")));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "audit written outside services:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_checker_sees_imports() {
    let module = Module {
        path: vec!["service".into(), "login".into()],
        source: "use crate::{domain::{Caller, User}, store::StoreError};\n\
                 use super::tokens;\n// crate::http::nothing\n\
                 fn f() { crate::meter::login(); let s = \"crate::cli\"; }\n"
            .into(),
    };
    let found: Vec<String> = references(&module).iter().map(|p| p.join("::")).collect();
    assert_eq!(
        found,
        [
            "domain::Caller",
            "domain::User",
            "store::StoreError",
            "service::tokens",
            "meter::login"
        ]
    );
}
