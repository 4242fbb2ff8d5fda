//! The `load` binary, run in a temporary folder on small generated data: every source, and
//! every kind of bad input, which must give a clear message, a non-zero exit, and leave no
//! output created or changed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

struct Project {
    dir: tempfile::TempDir,
}

const OUTPUTS: [&str; 4] =
    ["data/loaded/ratings.parquet", "data/loaded/users.parquet", "data/loaded/movies.parquet", "metrics/load.json"];

impl Project {
    fn new(params: &str) -> Project {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("params.yaml"), params).unwrap();
        Project { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn write(&self, rel: &str, content: impl AsRef<[u8]>) {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    fn load(&self, extra: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_load"))
            .current_dir(self.dir.path())
            .args(["--ratings", OUTPUTS[0], "--users", OUTPUTS[1], "--movies", OUTPUTS[2], "--report", OUTPUTS[3]])
            .args(extra)
            .env_remove("RUST_LOG")
            .output()
            .unwrap()
    }

    fn ok(&self, extra: &[&str]) -> Value {
        let out = self.load(extra);
        assert!(out.status.success(), "load failed: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&std::fs::read(self.path(OUTPUTS[3])).unwrap()).unwrap()
    }

    /// Runs `load`, expects it to fail, checks that no output was created, and returns stderr.
    fn fails(&self) -> String {
        let out = self.load(&[]);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!out.status.success(), "load succeeded on bad input");
        assert_eq!(out.status.code(), Some(1));
        for o in OUTPUTS {
            assert!(!self.path(o).exists(), "{o} was created by a failing run");
        }
        let leftovers: Vec<_> =
            walk(self.dir.path()).into_iter().filter(|p| p.to_string_lossy().ends_with(".tmp")).collect();
        assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
        stderr
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn csv_params(extra: &str) -> String {
    format!("load:\n  source: csv\n  csv:\n    path: data/raw/ratings.csv\n{extra}")
}

const HEADER: &str = "id_utilisateur,nom_utilisateur,id_film,titre_film,score_pertinence";

#[test]
fn synthetic_source_matches_the_seed_statistics_and_is_reproducible() {
    let p = Project::new("load:\n  synthetic: {seed: 5, scale: 0.02}\n");
    let r = p.ok(&[]);
    let s = &r["stats"];
    assert_eq!((s["ratings"].as_u64(), s["users"].as_u64(), s["movies"].as_u64()), (Some(8152), Some(267), Some(385)));
    assert_eq!((s["min"].as_f64(), s["max"].as_f64()), (Some(0.0), Some(100.0)));
    for (key, target) in [("mean", 48.50), ("median", 47.15), ("sd", 21.46)] {
        assert!((s[key].as_f64().unwrap() - target).abs() < 0.5, "{key} = {}", s[key]);
    }
    let first: Vec<Vec<u8>> = OUTPUTS.iter().map(|o| std::fs::read(p.path(o)).unwrap()).collect();
    p.ok(&[]);
    let second: Vec<Vec<u8>> = OUTPUTS.iter().map(|o| std::fs::read(p.path(o)).unwrap()).collect();
    assert!(first == second, "the same params gave different outputs");
}

#[test]
fn exported_csv_loads_back_to_the_same_tables() {
    let p = Project::new("load:\n  synthetic: {seed: 8, scale: 0.01}\n");
    p.ok(&["--export-csv", "data/raw/ratings.csv"]);
    let csv = std::fs::read_to_string(p.path("data/raw/ratings.csv")).unwrap();
    assert!(csv.starts_with("id_utilisateur,nom_utilisateur,id_film,titre_film,realisateurs_principaux,noms_acteurs,"));
    assert!(csv.contains('é'), "expected accented names and titles");
    assert!(csv.contains(".\nUn film sur le temps"), "expected a quoted field spanning two lines");
    assert!(csv.contains("\"\"le Magnifique\"\""), "expected escaped quotes");
    let synthetic = std::fs::read(p.path(OUTPUTS[0])).unwrap();
    let movies = std::fs::read(p.path(OUTPUTS[2])).unwrap();
    std::fs::write(p.path("params.yaml"), csv_params("")).unwrap();
    let r = p.ok(&[]);
    assert_eq!(r["rows_read"], r["rows_kept"]);
    assert_eq!(r["rows_rejected"], 0);
    assert_eq!(std::fs::read(p.path(OUTPUTS[0])).unwrap(), synthetic, "ratings differ after the CSV round trip");
    assert_eq!(std::fs::read(p.path(OUTPUTS[2])).unwrap(), movies, "movies differ after the CSV round trip");
}

#[test]
fn any_common_delimiter_bom_accents_and_unknown_columns() {
    for delimiter in [";", "\t", "|"] {
        let header = HEADER.replace(',', delimiter);
        let rows = ["1", "Zoé Müller", "m1", "\"Le Été; la \"\"Fugue\"\"|\tII\"", "47,5"].join(delimiter);
        let p = Project::new(&csv_params(""));
        p.write(
            "data/raw/ratings.csv",
            format!("\u{feff}{header}{delimiter}extra\n{rows}{delimiter}x\n2{d}Ana{d}m2{d}T{d}100{d}\n", d = delimiter),
        );
        let r = p.ok(&[]);
        assert_eq!(r["rows_kept"], 2, "delimiter {delimiter:?}: {r}");
        assert_eq!(r["stats"]["mean"].as_f64(), Some(73.75));
    }
}

#[test]
fn renamed_headers_are_mapped_in_params() {
    let p = Project::new(&csv_params(
        "    columns: {user_id: user, movie_id: item, score: rating, user_name: null, title: null}\n",
    ));
    p.write("data/raw/ratings.csv", "rating,item,user\n10,a,u1\n20,b,u1\n");
    let r = p.ok(&[]);
    assert_eq!(r["stats"]["users"], 1);
    assert_eq!(r["stats"]["movies"], 2);
}

#[test]
fn missing_required_column_names_it_and_lists_the_headers() {
    let p = Project::new(&csv_params(""));
    p.write("data/raw/ratings.csv", "id_utilisateur,id_film,note\n1,2,3\n");
    let e = p.fails();
    assert!(e.contains("\"score_pertinence\"") && e.contains("\"id_utilisateur\", \"id_film\", \"note\""), "{e}");
}

/// A 50,000-character header line, a 50,000-character value or parameter: each message
/// quotes the start of it, says it was cut, and stays short.
#[test]
fn long_input_is_cut_in_messages() {
    let long = "x".repeat(50_000);
    let short_enough = |e: &str| e.len() < 2_000 && e.contains("(cut: the first 200 of 50000 characters)");

    let p = Project::new(&csv_params(""));
    p.write("data/raw/ratings.csv", format!("{long}\n1\n"));
    let e = p.fails();
    assert!(
        short_enough(&e) && e.contains("is missing; headers found"),
        "{} bytes: {}",
        e.len(),
        &e[..e.len().min(3000)]
    );

    let p = Project::new(&csv_params("  on_invalid: fail\n"));
    p.write("data/raw/ratings.csv", format!("{HEADER}\n1,A,m1,T,{long}\n"));
    let e = p.fails();
    assert!(short_enough(&e) && e.contains("invalid value \"xxx"), "{} bytes: {}", e.len(), &e[..e.len().min(3000)]);

    let p = Project::new(&format!("load:\n  source: {long}\n"));
    let e = p.fails();
    assert!(short_enough(&e) && e.contains("line 2, column"), "{} bytes: {}", e.len(), &e[..e.len().min(3000)]);
}

#[test]
fn invalid_rows_are_rejected_counted_and_listed() {
    let p = Project::new(&csv_params(""));
    p.write(
        "data/raw/ratings.csv",
        format!("{HEADER}\n1,A,m1,T,50\n2,B,m1,T,abc\n3,C,m2,T,101\n,D,m2,T,5\n4,E,m2,T,-1\n5,F,m3,T,60\n"),
    );
    let r = p.ok(&[]);
    assert_eq!(
        (r["rows_read"].as_u64(), r["rows_kept"].as_u64(), r["rows_rejected"].as_u64()),
        (Some(6), Some(2), Some(4))
    );
    assert_eq!(r["rejected_by_reason"]["not_a_number"], 1);
    assert_eq!(r["rejected_by_reason"]["out_of_scale"], 2);
    assert_eq!(r["rejected_by_reason"]["missing_value"], 1);
    let first = &r["first_rejections"][0];
    assert_eq!(
        (first["line"].as_u64(), first["column"].as_str(), first["value"].as_str()),
        (Some(3), Some("score_pertinence"), Some("abc"))
    );
}

#[test]
fn fail_policy_stops_and_leaves_earlier_outputs_unchanged() {
    let p = Project::new("load:\n  synthetic: {seed: 1, scale: 0.01}\n");
    p.ok(&[]);
    let before: Vec<Vec<u8>> = OUTPUTS.iter().map(|o| std::fs::read(p.path(o)).unwrap()).collect();
    std::fs::write(p.path("params.yaml"), csv_params("  on_invalid: fail\n")).unwrap();
    p.write("data/raw/ratings.csv", format!("{HEADER}\n1,A,m1,T,50\n2,B,m1,T,120\n"));
    let out = p.load(&[]);
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        e.contains("line 3")
            && e.contains("\"score_pertinence\"")
            && e.contains("\"120\"")
            && e.contains("between 0 and 100"),
        "{e}"
    );
    let after: Vec<Vec<u8>> = OUTPUTS.iter().map(|o| std::fs::read(p.path(o)).unwrap()).collect();
    assert!(before == after, "a failing run changed an output");
}

#[test]
fn duplicate_pairs_follow_the_policy() {
    let csv = format!("{HEADER}\n1,A,m1,T,10\n2,B,m1,T,20\n1,A,m1,T,30\n");
    let p = Project::new(&csv_params(""));
    p.write("data/raw/ratings.csv", &csv);
    let r = p.ok(&[]);
    assert_eq!((r["rows_kept"].as_u64(), r["duplicate_rows"].as_u64()), (Some(3), Some(1)));
    std::fs::write(p.path("params.yaml"), csv_params("  on_duplicate: last\n")).unwrap();
    let r = p.ok(&[]);
    assert_eq!(r["rows_kept"], 2);
    assert_eq!(r["stats"]["mean"].as_f64(), Some(25.0));
    assert_eq!(r["first_rejections"][0]["reason"], "duplicate");
    let p = Project::new(&csv_params("  on_duplicate: fail\n"));
    p.write("data/raw/ratings.csv", &csv);
    let e = p.fails();
    assert!(e.contains("line 4") && e.contains("line 2") && e.contains("\"m1\""), "{e}");
}

#[test]
fn malformed_files_are_clear_errors() {
    let cases: [(&str, &[u8], &str); 7] = [
        ("empty", b"", "is empty"),
        ("blank", b"\n\n", "is empty"),
        ("header only", format!("{HEADER}\n").as_bytes().to_vec().leak(), "has a header but no rating rows"),
        ("binary", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "not a text file"),
        ("latin-1", b"id_utilisateur,id_film,score_pertinence\n1,Cin\xe9ma,5\n", "invalid UTF-8 on line 2"),
        (
            "unterminated quote",
            format!("{HEADER}\n1,A,m1,\"T,50\n2,B,m2,T,40\n").as_bytes().to_vec().leak(),
            "never closed",
        ),
        (
            "ragged row",
            format!("{HEADER}\n1,A,m1,T,50\n2,B,m2,40\n").as_bytes().to_vec().leak(),
            "line 3: expected 5 fields",
        ),
    ];
    for (name, content, expected) in cases {
        let p = Project::new(&csv_params(""));
        p.write("data/raw/ratings.csv", content);
        let e = p.fails();
        assert!(e.contains(expected) && e.contains("ratings.csv"), "{name}: {e}");
    }
    let p = Project::new(&csv_params(""));
    let e = p.fails();
    assert!(e.contains("data/raw/ratings.csv"), "missing file: {e}");
}

#[test]
fn movielens_folders_load_with_their_titles() {
    let p = Project::new(
        "load:\n  source: movielens\n  rating_scale: {min: 1, max: 5}\n  movielens: {path: data/raw/ml}\n",
    );
    p.write("data/raw/ml/u.data", "196\t242\t3\t881250949\n186\t302\t3\t891717742\n196\t302\t5\t1\n");
    p.write("data/raw/ml/u.item", "242|Kolya (1996)|x||x|0\n302|L.A. Confidential (1997)|x||x|0\n");
    let r = p.ok(&[]);
    assert_eq!(r["stats"]["ratings"], 3);
    assert!(r["source"].as_str().unwrap().contains("ml-100k"));
}

#[test]
fn misspelt_parameters_are_errors() {
    let p = Project::new("load:\n  sorce: csv\n");
    let e = p.fails();
    assert!(e.contains("params.yaml") && e.contains("sorce"), "{e}");
}

#[test]
fn help_describes_the_stage() {
    let out = Command::new(env!("CARGO_BIN_EXE_load")).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && help.contains("--ratings") && help.contains("load.on_invalid"), "{help}");
}
