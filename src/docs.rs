//! The generated files under `completions/` and `man/`, made from the clap definitions in
//! [`crate::cli`]. `keyward generate-docs` writes them; a test regenerates them in memory and
//! fails when the committed copies differ.

use clap::CommandFactory;
use clap_complete::env::{EnvCompleter, Shells};

use crate::cli::{Cli, ENVIRONMENT, EXIT_CODES};

/// The shells we ship completion scripts for, and their file names.
pub(crate) const SHELLS: [(&str, &str); 6] = [
    ("bash", "keyward.bash"),
    ("zsh", "_keyward"),
    ("fish", "keyward.fish"),
    ("powershell", "keyward.ps1"),
    ("elvish", "keyward.elv"),
    ("nushell", "keyward.nu"),
];

/// The registration script for `shell`: it calls `keyward` by name (found on PATH), so it is the
/// same on every machine. Nushell has no dynamic protocol in clap_complete: its script is static
/// (subcommands, flags and fixed values from `clap_complete_nushell`; no secret names).
pub(crate) fn completion_script(shell: &str) -> Option<Vec<u8>> {
    if shell == "nushell" {
        let mut buf = Vec::new();
        clap_complete::generate(clap_complete_nushell::Nushell, &mut Cli::command(), "keyward", &mut buf);
        return Some(buf);
    }
    let shells = Shells::builtins();
    let completer: &dyn EnvCompleter = shells.completer(shell)?;
    let mut buf = Vec::new();
    completer.write_registration("COMPLETE", "keyward", "keyward", "keyward", &mut buf).ok()?;
    Some(buf)
}

/// Every generated file: (path relative to the repository root, contents).
pub(crate) fn files() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for (shell, file) in SHELLS {
        out.push((format!("completions/{file}"), completion_script(shell).expect("a built-in shell")));
    }
    let mut cli = Cli::command();
    cli.build();
    man_pages(&cli, "keyward", &mut out);
    out
}

fn man_pages(cmd: &clap::Command, page: &str, out: &mut Vec<(String, Vec<u8>)>) {
    out.push((format!("man/{page}.1"), man_page(cmd, page)));
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set() && s.get_name() != "help") {
        man_pages(sub, &format!("{page}-{}", sub.get_name()), out);
    }
}

/// One page: clap_mangen's sections, then EXAMPLES (from the command's help), EXIT STATUS and,
/// on the main page, ENVIRONMENT.
fn man_page(cmd: &clap::Command, page: &str) -> Vec<u8> {
    let display_name = page.replace('-', " ");
    let cmd = cmd.clone().name(page.to_owned()).bin_name(display_name).version(env!("CARGO_PKG_VERSION"));
    let man = clap_mangen::Man::new(cmd.clone())
        .title(page.to_uppercase())
        .section("1")
        .source(concat!("keyward ", env!("CARGO_PKG_VERSION")));
    let mut buf = Vec::new();
    man.render_title(&mut buf).expect("render to memory");
    man.render_name_section(&mut buf).expect("render to memory");
    synopsis(&cmd, &mut buf);
    man.render_description_section(&mut buf).expect("render to memory");
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut buf).expect("render to memory");
    }
    if cmd.has_subcommands() {
        man.render_subcommands_section(&mut buf).expect("render to memory");
    }
    let help = cmd.get_after_help().map(std::string::ToString::to_string).unwrap_or_default();
    if let Some(examples) = help.strip_prefix("Examples:\n") {
        section(&mut buf, "EXAMPLES", examples);
    }
    section(&mut buf, "EXIT STATUS", EXIT_CODES.strip_prefix("Exit codes:\n").unwrap_or(EXIT_CODES));
    if page == "keyward" {
        section(&mut buf, "ENVIRONMENT", ENVIRONMENT.strip_prefix("Environment:\n").unwrap_or(ENVIRONMENT));
        section(
            &mut buf,
            "FILES",
            "See keyward key status for the vault in use, and the README for every file keyward reads or writes.",
        );
    }
    man.render_version_section(&mut buf).expect("render to memory");
    buf
}

/// The SYNOPSIS, with each option's value name (`[--env ENV]`), which clap_mangen's leaves out.
fn synopsis(cmd: &clap::Command, buf: &mut Vec<u8>) {
    let roff = |text: &str| text.replace('\\', "\\e").replace('-', "\\-");
    let mut line = format!("\\fB{}\\fR", roff(cmd.get_bin_name().unwrap_or(cmd.get_name())));
    for arg in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
        let value =
            arg.get_value_names().and_then(|v| v.first()).map_or_else(|| arg.get_id().to_string(), ToString::to_string);
        let repeat = if matches!(arg.get_action(), clap::ArgAction::Append) { "..." } else { "" };
        let part = if arg.is_positional() {
            format!("\\fI{}\\fR{repeat}", roff(&value))
        } else {
            let flag = match (arg.get_short(), arg.get_long()) {
                (Some(s), Some(l)) => format!("\\fB\\-{s}\\fR|\\fB\\-\\-{}\\fR", roff(l)),
                (None, Some(l)) => format!("\\fB\\-\\-{}\\fR", roff(l)),
                (Some(s), None) => format!("\\fB\\-{s}\\fR"),
                (None, None) => continue,
            };
            if arg.get_action().takes_values() { format!("{flag} \\fI{}\\fR{repeat}", roff(&value)) } else { flag }
        };
        line.push(' ');
        if arg.is_required_set() {
            line.push_str(&part);
        } else {
            line.push_str(&format!("[{part}]"));
        }
    }
    if cmd.has_subcommands() {
        line.push_str(" \\fICOMMAND\\fR");
    }
    buf.extend_from_slice(format!(".SH SYNOPSIS\n{line}\n").as_bytes());
}

/// A section of preformatted text, escaped for roff.
fn section(buf: &mut Vec<u8>, title: &str, text: &str) {
    buf.extend_from_slice(format!(".SH {title}\n.nf\n").as_bytes());
    for line in text.lines() {
        let escaped = line.replace('\\', "\\e");
        if escaped.starts_with(['.', '\'']) {
            buf.extend_from_slice(b"\\&");
        }
        buf.extend_from_slice(escaped.as_bytes());
        buf.push(b'\n');
    }
    buf.extend_from_slice(b".fi\n");
}
