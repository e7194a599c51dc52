//! `keyward set`: the upsert users of other tools type. A new name is added, as `add` would; an
//! existing one is rotated to the new value, with `rotate`'s staging and verification (never a
//! silent overwrite of a live key).

use crate::Outcome;
use crate::cli::{AddArgs, MetadataArgs, RotateArgs, SetArgs};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::vault::secret::check_name;

pub(super) fn run(args: SetArgs, ctx: &Context) -> Result<Outcome> {
    check_name(&args.name)?;
    if ctx.open()?.find(&args.name)?.is_none() {
        if args.grace.is_some() || args.no_verify {
            return Err(Error::Usage(format!(
                "{} is a new secret: --grace and --no-verify apply to rotating an existing one",
                args.name
            )));
        }
        return super::add::run(
            AddArgs { name: args.name, meta: args.meta, generate: false, length: 32, prefix: None },
            ctx,
        );
    }
    if has_metadata(&args.meta) {
        return Err(Error::Usage(format!(
            "{} exists: set rotates its value; change its metadata with `keyward update {}`",
            args.name, args.name
        )));
    }
    super::rotate::run(
        RotateArgs { grace: args.grace, no_verify: args.no_verify, ..RotateArgs::new_value(args.name) },
        ctx,
    )
}

fn has_metadata(m: &MetadataArgs) -> bool {
    let MetadataArgs {
        provider,
        env,
        var,
        expires,
        rotate_every,
        scopes,
        allow_ips,
        allow_origins,
        rate_limit,
        tags,
        note,
        paired_with,
        remote,
        allow_vars,
    } = m;
    [provider, env, var, expires, rotate_every, rate_limit, note, paired_with, remote].iter().any(|o| o.is_some())
        || [scopes, allow_ips, allow_origins, tags, allow_vars].iter().any(|v| !v.is_empty())
}
