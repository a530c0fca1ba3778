//! The layers point one way (STYLE.md §2): `grpc`/`console` → `services`/`email` →
//! `repositories` → `entities` → database, with `domain` and `auth` beneath them all.
//! This reads every source file's `use` and path lines and fails when one reaches up.

use std::path::{Path, PathBuf};

/// A folder of `src/` and the crate paths its files must never name.
const RULES: &[(&str, &[&str])] = &[
    (
        "services",
        &["crate::grpc", "crate::console", "tonic::", "crate::proto"],
    ),
    (
        "email",
        &["crate::grpc", "crate::console", "tonic::", "crate::proto"],
    ),
    (
        "repositories",
        &[
            "crate::services",
            "crate::grpc",
            "crate::console",
            "crate::email",
            "tonic::",
        ],
    ),
    ("entities", &["crate::"]),
    (
        "domain",
        &[
            "crate::services",
            "crate::repositories",
            "crate::entities",
            "crate::grpc",
            "crate::console",
            "crate::email",
            "crate::auth",
            "crate::configuration",
            "sea_orm",
            "tonic",
        ],
    ),
    (
        "auth",
        &[
            "crate::services",
            "crate::repositories",
            "crate::entities",
            "crate::grpc",
            "crate::console",
            "sea_orm",
            "tonic::",
        ],
    ),
];

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
    files
}

#[test]
fn no_layer_imports_one_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut breaches = Vec::new();
    for (layer, forbidden) in RULES {
        let dir = src.join(layer);
        if !dir.exists() {
            continue;
        }
        for file in rust_files(&dir) {
            let text = std::fs::read_to_string(&file).unwrap();
            for (number, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or_default();
                for path in *forbidden {
                    if code.contains(path) {
                        breaches.push(format!("{}:{}: {}", file.display(), number + 1, line.trim()));
                    }
                }
            }
        }
    }
    assert!(
        breaches.is_empty(),
        "imports against the layering:\n{}",
        breaches.join("\n")
    );
}

#[test]
fn the_layering_check_would_see_a_breach() {
    let line = "use crate::grpc::status_mapping;";
    let forbidden = RULES.iter().find(|(layer, _)| *layer == "services").unwrap().1;
    assert!(forbidden.iter().any(|path| line.contains(path)));
}
