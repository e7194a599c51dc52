//! An opened version 2 vault: its domains open on demand (unwrapped with the unlocking slot's
//! identity, checked against the key id, the seal and, for a holder of `@all`, the grant), its
//! records read without decrypting the others, and writes that re-seal only what changed and
//! re-key every domain a removed slot held.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use data_encoding::BASE64_NOPAD;
use zeroize::{Zeroize, Zeroizing};

use super::keys::{self, DomainKey, Transcript};
use super::seen;
use super::text::{self, ALL, DEFAULT, Document, DomainHead, PrintSecret, Slot, SlotName, Wrap};
use crate::error::{Error, Result};
use crate::sensitive::Key32;
use crate::vault::format::SlotKind;
use crate::vault::payload::{DecodeError, Record, RecordBody, Records};
use crate::vault::secret::Secret;
pub use crate::vault::slots::Access;

/// A version 2 body still sealed, as [`RecordBody::Sealed`] carries it.
#[derive(Clone)]
pub struct Sealed {
    doc: Arc<Document>,
    domain: usize,
    line: usize,
    key: Option<Arc<DomainKey>>,
}

impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sealed({}/{})", self.domain, self.line)
    }
}

impl Sealed {
    fn domain_name(&self) -> &str {
        &self.doc.domains[self.domain].head.name
    }

    fn line(&self) -> &text::SecretLine {
        &self.doc.domains[self.domain].secrets[self.line]
    }

    /// The encoded body, decrypted.
    pub fn open(&self) -> std::result::Result<Zeroizing<Vec<u8>>, DecodeError> {
        let key = self.key.as_ref().ok_or_else(|| DecodeError::NoAccess { domain: self.domain_name().to_owned() })?;
        let line = self.line();
        let name = self.doc.secret_name(line);
        // Read again from the file: it must still be the body the seal authenticated.
        let sealed = self.doc.sealed_with_tag(line).ok_or_else(|| DecodeError::Unsealable { name: name.to_owned() })?;
        key.open(&record_aad(&self.doc.id, self.domain_name(), name), &sealed)
            .map_err(|_| DecodeError::Unsealable { name: name.to_owned() })
    }
}

fn record_aad(id: &[u8; 16], domain: &str, name: &str) -> Vec<u8> {
    let mut t = Transcript::new("keyward/v2/record", id);
    t.str(domain).str(name);
    t.as_bytes().to_vec()
}

/// `@default`'s settings are bound to the vault; an environment's also to its name.
fn settings_aad(id: &[u8; 16], domain: &str) -> Vec<u8> {
    let mut t = Transcript::new("keyward/v2/settings", id);
    if domain != DEFAULT {
        t.str(domain);
    }
    t.as_bytes().to_vec()
}

/// The recipients of a domain's `to` lines as the seal and grant cover them: each one's whole
/// slot line and wrapped key.
fn recipients_transcript<S: keys::Absorb>(t: &mut Transcript<S>, slots: &[Slot], to: &[Wrap]) {
    t.u32(u32::try_from(to.len()).unwrap_or(u32::MAX));
    for w in to {
        let line = slots.iter().find(|s| s.name == w.slot).map(Slot::line).unwrap_or_default();
        t.str(&line).bytes(&w.age);
    }
}

/// Feeds a domain's seal input (see the spec) into `t`, which began with the label and the id.
fn seal_transcript<'a, S: keys::Absorb>(
    t: &mut Transcript<S>,
    created: i64,
    slots: &[Slot],
    head: &DomainHead,
    secrets: impl ExactSizeIterator<Item = (&'a str, &'a str, [u8; 16])>,
) {
    t.raw(&created.to_le_bytes()).str(&head.name).u64(head.generation).raw(&head.key_id);
    recipients_transcript(t, slots, &head.to);
    t.u32(u32::try_from(head.vouches.len()).unwrap_or(u32::MAX));
    for v in &head.vouches {
        t.u64(v.generation).raw(&v.previous).raw(&v.boxed).raw(&v.mac);
    }
    match &head.settings {
        Some(s) => t.raw(&[1]).raw(&s[12..28]),
        None => t.raw(&[0]),
    };
    let env = text::environment(&head.name).unwrap_or("");
    t.u32(u32::try_from(secrets.len()).unwrap_or(u32::MAX));
    for (name, var, tag) in secrets {
        t.str(name).str(var).str(env).raw(&tag);
    }
}

fn grant_transcript(id: &[u8; 16], slots: &[Slot], head: &DomainHead) -> Transcript {
    let mut t = Transcript::new("keyward/v2/grant", id);
    t.str(&head.name).u64(head.generation).raw(&head.key_id);
    recipients_transcript(&mut t, slots, &head.to);
    t
}

/// Where a domain sorts in the file.
fn domain_order(name: &str) -> (u8, String) {
    match name {
        ALL => (0, String::new()),
        DEFAULT => (1, String::new()),
        other => (2, other.to_owned()),
    }
}

/// The settings of `@default`: (key, value) pairs. The values include the audit secret: they are
/// wiped when dropped.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Settings(pub Vec<(String, String)>);

impl Drop for Settings {
    fn drop(&mut self) {
        for (_, value) in &mut self.0 {
            value.zeroize();
        }
    }
}

/// A slot to add: its line, and the domains it will hold.
pub struct NewSlot {
    pub slot: Slot,
    pub access: Access,
}

/// An opened version 2 vault.
pub struct Vault2 {
    pub path: PathBuf,
    doc: Arc<Document>,
    /// The slot that unlocked it and that slot's X25519 secret (`None` for a vault made here).
    opener: Option<(SlotName, keys::Opener)>,
    /// Domains opened so far, checked.
    opened: RefCell<BTreeMap<String, Arc<DomainKey>>>,
    /// Records and settings to write (`None`: as in the file).
    edited: Option<(Settings, Vec<Record>)>,
    /// New records added to the file as it is ([`Vault2::add_new`]; only while `edited` is
    /// `None`): an `add` to a vault of 100,000 secrets builds one record, not 100,001.
    added: Vec<Record>,
    /// Environments' settings to write (those not here: as in the file).
    edited_domains: BTreeMap<String, Settings>,
    /// Slots as they will be written, and each one's access.
    slots: Vec<Slot>,
    access: BTreeMap<SlotName, Access>,
    /// Domains to re-key on save.
    rekey: BTreeSet<String>,
    /// Where this machine remembers the domains it opened (see [`seen`]); `None`: it does not.
    memory: Option<seen::Memory>,
}

impl Vault2 {
    /// A new vault with no slots yet: `@all` and `@default` with fresh keys.
    pub fn create(path: PathBuf, id: [u8; 16], now: i64) -> Vault2 {
        let head = |name: &str, key: &DomainKey| DomainHead::new(name, key.id());
        let all = DomainKey::random(&id);
        let default = DomainKey::random(&id);
        let doc = Document::new(
            id,
            now,
            Vec::new(),
            vec![
                text::Domain { head: head(ALL, &all), secrets: Vec::new() },
                text::Domain { head: head(DEFAULT, &default), secrets: Vec::new() },
            ],
        );
        let opened = BTreeMap::from([(ALL.to_owned(), Arc::new(all)), (DEFAULT.to_owned(), Arc::new(default))]);
        Vault2 {
            path,
            doc: Arc::new(doc),
            opener: None,
            opened: RefCell::new(opened),
            edited: Some((Settings::default(), Vec::new())),
            added: Vec::new(),
            edited_domains: BTreeMap::new(),
            slots: Vec::new(),
            access: BTreeMap::new(),
            rekey: BTreeSet::new(),
            memory: None,
        }
    }

    /// The vault `doc`, unlocked by `slot` with its X25519 `secret` (which the caller matched
    /// to the slot's recipient).
    pub fn open(path: PathBuf, doc: Document, slot: SlotName, secret: impl Into<keys::Opener>) -> Vault2 {
        let secret = secret.into();
        let access = access_of(&doc);
        let slots = doc.slots.clone();
        Vault2 {
            path,
            doc: Arc::new(doc),
            opener: Some((slot, secret)),
            opened: RefCell::new(BTreeMap::new()),
            edited: None,
            added: Vec::new(),
            edited_domains: BTreeMap::new(),
            slots,
            access,
            rekey: BTreeSet::new(),
            memory: None,
        }
    }

    /// The same vault opened again with the same slot, unedited (the domains already opened stay
    /// open): what a merge builds on. `None` for a vault made here.
    pub fn reopen(&self) -> Option<Vault2> {
        let opener = self.opener.clone()?;
        Some(Vault2 {
            path: self.path.clone(),
            doc: self.doc.clone(),
            opener: Some(opener),
            opened: RefCell::new(self.opened.borrow().clone()),
            edited: None,
            added: Vec::new(),
            edited_domains: BTreeMap::new(),
            slots: self.doc.slots.clone(),
            access: access_of(&self.doc),
            rekey: BTreeSet::new(),
            memory: None,
        })
    }

    /// Checks domains against, and remembers them in, the state file `memory`.
    pub fn remembering(mut self, memory: Option<seen::Memory>) -> Vault2 {
        self.memory = memory;
        self
    }

    pub fn id(&self) -> &[u8; 16] {
        &self.doc.id
    }

    pub fn created(&self) -> i64 {
        self.doc.created
    }

    pub fn document(&self) -> &Document {
        &self.doc
    }

    /// The slots as they will be written, and each one's access.
    pub fn slots(&self) -> impl Iterator<Item = (&Slot, &Access)> {
        self.slots.iter().filter_map(|s| self.access.get(&s.name).map(|a| (s, a)))
    }

    /// The slot that unlocked the vault.
    pub fn opener(&self) -> Option<&SlotName> {
        self.opener.as_ref().map(|(s, _)| s)
    }

    /// How messages name the unlocking slot: "token ci-staging", "the recovery key".
    pub fn opener_label(&self) -> String {
        self.opener().map_or_else(|| "this key".to_owned(), SlotName::describe)
    }

    /// Whether the unlocking slot holds `domain` (a vault made here holds all).
    pub fn holds(&self, domain: &str) -> bool {
        match self.opener() {
            None => true,
            Some(slot) => access_of(&self.doc).get(slot).is_some_and(|a| a.holds(domain)),
        }
    }

    /// Refuses what only a holder of every domain may do.
    fn require_all(&self, what: &str) -> Result<()> {
        if self.holds(ALL) {
            Ok(())
        } else {
            Err(Error::NeedsAllDomains { slot: self.opener_label(), what: what.into() })
        }
    }

    fn no_access(&self, domain: &str) -> Error {
        Error::NoDomainAccess { slot: self.opener_label(), domain: domain.to_owned() }
    }

    /// The file was written in place while this vault was rewriting it from its mapping.
    fn changed(&self, e: &text::ChangedUnderfoot) -> Error {
        self.damaged(format!("the sealed body of {} changed in the file while keyward was writing it", e.name))
    }

    fn damaged(&self, reason: impl Into<String>) -> Error {
        Error::damaged(&self.path, reason.into())
    }

    /// The key of `domain`, unwrapping and checking it the first time.
    pub fn domain_key(&self, domain: &str) -> Result<Arc<DomainKey>> {
        if let Some(key) = self.opened.borrow().get(domain) {
            return Ok(key.clone());
        }
        let Some((slot, secret)) = &self.opener else { return Err(self.no_access(domain)) };
        let doc = &self.doc;
        let d = doc.domain(domain).ok_or_else(|| self.no_access(domain))?;
        let wrap = d.head.to.iter().find(|w| &w.slot == slot).ok_or_else(|| self.no_access(domain))?;
        let raw = secret
            .unwrap(&wrap.age)
            .ok_or_else(|| self.damaged(format!("the key of {domain} wrapped for {slot} does not open with it")))?;
        let key = DomainKey::new(&doc.id, raw);
        if key.id() != d.head.key_id {
            return Err(self.damaged(format!("the key of {domain} wrapped for {slot} is not the domain's key")));
        }
        // The seal, over the tags the parser decoded (and every later read is checked against).
        let secrets = d.secrets.iter().map(|s| (doc.secret_name(s), doc.secret_var(s), s.tag));
        let mut seal = key.seal_transcript(&doc.id);
        seal_transcript(&mut seal, doc.created, &doc.slots, &d.head, secrets);
        if !keys::mac_eq(&seal.finish(), &d.head.seal) {
            return Err(self.damaged(format!(
                "{domain} does not authenticate: a record, recipient or vouch was added, removed or altered"
            )));
        }
        // A holder of @all checks who was granted this domain, before anything is remembered of
        // it (a forged re-key by a limited slot must not raise this machine's memory).
        if domain != ALL && access_of(doc).get(slot) == Some(&Access::All) {
            let all = self.domain_key(ALL)?;
            self.check_grant(&all, &d.head)?;
        }
        self.check_seen(domain, &d.head, &key)?;
        let key = Arc::new(key);
        self.opened.borrow_mut().insert(domain.to_owned(), key.clone());
        Ok(key)
    }

    /// Checks a domain against what this machine remembers of it (see [`seen`]): a rollback is
    /// refused, a replacement reported; anything else is remembered. In a git work tree, a
    /// branch this machine opens for the first time (or a detached HEAD) is also compared with
    /// the most it has seen of the vault anywhere, and reported when it is behind.
    fn check_seen(&self, domain: &str, head: &DomainHead, key: &DomainKey) -> Result<()> {
        let Some(memory) = self.memory.clone() else { return Ok(()) };
        let found = seen::Entry { generation: head.generation, key_id: head.key_id };
        let detached = memory.branch.is_none();
        let mut first_here = detached;
        // Whether this branch's check took the head as a new state (a first sight, or a vouched
        // re-key): only such a head may raise the vault-wide floor.
        let mut accepted_new = false;
        if let Some(file) = &memory.branch {
            let mut state = seen::load(file);
            first_here = !state.domains.contains_key(domain);
            let replaced = || {
                seen::warn(format!(
                    "{domain} in {} was replaced, not re-keyed: its key does not come from the one this machine saw before; if the vault was re-created on purpose, delete {}",
                    self.path.display(),
                    file.display()
                ));
            };
            accepted_new = match seen::judge(state.domains.get(domain), found) {
                seen::Verdict::RolledBack { remembered } => {
                    return Err(self.damaged(format!(
                        "{domain} was rolled back to generation {} (this machine has seen generation {remembered})",
                        head.generation
                    )));
                }
                seen::Verdict::Replaced => {
                    replaced();
                    false
                }
                seen::Verdict::Later(remembered) => {
                    let vouched = self.vouched_back(domain, key, head, remembered);
                    if !vouched {
                        replaced();
                    }
                    vouched
                }
                seen::Verdict::Known => state.domains.get(domain) != Some(&found),
            };
            if accepted_new {
                state.vault = self.path.display().to_string();
                state.domains.insert(domain.to_owned(), found);
                seen::save(file, &state);
            }
        }
        // The vault-wide floor: read only when this branch meets the domain for the first time
        // (or is detached) or may raise it.
        let Some(floor) = memory.floor.as_ref().filter(|_| first_here || accepted_new) else { return Ok(()) };
        let mut state = seen::load(floor);
        let most = state.domains.get(domain).copied();
        let replaced_elsewhere = || {
            if first_here {
                seen::warn(format!(
                    "{domain} in {} is under a key that does not come from the one this machine has seen of this vault elsewhere (replaced, not re-keyed?)",
                    self.path.display()
                ));
            }
        };
        let raise = match seen::judge(most.as_ref(), found) {
            seen::Verdict::RolledBack { remembered } => {
                if first_here {
                    seen::warn(format!(
                        "{domain} in {} is at generation {}, behind generation {remembered} this machine has seen of this vault (on another branch, or before a rewind): members removed since may hold its keys, so write nothing here you would not give them",
                        self.path.display(),
                        found.generation,
                    ));
                }
                false
            }
            seen::Verdict::Replaced => {
                replaced_elsewhere();
                false
            }
            seen::Verdict::Later(m) => {
                let vouched = self.vouched_back(domain, key, head, m);
                if !vouched {
                    replaced_elsewhere();
                }
                vouched
            }
            seen::Verdict::Known => most.is_none(),
        };
        // Never from a detached HEAD: whatever commit is checked out does not set the floor.
        if raise && !detached {
            state.vault = self.path.display().to_string();
            state.domains.insert(domain.to_owned(), found);
            seen::save(floor, &state);
        }
        Ok(())
    }

    /// Whether `head`'s key (`key`) reaches the remembered key of an earlier generation through
    /// the domain's vouch lines.
    fn vouched_back(&self, domain: &str, key: &DomainKey, head: &DomainHead, remembered: seen::Entry) -> bool {
        let target = (remembered.generation, remembered.key_id);
        keys::chain_reaches(&self.doc.id, domain, key, head.generation, &head.vouches, target)
    }

    fn check_grant(&self, all: &DomainKey, head: &DomainHead) -> Result<()> {
        let doc = &self.doc;
        let expected = keys::hmac(&all.grant_key(&doc.id), grant_transcript(&doc.id, &doc.slots, head).as_bytes());
        if !head.grant.is_some_and(|g| keys::mac_eq(&g, &expected)) {
            return Err(self.damaged(format!(
                "the recipients of {} were changed by someone without access to every domain",
                head.name
            )));
        }
        let all_head = &doc.domains[0].head;
        if let Some(missing) = all_head.to.iter().find(|w| !head.to.iter().any(|t| t.slot == w.slot)) {
            return Err(
                self.damaged(format!("{} lacks the key for {}, which holds every domain", head.name, missing.slot))
            );
        }
        Ok(())
    }

    /// Whether this vault's block of `domain` comes from the block `base` (an older copy of the
    /// same vault): the same key at the same generation, or a later generation whose vouch chain
    /// reaches `base`'s key. A fresh key wrapped to the same recipients authenticates as well as
    /// a re-key does; only the chain tells them apart. Needs the domain.
    pub fn descends_from(&self, domain: &str, base: &DomainHead) -> Result<bool> {
        let Some(d) = self.doc.domain(domain) else { return Ok(false) };
        if d.head.key_id == base.key_id {
            return Ok(d.head.generation == base.generation);
        }
        if d.head.generation <= base.generation {
            return Ok(false);
        }
        let key = self.domain_key(domain)?;
        Ok(self.vouched_back(domain, &key, &d.head, seen::Entry { generation: base.generation, key_id: base.key_id }))
    }

    /// Marks `domain` to be re-keyed on save (the merge driver, for a member removed on the
    /// other side of a merge). Needs `@all` and the domain.
    pub fn rekey_domain(&mut self, domain: &str) -> Result<()> {
        self.require_all("re-key an environment")?;
        self.domain_key(domain)?;
        self.rekey.insert(domain.to_owned());
        Ok(())
    }

    /// Finds and opens one secret: only its domain is unwrapped, only its body decrypted.
    pub fn find(&self, name: &str) -> Result<Option<Secret>> {
        if let Some((_, records)) = &self.edited {
            return records
                .iter()
                .find(|r| r.name == name)
                .map(|r| r.decode().map_err(|e| self.record_error(e)))
                .transpose();
        }
        if let Some(r) = self.added.iter().find(|r| r.name == name) {
            return r.decode().map(Some).map_err(|e| self.record_error(e));
        }
        let Some((di, li)) = self.doc.find_index(name) else { return Ok(None) };
        let d = &self.doc.domains[di];
        if !self.holds(&d.head.name) {
            return Err(self.no_access(&d.head.name));
        }
        let key = self.domain_key(&d.head.name)?;
        let sealed = Sealed { doc: self.doc.clone(), domain: di, line: li, key: Some(key) };
        self.record(di, li, RecordBody::Sealed(sealed)).decode().map(Some).map_err(|e| self.record_error(e))
    }

    fn record(&self, domain: usize, line: usize, body: RecordBody) -> Record {
        let d = &self.doc.domains[domain];
        let l = &d.secrets[line];
        Record {
            name: self.doc.secret_name(l).to_owned(),
            var: self.doc.secret_var(l).to_owned(),
            env: text::environment(&d.head.name).map(str::to_owned),
            body,
        }
    }

    pub fn record_error(&self, e: DecodeError) -> Error {
        match e {
            DecodeError::NoAccess { domain } => self.no_access(&domain),
            DecodeError::Undecodable => self.damaged("a record authenticates but cannot be decoded"),
            DecodeError::Invalid { name, reason } => self.damaged(format!("the record {name:?}: {reason}")),
            DecodeError::Unsealable { name } => self.damaged(format!("the record {name:?} does not authenticate")),
        }
    }

    /// Every record, those of domains this slot does not hold included (their bodies stay
    /// sealed and cannot be opened), and the settings.
    pub fn records(&self) -> Result<Records> {
        if let Some((settings, records)) = &self.edited {
            return Ok(Records { settings: settings.0.clone(), records: records.clone() });
        }
        let mut records = Vec::with_capacity(self.doc.domains.iter().map(|d| d.secrets.len()).sum());
        for (di, d) in self.doc.domains.iter().enumerate() {
            // Once per domain, not per record: who holds it, and its key.
            let key = if self.holds(&d.head.name) { Some(self.domain_key(&d.head.name)?) } else { None };
            for li in 0..d.secrets.len() {
                let sealed = Sealed { doc: self.doc.clone(), domain: di, line: li, key: key.clone() };
                records.push(self.record(di, li, RecordBody::Sealed(sealed)));
            }
        }
        records.extend(self.added.iter().cloned());
        records.sort_by(|a, b| a.name.cmp(&b.name));
        let mut settings = self.settings()?;
        Ok(Records { settings: std::mem::take(&mut settings.0), records })
    }

    /// The secrets of the domains this slot holds, and the names of the domains it skipped.
    pub fn secrets(&self) -> Result<(Vec<Secret>, Vec<String>)> {
        let records = self.records()?;
        let mut secrets = Vec::with_capacity(records.records.len());
        let mut skipped = BTreeSet::new();
        for r in &records.records {
            match r.decode() {
                Ok(s) => secrets.push(s),
                Err(DecodeError::NoAccess { domain }) => {
                    skipped.insert(domain);
                }
                Err(e) => return Err(self.record_error(e)),
            }
        }
        Ok((secrets, skipped.into_iter().collect()))
    }

    /// The settings of `@default`, opened (as edited, if they were).
    pub fn settings(&self) -> Result<Settings> {
        if let Some((settings, _)) = &self.edited {
            return Ok(settings.clone());
        }
        self.file_settings()
    }

    /// The settings as the file holds them.
    fn file_settings(&self) -> Result<Settings> {
        self.file_domain_settings(DEFAULT)
    }

    fn file_domain_settings(&self, domain: &str) -> Result<Settings> {
        match self.doc.domain(domain).and_then(|d| d.head.settings.as_ref()) {
            Some(sealed) => self.open_settings(domain, sealed),
            None => Ok(Settings::default()),
        }
    }

    /// The settings of `domain` (`@default` or an environment), opened, as edited if they were.
    /// An environment's settings need its key: a slot that does not hold it neither reads nor
    /// writes them.
    pub fn domain_settings(&self, domain: &str) -> Result<Settings> {
        if domain == DEFAULT {
            return self.settings();
        }
        if let Some(s) = self.edited_domains.get(domain) {
            return Ok(s.clone());
        }
        self.file_domain_settings(domain)
    }

    /// Replaces an environment's settings (written, under its key, on save).
    pub fn set_domain_settings(&mut self, domain: &str, settings: Settings) -> Result<()> {
        if domain == DEFAULT || domain == ALL || text::environment(domain).is_none() {
            return Err(Error::invalid("environment", domain, "only an environment has settings of its own"));
        }
        if self.doc.domain(domain).is_some() {
            self.domain_key(domain)?;
        } else if !self.holds(ALL) {
            return Err(Error::NewDomainNeedsAll { slot: self.opener_label(), domain: domain.to_owned() });
        }
        self.edited_domains.insert(domain.to_owned(), settings);
        Ok(())
    }

    pub fn set_records(&mut self, mut records: Records) {
        // What was added is among `records` (they came from `records()`) or was dropped.
        self.added.clear();
        // Records zeroizes its settings on drop: take them out rather than copy them.
        self.edited = Some((Settings(std::mem::take(&mut records.settings)), std::mem::take(&mut records.records)));
    }

    /// Adds a new secret to the vault as it is in the file, with `add`'s checks made on the
    /// file's clear fields (name, variable, environment) rather than on every record: the name
    /// is free, a `paired_with` secret exists, and no other secret of its environment has its
    /// variable. With other edits pending, the caller edits [`Vault2::records`] instead.
    pub fn add_new(&mut self, secret: &Secret) -> Result<()> {
        if self.edited.is_some() {
            return Err(Error::Refused(
                "records were edited as a whole; add to them instead".into(),
                "report this as a bug in keyward",
            ));
        }
        // What is checked is authenticated first, as reading every record did: each domain
        // this slot holds (a tampered one is exit 5, not a misleading conflict).
        let held: Vec<String> =
            self.doc.domains.iter().map(|d| d.head.name.clone()).filter(|d| self.holds(d)).collect();
        for d in &held {
            self.domain_key(d)?;
        }
        let doc = &self.doc;
        let exists = |name: &str| doc.find_index(name).is_some() || self.added.iter().any(|r| r.name == name);
        if exists(&secret.name) {
            return Err(Error::SecretExists { name: secret.name.clone() });
        }
        if let Some(paired) = secret.body.meta.ext.get(crate::vault::secret::ext::PAIRED_WITH) {
            if paired == &secret.name {
                return Err(Error::invalid("--paired-with", paired, "a secret cannot be paired with itself"));
            }
            if !exists(paired) {
                return Err(Error::SecretNotFound { name: paired.clone(), suggestion: None });
            }
        }
        let domain = text::domain_of(secret.env.as_deref());
        let in_file =
            doc.domain(domain).into_iter().flat_map(|d| &d.secrets).map(|l| (doc.secret_name(l), doc.secret_var(l)));
        let added = self.added.iter().filter(|r| r.env == secret.env).map(|r| (r.name.as_str(), r.var.as_str()));
        if let Some((other, _)) = in_file.chain(added).find(|(n, v)| *n != secret.name && *v == secret.var) {
            return Err(Error::VarConflict {
                var: secret.var.clone(),
                env: secret.env.clone().unwrap_or_else(|| "(none)".into()),
                other: other.to_owned(),
            });
        }
        self.added.push(Record::encode(secret));
        Ok(())
    }

    /// Whether records were edited as a whole ([`Vault2::set_records`]).
    pub fn is_edited(&self) -> bool {
        self.edited.is_some()
    }

    /// Adds a slot (replacing one of the same name), wrapping the keys of the domains it will
    /// hold. Needs `@all`: only a holder of every domain grants access.
    pub fn add_slot(&mut self, new: NewSlot) -> Result<()> {
        self.require_all("add a key slot")?;
        self.domain_key(ALL)?;
        if let Access::Domains(domains) = &new.access {
            for d in domains.iter().filter(|d| self.doc.domain(d).is_some()) {
                self.domain_key(d)?;
            }
        }
        let name = new.slot.name.clone();
        if self.slots.iter().any(|s| s.name == name) {
            // Replacing a slot removes the old one: what it held is re-keyed.
            self.remove_slots(|s| s.name == name)?;
        }
        if name.kind == SlotKind::Passphrase {
            self.remove_slots(|s| s.name.kind == SlotKind::Passphrase)?;
        }
        if self.slots.len() >= text::MAX_SLOTS {
            return Err(Error::invalid("slot", name.to_string(), "the vault has the most slots it can hold"));
        }
        let pos = self.slots.partition_point(|s| s.name < name);
        self.slots.insert(pos, new.slot);
        self.access.insert(name, new.access);
        Ok(())
    }

    /// The seal of a domain with `head` (its own seal ignored) over `secrets` (name, variable,
    /// sealed body in base64) under this vault's key of that domain, with this vault's slots:
    /// what the merge driver needs to combine secret lines both sides sealed under one key.
    pub fn seal_for(&self, head: &DomainHead, secrets: &[(&str, &str, &[u8])]) -> Result<[u8; 32]> {
        let key = self.domain_key(&head.name)?;
        if key.id() != head.key_id {
            return Err(self.damaged(format!("{} is under another key on the other side", head.name)));
        }
        let mut seal = key.seal_transcript(&self.doc.id);
        let lines = secrets.iter().map(|(n, v, s)| (*n, *v, text::sealed_tag(s).unwrap_or_default()));
        seal_transcript(&mut seal, self.doc.created, &self.doc.slots, head, lines);
        Ok(seal.finish())
    }

    /// A secret's body sealed for a `secret` line of `domain` under this vault's key of it, in
    /// base64: what the merge driver writes for a secret it merged field by field.
    pub fn seal_secret(&self, domain: &str, secret: &Secret) -> Result<String> {
        let key = self.domain_key(domain)?;
        let body = Record::encode(secret).plain_body().map_err(|e| self.record_error(e))?;
        Ok(BASE64_NOPAD.encode(&key.seal(&record_aad(&self.doc.id, domain, &secret.name), &body.0)))
    }

    /// The settings sealed in a `settings` line of this vault's `domain` (or another side's of
    /// a merge, under the same key).
    pub fn open_settings(&self, domain: &str, sealed: &[u8]) -> Result<Settings> {
        let key = self.domain_key(domain)?;
        let plain = key
            .open(&settings_aad(&self.doc.id, domain), sealed)
            .map_err(|_| self.damaged("the settings do not authenticate"))?;
        postcard::from_bytes::<Vec<(String, String)>>(&plain)
            .map(Settings)
            .map_err(|_| self.damaged("the settings cannot be decoded"))
    }

    /// Settings sealed for a `settings` line under this vault's key of `domain`.
    pub fn seal_settings(&self, domain: &str, settings: &Settings) -> Result<Vec<u8>> {
        let key = self.domain_key(domain)?;
        let plain = crate::sensitive::to_zeroizing_bytes(&settings.0, 256);
        Ok(key.seal(&settings_aad(&self.doc.id, domain), &plain))
    }

    /// Who holds what, as it will be written (see [`super::members`]).
    pub fn roster(&self) -> super::members::Roster {
        super::members::roster_of(&self.slots, &self.access)
    }

    /// Changes which domains a slot holds (`member grant`/`revoke`): a domain it no longer holds
    /// is re-keyed on save, a domain it now holds gets a wrap of the current key. Needs `@all`.
    pub fn set_access(&mut self, name: &SlotName, access: Access) -> Result<()> {
        self.require_all("change who holds an environment")?;
        self.domain_key(ALL)?;
        let old = self.access.get(name).cloned().ok_or_else(|| self.no_access(&name.to_string()))?;
        let domains: Vec<String> = self.doc.domains.iter().map(|d| d.head.name.clone()).collect();
        for d in domains.iter().filter(|d| d.as_str() != ALL) {
            let (before, after) = (old.holds(d), access.holds(d));
            if before && !after {
                self.rekey.insert(d.clone());
            }
            if before != after {
                self.domain_key(d)?;
            }
        }
        if old == Access::All && access != Access::All {
            if !self.access.iter().any(|(n, a)| n != name && *a == Access::All) {
                return Err(Error::Refused(
                    format!("{} is the only slot that holds every environment", name.describe()),
                    "someone must keep the right to add and remove members: give another slot every environment first",
                ));
            }
            self.rekey.insert(ALL.to_owned());
        }
        self.access.insert(name.clone(), access);
        Ok(())
    }

    /// Removes the slots `which` picks; every domain one of them held is re-keyed on save.
    /// Needs `@all` (the grants change) and every domain re-keyed.
    pub fn remove_slots(&mut self, mut which: impl FnMut(&Slot) -> bool) -> Result<Vec<Slot>> {
        let (removed, kept): (Vec<Slot>, Vec<Slot>) =
            std::mem::take(&mut self.slots).into_iter().partition(|s| which(s));
        self.slots = kept;
        for slot in &removed {
            let access = self.access.remove(&slot.name);
            for d in &self.doc.domains {
                let held =
                    access.as_ref().is_some_and(|a| a.holds(&d.head.name) && (d.head.name != ALL || *a == Access::All));
                if held {
                    self.rekey.insert(d.head.name.clone());
                }
            }
        }
        if !removed.is_empty() {
            self.require_all("remove a key slot")?;
            self.domain_key(ALL)?;
            for d in self.rekey.clone() {
                self.domain_key(&d)?;
            }
        }
        Ok(removed)
    }

    /// Re-keys every domain (`key rotate`); needs every domain.
    pub fn rekey_all(&mut self) -> Result<()> {
        self.require_all("re-key the vault")?;
        for d in &self.doc.domains {
            self.domain_key(&d.head.name)?;
            self.rekey.insert(d.head.name.clone());
        }
        Ok(())
    }

    /// Whether `@default` will be re-keyed on save (the audit secret is rotated with it).
    pub fn rekeys_default(&self) -> bool {
        self.rekey.contains(DEFAULT)
    }

    /// The domains that will be re-keyed on save.
    pub fn rekeyed(&self) -> impl Iterator<Item = &str> {
        self.rekey.iter().map(String::as_str)
    }

    /// The whole file, with every change: re-keyed domains get new keys, changed records and
    /// domains are re-sealed, everything else is written back as it was.
    pub fn seal(&mut self) -> Result<Vec<u8>> {
        self.seal_into(None)
    }

    /// [`Vault2::seal`], written to `sink` a megabyte at a time as it is sealed.
    pub fn seal_to(&mut self, sink: &mut dyn std::io::Write) -> Result<()> {
        self.seal_into(Some(sink)).map(drop)
    }

    fn seal_into(&mut self, sink: Option<&mut dyn std::io::Write>) -> Result<Vec<u8>> {
        // A document read for one secret lacks other environments' lines: writing it would
        // drop them.
        if self.doc.is_partial() {
            return Err(Error::Refused(
                "this vault was read for one secret and cannot be written back".into(),
                "report this as a bug in keyward",
            ));
        }
        // The edited records are lent to the sealing, not copied (100,000 of them in a large
        // vault), and given back.
        if let Some((settings, records)) = self.edited.take() {
            let sealed = self.seal_records(Some(settings.clone()), Source::Records(&records), sink);
            self.edited = Some((settings, records));
            sealed
        } else if self.rekey.is_empty() {
            // The file's lines as they are, and what `add_new` added.
            let added = std::mem::take(&mut self.added);
            let sealed = self.seal_records(None, Source::File { added: &added }, sink);
            self.added = added;
            sealed
        } else {
            let records = self.records()?;
            self.seal_records(None, Source::Records(&records.records), sink)
        }
    }

    fn seal_records(
        &mut self,
        settings: Option<Settings>,
        source: Source<'_>,
        sink: Option<&mut dyn std::io::Write>,
    ) -> Result<Vec<u8>> {
        let doc = self.doc.clone();
        // Domains: those in the file, and any environment a record now needs.
        let mut names: BTreeSet<String> = doc.domains.iter().map(|d| d.head.name.clone()).collect();
        let (Source::Records(records) | Source::File { added: records }) = source;
        for r in records {
            names.insert(text::domain_of(r.env.as_deref()).to_owned());
        }
        names.extend(self.edited_domains.iter().filter(|(_, s)| !s.0.is_empty()).map(|(d, _)| d.clone()));
        for a in self.access.values() {
            if let Access::Domains(domains) = a {
                names.extend(domains.iter().cloned());
            }
        }
        let mut names: Vec<String> = names.into_iter().collect();
        names.sort_by_key(|n| domain_order(n));
        if names.len() > text::MAX_DOMAINS {
            return Err(Error::invalid("environment", "", "the vault has the most environments it can hold"));
        }

        // New keys first: @all's grant key signs every domain's recipients.
        let mut new_keys: BTreeMap<String, Arc<DomainKey>> = BTreeMap::new();
        for name in &names {
            let exists = doc.domain(name).is_some();
            if !exists || self.rekey.contains(name) {
                if exists {
                    self.domain_key(name)?;
                } else if !self.holds(ALL) {
                    return Err(Error::NewDomainNeedsAll { slot: self.opener_label(), domain: name.clone() });
                }
                new_keys.insert(name.clone(), Arc::new(DomainKey::random(&doc.id)));
            }
        }
        let all_rekeyed = new_keys.contains_key(ALL);
        let key_of = |this: &Self, name: &str| -> Result<Arc<DomainKey>> {
            match new_keys.get(name) {
                Some(k) => Ok(k.clone()),
                None => this.domain_key(name),
            }
        };

        // An empty buffer is UTF-8; a large one is backed by huge pages (see large_buffer).
        let mut out = Printer::new(sink, doc.file_len() + 4096);
        text::print_header(&mut out.buf, &doc.id, doc.created, &self.slots);
        for name in &names {
            let old = doc.domain(name);
            let old_index = doc.domains.iter().position(|d| &d.head.name == name);
            let recipients: Vec<&Slot> = self
                .slots
                .iter()
                .filter(|s| {
                    let a = self.access.get(&s.name);
                    if name == ALL { a == Some(&Access::All) } else { a.is_some_and(|a| a.holds(name)) }
                })
                .collect();
            let rekeyed = new_keys.contains_key(name);
            let mut domain_records: Vec<&Record> =
                records.iter().filter(|r| name != ALL && text::domain_of(r.env.as_deref()) == name).collect();
            domain_records.sort_by(|a, b| a.name.cmp(&b.name));

            // Which secret lines stay as they are.
            let kept = |r: &Record| {
                let RecordBody::Sealed(s) = &r.body else { return None };
                (!rekeyed
                    && Arc::ptr_eq(&s.doc, &doc)
                    && Some(s.domain) == old_index
                    && doc.secret_name(s.line()) == r.name
                    && doc.secret_var(s.line()) == r.var)
                    .then(|| &doc.domains[s.domain].secrets[s.line])
            };
            // The domain's lines in order: kept from the file, or sealed now.
            let items: Vec<Item<'_>> = match source {
                Source::Records(_) => {
                    domain_records.iter().map(|r| kept(r).map_or(Item::Fresh(r), Item::Kept)).collect()
                }
                Source::File { .. } => {
                    let mut items: Vec<Item<'_>> = old.into_iter().flat_map(|d| &d.secrets).map(Item::Kept).collect();
                    for r in &domain_records {
                        let at = items.partition_point(|i| i.name(&doc) < r.name.as_str());
                        items.insert(at, Item::Fresh(r));
                    }
                    items
                }
            };
            let recipients_same =
                old.is_some_and(|d| {
                    d.head.to.len() == recipients.len()
                        && d.head.to.iter().zip(&recipients).all(|(w, s)| {
                            w.slot == s.name && doc.slot(&w.slot).is_some_and(|o| o.recipient == s.recipient)
                        })
                });
            let records_same =
                old.is_some_and(|d| d.secrets.len() == items.len() && items.iter().all(|i| matches!(i, Item::Kept(_))));
            let settings_same = if name == DEFAULT {
                settings.is_none() || settings == Some(self.file_settings()?)
            } else {
                self.edited_domains.get(name).is_none_or(|s| {
                    old.and_then(|d| d.head.settings.as_ref()).is_none() && s.0.is_empty()
                        || self.file_domain_settings(name).ok().as_ref() == Some(s)
                })
            };
            if let Some(d) = old
                && !rekeyed
                && recipients_same
                && records_same
                && settings_same
            {
                // Untouched: written back as it was (this slot may not even hold it), with a new
                // grant when @all has a new key (the grant is not part of the seal).
                let secrets = d.secrets.iter().map(|s| PrintSecret::kept(&doc, s));
                if all_rekeyed && name != ALL {
                    let mut head = d.head.clone();
                    let all = key_of(self, ALL)?;
                    let grant = grant_transcript(&doc.id, &self.slots, &head);
                    head.grant = Some(keys::hmac(&all.grant_key(&doc.id), grant.as_bytes()));
                    self.print_domain(&mut out, &head, secrets)?;
                } else {
                    self.print_domain(&mut out, &d.head, secrets)?;
                }
                continue;
            }
            if !self.holds(name) {
                return Err(self.no_access(name));
            }
            let key = key_of(self, name)?;
            let mut head = match old {
                Some(d) if !rekeyed => d.head.clone(),
                Some(d) => {
                    let old_key = self.domain_key(name)?;
                    let generation = d.head.generation + 1;
                    let mut head = d.head.clone();
                    head.vouches.push(old_key.vouch_for(&key, &doc.id, name, generation));
                    head.generation = generation;
                    head.key_id = key.id();
                    head.to.clear();
                    head
                }
                None => DomainHead::new(name, key.id()),
            };
            // to lines: keep a recipient's wrap when key and recipient are unchanged.
            let mut to = Vec::with_capacity(recipients.len());
            for s in &recipients {
                let unchanged = head
                    .to
                    .iter()
                    .find(|w| w.slot == s.name && doc.slot(&w.slot).is_some_and(|o| o.recipient == s.recipient));
                to.push(match unchanged {
                    Some(w) => w.clone(),
                    None => Wrap { slot: s.name.clone(), age: wrap_for(key.expose(), s)? },
                });
            }
            head.to = to;
            if name == DEFAULT && !(settings_same && !rekeyed && head.settings.is_some()) {
                let settings = match &settings {
                    Some(s) => s.clone(),
                    None => self.file_settings()?,
                };
                let plain = crate::sensitive::to_zeroizing_bytes(&settings.0, 256);
                head.settings = Some(key.seal(&settings_aad(&doc.id, DEFAULT), &plain));
            } else if (rekeyed || !settings_same) && name != ALL && name != DEFAULT {
                // An environment's settings: sealed again under a new key, or as edited; none
                // are written as no line.
                let settings = match self.edited_domains.get(name) {
                    Some(s) => s.clone(),
                    None => self.file_domain_settings(name)?,
                };
                head.settings = (!settings.0.is_empty()).then(|| {
                    let plain = crate::sensitive::to_zeroizing_bytes(&settings.0, 256);
                    key.seal(&settings_aad(&doc.id, name), &plain)
                });
            }
            // Secret lines: kept, or sealed now.
            // A kept line's sealed body is borrowed from the old text, not copied; its tag is the
            // one the parser decoded, which the printer checks the copy it writes against.
            let mut lines: Vec<PrintSecret<'_>> = Vec::with_capacity(items.len());
            let mut fresh: Vec<(usize, Vec<u8>, [u8; 16])> = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let line = match item {
                    Item::Kept(l) => PrintSecret::kept(&doc, l),
                    Item::Fresh(r) => {
                        let body = r.plain_body().map_err(|e| self.record_error(e))?;
                        let sealed = BASE64_NOPAD.encode(&key.seal(&record_aad(&doc.id, name, &r.name), &body.0));
                        let tag = text::sealed_tag(sealed.as_bytes()).unwrap_or_default();
                        fresh.push((i, sealed.into_bytes(), tag));
                        PrintSecret { name: &r.name, var: &r.var, sealed: &[], tag: None }
                    }
                };
                lines.push(line);
            }
            for (i, sealed, tag) in &fresh {
                lines[*i].sealed = sealed;
                lines[*i].tag = Some(*tag);
            }
            let mut seal = key.seal_transcript(&doc.id);
            let secrets = lines.iter().map(|l| (l.name, l.var, l.tag.unwrap_or_default()));
            seal_transcript(&mut seal, doc.created, &self.slots, &head, secrets);
            head.seal = seal.finish();
            // Who holds the domain changed: only a holder of @all may say so.
            if name != ALL && (rekeyed || all_rekeyed || !recipients_same || old.is_none()) {
                if !self.holds(ALL) {
                    return Err(Error::NewDomainNeedsAll { slot: self.opener_label(), domain: name.clone() });
                }
                let all = key_of(self, ALL)?;
                let grant = grant_transcript(&doc.id, &self.slots, &head);
                head.grant = Some(keys::hmac(&all.grant_key(&doc.id), grant.as_bytes()));
            }
            self.print_domain(&mut out, &head, lines)?;
        }
        text::print_end(&mut out.buf);
        out.flush(true).map_err(|e| Error::io("cannot write", &self.path, e))?;
        Ok(out.buf)
    }

    fn print_domain<'a>(
        &self,
        out: &mut Printer<'_>,
        head: &DomainHead,
        secrets: impl IntoIterator<Item = PrintSecret<'a>>,
    ) -> Result<()> {
        text::print_head(&mut out.buf, head);
        for s in secrets {
            text::print_secret(&mut out.buf, &s).map_err(|e| self.changed(&e))?;
            out.flush(false).map_err(|e| Error::io("cannot write", &self.path, e))?;
        }
        Ok(())
    }
}

/// What a seal writes: every record (edited as a whole, or the file's made into records), or
/// the file's lines as they are with the records [`Vault2::add_new`] added.
#[derive(Clone, Copy)]
enum Source<'r> {
    Records(&'r [Record]),
    File { added: &'r [Record] },
}

/// A secret line to write: the file's, kept, or a record sealed now.
enum Item<'a> {
    Kept(&'a text::SecretLine),
    Fresh(&'a Record),
}

impl Item<'_> {
    fn name<'d>(&'d self, doc: &'d Document) -> &'d str {
        match self {
            Item::Kept(l) => doc.secret_name(l),
            Item::Fresh(r) => &r.name,
        }
    }
}

/// The sealed text as it is printed: held whole ([`Vault2::seal`]), or written to a sink a
/// megabyte at a time ([`Vault2::seal_to`]), so a 22 MB vault is never built in memory.
struct Printer<'s> {
    buf: Vec<u8>,
    sink: Option<&'s mut dyn std::io::Write>,
}

impl<'s> Printer<'s> {
    const CHUNK: usize = 1 << 20;

    fn new(sink: Option<&'s mut dyn std::io::Write>, whole: usize) -> Printer<'s> {
        // Held whole, a large text is backed by huge pages (see large_buffer).
        let buf =
            if sink.is_some() { Vec::with_capacity(Self::CHUNK + 4096) } else { crate::files::large_buffer(whole) };
        Printer { buf, sink }
    }

    /// Writes out what is held: when it fills a chunk, or (`all`) at the end.
    fn flush(&mut self, all: bool) -> std::io::Result<()> {
        if let Some(sink) = &mut self.sink
            && (all || self.buf.len() >= Self::CHUNK)
        {
            sink.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }
}

/// A domain key wrapped for `slot` (its plugin's turn, for a plugin member: see
/// [`super::plugin`]).
fn wrap_for(key: &Key32, slot: &Slot) -> Result<Vec<u8>> {
    keys::wrap(key, &slot.recipient).map_err(|e| match e {
        super::plugin::WrapError::NotAllowed(plugin) => Error::PluginNotAllowed { plugin, slot: slot.name.describe() },
        super::plugin::WrapError::Failed(plugin, reason) => {
            Error::PluginFailed { plugin, slot: slot.name.describe(), reason: crate::sanitize::sanitize(&reason) }
        }
    })
}

/// Each slot's access, from the `to` lines.
pub fn access_of(doc: &Document) -> BTreeMap<SlotName, Access> {
    let mut access = BTreeMap::new();
    for s in &doc.slots {
        let in_all = doc.domains[0].head.to.iter().any(|w| w.slot == s.name);
        let a = if in_all {
            Access::All
        } else {
            let domains = doc
                .domains
                .iter()
                .filter(|d| text::environment(&d.head.name).is_some() && d.head.to.iter().any(|w| w.slot == s.name))
                .map(|d| d.head.name.clone())
                .collect();
            Access::Domains(domains)
        };
        access.insert(s.name.clone(), a);
    }
    access
}

/// The settings value of `key`.
pub fn setting(settings: &Settings, key: &str) -> Option<Zeroizing<String>> {
    settings.0.iter().find(|(k, _)| k == key).map(|(_, v)| Zeroizing::new(v.clone()))
}

/// The slot whose recipient is the public key of `secret`.
pub fn slot_of(doc: &Document, secret: &Key32) -> Option<SlotName> {
    let recipient = keys::recipient(secret);
    doc.slots.iter().find(|s| s.recipient == recipient).map(|s| s.name.clone())
}

#[cfg(test)]
mod tests;
