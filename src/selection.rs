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

/// Environments everyone names: asking for one of these that holds no secret yet selects nothing,
/// as asked; any other unknown name is taken for a typo and refused.
pub const WELL_KNOWN_ENVS: &[&str] = &[
    "dev",
    "development",
    "staging",
    "stage",
    "prod",
    "production",
    "test",
    "testing",
    "qa",
    "uat",
    "preview",
    "local",
    "ci",
];

/// The one selection by environment, everywhere (`exec`, `export`, `validate`, `list`): the
/// secrets of `env` plus those with no environment.
pub fn in_env(secret_env: Option<&str>, env: &str) -> bool {
    secret_env.is_none_or(|e| e == env)
}

/// Refuses an environment that no secret of `vault` has (its records' environments, those of
/// domains this key cannot open included) and that is not well known, suggesting the closest.
pub fn check_env_known(vault: &Vault, env: &str) -> Result<()> {
    if WELL_KNOWN_ENVS.contains(&env) {
        return Ok(());
    }
    let records = vault.records()?;
    let mut known: Vec<&str> = records.records.iter().filter_map(|r| r.env.as_deref()).collect();
    if known.contains(&env) {
        return Ok(());
    }
    known.extend_from_slice(WELL_KNOWN_ENVS);
    known.sort_unstable();
    known.dedup();
    Err(Error::UnknownEnvironment {
        env: env.to_owned(),
        suggestion: crate::suggest::did_you_mean(env, known.iter().copied()),
    })
}

/// A variable and the value it gets.
pub struct Injected {
    pub name: String,
    pub var: String,
    pub value: SecretValue,
}

pub fn select(vault: &Vault, only: &[String], env: Option<&str>) -> Result<Vec<Secret>> {
    if let Some(env) = env {
        check_env_known(vault, env)?;
    }
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
    if let Some(env) = env {
        check_env_known(vault, env)?;
    }
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
        None => Err(vault
            .get(name)
            .err()
            .unwrap_or_else(|| Error::SecretNotFound { name: name.to_owned(), suggestion: None })),
    }
}

/// Without `--only`, the secrets of no environment and those of `env`; environment-less first,
/// so a secret of the chosen environment overrides one with none.
fn in_order(mut secrets: Vec<Secret>, everything: bool, env: Option<&str>) -> Vec<Secret> {
    if everything {
        secrets.retain(|s| env.map_or(s.env.is_none(), |e| in_env(s.env.as_deref(), e)));
    }
    secrets.sort_by(|a, b| a.env.is_some().cmp(&b.env.is_some()).then_with(|| a.name.cmp(&b.name)));
    secrets
}

/// What [`current_values`] hands out, and the revoked secrets it left out.
pub struct Values {
    pub injected: Vec<Injected>,
    /// Revoked secrets that were not asked for by name: left out, for the caller to warn about.
    pub left_out: Vec<String>,
}

/// The current value of each secret, by variable. A revoked secret asked for by name (`--only`)
/// is refused: handing out nothing silently would break the job in a harder way to see. One that
/// merely belongs to the environment is left out and named in [`Values::left_out`], so one
/// revoked key does not stop every run until it is rotated. A variable that changes how programs
/// start is refused unless the reader allows it (`allowed`): the vault's writer chose the
/// variable, and may not be the one who runs the command.
pub fn current_values(secrets: &[Secret], config: &Config, allowed: &[String], by_name: bool) -> Result<Values> {
    let mut by_var: BTreeMap<String, Injected> = BTreeMap::new();
    let mut left_out = Vec::new();
    for s in secrets {
        // A current version has no grace period: the time does not matter here.
        let v = match s.usable(VersionSelector::Stage(Stage::Current), i64::MIN) {
            Ok(v) => v,
            Err(Error::Revoked { .. }) if !by_name => {
                left_out.push(s.name.clone());
                continue;
            }
            Err(e) => return Err(e),
        };
        config.check_startup_var(&s.var, allowed, "hand out")?;
        by_var.insert(s.var.clone(), Injected { name: s.name.clone(), var: s.var.clone(), value: v.value.clone() });
    }
    Ok(Values { injected: by_var.into_values().collect(), left_out })
}

/// The warning for revoked secrets left out of a run.
pub fn left_out_warning(left_out: &[String]) -> Option<String> {
    (!left_out.is_empty()).then(|| {
        format!(
            "left out revoked {}: {} (rotate {} with `keyward rotate NAME`, or name {} with --only to make the run fail)",
            if left_out.len() == 1 { "secret" } else { "secrets" },
            left_out.join(", "),
            if left_out.len() == 1 { "it" } else { "them" },
            if left_out.len() == 1 { "it" } else { "them" },
        )
    })
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
