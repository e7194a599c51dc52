//! The layering of `docs/architecture.md`, checked on the sources: the core never reaches into
//! the command-line layer, never prints or exits, and knows nothing of clap; inside the core,
//! the arrows point down.

use std::path::{Path, PathBuf};

/// The command-line layer's modules.
const CLI: [&str; 11] = [
    "cli",
    "commands",
    "complete",
    "context",
    "docs",
    "input",
    "metadata_flags",
    "output",
    "recovery_key",
    "run",
    "tty",
];

/// Files of a module: `src/<name>.rs` or everything under `src/<name>/`.
fn files(module: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let file = root.join(format!("{module}.rs"));
    if file.exists() {
        return vec![file];
    }
    let mut out = Vec::new();
    let mut stack = vec![root.join(module)];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    assert!(!out.is_empty(), "no module {module}");
    out
}

/// The core modules: every `pub mod` of lib.rs.
fn core_modules() -> Vec<String> {
    let lib = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    lib.lines().filter_map(|l| l.strip_prefix("pub mod ")).map(|m| m.trim_end_matches(';').to_owned()).collect()
}

/// Lines of code (comments left out: a doc may name a command).
fn code(path: &Path) -> Vec<(usize, String)> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim_start().starts_with("//"))
        .map(|(i, l)| (i + 1, l.to_owned()))
        .collect()
}

fn violations(modules: &[String], forbidden: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    for m in modules {
        for path in files(m) {
            for (n, line) in code(&path) {
                for f in forbidden {
                    if line.contains(f.as_str()) {
                        found.push(format!("{}:{n}: {f}", path.display()));
                    }
                }
            }
        }
    }
    found
}

#[test]
fn the_core_never_reaches_into_the_command_line_layer() {
    let core = core_modules();
    assert!(core.len() >= 15 && core.iter().any(|m| m == "vault"), "{core:?}");
    assert!(CLI.iter().all(|c| !core.contains(&(*c).to_owned())), "a CLI module is public: {core:?}");
    let mut forbidden: Vec<String> = CLI.iter().map(|m| format!("crate::{m}")).collect();
    forbidden
        .extend(["clap", "println!", "eprintln!", "print!(", "eprint!(", "process::exit", "dbg!("].map(String::from));
    let found = violations(&core, &forbidden);
    assert!(found.is_empty(), "the core uses the command-line layer:\n{}", found.join("\n"));
}

#[test]
fn inside_the_core_the_arrows_point_down() {
    // (module, what it may not use): the vault does not know who keys its audit log or who
    // unlocks it; providers do not know scans or masks; the helpers know nothing above them.
    let rules: [(&str, &[&str]); 7] = [
        ("vault", &["crate::audit", "crate::unlock", "crate::providers", "crate::mask", "crate::scan"]),
        ("providers", &["crate::audit", "crate::mask", "crate::scan", "crate::unlock"]),
        ("config", &["crate::audit", "crate::notify"]),
        ("files", &["crate::vault", "crate::audit", "crate::config"]),
        ("paths", &["crate::vault", "crate::audit", "crate::config"]),
        ("host", &["crate::vault", "crate::audit", "crate::unlock"]),
        ("sensitive", &["crate::vault", "crate::unlock"]),
    ];
    let mut found = Vec::new();
    for (module, not) in rules {
        found.extend(violations(&[module.to_owned()], &not.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()));
    }
    assert!(found.is_empty(), "an arrow points the wrong way:\n{}", found.join("\n"));
}
