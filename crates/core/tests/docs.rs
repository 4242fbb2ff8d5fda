//! The docs stay true to the code: every registered rating algorithm and ranking kind has its
//! row in `docs/models.md`, the files ARCHITECTURE.md's "How to add an algorithm" names exist,
//! and every relative link of the README, the guides and the other top-level documents leads
//! to a file that exists (and, with an anchor, to a heading it has).

use std::path::{Path, PathBuf};

use movierec_core::models::{Algorithm, Kind};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The first cells of a Markdown document's table rows.
fn first_cells(text: &str) -> Vec<&str> {
    text.lines().filter_map(|l| l.strip_prefix('|')).filter_map(|l| l.split('|').next()).collect()
}

#[test]
fn every_registered_algorithm_and_kind_is_in_the_models_guide() {
    let guide = read("docs/models.md");
    let cells = first_cells(&guide);
    let named = |name: &str| cells.iter().any(|c| c.contains(&format!("`{name}`")));
    let mut missing: Vec<String> = Algorithm::NAMES.iter().filter(|n| !named(n)).map(|n| n.to_string()).collect();
    for kind in Kind::ALL.into_iter().chain([Kind::Auto]) {
        if !named(kind.name()) {
            missing.push(kind.name().to_owned());
        }
    }
    assert!(missing.is_empty(), "docs/models.md has no table row for {missing:?}");
}

#[test]
fn the_files_how_to_add_an_algorithm_names_exist() {
    let architecture = read("ARCHITECTURE.md");
    let start = architecture.find("## How to add an algorithm").expect("the section");
    let section = &architecture[start..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |e| e + 3)];
    let paths: Vec<&str> = section
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|s| s.starts_with("crates/") || s.starts_with("docs/"))
        .map(|s| s.split(['<', ' ']).next().unwrap_or(s))
        .collect();
    assert!(paths.len() >= 5, "the section names its files: {paths:?}");
    for path in paths {
        assert!(root().join(path).exists(), "ARCHITECTURE.md, How to add an algorithm: {path} does not exist");
    }
}

/// The anchor GitHub gives a heading.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

#[test]
fn relative_links_lead_somewhere() {
    let mut docs = vec!["README.md".to_owned(), "ARCHITECTURE.md".to_owned(), "BENCHMARKS.md".to_owned()];
    docs.push("CONTRIBUTING.md".to_owned());
    for entry in std::fs::read_dir(root().join("docs")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".md") {
            docs.push(format!("docs/{name}"));
        }
    }
    let mut broken = Vec::new();
    for doc in &docs {
        let text = read(doc);
        let dir = Path::new(doc).parent().unwrap();
        for (at, _) in text.match_indices("](") {
            let rest = &text[at + 2..];
            let Some(end) = rest.find(')') else { continue };
            let target = &rest[..end];
            if target.contains("://") || target.starts_with("mailto:") || target.starts_with("../../") {
                continue;
            }
            let (file, fragment) = target.split_once('#').unwrap_or((target, ""));
            let path = if file.is_empty() { PathBuf::from(doc) } else { dir.join(file) };
            let full = root().join(&path);
            if !full.exists() {
                broken.push(format!("{doc}: {target} (no such file)"));
                continue;
            }
            if !fragment.is_empty() && full.extension().is_some_and(|e| e == "md") {
                let target_text = std::fs::read_to_string(&full).unwrap();
                let found = target_text
                    .lines()
                    .filter_map(|l| l.strip_prefix('#'))
                    .any(|h| anchor(h.trim_start_matches('#')) == fragment);
                if !found {
                    broken.push(format!("{doc}: {target} (no such heading)"));
                }
            }
        }
    }
    assert!(broken.is_empty(), "links that lead nowhere:\n{}", broken.join("\n"));
}
