//! completions/ and man/ are generated from src/cli.rs; they must not drift from it.

use std::path::Path;

const HOW: &str = "run `cargo run -- generate-docs` and commit the result";

#[test]
fn committed_completions_and_man_pages_match_the_cli() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = keyward::generated_docs();
    for (path, bytes) in &files {
        let committed = std::fs::read(root.join(path)).unwrap_or_else(|_| panic!("{path} is missing: {HOW}"));
        assert!(committed == *bytes, "{path} differs from what src/cli.rs generates: {HOW}");
    }
    for dir in ["completions", "man"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let name = format!("{dir}/{}", entry.unwrap().file_name().to_string_lossy());
            assert!(files.iter().any(|(p, _)| *p == name), "{name} is no longer generated: {HOW}");
        }
    }
}

#[test]
fn man_pages_render_cleanly() {
    let have_man =
        std::process::Command::new("sh").args(["-c", "command -v man"]).output().is_ok_and(|o| o.status.success());
    if !have_man {
        assert!(std::env::var_os("CI").is_none(), "CI must install man-db (see .ci/run)");
        eprintln!("SKIPPED: man is not installed");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    for page in ["keyward.1", "keyward-get.1", "keyward-key-token-add.1", "keyward-exec.1"] {
        let out = std::process::Command::new("man")
            .args(["--warnings", "-l"])
            .arg(root.join(page))
            .env("MANWIDTH", "100")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let warnings = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && warnings.trim().is_empty(), "{page}: {warnings}");
        for section in ["NAME", "SYNOPSIS", "EXAMPLES", "EXIT STATUS"] {
            assert!(text.contains(section), "{page} lacks {section}");
        }
    }
}
