//! The command-line program as a function, callable in-process (as just's `run`): parse the
//! arguments, answer a completion request or run the command, and say how it ended. Nothing here
//! exits the process; `main` turns the [`Ending`] into the exit code, after printing the error
//! (one line, or nothing for a closed pipe).

use std::ffi::OsString;

use clap::{CommandFactory, Parser};

use crate::cli::Cli;
use crate::context::Context;
use crate::error::{Error, exit};
use crate::output::{Output, sanitize};

/// How a command that did not fail ended: the one map from outcomes to exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0.
    Success,
    /// A check found problems (`validate`, `rotate --due`, `audit report`, `doctor`, `scan`):
    /// exit 1.
    ChecksFailed,
    /// The user answered no to a question: nothing was changed. Exit 6, as a refusal.
    Declined,
    /// What was asked about does not exist (`key status` with no vault): exit 3.
    Missing,
    /// A command group was run without its subcommand; its help was printed: exit 2.
    Usage,
    /// `exec`'s command ended with this code (or 128+N for signal N; 126 and 127 when it could
    /// not run or was not found).
    Child(i32),
}

impl Outcome {
    pub fn code(self) -> i32 {
        match self {
            Outcome::Success => exit::OK,
            Outcome::ChecksFailed => exit::CHECK_FAILED,
            Outcome::Declined => exit::CONFLICT,
            Outcome::Missing => exit::NOT_FOUND,
            Outcome::Usage => exit::USAGE,
            Outcome::Child(code) => code,
        }
    }
}

/// How the program ended: an outcome, or an error to report.
pub enum Ending {
    Done(Outcome),
    Failed { error: Error, out: Output, command: Option<&'static str> },
}

impl Ending {
    /// Prints the error, if any: `keyward: <what happened> — <what to do>` on one line, or
    /// nothing when the reader of our output went away (`keyward list | head -1`).
    pub fn report(&self) {
        if let Ending::Failed { error, out, command } = self
            && !error.is_closed_pipe()
        {
            let what = sanitize(&error.to_string());
            // A hint that points at the command's help names the command that failed.
            let hint = sanitize(
                &error
                    .hint()
                    .replace("keyward help <command>", &format!("keyward help {}", command.unwrap_or("COMMAND"))),
            );
            if out.json {
                // Under --json, errors are JSON too (on standard error, one line).
                let doc = serde_json::json!({"error": what, "hint": hint, "exit_code": error.exit_code()});
                eprintln!("{doc}");
            } else {
                eprintln!("{} {what} — {hint}", out.error_prefix());
            }
        }
    }

    /// The process exit code.
    pub fn code(&self) -> i32 {
        match self {
            Ending::Done(outcome) => outcome.code(),
            Ending::Failed { error, .. } if error.is_closed_pipe() => exit::OK,
            Ending::Failed { error, .. } => error.exit_code(),
        }
    }
}

/// Runs keyward with these arguments (the first is the program name).
pub fn run(args: impl IntoIterator<Item = OsString>) -> Ending {
    let args: Vec<OsString> = args.into_iter().collect();
    let quiet = Output::new(false, true, true);
    // A shell asking for completions (COMPLETE=<shell>) is answered before anything else.
    let current_dir = std::env::current_dir().ok();
    match crate::complete::engine().try_complete(args.clone(), current_dir.as_deref()) {
        Ok(true) => return Ending::Done(Outcome::Success),
        Ok(false) => {}
        Err(e) => return Ending::Failed { error: usage_error(&e, &args), out: quiet, command: None },
    }
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) if matches!(e.kind(), clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion) => {
            return match e.print() {
                Ok(()) => Ending::Done(Outcome::Success),
                Err(io) => Ending::Failed { error: Error::Output(io), out: quiet, command: None },
            };
        }
        // A command group without its subcommand (`keyward key`): its help, as a usage error.
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            return match e.print() {
                Ok(()) => Ending::Done(Outcome::Usage),
                Err(io) => Ending::Failed { error: Error::Output(io), out: quiet, command: None },
            };
        }
        Err(e) => return Ending::Failed { error: usage_error(&e, &args), out: quiet, command: None },
    };
    let mut ctx = Context::new(&cli.global);
    let command = cli.command.as_ref().map(crate::commands::name);
    // `scan` runs from git hooks on whatever vault the repository holds: it never asks KMS.
    ctx.policy.kms = command != Some("scan");
    let result = match cli.command {
        // No subcommand: a short overview, not an error.
        None => {
            ctx.out.write(Cli::command().render_help().to_string().as_bytes());
            Ok(Outcome::Success)
        }
        Some(command) => crate::commands::dispatch(command, &ctx),
    };
    ctx.print_vault_warnings();
    // Output that could not be written (a closed pipe, a full disk) ends the command as an error.
    let result = result.and_then(|outcome| ctx.out.finish().map(|()| outcome));
    match result {
        Ok(outcome) => Ending::Done(outcome),
        Err(error) => Ending::Failed { error, out: ctx.out, command },
    }
}

/// clap's own errors are several lines long; keyward reports one, in its own format, with clap's
/// "did you mean" tip folded in. An unexpected word on the command line is never repeated: it
/// is most often a value typed where keyward never takes one, and the error would put it into a
/// terminal's scrollback or a CI log.
fn usage_error(e: &clap::Error, args: &[std::ffi::OsString]) -> Error {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let text = e.to_string();
    let usage = text.lines().find_map(|l| l.strip_prefix("Usage: ")).unwrap_or("keyward --help").trim().to_owned();
    if e.kind() == ErrorKind::UnknownArgument
        && let Some(ContextValue::String(arg)) = e.get(ContextKind::InvalidArg)
        && !arg.starts_with('-')
    {
        return Error::CommandLine {
            what: "unexpected argument (not shown: values are never taken from the command line; pipe a value instead, `printf %s \"$VALUE\" | keyward add NAME`)".into(),
            usage,
        };
    }
    // The first paragraph says what is wrong (it may continue on indented lines); a tip says what
    // was probably meant.
    let what: Vec<&str> = text.lines().take_while(|l| !l.trim().is_empty()).map(str::trim).collect();
    let mut what = what.join(" ").trim_start_matches("error: ").to_owned();
    // clap's "to pass '--evn' as a value, use '-- --evn'" is no help for a mistyped flag.
    let tips: Vec<&str> =
        text.lines().filter_map(|l| l.trim().strip_prefix("tip: ")).filter(|t| !t.starts_with("to pass ")).collect();
    if tips.is_empty()
        && e.kind() == ErrorKind::UnknownArgument
        && let Some(ContextValue::String(arg)) = e.get(ContextKind::InvalidArg)
        && let Some(flag) = arg.strip_prefix("--")
    {
        // clap's own similarity misses a swapped pair of letters (`--evn`): look again.
        let flags = long_flags(args);
        if let Some(close) = crate::suggest::closest(flag, flags.iter().map(String::as_str)) {
            what.push_str(&format!(" (did you mean --{close}?)"));
        }
    }
    for tip in tips {
        what.push_str(&format!(" ({tip})"));
    }
    Error::CommandLine { what, usage }
}

/// The long flags of the (sub)command that `args` names.
fn long_flags(args: &[std::ffi::OsString]) -> Vec<String> {
    let mut cmd = Cli::command();
    cmd.build();
    for arg in args.iter().skip(1).filter_map(|a| a.to_str()) {
        match cmd.find_subcommand(arg) {
            Some(sub) => cmd = sub.clone(),
            None if arg.starts_with('-') => {}
            None => break,
        }
    }
    cmd.get_arguments().filter_map(|a| a.get_long().map(str::to_owned)).collect()
}
