//! The export in a query engine: DuckDB (the Python package) loads the Parquet and JSONL
//! exports of a generated fleet, runs the README's SQL, and gets pcimig's groups and matrix.
//! Skipped with a reason when python3 or duckdb is missing, except under `CI`.

mod fleet_common;

use pcimig::fleet::{self, export, FleetOptions};
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// The README's DuckDB query, between its markers.
fn readme_sql() -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let start = readme.find("<!-- fleet-sql-begin -->").expect("the README's fleet SQL");
    let block = &readme[start..readme.find("<!-- fleet-sql-end -->").unwrap()];
    let body = &block[block.find("```sql").unwrap() + 6..];
    body[..body.find("```").unwrap()].to_string()
}

const SCRIPT: &str = r#"
import sys, json, duckdb
path, sql = sys.argv[1], sys.stdin.read()
con = duckdb.connect()
reader = "read_parquet" if path.endswith(".parquet") else "read_json_auto"
con.execute(f"CREATE VIEW fleet AS SELECT * FROM {reader}('{path}')")
rows = con.execute(sql).fetchall()
print(json.dumps([[r[0], r[1], r[2], r[3], r[4]] for r in rows]))
"#;

fn duckdb_available() -> bool {
    Command::new("python3")
        .args(["-c", "import duckdb"])
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn the_readme_sql_reproduces_groups_and_matrix_in_duckdb() {
    if !duckdb_available() {
        assert!(
            std::env::var_os("CI").is_none(),
            "python3 with duckdb is required under CI"
        );
        eprintln!("skipped: python3 with the duckdb package is not available (pip install duckdb)");
        return;
    }
    let devices = fleet_common::fleet(120);
    let r = fleet::run(
        &devices,
        &FleetOptions {
            skip_vsc_check: Some(true),
            ..FleetOptions::default()
        },
    )
    .unwrap();
    let rep: BTreeMap<&str, String> = r
        .groups
        .iter()
        .map(|g| (g.id.as_str(), g.devices.iter().min().unwrap().clone()))
        .collect();
    let want_groups: BTreeSet<Vec<String>> = r
        .groups
        .iter()
        .map(|g| {
            let mut d = g.devices.clone();
            d.sort();
            d
        })
        .collect();
    let want_matrix: BTreeSet<(String, String, bool)> = r
        .matrix
        .iter()
        .map(|m| (rep[m.from.as_str()].clone(), rep[m.to.as_str()].clone(), m.pass))
        .collect();
    let dir = std::env::temp_dir().join(format!("pcimig-fleet-export-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for name in ["fleet.parquet", "fleet.jsonl"] {
        let path = dir.join(name);
        std::fs::write(&path, export::export_bytes(&r, &path).unwrap()).unwrap();
        let mut child = Command::new("python3")
            .args(["-c", SCRIPT, path.to_str().unwrap()])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(readme_sql().as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{name}");
        let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
        let mut groups = BTreeSet::new();
        let mut matrix = BTreeSet::new();
        for row in rows {
            if row[0] == "group" {
                groups.insert(serde_json::from_value::<Vec<String>>(row[4].clone()).unwrap());
            } else {
                matrix.insert((
                    row[1].as_str().unwrap().to_string(),
                    row[2].as_str().unwrap().to_string(),
                    row[3].as_bool().unwrap(),
                ));
            }
        }
        assert_eq!(groups, want_groups, "{name}: groups");
        assert_eq!(matrix, want_matrix, "{name}: matrix");
    }
    let _ = std::fs::remove_dir_all(dir);
}
