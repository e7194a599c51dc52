//! The command line, as clap definitions only: no logic here. This is the single source for
//! `--help`, the man pages and the shell completions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use clap_complete::engine::ArgValueCandidates;

// Literal macros so `concat!` can build the long help from one copy of each text.
macro_rules! top_examples {
    () => {
        "Examples:
  keyward init
  printf %s \"$STRIPE_KEY\" | keyward add stripe/live --env prod --provider stripe
  keyward get stripe/live
  keyward key token add github-actions   # then set KEYWARD_VAULT_KEY in CI"
    };
}
macro_rules! exit_codes {
    () => {
        "Exit codes:
  0  success
  1  a check found problems
  2  usage error or invalid input
  3  not found (secret, version, token or vault)
  4  cannot unlock the vault
  5  vault damaged, tampered with, or in a newer format
  6  conflict (already exists, variable in use, lock timeout, refused)
  7  the operating system refused a file operation
  125, 126, 127  exec: keyward failed, the command cannot run, the command was not found
                 (otherwise exec exits with the command's code, or 128+N if signal N killed it)"
    };
}
macro_rules! environment {
    () => {
        "Environment:
  KEYWARD_VAULT            vault file to use (like --vault)
  KEYWARD_VAULT_KEY        a token or the recovery key; unlocks without the keyring (CI)
  KEYWARD_PASSPHRASE_FILE  file holding the passphrase, for the passphrase slot
  KEYWARD_IDENTITY         your age identity file, for a vault you are a member of
  KEYWARD_MEMBERS_PIN      the digest `member list --pin` printed: any other members are exit 6
  KEYWARD_STRICT_MEMBERS   1: new members are exit 6 until `keyward member accept`
  KEYWARD_LOCK_TIMEOUT     seconds to wait for another writer (default 10)
  NO_COLOR                 turn colour off"
    };
}

/// What `--keyring` asks for (the core's [`crate::unlock::keyring::Choice`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeyringArg {
    /// Secret Service when a session bus offers it, else the kernel keyring (Linux), else the keychain (macOS).
    Auto,
    SecretService,
    Keyutils,
    Keychain,
    /// No keyring: unlock only with a passphrase, the recovery key or tokens.
    None,
}

impl From<KeyringArg> for crate::unlock::keyring::Choice {
    fn from(arg: KeyringArg) -> Self {
        use crate::unlock::keyring::Choice;
        match arg {
            KeyringArg::Auto => Choice::Auto,
            KeyringArg::SecretService => Choice::SecretService,
            KeyringArg::Keyutils => Choice::Keyutils,
            KeyringArg::Keychain => Choice::Keychain,
            KeyringArg::None => Choice::None,
        }
    }
}

/// How `mask` replaces a match (the core's [`crate::mask::Style`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StyleArg {
    /// The provider's public prefix and the last 4 characters (`sk_live_…a1b2`), for values of
    /// 20 characters or more; everything else in full
    Partial,
    /// `********`
    Full,
    /// `[REDACTED:<secret name or provider>]`
    Label,
}

impl From<StyleArg> for crate::mask::Style {
    fn from(arg: StyleArg) -> Self {
        match arg {
            StyleArg::Partial => crate::mask::Style::Partial,
            StyleArg::Full => crate::mask::Style::Full,
            StyleArg::Label => crate::mask::Style::Label,
        }
    }
}

pub(crate) const EXIT_CODES: &str = exit_codes!();
pub(crate) const ENVIRONMENT: &str = environment!();

#[derive(Debug, Parser)]
#[command(
    name = "keyward",
    version,
    about = "Keep API keys in an encrypted local vault unlocked through the OS keyring",
    long_about = "keyward keeps API keys in one encrypted vault file (AES-256-GCM) whose key lives in the \
OS keyring, with revocable tokens for CI, a recovery key and an optional passphrase.\n\n\
A secret value is never taken from the command line: it is piped on standard input or typed at a hidden prompt.",
    after_help = top_examples!(),
    after_long_help = concat!(top_examples!(), "\n\n", exit_codes!(), "\n\n", environment!()),
    disable_help_subcommand = false
)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Args, Clone)]
pub(crate) struct GlobalArgs {
    /// Vault file to use [env: KEYWARD_VAULT]
    #[arg(long, global = true, value_name = "PATH")]
    pub vault: Option<PathBuf>,
    /// Print one JSON document instead of text
    #[arg(long, global = true)]
    pub json: bool,
    /// Print only what was asked for: no confirmations or notices
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Never colour the output (also NO_COLOR)
    #[arg(long, global = true)]
    pub no_color: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create a vault and its key slots
    #[command(
        after_help = "Examples:\n  keyward init\n  keyward init --keyring none --passphrase\n  keyward init --vault .keyward/vault.kw --recovery-key-file ~/keyward-recovery.txt"
    )]
    Init(InitArgs),
    /// Store a new secret (value from standard input or a hidden prompt)
    #[command(
        after_help = "Examples:\n  printf %s \"$KEY\" | keyward add stripe/live --provider stripe --env prod\n  keyward add github/ci --var GITHUB_TOKEN --expires 2027-01-31 --scope repo\n  keyward add internal/webhook --generate --prefix whk_"
    )]
    Add(AddArgs),
    /// Store a value under a name: `add` for a new name; for an existing one, a staged rotation
    /// (pending, verified, promoted), as `rotate NAME`
    #[command(
        after_help = "Examples:\n  printf %s \"$KEY\" | keyward set stripe/live              # adds it, or rotates to the new value\n  printf %s \"$KEY\" | keyward set openai/dev --env dev   # metadata flags apply to a new name"
    )]
    Set(SetArgs),
    /// Print a secret's value
    #[command(
        after_help = "Examples:\n  keyward get stripe/live\n  curl -H \"Authorization: Bearer $(keyward get -n openai/dev)\" ...\n  keyward get stripe/live --version previous\n  keyward get stripe/live --clip            # to the clipboard, cleared after 45 s"
    )]
    #[command(visible_alias = "show")]
    Get(GetArgs),
    /// List secrets (never their values)
    #[command(
        after_help = "Examples:\n  keyward list\n  keyward list stripe                 # names, variables, tags or providers containing it\n  keyward list '*_TOKEN' --env prod\n  keyward list --env prod --provider stripe\n  keyward list --tag ci --json"
    )]
    #[command(visible_alias = "ls")]
    List(ListArgs),
    /// Show a secret's metadata and version history (never values)
    #[command(after_help = "Examples:\n  keyward info stripe/live\n  keyward info stripe/live --json")]
    Info(NameArg),
    /// Change a secret's metadata (not its value: see rotate)
    #[command(
        after_help = "Examples:\n  keyward update stripe/live --expires 90d --tag billing\n  keyward update stripe/live --clear scopes --untag old"
    )]
    Update(UpdateArgs),
    /// Rename a secret (its variable stays as it is)
    #[command(after_help = "Examples:\n  keyward rename stripe stripe/live")]
    Rename(RenameArgs),
    /// Remove a secret and all its versions
    #[command(
        visible_aliases = ["remove", "delete"],
        after_help = "Examples:\n  keyward rm old/key\n  keyward rm old/key --yes   # in scripts"
    )]
    Rm(RmArgs),
    /// Manage the vault's key slots: status, tokens, passphrase, recovery key, re-keying
    #[command(subcommand, arg_required_else_help = true)]
    Key(KeyCommand),
    /// Your own age identity, whose public key teammates add as a member
    #[command(subcommand, arg_required_else_help = true)]
    Identity(IdentityCommand),
    /// Team members by public key: add, list, remove (re-keys), grant and revoke environments
    #[command(subcommand, arg_required_else_help = true)]
    Member(MemberCommand),
    /// Readable `git diff` of a project vault: set up the diff driver, or render a vault as git asks
    #[command(subcommand, arg_required_else_help = true)]
    Git(GitCommand),
    /// Remote stores (AWS Secrets Manager, Vault/OpenBao KV v2): add, list, remove, status
    #[command(subcommand, arg_required_else_help = true)]
    Remote(RemoteCommand),
    /// Write secrets to a remote store: the new and the changed ones
    #[command(after_help = "Examples:
  keyward push prod-aws
  keyward push team-kv stripe/live --dry-run
  keyward push prod-aws --force          # overwrite what changed on both sides

Writes each secret's current version (and its pending one, and on first push its previous one);
revoked versions never leave the vault. A secret that changed on both sides stops the push
before anything is written (exit 6) unless --force; a secret newer in the remote is left for
`pull`. Exit 1 when any secret failed (the others are written).")]
    Push(PushArgs),
    /// Read secrets from a remote store into the vault: the new and the changed ones
    #[command(after_help = "Examples:
  keyward pull prod-aws
  keyward pull team-kv stripe/live --dry-run

A changed value becomes current, the old one previous (as a rotation without verification);
new secrets are checked as `add` checks them (name, variable, environment). A secret that
changed on both sides stops the pull (exit 6) unless --force.")]
    Pull(PullArgs),
    /// Remove this machine's keyring entry for the vault
    #[command(after_help = "Examples:\n  keyward lock\n  keyward unlock   # restore it later")]
    Lock,
    /// Restore this machine's keyring entry (same as `key import`)
    #[command(after_help = "Examples:\n  keyward unlock < recovery.txt\n  keyward unlock   # asks for the passphrase")]
    Unlock(ImportArgs),
    /// Check secrets: format, environment, expiry, rotation age, and the provider online
    #[command(after_help = "Examples:
  keyward validate --all
  keyward validate stripe/live github/ci --online
  keyward validate --env prod --online --json
  printf %s \"$KEY\" | keyward validate --stdin --env prod --online

Each check is ok, warn or fail. Online verdicts are valid (the provider accepted the key),
invalid (it rejected it) or unknown (timeouts, 429, 5xx, redirects, answers that prove nothing).
Exit 1 when any check fails; unknown fails too with --fail-on-unknown.")]
    Validate(ValidateArgs),
    /// Rotate a secret in stages: pending, verified, promoted to current; the old one kept as previous
    #[command(after_help = "Examples:
  printf %s \"$NEW_KEY\" | keyward rotate stripe/live      # stage, verify online, promote
  keyward rotate internal/webhook --generate --grace 7d
  keyward rotate stripe/live --promote --force              # promote a pending value that failed verification
  keyward rotate stripe/live --rollback
  keyward rotate stripe/live --finish --online              # end the grace period; is the old key still live?
  keyward rotate --due --within 30d

Stages: a new value is `pending`; once verified it becomes `current` and the old value `previous`
for the grace period (default 30d; --grace, or [rotation] grace in the config), after which it is
`revoked`. `get --version previous` serves the old value during the grace period.")]
    Rotate(RotateArgs),
    /// Hide known values and provider-shaped keys in text (a streaming filter)
    #[command(after_help = "Examples:
  some-command 2>&1 | keyward mask
  tail -f app.log | keyward mask --style label
  keyward mask --no-known < ci.log          # no vault needed: provider-shaped keys only
  keyward mask build.log --in-place

Hides every version of every stored value (current, pending, previous and revoked), each line of
a multi-line value, their base64, percent and JSON-escaped forms, and every key shaped like a
provider's. Without --no-known, a vault that cannot be unlocked is an error before any input is read.")]
    Mask(MaskArgs),
    /// Find hardcoded keys in files and git history, verify them, and stop them at commit time
    #[command(after_help = "Examples:
  keyward scan                          # the current directory, as ripgrep walks it
  keyward scan src config.yml --verify  # also ask each provider whether the keys are live
  keyward scan --git                    # every blob in history, once each
  keyward scan --git --since origin/main --format sarif > keyward.sarif
  keyward scan --install-hook           # refuse commits that add a secret
  keyward scan --baseline .keyward-scan.toml   # accept today's findings, catch new ones

Finds provider-shaped keys (see `keyward providers`), the vault's own values in every version and
encoding (unless --no-known; a vault that cannot be unlocked is skipped with a note), and
high-entropy values assigned to key-like names (api_key, secret, token, password...), also inside
base64 and percent-encoded text. A line containing `keyward:allow` is not reported.
.keyward-scan.toml (the nearest one up to the repository root) can list [allow] paths (globs),
rules and fingerprints. Exit status: 0 nothing found, 1 findings, 2 usage error.")]
    Scan(ScanArgs),
    /// Run a command with secrets as environment variables and its output masked
    #[command(
        visible_alias = "run",
        after_help = "Examples:
  keyward exec -- npm test
  keyward exec --env prod -- ./deploy.sh
  keyward exec --only stripe/test,github/ci -- make release
  STRIPE_KEY=keyward:stripe/test keyward exec -- node server.js
  DB_PASSWORD=aws-sm://eu-west-1/prod/db#password keyward exec -- ./migrate
  API_KEY=vault:secret/app/api#key@3 keyward exec -- ./client

Which secrets: with --only, those; with --env E, those of E plus those with no environment;
otherwise only those with no environment. Variables set to keyward:NAME are resolved too, and
so are references to remote stores, read there with your credentials and server
(aws-sm://REGION/NAME[#json-key][@AWSPREVIOUS], vault:MOUNT/PATH#field[@version]), masked and
checked as stored secrets are.
The command gets keyward's environment without KEYWARD_* variables.
Exit codes: the command's own; 128+N if it was killed by signal N; 125 if keyward failed,
126 if the command could not run, 127 if it was not found."
    )]
    Exec(ExecArgs),
    /// Render a template, replacing {{ keyward:NAME }} with values
    #[command(after_help = "Examples:
  keyward inject -i config.tmpl -o config.yml
  echo 'DATABASE_URL=postgres://app:{{ keyward:db/password }}@db/app' | keyward inject
  keyward inject -i app.env.tmpl              # {{ keyward:NAME@previous }} for the old value
  echo 'pw: {{ aws-sm://eu-west-1/prod/db#password }}' | keyward inject   # from the store

Other {{ ... }} (Helm, Jinja) are left alone. An unknown reference is an error naming its line,
and nothing is written. OUT is created 0600 and written atomically.")]
    Inject(InjectArgs),
    /// Print secrets as variables (dotenv, shell, JSON, GitHub Actions, GitLab CI), or hand them to pass or 1Password
    #[command(after_help = "Examples:
  keyward export --env prod --format dotenv > .env
  eval \"$(keyward export --format shell)\"
  keyward export --env prod --format github     # in a GitHub Actions step: masks, then $GITHUB_ENV
  keyward export --only stripe/test --format gitlab > deploy.env

  keyward export --format pass ~/.password-store           # one gpg-encrypted entry per secret
  keyward export --format 1password-csv > 1password.csv    # then File > Import in 1Password

Selection as for exec. Printing to a terminal asks first, unless --yes.")]
    Export(ExportArgs),
    /// Add secrets from a .env or JSON file, a password store, dotenvx or 1Password
    #[command(after_help = "Examples:
  keyward import .env --env dev --remove-source
  keyward import secrets.json --dry-run
  keyward export --format dotenv | keyward --vault other.kw import -
  keyward import --from pass ~/.password-store
  keyward import --from dotenvx .env.production --env prod   # .env.keys beside it, or DOTENV_PRIVATE_KEY_PRODUCTION
  keyward import --from 1password ~/Downloads/export.1pux

Names come from the variables (STRIPE_KEY becomes stripe_key), entry paths or item titles
(\"Stripe / Live\" becomes stripe/live). Providers are detected as by `add`. Existing secrets are
skipped; --overwrite replaces their value and keeps the old one as previous. A malformed line is
reported with its number and nothing is imported. After a plaintext file is imported, a terminal
asks whether to overwrite and delete it (--remove-source in scripts).")]
    Import(ImportFileArgs),
    /// The tamper-evident audit log: list events, report, verify the chain
    #[command(
        args_conflicts_with_subcommands = true,
        after_help = "Examples:
  keyward audit --since 7d
  keyward audit --secret stripe/live --event get --jsonl
  keyward audit report --since 30d
  keyward audit verify
  keyward audit --path

Every command that touches a secret appends one event: time, event, secret, a short HMAC
fingerprint of the value (never the value), actor (user@host), command and details. Each entry is
chained to the one before by an HMAC keyed from the vault, so edits, deletions, reordering,
truncation and forged entries are detected by `audit verify` (exit 5)."
    )]
    Audit(AuditArgs),
    /// Revoke a secret (every live version), optionally as compromised and with a replacement
    #[command(after_help = "Examples:
  keyward revoke stripe/live --compromised --reason \"pasted in a public channel\" --rotate
  keyward revoke old/key --yes

Revoked secrets are refused by get, exec and export. With --compromised, a GitHub token can be
reported to GitHub's revocation endpoint, the notification hooks are told, and the steps left
to do at the provider are printed.")]
    Revoke(RevokeArgs),
    /// Write an encrypted, integrity-checked snapshot of the vault and its audit log
    #[command(after_help = "Examples:
  keyward backup ~/backups/keyward-$(date +%F).kwb
  keyward backup /media/usb/keyward.kwb --passphrase   # restorable without this machine's keyring")]
    Backup(BackupArgs),
    /// Restore a vault and its audit log from a backup
    #[command(after_help = "Examples:
  keyward restore ~/backups/keyward-2026-11-26.kwb
  keyward restore keyward.kwb --vault ~/.local/share/keyward/vault.kw --force")]
    Restore(RestoreArgs),
    /// Print the shell completion script (bash, zsh, fish, powershell, elvish, nushell)
    #[command(after_help = "Examples:
  keyward completions bash > ~/.local/share/bash-completion/completions/keyward
  keyward completions zsh > ~/.zfunc/_keyward
  keyward completions fish > ~/.config/fish/completions/keyward.fish

The script calls `keyward` to complete secret names, provider ids and environments; completion
never prompts and offers nothing when the vault cannot be unlocked without asking.")]
    Completions(CompletionsArgs),
    /// Check the environment: which vault and why, keyrings, permissions, config, clock
    #[command(after_help = "Examples:\n  keyward doctor\n  keyward doctor --json")]
    Doctor,
    /// Clears the clipboard after a while if it still holds what `get --clip` put there (the
    /// detached helper `get --clip` starts; reads the value's SHA-256 on standard input)
    #[command(hide = true, name = "__clip-clear")]
    ClipClear {
        #[arg(long, value_name = "MILLISECONDS")]
        after_ms: u64,
    },
    /// Write completions/ and man/ (for keyward's own repository)
    #[command(hide = true)]
    GenerateDocs {
        /// The repository root
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// List the provider registry: built-in providers and the config file's
    #[command(after_help = "Examples:\n  keyward providers\n  keyward providers --json")]
    Providers,
}

#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// Where the vault key is kept on this machine
    #[arg(long, value_enum, default_value = "auto")]
    pub keyring: KeyringArg,
    /// Also protect the vault with a passphrase (asked twice, or KEYWARD_PASSPHRASE_FILE)
    #[arg(long)]
    pub passphrase: bool,
    /// Write the recovery key to this file (created 0600); `-` prints it to standard output,
    /// alone (everything else goes to standard error)
    #[arg(long, value_name = "PATH")]
    pub recovery_key_file: Option<PathBuf>,
    /// Make no recovery key. Without a terminal, init refuses unless a recovery key file, a
    /// passphrase or this flag leaves a decision about the way back: with it, losing this
    /// machine's keyring entry (the kernel keyring loses it at reboot) loses the vault
    #[arg(long, conflicts_with = "recovery_key_file")]
    pub no_recovery: bool,
    /// Vault format: 2 (a text file for git, environments as key domains) or 1 (the binary
    /// format of keyward before format 2, for a team not yet upgraded)
    #[arg(long, value_name = "VERSION", default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=2))]
    pub format: u16,
}

/// Metadata flags shared by `add` and `update`.
#[derive(Debug, Args, Default)]
pub(crate) struct MetadataArgs {
    /// Provider id (stripe, github, openai, ...) [default: detected from the value]
    #[arg(long, value_name = "ID", add = ArgValueCandidates::new(crate::complete::provider_ids))]
    pub provider: Option<String>,
    /// Environment: dev, staging, prod or another name
    #[arg(long, value_name = "ENV", add = ArgValueCandidates::new(crate::complete::environments))]
    pub env: Option<String>,
    /// Environment variable name [default: NAME upper-cased, other characters to _]
    #[arg(long, value_name = "ENV_VAR")]
    pub var: Option<String>,
    /// Expiry: 2027-01-31 (end of that day, UTC), an RFC 3339 time, a duration (90d) or never
    #[arg(long, value_name = "DATE|DURATION")]
    pub expires: Option<String>,
    /// Rotation policy, a duration (90d) or never [default: 90d]
    #[arg(long, value_name = "DURATION")]
    pub rotate_every: Option<String>,
    /// A permission the key carries (repeatable)
    #[arg(long = "scope", value_name = "SCOPE")]
    pub scopes: Vec<String>,
    /// An address or network allowed to use the key (repeatable)
    #[arg(long = "allow-ip", value_name = "CIDR")]
    pub allow_ips: Vec<String>,
    /// An origin allowed to use the key (repeatable)
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    pub allow_origins: Vec<String>,
    /// Rate limit, N/PERIOD (1000/min, 10/s, 5000/hour)
    #[arg(long, value_name = "N/PERIOD")]
    pub rate_limit: Option<String>,
    /// A tag (repeatable)
    #[arg(long = "tag", value_name = "TAG", add = ArgValueCandidates::new(crate::complete::tags))]
    pub tags: Vec<String>,
    /// A free-text note
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,
    /// The secret holding the other half of a two-part credential (Twilio SID + token, AWS key id + secret)
    #[arg(long, value_name = "NAME")]
    pub paired_with: Option<String>,
    /// The remote store this secret lives in too (see `keyward remote`): `rotate` stages and
    /// promotes there as well (a secret pushed once is linked already)
    #[arg(long, value_name = "REMOTE")]
    pub remote: Option<String>,
    /// Allow this variable although it changes how programs start (PATH, BASH_ENV, LD_*, GIT_*, ...; repeatable)
    #[arg(long = "allow-var", value_name = "VAR")]
    pub allow_vars: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct AddArgs {
    /// Secret name: letters, digits, '.', '_', '-', '/'
    pub name: String,
    #[command(flatten)]
    pub meta: MetadataArgs,
    /// Generate a random value (OS random generator, URL-safe) instead of reading one
    #[arg(long)]
    pub generate: bool,
    /// With --generate: random bytes before encoding
    #[arg(long, value_name = "BYTES", requires = "generate", default_value_t = 32, value_parser = clap::value_parser!(u16).range(16..=1024))]
    pub length: u16,
    /// With --generate: text put before the random part (e.g. whk_)
    #[arg(long, value_name = "PREFIX", requires = "generate")]
    pub prefix: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct SetArgs {
    /// Secret name: letters, digits, '.', '_', '-', '/'
    #[arg(add = ArgValueCandidates::new(crate::complete::secret_names))]
    pub name: String,
    /// For a new name: its metadata, as `add` takes it
    #[command(flatten)]
    pub meta: MetadataArgs,
    /// For an existing name: how long the old value keeps working after promotion
    #[arg(long, value_name = "DURATION")]
    pub grace: Option<String>,
    /// For an existing name: promote without checking the new value (recorded)
    #[arg(long)]
    pub no_verify: bool,
}

#[derive(Debug, Args)]
pub(crate) struct GetArgs {
    #[arg(add = ArgValueCandidates::new(crate::complete::secret_names))]
    pub name: String,
    /// Which version: current, previous, pending or a version number
    #[arg(long, value_name = "VERSION", default_value = "current", add = ArgValueCandidates::new(crate::complete::versions))]
    pub version: String,
    /// No newline after the value
    #[arg(short = 'n', long)]
    pub no_newline: bool,
    /// Copy the value to the clipboard instead of printing it; it is cleared after
    /// --clip-timeout if the clipboard still holds it
    #[arg(short = 'c', long)]
    pub clip: bool,
    /// With --clip: how long the value stays on the clipboard
    #[arg(long, value_name = "DURATION", default_value = "45s", requires = "clip")]
    pub clip_timeout: String,
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Only secrets whose name, variable, tags or provider contain this text, or match it as a
    /// glob (`stripe/*`, `*_TOKEN`); case is ignored
    #[arg(value_name = "PATTERN")]
    pub pattern: Option<String>,
    /// Only secrets of this environment, and those with none (as everywhere); an environment no
    /// secret has and that is not a well-known name is refused as a typo
    #[arg(long, value_name = "ENV", add = ArgValueCandidates::new(crate::complete::environments))]
    pub env: Option<String>,
    /// Only secrets of this provider
    #[arg(long, value_name = "ID", add = ArgValueCandidates::new(crate::complete::provider_ids))]
    pub provider: Option<String>,
    /// Only secrets with this tag
    #[arg(long, value_name = "TAG", add = ArgValueCandidates::new(crate::complete::tags))]
    pub tag: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct NameArg {
    #[arg(add = ArgValueCandidates::new(crate::complete::secret_names))]
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ClearField {
    Provider,
    Env,
    Expires,
    Scopes,
    AllowIp,
    AllowOrigin,
    RateLimit,
    Tags,
    Note,
    PairedWith,
}

#[derive(Debug, Args)]
pub(crate) struct UpdateArgs {
    #[arg(add = ArgValueCandidates::new(crate::complete::secret_names))]
    pub name: String,
    #[command(flatten)]
    pub meta: MetadataArgs,
    /// Remove a tag (repeatable)
    #[arg(long, value_name = "TAG", add = ArgValueCandidates::new(crate::complete::tags))]
    pub untag: Vec<String>,
    /// Empty a field (repeatable)
    #[arg(long, value_enum, value_name = "FIELD")]
    pub clear: Vec<ClearField>,
}

#[derive(Debug, Args)]
pub(crate) struct RenameArgs {
    #[arg(add = ArgValueCandidates::new(crate::complete::secret_names))]
    pub old: String,
    pub new: String,
}

#[derive(Debug, Args)]
pub(crate) struct RmArgs {
    #[arg(add = ArgValueCandidates::new(crate::complete::secret_names))]
    pub name: String,
    /// Do not ask for confirmation (needed without a terminal)
    #[arg(short, long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub(crate) struct AuditArgs {
    #[command(subcommand)]
    pub command: Option<AuditCommand>,
    #[command(flatten)]
    pub filter: AuditFilter,
    /// Only events of this secret
    #[arg(long = "secret", value_name = "NAME", add = ArgValueCandidates::new(crate::complete::secret_names))]
    pub secret_name: Option<String>,
    /// Only events of this type (get, add, rotate.promoted, unlock.failed, ...)
    #[arg(long, value_name = "TYPE")]
    pub event: Option<String>,
    /// Only events by this actor (user@host)
    #[arg(long, value_name = "ACTOR")]
    pub actor: Option<String>,
    /// At most N events (the latest)
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// One JSON object per line
    #[arg(long)]
    pub jsonl: bool,
    /// Print where the log is
    #[arg(long)]
    pub path: bool,
}

#[derive(Debug, Args, Clone, Default)]
pub(crate) struct AuditFilter {
    /// From this time: a date (2026-11-01), an RFC 3339 time, or a duration ago (7d)
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Until this time (same forms; a date means the end of that day)
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Totals by event, secret and actor, and findings; exit 1 when a finding fails
    #[command(after_help = "Examples:\n  keyward audit report --since 30d\n  keyward audit report --json --notify")]
    Report(ReportArgs),
    /// Check the whole chain: exit 0 when intact, 5 naming the first broken entry
    #[command(after_help = "Examples:\n  keyward audit verify")]
    Verify,
}

#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    #[command(flatten)]
    pub filter: AuditFilter,
    /// Send the findings to the configured notification hooks
    #[arg(long)]
    pub notify: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RevokeArgs {
    #[arg(add = ArgValueCandidates::new(crate::complete::secret_names))]
    pub name: String,
    /// The key leaked: record it, offer to report it to the provider, refuse rollbacks to it
    #[arg(long)]
    pub compromised: bool,
    /// Why, for the audit log and the notification
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Rotate to a replacement at once (generated for internal keys, else from standard input)
    #[arg(long)]
    pub rotate: bool,
    /// Do not ask for confirmation
    #[arg(short, long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub(crate) struct BackupArgs {
    /// Where to write the backup (created 0600)
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Protect it with its own passphrase (KEYWARD_PASSPHRASE_FILE, or asked twice)
    #[arg(long)]
    pub passphrase: bool,
    /// Replace an existing file without asking (needed without a terminal)
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RestoreArgs {
    /// The backup file
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Replace an existing vault
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum Shell {
    Bash,
    Zsh,
    Fish,
    Powershell,
    Elvish,
    // Static: commands, flags and fixed values (clap has no dynamic nushell protocol).
    Nushell,
}

impl Shell {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Shell::Bash => "bash",
            Shell::Zsh => "zsh",
            Shell::Fish => "fish",
            Shell::Powershell => "powershell",
            Shell::Elvish => "elvish",
            Shell::Nushell => "nushell",
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    #[arg(value_enum)]
    pub shell: Shell,
}

#[derive(Debug, Args)]
pub(crate) struct InjectArgs {
    /// The template (default: standard input)
    #[arg(short = 'i', long = "in", value_name = "TEMPLATE")]
    pub input: Option<PathBuf>,
    /// Where to write (default: standard output)
    #[arg(short = 'o', long = "out", value_name = "OUT")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ResultFilter {
    Valid,
    Invalid,
    Unknown,
    Unverified,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ExportFormat {
    /// VAR="value", escaped so dotenv parsers read it back unchanged
    Dotenv,
    /// export VAR='value', safe to eval
    Shell,
    /// one JSON object of VAR: value
    Json,
    /// GitHub Actions: ::add-mask:: lines, then the variables appended to $GITHUB_ENV
    Github,
    /// GitLab CI dotenv report: VAR=value lines (no multi-line values)
    Gitlab,
    /// A password store (DIR): one entry per secret, encrypted by gpg to the store's .gpg-id
    Pass,
    /// A CSV that 1Password imports: Title (the name), Password, Tags, Notes
    #[value(name = "1password-csv")]
    OnepasswordCsv,
}

#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// With --format pass: the password store to write to [default: $PASSWORD_STORE_DIR, else
    /// ~/.password-store]
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Export the secrets of this environment (and those with none)
    #[arg(long, value_name = "ENV", add = ArgValueCandidates::new(crate::complete::environments))]
    pub env: Option<String>,
    /// Export exactly these secrets (comma-separated or repeated)
    #[arg(long, value_name = "NAME", value_delimiter = ',', add = ArgValueCandidates::new(crate::complete::secret_names))]
    pub only: Vec<String>,
    /// Output format [default: dotenv; json with --json]
    #[arg(long, value_enum)]
    pub format: Option<ExportFormat>,
    /// Print to a terminal without asking
    #[arg(short, long)]
    pub yes: bool,
    /// Allow live keys outside prod, test keys in prod, and secrets of another environment
    #[arg(long)]
    pub allow_env_mismatch: bool,
    /// Allow this variable although it changes how programs start (PATH, BASH_ENV, LD_*, GIT_*, ...; repeatable)
    #[arg(long = "allow-var", value_name = "VAR")]
    pub allow_vars: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ImportFrom {
    /// A password store, each entry decrypted with gpg
    Pass,
    /// An encrypted .env file, with its .env.keys or DOTENV_PRIVATE_KEY* in the environment
    Dotenvx,
    /// A 1Password export: .1pux, or CSV
    #[value(name = "1password")]
    Onepassword,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ImportFormat {
    Dotenv,
    Json,
}

#[derive(Debug, Args)]
pub(crate) struct ImportFileArgs {
    /// A .env or JSON file, or - for standard input; with --from pass, the password store
    /// [default: $PASSWORD_STORE_DIR, else ~/.password-store]
    #[arg(value_name = "FILE", required_unless_present = "from")]
    pub file: Option<String>,
    /// Import from another tool: pass (a store; each entry's first line is the value, the rest
    /// the note, its path the name), dotenvx (an encrypted .env), 1password (a .1pux or CSV
    /// export: API credentials, passwords and logins, titles as names)
    #[arg(long, value_enum, value_name = "TOOL", conflicts_with = "format")]
    pub from: Option<ImportFrom>,
    /// Environment of the imported secrets
    #[arg(long, value_name = "ENV", add = ArgValueCandidates::new(crate::complete::environments))]
    pub env: Option<String>,
    /// The file's format [default: json for *.json, else dotenv]
    #[arg(long, value_enum)]
    pub format: Option<ImportFormat>,
    /// Provider of every imported secret [default: detected from each value]
    #[arg(long, value_name = "ID", add = ArgValueCandidates::new(crate::complete::provider_ids))]
    pub provider: Option<String>,
    /// Report what would happen; store nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Replace the values of existing secrets (the old value stays as previous)
    #[arg(long)]
    pub overwrite: bool,
    /// After importing a plaintext file, overwrite it and delete it (no guarantee on
    /// copy-on-write or journaled file systems, or for copies elsewhere)
    #[arg(long, conflicts_with = "dry_run")]
    pub remove_source: bool,
    /// Allow this variable although it changes how programs start (PATH, BASH_ENV, LD_*, GIT_*, ...; repeatable)
    #[arg(long = "allow-var", value_name = "VAR")]
    pub allow_vars: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ExecArgs {
    /// Inject the secrets of this environment (and those with none)
    #[arg(long, value_name = "ENV", add = ArgValueCandidates::new(crate::complete::environments))]
    pub env: Option<String>,
    /// Inject exactly these secrets (comma-separated or repeated)
    #[arg(long, value_name = "NAME", value_delimiter = ',', add = ArgValueCandidates::new(crate::complete::secret_names))]
    pub only: Vec<String>,
    /// Do not mask the command's output
    #[arg(long)]
    pub no_mask: bool,
    /// Allow live keys outside prod, test keys in prod, and secrets of another environment
    #[arg(long)]
    pub allow_env_mismatch: bool,
    /// Allow this variable although it changes how programs start (PATH, BASH_ENV, LD_*, GIT_*, ...; repeatable)
    #[arg(long = "allow-var", value_name = "VAR")]
    pub allow_vars: Vec<String>,
    /// The command and its arguments, after `--`
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true, value_name = "COMMAND")]
    pub command: Vec<std::ffi::OsString>,
}

#[derive(Debug, Args)]
pub(crate) struct MaskArgs {
    /// Files to mask (default: standard input)
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// How matches are shown
    #[arg(long, value_enum, default_value = "partial")]
    pub style: StyleArg,
    /// Do not open the vault: hide provider-shaped keys only
    #[arg(long)]
    pub no_known: bool,
    /// Do not look for provider-shaped keys: hide known values only
    #[arg(long, conflicts_with = "no_known")]
    pub no_patterns: bool,
    /// Never hide known values shorter than this
    #[arg(long, value_name = "N", default_value_t = 6, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub min_length: u16,
    /// Rewrite the files instead of printing them
    #[arg(long, requires = "files")]
    pub in_place: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ScanFormat {
    /// A table (no borders when not a terminal)
    Table,
    /// One JSON document
    Json,
    /// SARIF 2.1.0, for GitHub code scanning and other tools
    Sarif,
}

#[derive(Debug, Args)]
pub(crate) struct ScanArgs {
    /// Files and directories to scan [default: .]
    #[arg(value_name = "PATH", value_hint = clap::ValueHint::AnyPath)]
    pub paths: Vec<PathBuf>,
    /// Scan every blob in the repository's history (all refs), each once
    #[arg(long, conflicts_with_all = ["paths", "staged"])]
    pub git: bool,
    /// With --git: only commits on HEAD since REV (REV..HEAD)
    #[arg(long, value_name = "REV", requires = "git")]
    pub since: Option<String>,
    /// Scan what the staged changes add (for a pre-commit hook)
    #[arg(long, conflicts_with = "paths")]
    pub staged: bool,
    /// Ask each provider whether the keys found are live (valid, invalid or unknown)
    #[arg(long)]
    pub verify: bool,
    /// Report only keys a provider confirmed live (implies --verify)
    #[arg(long, conflicts_with = "results")]
    pub only_verified: bool,
    /// Report only findings with these verdicts: valid, invalid, unknown, unverified (no online
    /// check for that kind of key); comma-separated (implies --verify)
    #[arg(long, value_enum, value_name = "VERDICT", value_delimiter = ',')]
    pub results: Vec<ResultFilter>,
    /// Do not open the vault: skip the user's own stored values
    #[arg(long)]
    pub no_known: bool,
    /// Output format (--json is the same as --format json)
    #[arg(long, value_enum, default_value = "table")]
    pub format: ScanFormat,
    /// Exit 0 even when findings remain
    #[arg(long)]
    pub exit_zero: bool,
    /// Write every finding's fingerprint to FILE (a .keyward-scan.toml) to accept them, and exit 0
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub baseline: Option<PathBuf>,
    /// Settings file [default: the nearest .keyward-scan.toml]
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub config: Option<PathBuf>,
    /// Also scan hidden files and files that .gitignore or .ignore exclude
    #[arg(long)]
    pub all_files: bool,
    /// Threads scanning files or git objects [default: all cores]
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub threads: Option<u16>,
    /// Install a git pre-commit hook that runs `keyward scan --staged`
    #[arg(long, conflicts_with_all = ["paths", "git", "staged", "verify", "baseline"])]
    pub install_hook: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ValidateArgs {
    /// Secrets to check
    #[arg(value_name = "NAME", add = ArgValueCandidates::new(crate::complete::secret_names))]
    pub names: Vec<String>,
    /// Check every secret
    #[arg(long, conflicts_with_all = ["names", "stdin"])]
    pub all: bool,
    /// Secrets of this environment and those with none, as `exec` and `export` select them
    /// (with --stdin: the environment the key is meant for)
    #[arg(long, value_name = "ENV", add = ArgValueCandidates::new(crate::complete::environments))]
    pub env: Option<String>,
    /// Also ask each provider whether it accepts the key
    #[arg(long)]
    pub online: bool,
    /// Online checks at a time [default: 16, or [validate] concurrency]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: Option<u16>,
    /// Time allowed per request [default: 10s, or [validate] timeout]
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
    /// Check a value read from standard input instead of stored secrets
    #[arg(long, conflicts_with = "names")]
    pub stdin: bool,
    /// With --stdin: the provider [default: detected from the value]
    #[arg(long, value_name = "ID", requires = "stdin", add = ArgValueCandidates::new(crate::complete::provider_ids))]
    pub provider: Option<String>,
    /// A secret overdue for rotation fails instead of warning
    #[arg(long)]
    pub strict: bool,
    /// An online verdict of unknown fails instead of warning
    #[arg(long)]
    pub fail_on_unknown: bool,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("action").args(["promote", "abort", "rollback", "finish", "due"]))]
pub(crate) struct RotateArgs {
    /// The secret to rotate
    #[arg(required_unless_present = "due", add = ArgValueCandidates::new(crate::complete::secret_names))]
    pub name: Option<String>,
    /// Generate the new value (internal and generic secrets)
    #[arg(long, conflicts_with = "action")]
    pub generate: bool,
    /// With --generate: random bytes before encoding
    #[arg(long, value_name = "BYTES", requires = "generate", default_value_t = 32, value_parser = clap::value_parser!(u16).range(16..=1024))]
    pub length: u16,
    /// With --generate: text put before the random part (e.g. whk_)
    #[arg(long, value_name = "PREFIX", requires = "generate")]
    pub prefix: Option<String>,
    /// How long the old value keeps working after promotion (kept for this secret)
    #[arg(long, value_name = "DURATION")]
    pub grace: Option<String>,
    /// Promote without checking the new value (recorded)
    #[arg(long, conflicts_with = "action")]
    pub no_verify: bool,
    /// Verify and promote the pending value
    #[arg(long)]
    pub promote: bool,
    /// With --promote: promote without verifying
    #[arg(long, requires = "promote")]
    pub force: bool,
    /// Discard the pending value
    #[arg(long)]
    pub abort: bool,
    /// Make the previous value current again; the current one is revoked
    #[arg(long)]
    pub rollback: bool,
    /// End the grace period now: the previous value is revoked
    #[arg(long)]
    pub finish: bool,
    /// With --finish: ask the provider whether it still accepts the old value
    #[arg(long, requires = "finish")]
    pub online: bool,
    /// List secrets due for rotation (exit 1 if any is overdue)
    #[arg(long, conflicts_with = "name")]
    pub due: bool,
    /// With --due: also list those due within this time
    #[arg(long, value_name = "DURATION", requires = "due", default_value = "14d")]
    pub within: String,
    /// Do not ask for confirmation (--abort)
    #[arg(short, long)]
    pub yes: bool,
}

impl RotateArgs {
    /// `rotate NAME` with every flag at its default: a new value from standard input, staged and
    /// verified (what `set` and `revoke --rotate` run).
    pub(crate) fn new_value(name: String) -> RotateArgs {
        RotateArgs {
            name: Some(name),
            generate: false,
            length: 32,
            prefix: None,
            grace: None,
            no_verify: false,
            promote: false,
            force: false,
            abort: false,
            rollback: false,
            finish: false,
            online: false,
            due: false,
            within: "14d".into(),
            yes: false,
        }
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeyCommand {
    /// Which vault is in use and why, its slots, and which unlock source works now
    #[command(after_help = "Examples:\n  keyward key status\n  keyward key status --json")]
    Status,
    /// CI and teammate tokens (for KEYWARD_VAULT_KEY)
    #[command(subcommand, arg_required_else_help = true)]
    Token(TokenCommand),
    /// Slots that a CI job's AWS identity unlocks through AWS KMS, with no stored token
    #[command(subcommand, arg_required_else_help = true)]
    Kms(KmsCommand),
    /// Set, replace or remove the passphrase slot
    #[command(after_help = "Examples:\n  keyward key passphrase\n  keyward key passphrase --remove")]
    Passphrase(PassphraseArgs),
    /// Issue a new recovery key, replacing the old one
    #[command(after_help = "Examples:\n  keyward key recovery --recovery-key-file ~/keyward-recovery.txt")]
    Recovery(KeyRecoveryArgs),
    /// Put a fresh keyring slot on this machine, from the recovery key, a token or the passphrase
    #[command(after_help = "Examples:\n  keyward key import < recovery.txt\n  keyward key import --keyring keyutils")]
    Import(ImportArgs),
    /// Re-key after a leak: new data key, new keyring slot and recovery key; tokens are dropped
    #[command(
        after_help = "Examples:\n  keyward key rotate --recovery-key-file ~/keyward-recovery.txt\n  keyward key rotate --yes --recovery-key-file - > new-recovery.txt    # in a script"
    )]
    Rotate(RotateKeyArgs),
    /// Convert a format 1 vault to format 2: every secret kept, new keys for every slot
    #[command(
        after_help = "Examples:\n  keyward key upgrade --recovery-key-file ~/keyward-recovery.txt\n  keyward key upgrade --recovery-key-file - --reissue-tokens --drop-passphrase\n\nEvery secret, version and piece of metadata is kept, in one atomic write. This machine's\nkeyring slot is made anew and a new recovery key is issued; the passphrase is asked again (or\ndropped with --drop-passphrase); tokens are listed for re-issue, or re-issued with\n--reissue-tokens (each printed once). Keyring slots of other machines are dropped: run\n`keyward key import` there."
    )]
    Upgrade(UpgradeArgs),
}

#[derive(Debug, Args)]
pub(crate) struct UpgradeArgs {
    /// Write the new recovery key to this file (created 0600); `-` prints it to standard output
    #[arg(long, value_name = "PATH")]
    pub recovery_key_file: Option<PathBuf>,
    /// Drop the passphrase slot instead of asking for the passphrase again
    #[arg(long)]
    pub drop_passphrase: bool,
    /// Make new tokens with the old labels and print them once (otherwise they are listed)
    #[arg(long)]
    pub reissue_tokens: bool,
    /// Do not ask for confirmation (needed without a terminal): the old tokens and recovery key
    /// stop working
    #[arg(short, long)]
    pub yes: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum GitCommand {
    /// Register keyward as git's diff driver for .keyward/*.kw (idempotent)
    #[command(
        after_help = "Examples:\n  keyward git setup            # this clone: git config --local, .gitattributes\n  keyward git setup --global   # every repository of yours (still writes .gitattributes here)\n\nThen `git diff`, `git log -p` and `git show` show the vault by secret: names, variables,\nmetadata, versions and members; never a value. Commit .gitattributes so teammates get it too."
    )]
    Setup(GitSetupArgs),
    /// Print a vault as reviewable lines (what git runs for a diff; never prompts, never a value)
    #[command(after_help = "Examples:\n  keyward git textconv .keyward/vault.kw")]
    Textconv {
        /// The vault file (git passes a temporary copy of each side)
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Finish secrets a merge left in conflict: keep ours or theirs
    #[command(
        after_help = "Examples:\n  keyward git resolve                      # which secrets are in conflict, and why\n  keyward git resolve stripe/live --theirs # their value current, ours previous\n  keyward git resolve --all --ours\n\nWhen no conflict is left and the vault is a conflicted file in a git merge, it is staged\n(`git add`): commit to finish the merge. Exit 1 when listing finds conflicts."
    )]
    Resolve(GitResolveArgs),
    /// Merge three versions of a vault by secret (what git runs as the merge driver)
    #[command(
        after_help = "Examples:\n  keyward git merge-driver base.kw ours.kw theirs.kw .keyward/vault.kw\n\nDomains one side changed are taken from it; a domain both changed is merged secret by secret\n(versions by id, metadata by field) and re-sealed with this machine's key of it. A secret both\nsides changed differently keeps ours, with theirs beside it as a pending version: exit 1, and\n`keyward git resolve` finishes it. When members differ or a domain was re-keyed, the other side's\nchanges are replayed onto the side that removed members: a removal wins and re-keys what the\nmember held. Exit 1 with ours left in place when that needs a key this machine lacks."
    )]
    MergeDriver {
        /// The common ancestor (%O)
        #[arg(value_name = "BASE")]
        base: PathBuf,
        /// Ours (%A): the result is written here
        #[arg(value_name = "OURS")]
        ours: PathBuf,
        /// Theirs (%B)
        #[arg(value_name = "THEIRS")]
        theirs: PathBuf,
        /// The path in the repository (%P), for messages
        #[arg(value_name = "PATH")]
        path: Option<String>,
    },
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("side").args(["ours", "theirs"])))]
pub(crate) struct GitResolveArgs {
    /// The secrets to finish (none: list the secrets in conflict)
    #[arg(value_name = "NAME", add = ArgValueCandidates::new(crate::complete::secret_names))]
    pub names: Vec<String>,
    /// Keep our side: theirs' values stay as revoked versions (mask still hides them)
    #[arg(long)]
    pub ours: bool,
    /// Keep their side: their value becomes current, ours previous for the grace period
    #[arg(long)]
    pub theirs: bool,
    /// Every secret in conflict
    #[arg(long, conflicts_with = "names")]
    pub all: bool,
}

#[derive(Debug, Args)]
pub(crate) struct GitSetupArgs {
    /// Register the driver in your global git config instead of this clone's
    #[arg(long)]
    pub global: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum IdentityCommand {
    /// Make your identity, keep its secret in the OS keyring (or a 0600 file), print its public key
    #[command(
        after_help = "Examples:\n  keyward identity new                 # Secret Service or the macOS keychain\n  keyward identity new --file          # ~/.config/keyward/identity.txt (0600)\n\nShare the printed age1… key; a teammate runs `keyward member add YOUR-NAME --key age1…`.\nThe kernel keyring is never used: it forgets at reboot, and the identity with it."
    )]
    New(IdentityNewArgs),
    /// Print your identity's public key (age1…) and where its secret is kept
    #[command(after_help = "Examples:\n  keyward identity show\n  keyward identity show --json")]
    Show,
    /// Keep an existing age identity file (as age-keygen writes it) as your identity
    #[command(
        after_help = "Examples:\n  age-keygen -o key.txt && keyward identity import key.txt\n  keyward identity import key.txt --file"
    )]
    Import(IdentityImportArgs),
}

#[derive(Debug, Args)]
pub(crate) struct IdentityNewArgs {
    /// Keep it in a 0600 file ($XDG_CONFIG_HOME/keyward/identity.txt) instead of the OS keyring
    #[arg(long)]
    pub file: bool,
    /// Replace the identity you have (vaults that list the old one stop opening with it)
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub(crate) struct IdentityImportArgs {
    /// The age identity file (AGE-SECRET-KEY-1…), or - for standard input
    #[arg(value_name = "FILE")]
    pub path: PathBuf,
    #[command(flatten)]
    pub how: IdentityNewArgs,
}

#[derive(Debug, Subcommand)]
pub(crate) enum RemoteCommand {
    /// Record a remote in the vault: aws-sm://REGION/PREFIX or vault:MOUNT/PATH
    #[command(after_help = "Examples:
  keyward remote add prod-aws aws-sm://eu-west-1/myapp --env prod
  keyward remote add team-kv vault:secret/myapp

A remote names no server and no credential: a vault is written by others. The server and the
credentials come from your environment:
  AWS: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN, AWS_PROFILE with ~/.aws/credentials
       and ~/.aws/config, or AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE (CI's OIDC);
       AWS_ENDPOINT_URL(_SECRETS_MANAGER) for another endpoint. Not instance metadata, ECS or SSO.
  Vault/OpenBao: VAULT_ADDR and VAULT_TOKEN (or BAO_ADDR, BAO_TOKEN, ~/.vault-token),
       VAULT_NAMESPACE, VAULT_CACERT.
A remote for an environment lives in that environment (only its holders read or change it).")]
    Add(RemoteAddArgs),
    /// List the remotes this key can see
    #[command(after_help = "Examples:\n  keyward remote list\n  keyward remote list --json")]
    List,
    /// Remove a remote from the vault (the store is left as it is)
    #[command(after_help = "Examples:\n  keyward remote rm prod-aws")]
    Rm(RemoteNameArg),
    /// Trust a remote on this machine, as it is now (needed once for a remote this machine did
    /// not add, and again after anyone changes it)
    #[command(after_help = "Examples:
  keyward remote list && keyward remote trust prod-aws
  KEYWARD_TRUSTED_REMOTES=prod-aws=aws-sm://eu-west-1/myapp keyward pull prod-aws   # a CI runner

Whoever can write the vault can add or re-point a remote; push and pull would then use your
credentials on their location. push, pull and remote status refuse a remote this machine has
not trusted as it is now (exit 6).")]
    Trust(RemoteNameArg),
    /// Compare the vault with a remote, by version ids (never values)
    #[command(after_help = "Examples:
  keyward remote status prod-aws
  keyward remote status team-kv --json

Each secret is in sync, local newer, remote newer, diverged (changed on both sides), only here
or only there. Exit 0 when everything is in sync, 1 otherwise.")]
    Status(RemoteStatusArgs),
}

#[derive(Debug, Args)]
pub(crate) struct RemoteAddArgs {
    /// The remote's name: 1-64 letters, digits, '.', '_', '-' or '@'
    #[arg(value_name = "NAME")]
    pub name: String,
    /// aws-sm://REGION/PREFIX or vault:MOUNT/PATH
    #[arg(value_name = "URL")]
    pub url: String,
    /// The environment whose secrets it holds (default: secrets with no environment)
    #[arg(long, value_name = "ENV", add = ArgValueCandidates::new(crate::complete::environments))]
    pub env: Option<String>,
    /// A path appended to the URL's prefix
    #[arg(long, value_name = "P")]
    pub prefix: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct RemoteNameArg {
    /// The remote's name
    #[arg(value_name = "REMOTE")]
    pub remote: String,
}

#[derive(Debug, Args)]
pub(crate) struct RemoteStatusArgs {
    #[command(flatten)]
    pub remote: RemoteNameArg,
    /// Only these secrets
    #[arg(value_name = "NAME")]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct PushArgs {
    #[command(flatten)]
    pub remote: RemoteNameArg,
    /// Only these secrets
    #[arg(value_name = "NAME", add = ArgValueCandidates::new(crate::complete::secret_names))]
    pub names: Vec<String>,
    /// Only secrets of this environment (it must be the remote's)
    #[arg(long, value_name = "ENV", add = ArgValueCandidates::new(crate::complete::environments))]
    pub env: Option<String>,
    /// Say what would be written, and write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Write secrets that changed on both sides too (the remote's value is replaced)
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub(crate) struct PullArgs {
    #[command(flatten)]
    pub remote: RemoteNameArg,
    /// Only these secrets
    #[arg(value_name = "NAME")]
    pub names: Vec<String>,
    /// Say what would be read, and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Take the remote's value of secrets that changed on both sides too (the local one stays
    /// as previous)
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum MemberCommand {
    /// Add a teammate by their public key; they open the vault with their own identity
    #[command(
        after_help = "Examples:\n  keyward member add alice --key age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\n  keyward member add ci-bot --key-file bot.pub --env staging\n\nWithout --env the member holds every environment, present and future. Adding a member needs\na key that holds every environment."
    )]
    Add(MemberAddArgs),
    /// List members: key, fingerprint, environments, added when and by whom (as the file says)
    #[command(
        after_help = "Examples:\n  keyward member list\n  keyward member list --json\n  keyward member list --changes     # what this machine noticed, oldest first\n  keyward member list --pin         # for KEYWARD_MEMBERS_PIN in CI\n\nEvery command that opens a vault compares who can open it with what this machine saw last\ntime and warns once about a change. With KEYWARD_STRICT_MEMBERS=1 (or [members] strict = true\nin the config) a new member is exit 6 until `keyward member accept`. KEYWARD_MEMBERS_PIN set to\nthe --pin digest makes any other set of members or domain keys exit 6: for CI runners, which\nremember nothing."
    )]
    List(MemberListArgs),
    /// Accept the vault's current members after a change (needed under KEYWARD_STRICT_MEMBERS)
    #[command(
        after_help = "Examples:\n  keyward member list && keyward member accept\n  keyward member accept --pin kwpin1-…   # only if the vault is still the one you reviewed"
    )]
    Accept(MemberAcceptArgs),
    /// Remove a member: every environment they held is re-keyed in the same write
    #[command(after_help = "Examples:\n  keyward member rm alice\n  keyward member rm alice --yes   # in a script")]
    Rm(MemberRmArgs),
    /// Let a member read (and write) more environments
    #[command(after_help = "Examples:\n  keyward member grant alice --env prod")]
    Grant(MemberEnvArgs),
    /// Take environments from a member: each is re-keyed
    #[command(after_help = "Examples:\n  keyward member revoke alice --env prod")]
    Revoke(MemberEnvArgs),
}

#[derive(Debug, Args)]
pub(crate) struct MemberAcceptArgs {
    /// Accept only when the vault's pin (`member list --pin`) is this one: what you reviewed is
    /// what you accept, even if the file changed since
    #[arg(long, value_name = "PIN")]
    pub pin: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct MemberListArgs {
    /// The membership changes this machine noticed, oldest first
    #[arg(long, conflicts_with = "pin")]
    pub changes: bool,
    /// Print the digest of who holds what and of every domain key, for KEYWARD_MEMBERS_PIN
    #[arg(long)]
    pub pin: bool,
}

#[derive(Debug, Args)]
pub(crate) struct MemberNameArg {
    /// The member's name: 1-64 letters, digits, '.', '_', '-' or '@'
    #[arg(value_name = "NAME", add = ArgValueCandidates::new(crate::complete::member_names))]
    pub name: String,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("their_key").required(true).args(["public_key", "key_file"])))]
pub(crate) struct MemberAddArgs {
    /// The member's name: 1-64 letters, digits, '.', '_', '-' or '@'
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Their public key: age1… (from `keyward identity show` or age-keygen). Public: a secret
    /// key given here is refused and not echoed
    #[arg(long = "key", id = "public_key", value_name = "KEY")]
    pub public_key: Option<String>,
    /// A file holding their public key
    #[arg(long, value_name = "PATH")]
    pub key_file: Option<PathBuf>,
    /// Only these environments (comma-separated or repeated); they also hold secrets with no
    /// environment
    #[arg(long, value_name = "ENV", value_delimiter = ',', add = ArgValueCandidates::new(crate::complete::environments))]
    pub env: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct MemberRmArgs {
    #[command(flatten)]
    pub name: MemberNameArg,
    /// Do not ask for confirmation (needed without a terminal)
    #[arg(short, long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub(crate) struct MemberEnvArgs {
    #[command(flatten)]
    pub name: MemberNameArg,
    /// The environments (comma-separated or repeated)
    #[arg(long, value_name = "ENV", required = true, value_delimiter = ',', add = ArgValueCandidates::new(crate::complete::environments))]
    pub env: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum KmsCommand {
    /// Add a KMS slot: a new identity, kept in the vault encrypted by the KMS key
    #[command(after_help = "Examples:
  keyward key kms add github-prod --key-id arn:aws:kms:eu-west-1:123456789012:key/1234abcd-… --env prod
  AWS_REGION=eu-west-1 keyward key kms add ci --key-id alias/keyward-ci

The slot is an ordinary recipient: anyone who re-keys the vault wraps to it without KMS. Its
secret is encrypted by the key with an encryption context naming this vault and the slot, so
the ciphertext opens nothing elsewhere. In CI, with the job's AWS identity (OIDC web identity,
or any AWS credentials) allowed kms:Decrypt on the key, keyward unlocks with no
KEYWARD_VAULT_KEY: the unlock chain tries KMS slots after your identity, only when AWS
credentials are present, and never during completion. Adding needs kms:Encrypt.")]
    Add(KmsAddArgs),
    /// Remove a KMS slot: what it held is re-keyed
    #[command(after_help = "Examples:\n  keyward key kms rm github-prod --yes")]
    Rm(TokenRmArgs),
}

#[derive(Debug, Args)]
pub(crate) struct KmsAddArgs {
    /// 1-48 letters, digits, '.', '_', '-' or '@'
    pub label: String,
    /// The KMS key: its ARN (its region is used), or an id or alias/NAME with AWS_REGION
    #[arg(long, value_name = "ARN_OR_ALIAS")]
    pub key_id: String,
    /// Limit the slot to this environment (repeatable); it also opens secrets with no environment
    #[arg(long, value_name = "ENV", add = ArgValueCandidates::new(crate::complete::environments))]
    pub env: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Make a token and print it once
    #[command(
        after_help = "Examples:\n  keyward key token add github-actions | gh secret set KEYWARD_VAULT_KEY\n  keyward key token add ci-staging --env staging    # opens staging and secrets with no environment, nothing else"
    )]
    Add(TokenAddArgs),
    /// List token labels
    #[command(after_help = "Examples:\n  keyward key token list\n  keyward key token list --json")]
    List,
    /// Remove a token: it stops working at once
    #[command(
        after_help = "Examples:\n  keyward key token rm github-actions\n  keyward key token rm github-actions --yes    # in a script"
    )]
    Rm(TokenRmArgs),
}

#[derive(Debug, Args)]
pub(crate) struct TokenAddArgs {
    /// 1-48 letters, digits, '.', '_', '-' or '@'
    pub label: String,
    /// Limit the token to this environment (repeatable); it also opens secrets with no
    /// environment. Without it the token opens every environment, present and future. Needs
    /// vault format 2
    #[arg(long, value_name = "ENV", add = ArgValueCandidates::new(crate::complete::environments))]
    pub env: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct LabelArg {
    /// 1-48 letters, digits, '.', '_', '-' or '@'
    #[arg(add = ArgValueCandidates::new(crate::complete::token_labels))]
    pub label: String,
}

#[derive(Debug, Args)]
pub(crate) struct TokenRmArgs {
    #[command(flatten)]
    pub label: LabelArg,
    /// Do not ask for confirmation (needed without a terminal)
    #[arg(short, long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub(crate) struct PassphraseArgs {
    /// Remove the passphrase slot instead of setting it
    #[arg(long)]
    pub remove: bool,
    /// Do not ask before removing or replacing the passphrase (needed without a terminal)
    #[arg(short, long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RecoveryArgs {
    /// Write the recovery key to this file (created 0600); `-` prints it to standard output,
    /// alone (everything else goes to standard error)
    #[arg(long, value_name = "PATH")]
    pub recovery_key_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct KeyRecoveryArgs {
    #[command(flatten)]
    pub recovery: RecoveryArgs,
    /// Do not ask before replacing an existing recovery key (needed without a terminal)
    #[arg(short, long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RotateKeyArgs {
    #[command(flatten)]
    pub recovery: RecoveryArgs,
    /// Issue no recovery key. Without a terminal, `key rotate` refuses unless a recovery key file,
    /// a new passphrase (KEYWARD_PASSPHRASE_FILE) or this flag leaves a decision about the way
    /// back
    #[arg(long, conflicts_with = "recovery_key_file")]
    pub no_recovery: bool,
    /// Do not ask for confirmation (needed without a terminal): every token stops working
    #[arg(short, long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    /// Where to keep the vault key on this machine
    #[arg(long, value_enum, default_value = "auto")]
    pub keyring: KeyringArg,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn help_lists_exit_codes_and_environment() {
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains(EXIT_CODES.lines().nth(3).unwrap()));
        assert!(help.contains(ENVIRONMENT.lines().nth(2).unwrap()));
    }

    #[test]
    fn every_command_has_a_summary_and_examples() {
        fn walk(cmd: &clap::Command, path: &str) {
            for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set() && s.get_name() != "help") {
                let path = format!("{path} {}", sub.get_name());
                assert!(sub.get_about().is_some(), "{path} has no summary");
                if sub.has_subcommands() {
                    walk(sub, &path);
                } else {
                    let after = sub.get_after_help().map(std::string::ToString::to_string).unwrap_or_default();
                    let examples = after.strip_prefix("Examples:\n").unwrap_or_default();
                    assert!(examples.lines().next().is_some_and(|l| l.contains("keyward")), "{path} has no examples");
                }
            }
        }
        walk(&Cli::command(), "keyward");
    }

    #[test]
    fn no_flag_takes_a_secret_value() {
        fn walk(cmd: &clap::Command) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str().to_ascii_lowercase();
                assert!(
                    !["value", "secret", "password", "token", "key"].contains(&id.as_str()),
                    "{} --{id} could carry a secret on the command line",
                    cmd.get_name()
                );
            }
            cmd.get_subcommands().for_each(walk);
        }
        walk(&Cli::command());
    }
}
