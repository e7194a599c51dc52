//! Which secrets `exec` and `export` hand out, and the checks before they do (a reference in
//! `exec` gets the same).
//!
//! With `--only`, exactly those; with `--env E`, the secrets of E plus those with no environment
//! (E's win when both set a variable); with neither, only secrets with no environment.

use std::collections::BTreeMap;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::providers::{Class, Registry};
use crate::sensitive::SecretValue;
use crate::vault::Vault;
use crate::vault::secret::{Secret, Stage, VersionSelector};

/// A variable and the value it gets.
pub struct Injected {
    pub name: String,
    pub var: String,
    pub value: SecretValue,
}

pub fn select(vault: &Vault, only: &[String], env: Option<&str>) -> Result<Vec<Secret>> {
    // A key limited to other environments is refused, not handed an empty selection.
    vault.check_holds(env)?;
    let secrets = if only.is_empty() {
        vault.secrets()?
    } else {
        only.iter().map(|n| vault.get(n)).collect::<Result<Vec<_>>>()?
    };
    Ok(in_order(secrets, only.is_empty(), env))
}

/// [`select`] from the secrets of `vault` already decoded (a command that needs them all anyway
/// decodes once).
pub fn select_from(vault: &Vault, all: &[Secret], only: &[String], env: Option<&str>) -> Result<Vec<Secret>> {
    vault.check_holds(env)?;
    let secrets = if only.is_empty() {
        all.to_vec()
    } else {
        only.iter().map(|n| find(vault, all, n).cloned()).collect::<Result<Vec<_>>>()?
    };
    Ok(in_order(secrets, only.is_empty(), env))
}

/// The secret named `name` among those decoded from `vault`; when it is not among them, why
/// (no such secret, or a domain this key does not hold).
pub fn find<'a>(vault: &Vault, all: &'a [Secret], name: &str) -> Result<&'a Secret> {
    match all.iter().find(|s| s.name == name) {
        Some(secret) => Ok(secret),
        None => Err(vault.get(name).err().unwrap_or_else(|| Error::SecretNotFound { name: name.to_owned() })),
    }
}

/// Without `--only`, the secrets of no environment and those of `env`; environment-less first,
/// so a secret of the chosen environment overrides one with none.
fn in_order(mut secrets: Vec<Secret>, everything: bool, env: Option<&str>) -> Vec<Secret> {
    if everything {
        secrets.retain(|s| s.env.is_none() || (env.is_some() && s.env.as_deref() == env));
    }
    secrets.sort_by(|a, b| a.env.is_some().cmp(&b.env.is_some()).then_with(|| a.name.cmp(&b.name)));
    secrets
}

/// The current value of each secret, by variable. A secret with no current value (revoked) is
/// refused: handing out nothing silently would break the job in a harder way to see. So is a
/// variable that changes how programs start, unless the reader allows it (`allowed`): the vault's
/// writer chose the variable, and may not be the one who runs the command.
pub fn current_values(secrets: &[Secret], config: &Config, allowed: &[String]) -> Result<Vec<Injected>> {
    let mut by_var: BTreeMap<String, Injected> = BTreeMap::new();
    for s in secrets {
        // A current version has no grace period: the time does not matter here.
        let v = s.usable(VersionSelector::Stage(Stage::Current), i64::MIN)?;
        config.check_startup_var(&s.var, allowed, "hand out")?;
        by_var.insert(s.var.clone(), Injected { name: s.name.clone(), var: s.var.clone(), value: v.value.clone() });
    }
    Ok(by_var.into_values().collect())
}

/// Refuses a live key in a non-production run, a test key in production, and a secret of
/// another environment, for each secret's current value.
pub fn check_environment(secrets: &[Secret], env: Option<&str>, registry: &Registry) -> Result<()> {
    for s in secrets {
        if let Some(value) = s.version(VersionSelector::Stage(Stage::Current)) {
            check_one(s, &value.value, env, registry)?;
        }
    }
    Ok(())
}

/// [`check_environment`] for one value of a secret (a reference may name another version).
pub fn check_one(s: &Secret, value: &SecretValue, env: Option<&str>, registry: &Registry) -> Result<()> {
    let Some(env) = env else { return Ok(()) };
    if let Some(own) = &s.env
        && own != env
    {
        return Err(mismatch(format!("{} belongs to environment {own}, not {env}", s.name)));
    }
    let provider = s.body.meta.provider.as_deref().and_then(|id| registry.get(id));
    match provider.map(|p| (p, p.classify(value.expose()))) {
        Some((p, Class::Live)) if env != "prod" => {
            Err(mismatch(format!("{} holds a live {} key and the run is for {env}", s.name, p.name)))
        }
        Some((p, Class::Test)) if env == "prod" => {
            Err(mismatch(format!("{} holds a test {} key and the run is for prod", s.name, p.name)))
        }
        _ => Ok(()),
    }
}

fn mismatch(what: String) -> Error {
    Error::Refused(what, "pick the right --env or secrets, or pass --allow-env-mismatch if this is intended")
}
