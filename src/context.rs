//! What every command gets: output settings, the clock, and the two ways to reach the vault —
//! [`Context::open`] for reads (no lock, never writes) and [`Context::modify`] for
//! read-modify-write under the exclusive lock.

use std::cell::{Cell, RefCell};
use std::path::PathBuf;
use std::time::Duration;

use crate::audit::{self, Event, Log};
use crate::cli::GlobalArgs;
use crate::error::{Error, Result};
use crate::output::Output;
use crate::unlock::{self, Credential, Opened, Policy};
use crate::vault::location::{self, Location};
use crate::vault::store::{self, Store};
use crate::vault::{Locked, Vault};

pub(crate) struct Context {
    pub out: Output,
    vault_flag: Option<PathBuf>,
    pub now: i64,
    pub policy: Policy,
    /// The subcommand, for audit entries.
    pub command: Cell<&'static str>,
    /// The last vault opened: its id and audit keys, for [`Context::audit`].
    opened: RefCell<Option<(String, audit::Keys)>>,
    /// The credential that opened it, tried first next time: a command that reads, then writes,
    /// then writes again asks and derives a passphrase once.
    credential: RefCell<Option<Credential>>,
}

impl Context {
    pub(crate) fn new(global: &GlobalArgs) -> Context {
        let now = crate::clock::now();
        Context {
            out: Output::new(global.json, global.quiet, global.no_color),
            vault_flag: global.vault.clone(),
            now,
            policy: Policy { passphrase: true, kms: true },
            command: Cell::new(""),
            opened: RefCell::new(None),
            credential: RefCell::new(None),
        }
    }

    /// Runs the unlock chain; a failure is recorded in the vault's audit log, unauthenticated.
    pub(crate) fn unlock(&self, locked: &Locked) -> Result<(Credential, Opened)> {
        if let Some(credential) = self.credential.borrow_mut().as_mut()
            && let Some(opened) = credential.open(locked)
        {
            return Ok((credential.clone(), opened));
        }
        let (credential, opened) = self.unlock_chain(locked)?;
        *self.credential.borrow_mut() = Some(credential.clone());
        Ok((credential, opened))
    }

    fn unlock_chain(&self, locked: &Locked) -> Result<(Credential, Opened)> {
        unlock::unlock(locked, self.policy, &mut Terminal { out: &self.out }).inspect_err(|e| {
            if e.is_unlock_failure() {
                // The command fails anyway; a log that cannot be written must not hide why.
                let (vault, reason) = (locked.path.display().to_string(), e.to_string());
                let time = crate::parse::time(self.now);
                let _ = Log::for_vault(&audit::log_name(&locked.id_hex(), &locked.path))
                    .and_then(|log| log.append_unlock_failed(&vault, &reason, &time, self.command.get()));
            }
        })
    }

    /// Prints what opening format 2 domains found (a domain replaced rather than re-keyed).
    pub(crate) fn print_vault_warnings(&self) {
        for warning in crate::vault::v2::seen::take_warnings() {
            self.out.warn(&warning);
        }
    }

    pub(crate) fn remember(&self, vault: &Vault) -> Result<()> {
        *self.opened.borrow_mut() = Some((audit::log_name(&vault.id_hex(), &vault.path), audit::Keys::of(vault)?));
        Ok(())
    }

    /// The fingerprint of a value under the open vault's key.
    pub(crate) fn fingerprint(&self, value: &str) -> Option<String> {
        self.opened.borrow().as_ref().map(|(_, keys)| keys.fingerprint(value))
    }

    /// Appends an event to the open vault's audit log. `durable` for events of commands that
    /// changed the vault (fsynced); a read's event may stay in the page cache. A failure stops
    /// the command: nothing is returned unaudited.
    pub(crate) fn audit(&self, event: Event, durable: bool) -> Result<()> {
        let opened = self.opened.borrow();
        let Some((id, keys)) = opened.as_ref() else { return Ok(()) };
        let config = crate::config::Config::load_audit_settings();
        let log = Log::new(audit::dir().map_err(|e| Error::Audit(Box::new(e)))?, id, config);
        log.append(keys, &event, &crate::parse::time(self.now), self.command.get(), durable)
            .map_err(|e| Error::Audit(Box::new(e)))
    }

    /// Asks the providers about `keys` (`(provider id, value, paired value)`), with a progress
    /// bar on a terminal: `validate --online` and `scan --verify`.
    pub(crate) fn check_online(
        &self,
        checker: &crate::providers::check::Checker,
        registry: &crate::providers::Registry,
        keys: &[(&str, &str, Option<&str>)],
        concurrency: usize,
    ) -> Vec<(usize, crate::providers::check::Outcome)> {
        let checks = keys.iter().filter_map(|(id, value, _)| Some(registry.get(id)?.checks_for(value).len())).sum();
        let bar = self.out.progress(checks, "{spinner} checking keys {pos}/{len} {wide_bar} {elapsed}");
        let outcomes = checker.run_all(registry, keys, concurrency, &|| {
            if let Some(bar) = &bar {
                bar.inc(1);
            }
        });
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        outcomes
    }

    /// Sends a notification; what fails is a warning, never the command's failure.
    pub(crate) fn notify(&self, settings: &crate::config::NotifySettings, notice: &crate::notify::Notice) {
        for problem in crate::notify::send(settings, notice) {
            self.out.warn(&problem);
        }
    }

    pub(crate) fn location(&self) -> Result<Location> {
        let env = std::env::var_os("KEYWARD_VAULT").map(PathBuf::from);
        let cwd = std::env::current_dir().ok();
        let home = crate::paths::home().ok();
        let data_home = std::env::var_os("XDG_DATA_HOME").map(PathBuf::from);
        let location = location::resolve(&location::Inputs {
            flag: self.vault_flag.as_deref(),
            env: env.as_deref(),
            cwd: cwd.as_deref(),
            home: home.as_deref(),
            data_home: data_home.as_deref(),
            // SAFETY: getuid has no preconditions and cannot fail.
            uid: unsafe { libc::getuid() },
        })?;
        if location.reason == location::Reason::User
            && let Some(dir) = location.path.parent()
        {
            crate::paths::check_own(dir)?;
        }
        Ok(location)
    }

    pub(crate) fn vault_path(&self) -> Result<PathBuf> {
        Ok(self.location()?.path)
    }

    /// The store of the vault in use (a file).
    pub(crate) fn store(&self) -> Result<store::FileStore> {
        Ok(store::FileStore::new(self.vault_path()?))
    }

    /// Reads the vault file and its header; the payload stays encrypted.
    pub(crate) fn read_locked(&self) -> Result<Locked> {
        self.read_locked_scoped(None)
    }

    fn read_locked_scoped(&self, only: Option<&str>) -> Result<Locked> {
        let store = self.store()?;
        let locked = match only {
            Some(name) => Locked::read_for_secret(&store, name)?,
            None => Locked::read_from(&store)?,
        };
        // A vault committed to a repository has the mode git checked out (0644): what protects it
        // there is its encryption, and the warning would be noise on every teammate's command.
        if let Some(mode) = locked.loose_mode
            && !crate::files::in_git_work_tree(&locked.path)
        {
            self.out.warn(&format!(
                "{} can be read by other users (mode {mode:03o}); run `chmod 600 {}`",
                locked.path.display(),
                locked.path.display()
            ));
        }
        self.check_members(&locked)?;
        Ok(locked)
    }

    /// Who can open the vault (format 2), against `KEYWARD_MEMBERS_PIN` when set (another set is
    /// exit 6), and against what this machine saw before: a change gets one warning naming who was
    /// added and removed; under `KEYWARD_STRICT_MEMBERS=1` an addition is exit 6 until
    /// `keyward member accept`.
    fn check_members(&self, locked: &Locked) -> Result<()> {
        use crate::vault::v2::{members, seen};
        let crate::vault::LockedFormat::V2(doc) = &locked.format else { return Ok(()) };
        let path = locked.path.display().to_string();
        if let Some(expected) = std::env::var(MEMBERS_PIN_VAR).ok().filter(|p| !p.trim().is_empty()) {
            let found = members::pin(doc);
            if found != expected.trim() {
                return Err(Error::Refused(
                    format!(
                        "the members or domain keys of {path} are not the pinned ones ({MEMBERS_PIN_VAR}); this vault's pin is {found}"
                    ),
                    "review `keyward member list` and the vault's history; if the change is expected, update the pin",
                ));
            }
        }
        // Reviewing and accepting members must work while strict mode refuses everything else.
        if matches!(self.command.get(), "member accept" | "member list") {
            return Ok(());
        }
        let memory = seen::memory(&locked.path, &doc.id);
        let mut state = memory.branch.as_deref().map(seen::load).unwrap_or_default();
        let now_roster = members::roster(doc);
        if state.members.as_ref() == Some(&now_roster) {
            return Ok(());
        }
        // A branch this machine has not opened before (or a detached HEAD) is compared with the
        // last members it saw of this vault anywhere, and with every key it has seen removed: a
        // pull request that quietly brought someone back is news.
        let floor = if state.members.is_none() { memory.floor.as_deref().map(seen::load) } else { None };
        let mut change = match state.members.as_ref().or(floor.as_ref().and_then(|f| f.members.as_ref())) {
            None => members::Change::default(),
            Some(before) => members::compare(before, &now_roster),
        };
        if let Some(floor) = &floor {
            for (slot, m) in &now_roster {
                if let Some(was) = floor.removed.get(&m.recipient) {
                    let back =
                        format!("{} (key {}), removed on another branch", was, members::fingerprint(&m.recipient));
                    if !change.added.iter().any(|a| a.starts_with(&format!("{} ", slot_label(slot)))) {
                        change.added.push(back);
                    }
                }
            }
        }
        if state.members.is_some() && change.is_empty() {
            return Ok(());
        }
        if !change.added.is_empty() && strict_members() {
            return Err(Error::Refused(
                format!("{path} has new members since this machine last opened it: {}", change.added.join("; ")),
                "check them (`keyward member list`, the vault's git history), then run `keyward member accept`",
            ));
        }
        if !change.is_empty() {
            let mut parts = Vec::new();
            if !change.added.is_empty() {
                parts.push(format!("added {}", change.added.join("; ")));
            }
            if !change.removed.is_empty() {
                parts.push(format!("removed {}", change.removed.join("; ")));
            }
            self.out.warn(&format!(
                "who can open {path} changed since this machine last opened it: {} (`keyward member list --changes`)",
                parts.join("; ")
            ));
            state.history.push(seen::Noticed { time: self.now, change, accepted: false });
        }
        // A detached HEAD remembers nothing (whatever commit is checked out).
        if let Some(file) = memory.branch {
            remember_roster(&file, state, now_roster, &locked.path, &doc.id);
        }
        Ok(())
    }

    /// After this process changed the vault itself: its own change is not news.
    fn remember_own_members(vault: &Vault) {
        use crate::vault::v2::seen;
        let Some(v2) = vault.v2() else { return };
        let Some(file) = seen::file(&v2.path, v2.id()) else { return };
        let state = seen::load(&file);
        remember_roster(&file, state, v2.roster(), &v2.path, v2.id());
    }

    /// Opens the vault for reading.
    pub(crate) fn open(&self) -> Result<Vault> {
        Ok(self.open_with_credential()?.0)
    }

    /// The vault, read to get the secret `name` and nothing else: `get`'s hot path, which in
    /// format 2 parses only the environments that may hold it. Never written back.
    pub(crate) fn open_for_secret(&self, name: &str) -> Result<Vault> {
        let locked = self.read_locked_scoped(Some(name))?;
        let (_, opened) = self.unlock(&locked)?;
        let vault = locked.open_remembering(opened.key)?;
        self.remember(&vault)?;
        Ok(vault)
    }

    pub(crate) fn open_with_credential(&self) -> Result<(Vault, Credential, Opened)> {
        let locked = self.read_locked()?;
        let (credential, opened) = self.unlock(&locked)?;
        let vault = locked.open_remembering(opened.key.clone())?;
        self.remember(&vault)?;
        Ok((vault, credential, opened))
    }

    /// Read-modify-write. Unlocking (which may prompt) happens before the lock is taken; under the
    /// lock the file is read again, so a concurrent writer's change is never lost.
    pub(crate) fn modify<T>(&self, change: impl FnOnce(&mut Vault, &Credential) -> Result<T>) -> Result<T> {
        let first = self.read_locked()?;
        let (mut credential, _) = self.unlock(&first)?;
        self.modify_with(first, &mut credential, change)
    }

    /// Read-modify-write with a credential the caller already holds, unlocked from `first`:
    /// under the lock, `first` is used again when the file is still that version (a 22 MB vault
    /// is not read and parsed twice), and read again when anything replaced or touched it.
    pub(crate) fn modify_with<T>(
        &self,
        first: Locked,
        credential: &mut Credential,
        change: impl FnOnce(&mut Vault, &Credential) -> Result<T>,
    ) -> Result<T> {
        let location = self.location()?;
        let path = location.path;
        if location.reason == location::Reason::Project {
            // A project vault is chosen by where the command runs: say which file changes.
            self.out.notice(&format!("writing the project vault {}", path.display()));
        }
        let store = store::FileStore::new(&path);
        let _lock = store.lock(lock_timeout())?;
        let locked = match first.identity {
            Some(identity) if first.path == path && store.unchanged(&identity) => first,
            _ => {
                drop(first);
                let locked = Locked::read_from(&store)?;
                // Changed since the first read: its members are judged again (the pin, strict
                // mode, the notice) before this write builds on them.
                self.check_members(&locked)?;
                locked
            }
        };
        let opened = credential.open(&locked).ok_or_else(|| Error::CannotUnlock {
            path: path.clone(),
            reason: format!(
                "the vault was re-keyed while this command ran; the {} no longer opens it",
                credential.describe()
            ),
            hint: "run the command again".into(),
        })?;
        let mut vault = locked.open_remembering(opened.key)?;
        let audit_secret = vault.setting(audit::SECRET_SETTING)?;
        let result = change(&mut vault, credential)?;
        // Format 2: whoever held @default before a re-key must not go on writing authenticated
        // audit entries (the chain continues across the new key).
        if vault.rekeyed_domains().iter().any(|d| d == crate::vault::v2::text::DEFAULT)
            && vault.setting(audit::SECRET_SETTING)? == audit_secret
        {
            audit::rotate_secret(&mut vault)?;
        }
        // Grace periods end on the next write after their deadline.
        crate::rotation::sweep_vault(&mut vault, self.now)?;
        vault.save_to(&store)?;
        self.remember(&vault)?;
        Self::remember_own_members(&vault);
        Ok(result)
    }
}

/// `KEYWARD_MEMBERS_PIN`: the digest `keyward member list --pin` printed.
pub(crate) const MEMBERS_PIN_VAR: &str = "KEYWARD_MEMBERS_PIN";

/// `KEYWARD_STRICT_MEMBERS=1`, or `[members] strict = true` in the config.
fn strict_members() -> bool {
    match std::env::var("KEYWARD_STRICT_MEMBERS") {
        Ok(v) if !v.is_empty() => v != "0",
        _ => crate::config::Config::load().is_ok_and(|c| c.strict_members),
    }
}

fn remember_roster(
    file: &std::path::Path,
    mut state: crate::vault::v2::seen::State,
    roster: crate::vault::v2::members::Roster,
    vault: &std::path::Path,
    id: &[u8; 16],
) {
    use crate::vault::v2::seen;
    if state.history.len() > 100 {
        let excess = state.history.len() - 100;
        state.history.drain(..excess);
    }
    state.vault = vault.display().to_string();
    // In a git work tree, the vault-wide file keeps the last members seen on any branch.
    let floor = seen::memory(vault, id).floor;
    if let Some(floor) = floor.filter(|f| f != file) {
        let mut wide = seen::load(&floor);
        // A key this branch had and no longer has left the vault (a removal seen happen, not a
        // difference between two branches' histories): remembered for good.
        let mut changed = false;
        for (slot, m) in state.members.iter().flatten() {
            if !roster.values().any(|now| now.recipient == m.recipient) {
                changed |= wide.removed.insert(m.recipient.clone(), slot_label(slot)).is_none();
            }
        }
        if changed || wide.members.as_ref() != Some(&roster) {
            wide.vault = vault.display().to_string();
            wide.members = Some(roster.clone());
            seen::save(&floor, &wide);
        }
    }
    state.members = Some(roster);
    seen::save(file, &state);
}

/// A roster key (`member:alice`) as messages name it ("member alice").
fn slot_label(slot: &str) -> String {
    crate::vault::v2::text::SlotName::parse(slot).map_or_else(|_| slot.to_owned(), |n| n.describe())
}

fn lock_timeout() -> Duration {
    let secs = std::env::var("KEYWARD_LOCK_TIMEOUT").ok().and_then(|s| s.parse::<f64>().ok()).filter(|s| *s >= 0.0);
    Duration::from_secs_f64(secs.unwrap_or(10.0).min(86_400.0))
}

/// The unlock chain's way to ask for a passphrase: a hidden prompt on the terminal, when there
/// is one.
struct Terminal<'o> {
    out: &'o crate::output::Output,
}

impl unlock::Ask for Terminal<'_> {
    fn passphrase(&mut self, path: &std::path::Path, attempt: u32) -> Result<Option<crate::sensitive::Passphrase>> {
        if !crate::input::can_prompt() {
            return Ok(None);
        }
        if attempt > 1 {
            self.out.notice("that passphrase does not open the vault; try again");
        } else {
            // Asked because no keyring slot here opened it: say how not to be asked every time.
            self.out.notice("no keyring entry on this machine opens the vault; after this, `keyward unlock` keeps one so the passphrase is not asked on every command");
        }
        crate::input::prompt_secret(&format!("Passphrase for {}: ", path.display())).map(Some)
    }

    fn key_passphrase(&mut self, key: &std::path::Path) -> Result<Option<crate::sensitive::Passphrase>> {
        if !crate::input::can_prompt() {
            return Ok(None);
        }
        crate::input::prompt_secret(&format!("Passphrase for {}: ", key.display())).map(Some)
    }
}
