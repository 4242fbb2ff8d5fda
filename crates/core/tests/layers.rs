//! The modules of every crate in the workspace import one another in layers: no module
//! depends, through any chain of imports, on a module that depends on it. A cycle makes a
//! module impossible to read without the ones above it; this test names the modules of any
//! cycle, so that it is broken where it starts rather than found by a reader. And the binary
//! crates stay glue: no function of theirs runs over [`LONGEST`] lines.
//!
//! A module depends on another when its code (not its tests) names a path into it:
//! `crate::a::b::Item`, `super::Item`, or a child module's `child::Item`. Declaring a child
//! (`pub mod child;`) is not a dependency; re-exporting one (`pub use child::Item`) is.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module's path inside its crate, `[]` for the crate's root.
type Module = Vec<String>;

/// Every module of the crate whose sources are under `src`, with the text of its file.
fn modules(src: &Path) -> BTreeMap<Module, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel: Vec<String> = path
                .strip_prefix(src)
                .unwrap()
                .with_extension("")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            let mut module = rel;
            if matches!(module.last().map(String::as_str), Some("mod" | "lib" | "main")) {
                module.pop();
            }
            // Binaries under `src/bin/` are crates of their own.
            if module.first().is_some_and(|m| m == "bin") {
                continue;
            }
            out.insert(module, std::fs::read_to_string(&path).unwrap());
        }
    }
    out
}

/// The code of a file without its comments and its test module (which ends the file, as
/// everywhere in this workspace).
fn code(text: &str) -> String {
    let end = text.find("#[cfg(test)]\nmod tests").unwrap_or(text.len());
    text[..end]
        .lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The paths a file's code names: each as its segments, `crate`, `super` and `self` kept.
/// `use a::{b::C, d}` gives `a::b::C` and `a::d`.
fn paths(code: &str) -> Vec<Vec<String>> {
    let bytes = code.as_bytes();
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !ident(bytes[i]) || (i > 0 && (ident(bytes[i - 1]) || bytes[i - 1] == b':')) {
            i += 1;
            continue;
        }
        // A path starts here: read `seg::seg::…`, then an optional `{…}` group.
        let mut segs = Vec::new();
        let mut j = i;
        loop {
            let start = j;
            while j < bytes.len() && ident(bytes[j]) {
                j += 1;
            }
            segs.push(code[start..j].to_owned());
            if code[j..].starts_with("::") && j + 2 < bytes.len() && (ident(bytes[j + 2]) || bytes[j + 2] == b'{') {
                j += 2;
                if bytes[j] == b'{' {
                    let close = matching(code, j);
                    for item in split_top(&code[j + 1..close]) {
                        // `C as D` names `C`.
                        let item = item.split(" as ").next().unwrap_or_default().trim();
                        let mut tails = paths(item);
                        if tails.is_empty() && !item.is_empty() && item.bytes().all(ident) {
                            tails.push(vec![item.to_owned()]);
                        }
                        for mut tail in tails {
                            if tail.first().is_some_and(|s| s == "self") {
                                tail.remove(0);
                            }
                            let mut full = segs.clone();
                            full.extend(tail);
                            out.push(full);
                        }
                    }
                    j = close + 1;
                    segs.clear();
                    break;
                }
                continue;
            }
            break;
        }
        if segs.len() > 1 {
            out.push(segs);
        }
        i = j.max(i + 1);
    }
    out
}

/// The index of the brace closing the one at `open`.
fn matching(code: &str, open: usize) -> usize {
    let mut depth = 0;
    for (k, c) in code[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return open + k;
                }
            }
            _ => {}
        }
    }
    code.len() - 1
}

/// A `use` group's items, split at its top-level commas.
fn split_top(group: &str) -> Vec<&str> {
    let (mut out, mut depth, mut start) = (Vec::new(), 0, 0);
    for (k, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&group[start..k]);
                start = k + 1;
            }
            _ => {}
        }
    }
    out.push(&group[start..]);
    out
}

/// The module a path from `from` lands in: the longest prefix of it that is a module, or
/// `None` for a path outside the crate.
fn target(from: &Module, path: &[String], known: &BTreeSet<Module>) -> Option<Module> {
    let mut base: Module;
    let rest: &[String];
    match path[0].as_str() {
        "crate" => {
            base = Vec::new();
            rest = &path[1..];
        }
        "super" | "self" => {
            base = from.clone();
            let mut k = 0;
            while path.get(k).is_some_and(|s| s == "super" || s == "self") {
                if path[k] == "super" {
                    base.pop();
                }
                k += 1;
            }
            rest = &path[k..];
        }
        first => {
            let mut child = from.clone();
            child.push(first.to_owned());
            if !known.contains(&child) {
                return None;
            }
            base = from.clone();
            rest = path;
        }
    }
    for seg in rest {
        let mut next = base.clone();
        next.push(seg.clone());
        if !known.contains(&next) {
            break;
        }
        base = next;
    }
    Some(base)
}

/// The cycles of the dependency graph of the crate under `src`: its strongly connected
/// components of more than one module, each as the modules' paths.
fn cycles(src: &Path) -> Vec<Vec<String>> {
    let files = modules(src);
    let known: BTreeSet<Module> = files.keys().cloned().collect();
    let index: BTreeMap<&Module, usize> = files.keys().enumerate().map(|(k, m)| (m, k)).collect();
    let names: Vec<String> =
        files.keys().map(|m| if m.is_empty() { "crate".to_owned() } else { m.join("::") }).collect();
    let mut edges = vec![BTreeSet::new(); files.len()];
    for (module, text) in &files {
        for path in paths(&code(text)) {
            if let Some(to) = target(module, &path, &known)
                && &to != module
            {
                edges[index[module]].insert(index[&to]);
            }
        }
    }
    strongly_connected(&edges)
        .into_iter()
        .filter(|c| c.len() > 1)
        .map(|c| c.into_iter().map(|k| names[k].clone()).collect())
        .collect()
}

/// Tarjan's strongly connected components.
fn strongly_connected(edges: &[BTreeSet<usize>]) -> Vec<Vec<usize>> {
    struct State<'a> {
        edges: &'a [BTreeSet<usize>],
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on_stack: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        out: Vec<Vec<usize>>,
    }
    fn visit(s: &mut State<'_>, v: usize) {
        s.index[v] = Some(s.next);
        s.low[v] = s.next;
        s.next += 1;
        s.stack.push(v);
        s.on_stack[v] = true;
        for &w in s.edges[v].iter() {
            match s.index[w] {
                None => {
                    visit(s, w);
                    s.low[v] = s.low[v].min(s.low[w]);
                }
                Some(iw) if s.on_stack[w] => s.low[v] = s.low[v].min(iw),
                Some(_) => {}
            }
        }
        if Some(s.low[v]) == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack[w] = false;
                component.push(w);
                if w == v {
                    break;
                }
            }
            component.sort_unstable();
            s.out.push(component);
        }
    }
    let n = edges.len();
    let mut s = State {
        edges,
        index: vec![None; n],
        low: vec![0; n],
        on_stack: vec![false; n],
        stack: Vec::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in 0..n {
        if s.index[v].is_none() {
            visit(&mut s, v);
        }
    }
    s.out
}

fn crates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

#[test]
fn no_crate_has_a_module_cycle() {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(crates_dir()).unwrap() {
        let src = entry.unwrap().path().join("src");
        if src.is_dir() {
            for cycle in cycles(&src) {
                found.push(format!("{}: {}", src.display(), cycle.join(", ")));
            }
        }
    }
    assert!(found.is_empty(), "modules that import each other in a circle:\n{}", found.join("\n"));
}

/// The checker finds a cycle when there is one, through `super`, `crate` paths, a `use`
/// group and a parent's re-export of its child.
#[test]
fn the_checker_sees_cycles() {
    let dir = std::env::temp_dir().join(format!("movierec-layers-{}", std::process::id()));
    let write = |rel: &str, text: &str| {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("lib.rs", "pub mod a;\npub mod b;\npub mod c;\n");
    write("a/mod.rs", "pub mod x;\npub use x::X;\npub struct A;\n");
    write("a/x.rs", "pub struct X;\n");
    write("b.rs", "use crate::c::{C, self};\npub struct B;\n");
    write("c.rs", "pub struct C(crate::a::A);\n#[cfg(test)]\nmod tests {\n    use crate::b::B;\n}\n");
    assert!(cycles(&dir).is_empty(), "{:?}", cycles(&dir));
    write("a/x.rs", "pub struct X(super::A);\n");
    assert_eq!(cycles(&dir), [vec!["a".to_owned(), "a::x".to_owned()]]);
    write("a/x.rs", "pub struct X;\n");
    write("c.rs", "pub struct C(crate::a::A);\nfn f() { let _ = crate::b::B; }\n");
    assert_eq!(cycles(&dir), [vec!["b".to_owned(), "c".to_owned()]]);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The most lines a function of a binary crate may take, its signature and braces included.
const LONGEST: usize = 60;

/// The functions of a file's code (not its tests) longer than [`LONGEST`] lines: each as its
/// name, first line and length. A function ends at the first line that closes a brace at its
/// own indentation, as rustfmt lays it out.
fn long_functions(text: &str) -> Vec<(String, usize, usize)> {
    let end = text.find("#[cfg(test)]\nmod tests").unwrap_or(text.len());
    let lines: Vec<&str> = text[..end].lines().collect();
    let mut out = Vec::new();
    let mut k = 0;
    while k < lines.len() {
        let line = lines[k];
        let indent = line.len() - line.trim_start().len();
        let words: Vec<&str> = line.split_whitespace().collect();
        let at = words.iter().position(|w| *w == "fn");
        let is_fn = at.is_some_and(|a| {
            words[..a].iter().all(|w| matches!(*w, "pub" | "pub(crate)" | "async" | "const" | "unsafe" | "extern"))
        });
        if !is_fn {
            k += 1;
            continue;
        }
        let name: String = words[at.unwrap() + 1].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        let close = format!("{}}}", " ".repeat(indent));
        // A declaration without a body (a trait's) ends with `;` before any `{`.
        let body = (k..lines.len()).find(|&j| lines[j].trim_end().ends_with('{') || lines[j].trim_end().ends_with(';'));
        let Some(open) = body.filter(|&j| lines[j].trim_end().ends_with('{')) else {
            k += 1;
            continue;
        };
        let last = (open..lines.len()).find(|&j| lines[j] == close).unwrap_or(lines.len() - 1);
        if last - k + 1 > LONGEST {
            out.push((name, k + 1, last - k + 1));
        }
        k = last + 1;
    }
    out
}

#[test]
fn binary_crates_have_no_long_function() {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(crates_dir()).unwrap() {
        let src = entry.unwrap().path().join("src");
        if !src.join("main.rs").exists() {
            continue;
        }
        for (module, text) in modules(&src) {
            for (name, line, length) in long_functions(&text) {
                found.push(format!("{}/{}: {name} (line {line}): {length} lines", src.display(), module.join("/")));
            }
        }
    }
    assert!(found.is_empty(), "functions of binary crates over {LONGEST} lines (split them):\n{}", found.join("\n"));
}

#[test]
fn long_functions_are_found() {
    let body = "    x += 1;\n".repeat(LONGEST);
    let text = format!(
        "pub fn short() {{\n}}\n\nfn long(\n    a: u8,\n) -> u8 {{\n{body}}}\n\nimpl A {{\n    fn m(&self) {{\n{body}    }}\n}}\n"
    );
    let found: Vec<(String, usize)> = long_functions(&text).into_iter().map(|(n, l, _)| (n, l)).collect();
    assert_eq!(found, [("long".to_owned(), 4), ("m".to_owned(), LONGEST + 8 + 2)]);
}
