//! `keyward completions SHELL`: the completion script, for installing by hand.

use crate::Outcome;
use crate::cli::CompletionsArgs;
use crate::context::Context;
use crate::docs;
use crate::error::Result;

pub(super) fn run(args: CompletionsArgs, ctx: &Context) -> Result<Outcome> {
    let script = docs::completion_script(args.shell.name()).expect("every listed shell is built in");
    ctx.out.write(&script);
    Ok(Outcome::Success)
}

/// The hidden `generate-docs` command: writes completions/ and man/ under DIR.
pub(super) fn generate(dir: &std::path::Path, ctx: &Context) -> Result<Outcome> {
    for (path, bytes) in docs::files() {
        let target = dir.join(&path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| crate::error::Error::io("cannot create", parent, e))?;
        }
        std::fs::write(&target, bytes).map_err(|e| crate::error::Error::io("cannot write", &target, e))?;
    }
    ctx.out.done(&format!("wrote completions/ and man/ under {}", dir.display()));
    Ok(Outcome::Success)
}
