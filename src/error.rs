//! The one error type of the library, and the one map from errors to exit codes.
//!
//! Every variant renders as "what happened" (`Display`) and carries a "what to do" hint, so the
//! binary prints `keyward: <what happened> — <what to do>`. No variant ever holds a secret value.

use std::path::PathBuf;

/// Process exit codes, documented in the README and in `keyward --help`.
pub mod exit {
    pub const OK: i32 = 0;
    /// A check found problems (validate, rotate --due, audit report).
    pub const CHECK_FAILED: i32 = 1;
    pub const USAGE: i32 = 2;
    pub const NOT_FOUND: i32 = 3;
    pub const UNLOCK: i32 = 4;
    pub const DAMAGED: i32 = 5;
    pub const CONFLICT: i32 = 6;
    /// The operating system refused a file operation (permission denied, disk full, read-only).
    pub const IO: i32 = 7;
    /// `exec`: keyward itself failed, before or around the command (as env(1) does).
    pub const EXEC_FAILED: i32 = 125;
    /// `exec`: the command was found but could not run.
    pub const EXEC_CANNOT_RUN: i32 = 126;
    /// `exec`: the command was not found.
    pub const EXEC_NOT_FOUND: i32 = 127;
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    // ---- usage and invalid input (exit 2)
    #[error("{0}")]
    Usage(String),
    /// The command line did not parse (clap's error, in one line).
    #[error("{what}")]
    CommandLine { what: String, usage: String },
    #[error("invalid secret name {}: {reason}", shown_name(name))]
    InvalidName { name: String, reason: &'static str },
    #[error("invalid {what} {value:?}: {reason}")]
    InvalidValue { what: &'static str, value: String, reason: String },
    #[error("the secret value is empty")]
    EmptyValue,
    #[error("the secret value is larger than {limit} bytes")]
    ValueTooLarge { limit: usize },
    #[error("the secret value is not UTF-8 text")]
    ValueNotUtf8,
    /// An environment no secret has and nobody names: a typo fails closed.
    #[error("no secret is in environment {env:?}{suggestion}")]
    UnknownEnvironment { env: String, suggestion: String },
    #[error("{what} needs a terminal to ask, and standard input is not one")]
    NeedsTerminal { what: &'static str, hint: &'static str },
    #[error("the two entries do not match")]
    Mismatch,
    #[error("invalid config {path}{}, {field}: {reason}", line.map(|l| format!(", line {l}")).unwrap_or_default())]
    Config { path: String, line: Option<usize>, field: String, reason: String },
    #[error(
        "there is no home directory: HOME is not an absolute path and the password database has no home for this user"
    )]
    NoHome,

    // ---- not found (exit 3)
    #[error("no vault at {}", path.display())]
    VaultNotFound { path: PathBuf },
    #[error("no secret named {name:?}")]
    SecretNotFound { name: String, suggestion: Option<String> },
    #[error("secret {name:?} has no {}", version_words(version))]
    VersionNotFound { name: String, version: String },
    #[error("no token labelled {label:?}")]
    TokenNotFound { label: String },
    #[error("{place}: no secret {name:?} with a {version} version")]
    UnknownReference { place: String, name: String, version: String },
    #[error("no provider {id:?} in the registry")]
    UnknownProvider { id: String },

    // ---- cannot unlock (exit 4)
    #[error("cannot unlock {}: {reason}", path.display())]
    CannotUnlock { path: PathBuf, reason: String, hint: String },
    #[error("KEYWARD_VAULT_KEY does not open {}", path.display())]
    WrongVaultKey { path: PathBuf },
    #[error("KEYWARD_VAULT_KEY is not a keyward token or recovery key ({reason})")]
    MalformedVaultKey { reason: &'static str },
    #[error("that {what} does not open {}", path.display())]
    WrongSecret { what: &'static str, path: PathBuf },
    #[error("the {backend} keyring is not reachable: {reason}")]
    KeyringUnavailable { backend: &'static str, reason: String },
    #[error("{slot} has no access to {domain}")]
    NoDomainAccess { slot: String, domain: String },
    #[error("{slot} cannot make the environment {domain}: only a key with access to every domain can")]
    NewDomainNeedsAll { slot: String, domain: String },
    #[error("{slot} cannot {what}: it needs access to every domain")]
    NeedsAllDomains { slot: String, what: String },
    #[error("{what} needs vault format 2")]
    NeedsFormat2 { what: String },
    #[error(
        "{slot}'s key is for the age plugin {plugin}, which may not run here: a vault never decides which programs keyward runs"
    )]
    PluginNotAllowed { plugin: String, slot: String },
    #[error("the age plugin {plugin} could not wrap the key for {slot}: {reason}")]
    PluginFailed { plugin: String, slot: String, reason: String },

    // ---- damaged, tampered or unreadable vault (exit 5)
    #[error("{} is damaged or has been tampered with: {reason}", path.display())]
    Damaged { path: PathBuf, reason: String },
    #[error("{} is not a keyward vault", path.display())]
    NotAVault { path: PathBuf },
    #[error("{} uses vault format version {found}, newer than this keyward reads (up to {supported})", path.display())]
    FutureVersion { path: PathBuf, found: u16, supported: u16 },

    #[error("the audit log is broken at {place}: {reason}")]
    AuditBroken { place: String, reason: String },
    #[error("{0}")]
    Backup(String),
    /// A record that does not decode, before the vault names its file (see `Vault::record_error`).
    #[error("a record cannot be read back")]
    RecordDecode(crate::vault::payload::DecodeError),

    // ---- conflict (exit 6)
    #[error("a secret named {name:?} already exists")]
    SecretExists { name: String },
    #[error("variable {var} is already used by secret {other:?} in environment {env}")]
    VarConflict { var: String, env: String, other: String },
    #[error("a vault already exists at {}", path.display())]
    VaultExists { path: PathBuf },
    #[error("a token labelled {label:?} already exists")]
    TokenExists { label: String },
    #[error("timed out after {secs} s waiting for the lock on {}", path.display())]
    LockTimeout { path: PathBuf, secs: u64 },
    #[error("{0}")]
    Refused(String, &'static str),
    #[error("{}secret {name:?} was revoked{}", version.map(|v| format!("version {v} of ")).unwrap_or_default(), if *compromised { " as compromised" } else { "" })]
    Revoked { name: String, compromised: bool, version: Option<u32> },
    #[error("version {version} of secret {name:?} was previous until {}, when its grace period ended", crate::parse::time(*at))]
    GraceEnded { name: String, version: u32, at: i64 },
    #[error("variable {var} changes how programs start or load code; keyward does not {action} it unless you allow it")]
    StartupVar { var: String, action: &'static str },
    #[error("{0}")]
    Exec(Box<Error>),
    #[error("secret {name:?} already has a pending value (version {version})")]
    PendingExists { name: String, version: u32 },

    // ---- the operating system said no (exit 7)
    #[error("{action} {}: {source}", path.display())]
    Io { action: &'static str, path: PathBuf, source: std::io::Error },
    #[error("cannot record the audit event ({0})")]
    Audit(Box<Error>),
    #[error("cannot write to standard output: {0}")]
    Output(std::io::Error),
    #[error("keyward does not use {}: {reason}", path.display())]
    NotYours { path: PathBuf, reason: String },
    /// A remote store could not be reached, refused the credentials, or said no.
    #[error("remote {remote}: {error}")]
    Remote { remote: String, error: crate::remote::RemoteError },
}

impl From<crate::vault::payload::DecodeError> for Error {
    fn from(e: crate::vault::payload::DecodeError) -> Self {
        Error::RecordDecode(e)
    }
}

impl Error {
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { action, path: path.into(), source }
    }

    pub fn invalid(what: &'static str, value: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidValue { what, value: value.into(), reason: reason.into() }
    }

    pub fn damaged(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::Damaged { path: path.into(), reason: reason.into() }
    }

    /// The reader of our output went away (`keyward list | head -1`): not worth a word.
    pub fn is_closed_pipe(&self) -> bool {
        matches!(self, Error::Output(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
    }

    /// Whether the vault could not be unlocked (exit 4): such failures are audited.
    pub fn is_unlock_failure(&self) -> bool {
        self.exit_code() == exit::UNLOCK
    }

    /// The exit code this error maps to; the single place the mapping lives.
    pub fn exit_code(&self) -> i32 {
        use Error::*;
        match self {
            Usage(_)
            | CommandLine { .. }
            | InvalidName { .. }
            | InvalidValue { .. }
            | EmptyValue
            | ValueTooLarge { .. }
            | ValueNotUtf8
            | NeedsTerminal { .. }
            | UnknownEnvironment { .. }
            | Mismatch
            | Config { .. }
            | NoHome
            | UnknownProvider { .. } => exit::USAGE,
            VaultNotFound { .. }
            | SecretNotFound { .. }
            | VersionNotFound { .. }
            | TokenNotFound { .. }
            | UnknownReference { .. } => exit::NOT_FOUND,
            CannotUnlock { .. }
            | WrongVaultKey { .. }
            | MalformedVaultKey { .. }
            | WrongSecret { .. }
            | KeyringUnavailable { .. }
            | NoDomainAccess { .. }
            | NewDomainNeedsAll { .. }
            | NeedsAllDomains { .. } => exit::UNLOCK,
            NeedsFormat2 { .. } | PluginNotAllowed { .. } => exit::USAGE,
            PluginFailed { .. } => exit::CONFLICT,
            Damaged { .. }
            | NotAVault { .. }
            | FutureVersion { .. }
            | AuditBroken { .. }
            | Backup(_)
            | RecordDecode(_) => exit::DAMAGED,
            SecretExists { .. }
            | VarConflict { .. }
            | VaultExists { .. }
            | TokenExists { .. }
            | LockTimeout { .. }
            | Refused(..)
            | PendingExists { .. }
            | Revoked { .. }
            | GraceEnded { .. }
            | StartupVar { .. } => exit::CONFLICT,
            Exec(_) => exit::EXEC_FAILED,
            Io { .. } | Audit(_) | NotYours { .. } | Output(_) => exit::IO,
            Remote { error, .. } => match error {
                crate::remote::RemoteError::Setup(_) => exit::USAGE,
                crate::remote::RemoteError::Conflict(_) => exit::CONFLICT,
                _ => exit::CHECK_FAILED,
            },
        }
    }

    /// What the user can do next.
    pub fn hint(&self) -> String {
        use Error::*;
        match self {
            Usage(_) => "see `keyward --help`".into(),
            CommandLine { usage, .. } => format!("usage: {usage}"),
            Output(_) => "check where the output goes (a full disk, a closed file)".into(),
            InvalidName { name, .. } if looks_like_assignment(name) => {
                "values are never taken from the command line: pipe it, `printf %s \"$VALUE\" | keyward add NAME`".into()
            }
            InvalidName { .. } => {
                "use 1-128 letters, digits, '.', '_', '-' or '/', starting with a letter or digit".into()
            }
            InvalidValue { .. } => "see `keyward help <command>` for the accepted forms".into(),
            EmptyValue => "pipe the value on standard input, type it at the prompt, or use --generate".into(),
            ValueTooLarge { .. } => "keyward stores API keys and tokens, not files".into(),
            ValueNotUtf8 => "store binary material base64-encoded".into(),
            NeedsTerminal { hint, .. } => (*hint).into(),
            UnknownEnvironment { .. } => {
                "see the environments in use with `keyward list`; nothing was run or checked".into()
            }
            Mismatch => "run the command again and type the same text twice".into(),
            Config { .. } => "fix the config file (schema: the built-in registry, see `keyward providers --json`)".into(),
            NoHome => {
                "set HOME to an absolute path (or XDG_CONFIG_HOME, XDG_STATE_HOME and XDG_DATA_HOME); keyward never keeps its files relative to the current directory".into()
            }
            NotYours { path, .. } => format!(
                "keyward's own files must be yours and writable only by you: check them, then `chmod go-w {}`",
                path.display()
            ),
            VaultNotFound { .. } => "create one with `keyward init`, or point --vault / KEYWARD_VAULT at it".into(),
            SecretNotFound { suggestion: Some(close), .. } => {
                format!("did you mean {close}? (see the stored names with `keyward list`)")
            }
            SecretNotFound { .. } => "see the stored names with `keyward list`".into(),
            VersionNotFound { name, .. } => format!("see its versions with `keyward info {name}`"),
            TokenNotFound { .. } => "see the tokens with `keyward key token list`".into(),
            UnknownReference { .. } => "fix the reference (see `keyward list`); nothing was written".into(),
            UnknownProvider { .. } => {
                "see the known ids with `keyward providers`, or add the provider in the config file".into()
            }
            CannotUnlock { hint, .. } => hint.clone(),
            Remote { error, .. } => error.hint().into(),
            WrongVaultKey { .. } => {
                "a new token needs the vault file that holds its slot: check that it was committed and pushed; otherwise the token was removed or the vault re-keyed: issue a new one with `keyward key token add LABEL`".into()
            }
            MalformedVaultKey { .. } => "check the value for a copy and paste error".into(),
            WrongSecret { .. } => "try again, or unlock another way (see `keyward key status`)".into(),
            NeedsFormat2 { .. } => "convert the vault with `keyward key upgrade`".into(),
            PluginNotAllowed { plugin, .. } => format!(
                "if you trust it, allow it: KEYWARD_AGE_PLUGINS={plugin}, or `plugins = [\"{plugin}\"]` under [members] in the config (age-plugin-{plugin} must be on PATH)"
            ),
            PluginFailed { plugin, .. } => format!("check that age-plugin-{plugin} is installed, on PATH, and works"),
            NoDomainAccess { .. } | NewDomainNeedsAll { .. } | NeedsAllDomains { .. } => {
                "use a key that holds it (see `keyward key status`), or ask someone who holds every domain to grant it".into()
            }
            KeyringUnavailable { .. } => {
                "use `--keyring none` with `--passphrase` or a recovery key file, or start a keyring daemon".into()
            }
            Damaged { .. } | NotAVault { .. } => {
                "restore the file from a backup or from version control; it has not been changed".into()
            }
            FutureVersion { .. } => "upgrade keyward to read this vault".into(),
            SecretExists { name } => {
                format!("change its value with `keyward rotate {name}` or its metadata with `keyward update {name}`")
            }
            VarConflict { .. } => "pick another --var or --env".into(),
            VaultExists { .. } => "use the existing vault, or pick another path with --vault".into(),
            TokenExists { .. } => "remove it first with `keyward key token rm LABEL`, or pick another label".into(),
            LockTimeout { .. } => "another keyward process is writing this vault; try again".into(),
            Refused(_, hint) => (*hint).into(),
            Revoked { name, version: None, .. } => format!("rotate to a new value with `keyward rotate {name}`"),
            Revoked { name, version: Some(_), .. } => {
                format!("a revoked value never leaves keyward; use the current one (`keyward info {name}` lists the versions)")
            }
            GraceEnded { name, .. } => {
                format!("use the current value (`keyward get {name}`); the next write revokes the old one")
            }
            StartupVar { var, .. } => format!(
                "if that is intended, pass --allow-var {var} or list it in `[exec] allow_vars` of your own config file"
            ),
            Exec(inner) => inner.hint(),
            PendingExists { name, .. } => format!(
                "verify and promote it with `keyward rotate {name} --promote`, or discard it with `keyward rotate {name} --abort`"
            ),
            Io { .. } => "check the path, its permissions and the free space".into(),
            Audit(_) => "the command stopped before returning anything; check the audit directory (`keyward audit --path`), its permissions and the free space".into(),
            AuditBroken { .. } => {
                "the log was edited, truncated or forged after it was written; keep a copy as evidence and restore it from a backup".into()
            }
            Backup(_) => "the backup is damaged or is not a keyward backup; nothing was changed".into(),
            RecordDecode(_) => {
                "restore the file from a backup or from version control; it has not been changed".into()
            }
        }
    }
}

/// `NAME=value` typed where a name goes: the part after `=` is probably a secret.
fn looks_like_assignment(name: &str) -> bool {
    name.contains('=')
}

/// A rejected name as an error may show it: quoted, or not at all when it holds what looks like a
/// value (an error line ends up in terminal scrollback and CI logs).
fn shown_name(name: &str) -> String {
    if looks_like_assignment(name) { "(not shown: it looks like NAME=value)".to_owned() } else { format!("{name:?}") }
}

/// A version in a sentence: "has no version 9", "has no pending version".
fn version_words(version: &str) -> String {
    version.strip_prefix('#').map_or_else(|| format!("{version} version"), |n| format!("version {n}"))
}
