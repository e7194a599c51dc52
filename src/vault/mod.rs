//! The vault: the only module that touches vault bytes, in either format.
//!
//! [`v2`] is the text format `init` writes (age-wrapped key domains, a sealed body per secret),
//! [`v1`] the binary format of earlier releases ([`format`](mod@format) its layout, [`payload`]
//! its decrypted contents); [`Locked`] and [`Vault`] hide which one a file is. [`crypto`] holds the
//! primitives, [`secret`] the decrypted secrets, [`slots`] the ways in, [`store`] the file on
//! disk, [`location`] which file is in use, [`backup`] the backup format.

pub mod backup;
pub mod crypto;
pub mod format;
pub mod location;
pub mod payload;
pub mod secret;
pub mod slots;
pub mod store;
pub mod v1;
pub mod v2;
pub mod verdicts;

use std::path::{Path, PathBuf};

use zeroize::{Zeroize, Zeroizing};

use self::format::{ParseError, SlotKind};
use self::payload::{DecodeError, Records};
use self::secret::Secret;
use self::slots::{Access, SlotInfo};
use self::v1::{Locked1, Vault1};
use self::v2::text::{Document, SlotName};
use self::v2::vault::{NewSlot, Vault2};
use crate::error::{Error, Result};
use crate::sensitive::Key32;

/// The newest format this keyward writes and reads.
pub const NEWEST_VERSION: u16 = v2::text::VERSION;

/// A vault file read from disk but not yet opened: what is in the clear is readable (the slots;
/// in format 2 also the names of the secrets), the rest is not.
pub struct Locked {
    pub path: PathBuf,
    pub loose_mode: Option<u32>,
    pub format: LockedFormat,
    /// Which version of the file this is (see [`store::Store::unchanged`]).
    pub identity: Option<store::FileIdentity>,
}

pub enum LockedFormat {
    V1(Locked1),
    V2(Document),
}

/// What a slot gave: the key that opens the vault.
#[derive(Clone)]
pub enum OpenKey {
    /// Format 1: the data key.
    V1(Key32),
    /// Format 2: the slot that matched and what opens its wraps (its X25519 secret, or a
    /// plugin identity).
    V2 { slot: SlotName, secret: v2::keys::Opener },
}

fn parse_error(path: &Path, e: ParseError) -> Error {
    match e {
        ParseError::NotAVault => Error::NotAVault { path: path.to_owned() },
        ParseError::FutureVersion(found) => {
            Error::FutureVersion { path: path.to_owned(), found, supported: NEWEST_VERSION }
        }
        ParseError::Damaged(reason) => Error::damaged(path, reason),
    }
}

fn text_error(path: &Path, e: v2::text::ParseError) -> Error {
    match e {
        v2::text::ParseError::NotAVault => Error::NotAVault { path: path.to_owned() },
        v2::text::ParseError::FutureVersion(found) => {
            Error::FutureVersion { path: path.to_owned(), found, supported: NEWEST_VERSION }
        }
        v2::text::ParseError::Damaged { line: 0, reason } => Error::damaged(path, reason),
        v2::text::ParseError::Damaged { line, reason } => Error::damaged(path, format!("line {line}: {reason}")),
    }
}

fn v1_slot_info(s: &format::Slot) -> SlotInfo {
    let argon2 = match s.kdf {
        format::Kdf::Argon2id(p) => Some(p),
        format::Kdf::HkdfSha256 => None,
    };
    SlotInfo {
        kind: s.kind,
        label: s.label.clone(),
        created: s.created,
        access: Access::All,
        argon2,
        recipient: None,
        added_by: None,
        ssh: None,
    }
}

fn v2_slot_infos<'a>(slots: impl Iterator<Item = (&'a v2::text::Slot, &'a Access)>) -> Vec<SlotInfo> {
    slots
        .map(|(s, a)| SlotInfo {
            kind: s.name.kind,
            label: s.name.label.clone(),
            created: s.created,
            access: a.clone(),
            argon2: s.argon2.map(|(p, _)| p),
            recipient: Some(s.recipient.clone()),
            added_by: s.added_by.as_ref().map(ToString::to_string),
            ssh: s.ssh.clone(),
        })
        .collect()
}

impl Locked {
    /// Reads the vault file at `path`.
    pub fn read(path: &Path) -> Result<Locked> {
        Self::read_from(&store::FileStore::new(path))
    }

    /// Reads the vault from a store.
    pub fn read_from(store: &dyn store::Store) -> Result<Locked> {
        Self::read_scoped(store, None)
    }

    /// Reads the vault from a store to get one secret: a format 2 vault's environments that
    /// cannot hold `name` are not parsed (see [`v2::text::parse_for_secret`]), and what is read
    /// cannot be written back.
    pub fn read_for_secret(store: &dyn store::Store, name: &str) -> Result<Locked> {
        Self::read_scoped(store, Some(name))
    }

    fn read_scoped(store: &dyn store::Store, only: Option<&str>) -> Result<Locked> {
        let file = store.read()?;
        let mut locked = Self::from_contents(store.path(), file.bytes, file.loose_mode, only)?;
        locked.identity = file.identity;
        Ok(locked)
    }

    /// Parses either format: version 1's binary magic, or a text vault's first line.
    pub fn from_bytes(path: &Path, bytes: Zeroizing<Vec<u8>>, loose_mode: Option<u32>) -> Result<Locked> {
        Self::from_contents(path, bytes.into(), loose_mode, None)
    }

    fn from_contents(
        path: &Path,
        bytes: crate::files::Contents,
        loose_mode: Option<u32>,
        only: Option<&str>,
    ) -> Result<Locked> {
        let format = if bytes.starts_with(format::MAGIC) {
            LockedFormat::V1(Locked1::parse(bytes.into_owned()).map_err(|e| parse_error(path, e))?)
        } else {
            // The file's bytes become the document's text, without a copy (they are not secret).
            let doc = match only {
                Some(name) => v2::text::parse_for_secret(bytes, name),
                None => v2::text::parse_contents(bytes),
            };
            LockedFormat::V2(doc.map_err(|e| text_error(path, e))?)
        };
        Ok(Locked { path: path.to_owned(), loose_mode, format, identity: None })
    }

    pub fn version(&self) -> u16 {
        match &self.format {
            LockedFormat::V1(_) => format::VERSION,
            LockedFormat::V2(_) => v2::text::VERSION,
        }
    }

    pub fn id(&self) -> [u8; 16] {
        match &self.format {
            LockedFormat::V1(l) => l.header.vault_id,
            LockedFormat::V2(d) => d.id,
        }
    }

    pub fn id_hex(&self) -> String {
        data_encoding::HEXLOWER.encode(&self.id())
    }

    pub fn created(&self) -> i64 {
        match &self.format {
            LockedFormat::V1(l) => l.header.created,
            LockedFormat::V2(d) => d.created,
        }
    }

    /// The slots, as the file names them (readable without unlocking).
    pub fn slots(&self) -> Vec<SlotInfo> {
        match &self.format {
            LockedFormat::V1(l) => l.header.slots.iter().map(v1_slot_info).collect(),
            LockedFormat::V2(d) => {
                let access = v2::vault::access_of(d);
                v2_slot_infos(d.slots.iter().filter_map(|s| access.get(&s.name).map(|a| (s, a))))
            }
        }
    }

    /// The name of this vault's keyring entry (format 2 uses its own, so upgrading a vault
    /// never overwrites the entry its old file still needs).
    pub fn keyring_name(&self) -> String {
        keyring_name(self.version(), &self.id())
    }

    /// The secrets' names and environments, when the format keeps them in the clear (format 2;
    /// the parser has checked them).
    pub fn clear_index(&self) -> Option<Vec<(&str, Option<&str>)>> {
        match &self.format {
            LockedFormat::V1(_) => None,
            LockedFormat::V2(d) => Some(
                d.domains
                    .iter()
                    .flat_map(|x| x.secrets.iter().map(|s| (d.secret_name(s), v2::text::environment(&x.head.name))))
                    .collect(),
            ),
        }
    }

    /// Opens the vault with what a slot gave. A key that opened a slot but does not open the
    /// rest means the file was changed: damage or tampering, never a wrong key.
    pub fn open(self, key: OpenKey) -> Result<Vault> {
        self.open_in(key, false)
    }

    /// [`Locked::open`], checking format 2 domains against what this machine remembers of them
    /// and remembering what it finds (see [`v2::seen`]): what the command-line program does. A
    /// library caller opens without touching the state directory.
    pub fn open_remembering(self, key: OpenKey) -> Result<Vault> {
        self.open_in(key, true)
    }

    fn open_in(self, key: OpenKey, remember: bool) -> Result<Vault> {
        let Locked { path, format, .. } = self;
        let format = match (format, key) {
            (LockedFormat::V1(l), OpenKey::V1(data_key)) => {
                Format::V1(l.open(data_key).map_err(|_| Error::damaged(&path, "the payload does not authenticate"))?)
            }
            (LockedFormat::V2(doc), OpenKey::V2 { slot, secret }) => {
                let memory = remember.then(|| v2::seen::memory(&path, &doc.id));
                Format::V2(Box::new(Vault2::open(path.clone(), doc, slot, secret).remembering(memory)))
            }
            _ => return Err(Error::damaged(&path, "the key is for another vault format")),
        };
        Ok(Vault { path, format })
    }
}

/// The keyring entry name of a vault: `vault-<id>` (format 1), `vault2-<id>` (format 2).
pub fn keyring_name(version: u16, id: &[u8; 16]) -> String {
    let hex = data_encoding::HEXLOWER.encode(id);
    if version >= 2 { format!("vault2-{hex}") } else { format!("vault-{hex}") }
}

enum Format {
    V1(Vault1),
    V2(Box<Vault2>),
}

/// An opened vault, in either format.
pub struct Vault {
    pub path: PathBuf,
    format: Format,
}

impl Vault {
    /// A new, empty vault in the newest format, with no slots yet.
    pub fn create(path: &Path, now: i64) -> Vault {
        Vault {
            path: path.to_owned(),
            format: Format::V2(Box::new(Vault2::create(path.to_owned(), crypto::random(), now))),
        }
    }

    /// A new, empty version 1 vault (for tests and benchmarks of the old format).
    pub fn create_v1(path: &Path, now: i64) -> Vault {
        Vault { path: path.to_owned(), format: Format::V1(Vault1::create(now)) }
    }

    pub fn version(&self) -> u16 {
        match &self.format {
            Format::V1(_) => format::VERSION,
            Format::V2(_) => v2::text::VERSION,
        }
    }

    pub fn id(&self) -> [u8; 16] {
        match &self.format {
            Format::V1(v) => v.header.vault_id,
            Format::V2(v) => *v.id(),
        }
    }

    pub fn id_hex(&self) -> String {
        data_encoding::HEXLOWER.encode(&self.id())
    }

    pub fn created(&self) -> i64 {
        match &self.format {
            Format::V1(v) => v.header.created,
            Format::V2(v) => v.created(),
        }
    }

    pub fn keyring_name(&self) -> String {
        keyring_name(self.version(), &self.id())
    }

    /// This vault in format 2, with the same id, creation time, secrets and settings, and no
    /// slots yet (the caller adds them). A format 2 vault is handed back as it is.
    pub fn to_format2(&self) -> Result<Vault> {
        if let Format::V2(_) = self.format {
            return Err(Error::Refused(
                format!("{} is already in format 2", self.path.display()),
                "nothing to upgrade",
            ));
        }
        let records = self.records()?;
        let mut v2 = Vault2::create(self.path.clone(), self.id(), self.created());
        v2.set_records(records);
        Ok(Vault { path: self.path.clone(), format: Format::V2(Box::new(v2)) })
    }

    /// The slots as they will be written.
    pub fn slots(&self) -> Vec<SlotInfo> {
        match &self.format {
            Format::V1(v) => v.header.slots.iter().map(v1_slot_info).collect(),
            Format::V2(v) => v2_slot_infos(v.slots()),
        }
    }

    /// The version 1 header, for the commands that still work on it directly.
    pub fn v1_header(&self) -> Option<&format::Header> {
        match &self.format {
            Format::V1(v) => Some(&v.header),
            Format::V2(_) => None,
        }
    }

    /// The version 2 vault, for what only it has (domains, grants, re-keying).
    pub fn v2(&self) -> Option<&Vault2> {
        match &self.format {
            Format::V1(_) => None,
            Format::V2(v) => Some(v),
        }
    }

    pub fn v2_mut(&mut self) -> Option<&mut Vault2> {
        match &mut self.format {
            Format::V1(_) => None,
            Format::V2(v) => Some(v),
        }
    }

    fn undecodable(&self) -> Error {
        Error::damaged(&self.path, "the payload authenticates but cannot be decoded")
    }

    /// The error for a record that cannot be read back: damage, naming the record when it can,
    /// or a domain this key does not hold.
    pub fn record_error(&self, e: DecodeError) -> Error {
        match &self.format {
            Format::V2(v) => v.record_error(e),
            Format::V1(_) => match e {
                DecodeError::Invalid { name, reason } => {
                    Error::damaged(&self.path, format!("the record {name:?}: {reason}"))
                }
                _ => self.undecodable(),
            },
        }
    }

    /// An error of [`Records::update`] with this vault's path in it.
    pub fn locate(&self, e: Error) -> Error {
        match e {
            Error::RecordDecode(d) => self.record_error(d),
            other => other,
        }
    }

    /// Every secret's name and environment, without decoding a body; names that keyward would
    /// not write are left out (a shell inserts what completion offers into a command line).
    pub fn index(&self) -> Result<Vec<(String, Option<String>)>> {
        match &self.format {
            Format::V1(v) => {
                let view = v.view().map_err(|e| self.record_error(e))?;
                Ok(view
                    .records
                    .iter()
                    .filter_map(|r| {
                        let name = r.valid_name()?;
                        let env =
                            r.env.and_then(|e| std::str::from_utf8(e).ok()).filter(|e| secret::validate_env(e).is_ok());
                        Some((name.to_owned(), env.map(str::to_owned)))
                    })
                    .collect())
            }
            Format::V2(v) => {
                let d = v.document();
                Ok(d.domains
                    .iter()
                    .flat_map(|x| {
                        x.secrets.iter().map(|s| {
                            (d.secret_name(s).to_owned(), v2::text::environment(&x.head.name).map(str::to_owned))
                        })
                    })
                    .collect())
            }
        }
    }

    /// Finds and decodes one secret; the others are not decoded.
    pub fn find(&self, name: &str) -> Result<Option<Secret>> {
        match &self.format {
            Format::V1(v) => v.find(name).map_err(|e| self.record_error(e)),
            Format::V2(v) => v.find(name),
        }
    }

    pub fn get(&self, name: &str) -> Result<Secret> {
        self.find(name)?
            .ok_or_else(|| Error::SecretNotFound { name: name.to_owned(), suggestion: self.closest_name(name) })
    }

    /// The stored name closest to a mistyped `name` (a miss only: it reads every name).
    fn closest_name(&self, name: &str) -> Option<String> {
        let records = self.records().ok()?;
        crate::suggest::closest(name, records.records.iter().map(|r| r.name.as_str())).map(str::to_owned)
    }

    /// Every secret this key can open (in format 2, those of the domains it holds; see
    /// [`Vault::skipped_domains`]).
    pub fn secrets(&self) -> Result<Vec<Secret>> {
        match &self.format {
            Format::V1(v) => v.secrets().map_err(|e| self.record_error(e)),
            Format::V2(v) => Ok(v.secrets()?.0),
        }
    }

    /// The refusal for a domain this key does not hold: "token ci-staging has no access to prod".
    pub fn no_access(&self, domain: &str) -> Error {
        let slot = self.v2().map_or_else(|| "this key".to_owned(), Vault2::opener_label);
        Error::NoDomainAccess { slot, domain: domain.to_owned() }
    }

    /// Refuses an environment whose secrets this key cannot open (format 2).
    pub fn check_holds(&self, env: Option<&str>) -> Result<()> {
        match (self.v2(), env) {
            (Some(v), Some(env)) if !v.holds(env) => Err(self.no_access(env)),
            _ => Ok(()),
        }
    }

    /// The domains with secrets this key cannot open (format 2), for commands over the whole
    /// vault to name.
    pub fn skipped_domains(&self) -> Vec<String> {
        match &self.format {
            Format::V1(_) => Vec::new(),
            Format::V2(v) => {
                let doc = v.document();
                doc.domains
                    .iter()
                    .filter(|d| !d.secrets.is_empty() && !v.holds(&d.head.name))
                    .map(|d| d.head.name.clone())
                    .collect()
            }
        }
    }

    /// Every record (in format 2 those of domains this key cannot open too, their bodies sealed),
    /// for a change to write back.
    pub fn records(&self) -> Result<Records> {
        match &self.format {
            Format::V1(v) => v.records().map_err(|e| self.record_error(e)),
            Format::V2(v) => v.records(),
        }
    }

    /// Changes one secret (see [`Records::update`]); [`Error::SecretNotFound`] when there is
    /// none of that name.
    pub fn update_secret<T>(
        &mut self,
        name: &str,
        change: impl FnOnce(&mut Secret, &mut Records) -> Result<T>,
    ) -> Result<T> {
        let mut records = self.records()?;
        let result = records
            .update(name, change)
            .map_err(|e| self.locate(e))?
            .ok_or_else(|| Error::SecretNotFound { name: name.to_owned(), suggestion: None })?;
        self.set_records(records);
        Ok(result)
    }

    /// Adds a new secret: its name free, a `paired_with` secret present, and no other secret of
    /// its environment using its variable. A format 2 vault checks the file's clear fields and
    /// writes back every other line as it is, without building every record.
    pub fn add_new(&mut self, secret: &Secret) -> Result<()> {
        if let Format::V2(v) = &mut self.format
            && !v.is_edited()
        {
            return v.add_new(secret);
        }
        let mut records = self.records()?;
        if records.position(&secret.name).is_some() {
            return Err(Error::SecretExists { name: secret.name.clone() });
        }
        records.check_paired(&secret.name, &secret.body.meta)?;
        records.check_var_conflict(&secret.name, &secret.var, secret.env.as_deref())?;
        records.records.push(payload::Record::encode(secret));
        self.set_records(records);
        Ok(())
    }

    pub fn set_records(&mut self, records: Records) {
        match &mut self.format {
            Format::V1(v) => v.set_records(&records),
            Format::V2(v) => v.set_records(records),
        }
    }

    /// Adds a slot for `recipient` with access to every domain, replacing any slot of the same
    /// kind and label (and any other passphrase slot: one per vault).
    pub fn add_slot(&mut self, recipient: &dyn slots::Recipient, now: i64) -> Result<()> {
        self.add_slot_with(recipient, now, Access::All)
    }

    /// [`Vault::add_slot`] with the given access; a limited slot needs format 2.
    pub fn add_slot_with(&mut self, recipient: &dyn slots::Recipient, now: i64, access: Access) -> Result<()> {
        match &mut self.format {
            Format::V1(v) => {
                if access != Access::All {
                    return Err(Error::NeedsFormat2 { what: "a key limited to some environments".into() });
                }
                v.add_slot(recipient, now);
                Ok(())
            }
            Format::V2(v) => {
                let salt: [u8; 16] = crypto::random();
                let (secret, params) = recipient.x25519(&salt);
                let slot = v2::text::Slot {
                    name: SlotName::new(recipient.kind(), &recipient.label()),
                    recipient: v2::keys::recipient(&secret),
                    created: now,
                    argon2: params.map(|p| (p, salt)),
                    added_by: None,
                    ssh: None,
                    kms: None,
                };
                v.add_slot(NewSlot { slot, access })
            }
        }
    }

    /// Adds a KMS slot (format 2 only): the recipient of `secret`, which the file keeps as `kms`
    /// (encrypted by AWS KMS), holding the domains of `access`.
    pub fn add_kms_slot(
        &mut self,
        label: &str,
        secret: &Key32,
        kms: v2::text::KmsSecret,
        now: i64,
        access: Access,
    ) -> Result<()> {
        let Format::V2(v) = &mut self.format else {
            return Err(Error::NeedsFormat2 { what: "a KMS slot".into() });
        };
        let slot = v2::text::Slot {
            name: SlotName::new(SlotKind::Kms, label),
            recipient: v2::keys::recipient(secret),
            created: now,
            argon2: None,
            added_by: None,
            ssh: None,
            kms: Some(kms),
        };
        v.add_slot(NewSlot { slot, access })
    }

    /// The environments that have a key domain (format 2); none in format 1.
    pub fn environments(&self) -> Vec<String> {
        match &self.format {
            Format::V1(_) => Vec::new(),
            Format::V2(v) => v
                .document()
                .domains
                .iter()
                .filter_map(|d| v2::text::environment(&d.head.name).map(str::to_owned))
                .collect(),
        }
    }

    /// Adds a team member by their public key (format 2 only): a slot `member:NAME` that holds
    /// the domains of `access`, recorded as added by the slot that opened the vault.
    pub fn add_member(
        &mut self,
        name: &str,
        recipient: String,
        ssh: Option<String>,
        now: i64,
        access: Access,
    ) -> Result<()> {
        let Format::V2(v) = &mut self.format else {
            return Err(Error::NeedsFormat2 { what: "team members".into() });
        };
        let slot = v2::text::Slot {
            name: SlotName::new(SlotKind::Member, name),
            recipient,
            created: now,
            argon2: None,
            added_by: v.opener().cloned(),
            ssh,
            kms: None,
        };
        v.add_slot(NewSlot { slot, access })
    }

    /// Changes which environments a slot holds (format 2 only); a domain it loses is re-keyed.
    pub fn set_access(&mut self, kind: SlotKind, label: &str, access: Access) -> Result<()> {
        let Format::V2(v) = &mut self.format else {
            return Err(Error::NeedsFormat2 { what: "access limited to some environments".into() });
        };
        v.set_access(&SlotName::new(kind, label), access)
    }

    /// Removes the slots `which` picks and returns them. In format 2 every domain one of them
    /// held is re-keyed in the same write.
    pub fn remove_slots(&mut self, mut which: impl FnMut(&SlotInfo) -> bool) -> Result<Vec<SlotInfo>> {
        match &mut self.format {
            Format::V1(v) => Ok(v.remove_slots(|s| which(&v1_slot_info(s))).iter().map(v1_slot_info).collect()),
            Format::V2(v) => {
                let infos = v2_slot_infos(v.slots());
                let picked: Vec<SlotInfo> = infos.into_iter().filter(|s| which(s)).collect();
                v.remove_slots(|s| picked.iter().any(|p| p.kind == s.name.kind && p.label == s.name.label))?;
                Ok(picked)
            }
        }
    }

    /// Replaces every key (`key rotate`): every slot is dropped and handed back.
    pub fn rekey(&mut self) -> Result<Vec<SlotInfo>> {
        match &mut self.format {
            Format::V1(v) => Ok(v.rekey().iter().map(v1_slot_info).collect()),
            Format::V2(v) => {
                v.rekey_all()?;
                let infos = v2_slot_infos(v.slots());
                v.remove_slots(|_| true)?;
                Ok(infos)
            }
        }
    }

    /// The domains the next save re-keys (format 2).
    pub fn rekeyed_domains(&self) -> Vec<String> {
        self.v2().map(|v| v.rekeyed().map(str::to_owned).collect()).unwrap_or_default()
    }

    /// The data key of a version 1 vault.
    pub fn data_key(&self) -> Option<&Key32> {
        match &self.format {
            Format::V1(v) => Some(v.data_key()),
            Format::V2(_) => None,
        }
    }

    /// A key only holders of this vault have, for backups: the data key (format 1), the
    /// default domain's key (format 2, which every slot holds).
    pub fn backup_key(&self) -> Result<Key32> {
        match &self.format {
            Format::V1(v) => Ok(v.data_key().clone()),
            Format::V2(v) => Ok(v.domain_key(v2::text::DEFAULT)?.expose().clone()),
        }
    }

    /// A vault-wide setting (encrypted): the audit secret, the next grace deadline.
    pub fn setting(&self, key: &str) -> Result<Option<Zeroizing<String>>> {
        Ok(self.settings()?.into_iter().find(|(k, _)| k == key).map(|(_, v)| v))
    }

    /// Sets settings (replacing those of the same keys), keeping the records.
    /// Values may be secrets (the audit secret): the ones replaced are wiped.
    pub fn set_settings(&mut self, values: &[(&str, &str)]) -> Result<()> {
        let mut records = self.records()?;
        for (k, v) in &mut records.settings {
            if values.iter().any(|(key, _)| key == k) {
                v.zeroize();
            }
        }
        records.settings.retain(|(k, _)| !values.iter().any(|(key, _)| key == k));
        for (i, (key, value)) in values.iter().enumerate() {
            records.settings.insert(i, ((*key).to_owned(), (*value).to_owned()));
        }
        self.set_records(records);
        Ok(())
    }

    /// The settings of environment `env` (format 2), or the vault-wide ones (`None`), decrypted.
    pub fn env_settings(&self, env: Option<&str>) -> Result<Vec<(String, Zeroizing<String>)>> {
        let Some(env) = env else { return self.settings() };
        match &self.format {
            Format::V1(_) => Ok(Vec::new()),
            Format::V2(v) => {
                if !v.holds(env) {
                    return Err(self.no_access(env));
                }
                let mut settings = v.domain_settings(env)?;
                Ok(settings.0.iter_mut().map(|(k, val)| (k.clone(), Zeroizing::new(std::mem::take(val)))).collect())
            }
        }
    }

    /// Sets (`Some`) or removes (`None`) one setting of environment `env`, or a vault-wide one.
    pub fn set_env_setting(&mut self, env: Option<&str>, key: &str, value: Option<&str>) -> Result<()> {
        let Some(env) = env else {
            let mut records = self.records()?;
            for (k, v) in &mut records.settings {
                if k == key {
                    v.zeroize();
                }
            }
            records.settings.retain(|(k, _)| k != key);
            if let Some(value) = value {
                records.settings.push((key.to_owned(), value.to_owned()));
            }
            self.set_records(records);
            return Ok(());
        };
        if !self.v2().is_some_and(|v| v.holds(env)) {
            return match self.v2() {
                None => Err(Error::NeedsFormat2 { what: "settings of an environment".into() }),
                Some(_) => Err(self.no_access(env)),
            };
        }
        let v = self.v2_mut().expect("format 2, checked above");
        let mut settings = v.domain_settings(env)?;
        for (k, v) in &mut settings.0 {
            if k == key {
                v.zeroize();
            }
        }
        settings.0.retain(|(k, _)| k != key);
        if let Some(value) = value {
            settings.0.push((key.to_owned(), value.to_owned()));
        }
        v.set_domain_settings(env, settings)
    }

    /// The settings, decrypted, in wiped-on-drop values.
    pub fn settings(&self) -> Result<Vec<(String, Zeroizing<String>)>> {
        match &self.format {
            Format::V1(v) => Ok(v
                .settings()
                .map_err(|_| self.undecodable())?
                .into_iter()
                .map(|(k, val)| (k.to_owned(), Zeroizing::new(val.to_owned())))
                .collect()),
            Format::V2(v) => {
                let mut settings = v.settings()?;
                Ok(settings.0.iter_mut().map(|(k, val)| (k.clone(), Zeroizing::new(std::mem::take(val)))).collect())
            }
        }
    }

    /// The whole file, sealed.
    pub fn seal(&mut self) -> Result<Vec<u8>> {
        match &mut self.format {
            Format::V1(v) => Ok(v.seal()),
            Format::V2(v) => v.seal(),
        }
    }

    /// Seals and writes the vault to its file at `self.path`. The caller holds the write lock.
    pub fn save(&mut self) -> Result<()> {
        self.save_to(&store::FileStore::new(&self.path))
    }

    /// Seals the vault and replaces it in `store`. The caller holds the store's lock.
    pub fn save_to(&mut self, store: &dyn store::Store) -> Result<()> {
        match &mut self.format {
            // Written as it is sealed: a 22 MB vault is never held whole.
            Format::V2(v) => store.replace_with(&mut |out| v.seal_to(out)),
            Format::V1(_) => {
                let bytes = self.seal()?;
                store.replace(&bytes)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sensitive::SecretValue;
    use crate::vault::format::SlotKind;
    use crate::vault::payload::Record;
    use crate::vault::slots::RandomSecret;

    fn sample_vault() -> (Vault, Key32) {
        let mut vault = Vault::create_v1(Path::new("/tmp/x.kw"), 1);
        let token = Key32::random();
        vault.add_slot(&RandomSecret { kind: SlotKind::Token, label: "ci".to_string(), secret: &token }, 1).unwrap();
        let secret = Secret::new(
            "a".into(),
            "A".into(),
            None,
            crate::vault::secret::Metadata::new(1),
            SecretValue::new("value-1".into()),
            1,
        );
        let mut records = vault.records().unwrap();
        records.records.push(Record::encode(&secret));
        vault.set_records(records);
        (vault, token)
    }

    fn reopen(bytes: &[u8], token: &Key32) -> Result<Vault> {
        let locked = Locked::from_bytes(Path::new("/tmp/x.kw"), Zeroizing::new(bytes.to_vec()), None)?;
        let LockedFormat::V1(l) = &locked.format else { panic!("a version 1 file") };
        let slot = l.header.slots[0].clone();
        let kek = crypto::hkdf_kek(token.expose(), &slot.salt);
        let key = l.unwrap_slot(&slot, &kek).expect("token opens its slot");
        locked.open(OpenKey::V1(key))
    }

    #[test]
    fn seal_and_reopen() {
        let (mut vault, token) = sample_vault();
        let bytes = vault.seal().unwrap();
        let reopened = reopen(&bytes, &token).unwrap();
        assert_eq!(reopened.get("a").unwrap().current().unwrap().value.expose(), "value-1");
        assert!(!bytes.windows(7).any(|w| w == b"value-1"), "no plaintext in the file");
    }

    #[test]
    fn every_payload_byte_flip_is_refused_as_damage() {
        let (mut vault, token) = sample_vault();
        let bytes = vault.seal().unwrap();
        let start = format::encode_header(vault.v1_header().unwrap()).len();
        for i in start..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x01;
            match reopen(&bad, &token) {
                Err(Error::Damaged { .. }) => {}
                other => panic!("flip at {i}: {:?}", other.err()),
            }
        }
    }

    #[test]
    fn a_reopened_vault_lists_its_secrets_and_records() {
        let (mut vault, token) = sample_vault();
        let reopened = reopen(&vault.seal().unwrap(), &token).unwrap();
        let names: Vec<String> = reopened.secrets().unwrap().into_iter().map(|s| s.name).collect();
        assert_eq!(names, ["a"]);
        let records = reopened.records().unwrap();
        assert_eq!(records.records.len(), 1);
    }

    fn slots(vault: &Vault) -> Vec<(SlotKind, String)> {
        vault.slots().into_iter().map(|s| (s.kind, s.label)).collect()
    }

    fn pairs(list: &[(SlotKind, &str)]) -> Vec<(SlotKind, String)> {
        list.iter().map(|(k, l)| (*k, (*l).to_owned())).collect()
    }

    #[test]
    fn a_slot_replaces_only_the_slot_of_the_same_kind_and_label() {
        let (mut vault, old_token) = sample_vault();
        let key = Key32::random();
        vault.add_slot(&RandomSecret { kind: SlotKind::Token, label: "deploy".to_string(), secret: &key }, 2).unwrap();
        vault.add_slot(&RandomSecret { kind: SlotKind::Keyring, label: "ci".to_string(), secret: &key }, 2).unwrap();
        assert_eq!(
            slots(&vault),
            pairs(&[(SlotKind::Token, "ci"), (SlotKind::Token, "deploy"), (SlotKind::Keyring, "ci")])
        );

        let new_token = Key32::random();
        vault
            .add_slot(&RandomSecret { kind: SlotKind::Token, label: "ci".to_string(), secret: &new_token }, 3)
            .unwrap();
        assert_eq!(
            slots(&vault),
            pairs(&[(SlotKind::Token, "deploy"), (SlotKind::Keyring, "ci"), (SlotKind::Token, "ci")])
        );
        let header = vault.v1_header().unwrap();
        let ci = header.slots.iter().find(|s| s.kind == SlotKind::Token && s.label == "ci").unwrap();
        assert!(header.slots.iter().all(|s| s.created > 1), "the first `ci` slot is gone");
        let kek = |k: &Key32| crypto::hkdf_kek(k.expose(), &ci.salt);
        assert!(v1::unwrap_slot(&header.vault_id, ci, &kek(&new_token)).is_some());
        assert!(v1::unwrap_slot(&header.vault_id, ci, &kek(&old_token)).is_none());
    }

    #[test]
    fn removed_and_rekeyed_slots_are_handed_back() {
        let (mut vault, _) = sample_vault();
        let recovery = Key32::random();
        vault
            .add_slot(&RandomSecret { kind: SlotKind::Recovery, label: "recovery".into(), secret: &recovery }, 2)
            .unwrap();
        let removed = vault.remove_slots(|s| s.kind == SlotKind::Token).unwrap();
        assert_eq!(removed.iter().map(|s| s.label.as_str()).collect::<Vec<_>>(), ["ci"]);
        assert_eq!(slots(&vault), pairs(&[(SlotKind::Recovery, "recovery")]));

        let old_key = vault.data_key().unwrap().expose().to_owned();
        let dropped = vault.rekey().unwrap();
        assert_eq!(dropped.iter().map(|s| s.kind).collect::<Vec<_>>(), [SlotKind::Recovery]);
        assert!(vault.slots().is_empty());
        assert_ne!(vault.data_key().unwrap().expose(), &old_key);
    }

    #[test]
    fn save_writes_the_sealed_vault_and_sweeps_stale_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let (mut vault, token) = sample_vault();
        vault.path = dir.path().join("v.kw");
        let stale = dir.path().join(".v.kw.0a1b2c.tmp");
        std::fs::write(&stale, b"left by a killed writer").unwrap();
        vault.save_to(&store::FileStore::new(&vault.path)).unwrap();
        assert!(!stale.exists());
        let bytes = std::fs::read(&vault.path).unwrap();
        assert_eq!(reopen(&bytes, &token).unwrap().get("a").unwrap().current().unwrap().value.expose(), "value-1");
        let LockedFormat::V1(opened) = Locked::read(&vault.path).unwrap().format else { panic!("version 1") };
        assert_eq!(&opened.header, vault.v1_header().unwrap(), "the file holds the header as last sealed");
    }

    #[test]
    fn a_fresh_nonce_every_save() {
        let (mut vault, _) = sample_vault();
        let a = vault.seal().unwrap();
        let b = vault.seal().unwrap();
        assert_ne!(a, b);
    }
}
