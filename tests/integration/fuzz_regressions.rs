//! Every input kept under `fuzz/regressions/<target>/` (seeds and anything a fuzzer once
//! broke) replayed through the same invariant checks the cargo-fuzz targets run.

use std::path::Path;

use identity::parser_invariants::TARGETS;

#[test]
fn every_kept_fuzz_input_still_satisfies_its_parser_invariants() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    for (target, check) in TARGETS {
        let dir = root.join(target);
        let inputs: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
            .map(|entry| entry.unwrap().path())
            .collect();
        assert!(!inputs.is_empty(), "no kept inputs for fuzz target {target}");
        for input in inputs {
            let data = std::fs::read(&input).unwrap();
            let outcome = std::panic::catch_unwind(|| check(&data));
            assert!(outcome.is_ok(), "{target} broke on {}", input.display());
        }
    }
}

#[test]
fn every_fuzz_target_has_a_kept_corpus_and_a_cargo_fuzz_binary() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let manifest = std::fs::read_to_string(fuzz.join("Cargo.toml")).unwrap();
    for (target, _) in TARGETS {
        assert!(
            manifest.contains(&format!("name = \"{target}\"")),
            "fuzz/Cargo.toml has no target {target}"
        );
        let source = std::fs::read_to_string(fuzz.join(format!("fuzz_targets/{target}.rs"))).unwrap();
        assert!(source.contains(&format!("parser_invariants::{target}(")));
    }
}
