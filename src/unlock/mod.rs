//! Where the vault key comes from: the unlock chain.
//!
//! Order, on every command: `KEYWARD_VAULT_KEY` (a token or the recovery key; when set and wrong,
//! no fall-through) → this machine's keyring slot → your identity, when the vault has members
//! (`KEYWARD_IDENTITY`, else the OS keyring, else `identity.txt`) → a KMS slot, when there are
//! AWS credentials (AWS KMS decrypts its secret) → the passphrase slot (from
//! `KEYWARD_PASSPHRASE_FILE`, else a prompt on a terminal) → a clear error naming every way in.

pub mod codes;
pub mod identity;
pub mod keyring;
pub mod passphrase;

use self::keyring::{Backend, KeyringIdentity};
use self::passphrase::PassphraseIdentity;
use crate::error::{Error, Result};
use crate::sensitive::Passphrase;
use crate::vault::crypto;
use crate::vault::format::SlotKind;
use crate::vault::slots::SlotInfo;
use crate::vault::v1::unwrap_slot;
use crate::vault::{Locked, LockedFormat, OpenKey};

pub const VAULT_KEY_VAR: &str = "KEYWARD_VAULT_KEY";
pub const PASSPHRASE_FILE_VAR: &str = "KEYWARD_PASSPHRASE_FILE";

pub use crate::vault::slots::{Identity, RandomSecret, Recipient};

/// An identity kept after the first unlock, so a writer can re-open the vault under its lock
/// without asking again (and a passphrase is derived once per process).
pub struct Credential(Box<dyn Identity>);

impl Clone for Credential {
    fn clone(&self) -> Self {
        Credential(self.0.boxed())
    }
}

/// How the vault was opened: the key for [`Locked::open`], and the slot that gave it (for
/// messages and `key status`).
#[derive(Clone)]
pub struct Opened {
    pub key: OpenKey,
    pub slot: SlotInfo,
}

impl Credential {
    pub fn new(identity: impl Identity + 'static) -> Credential {
        Credential(Box::new(identity))
    }

    /// Tries every slot that fits; returns the key and the slot that opened.
    pub fn open(&mut self, locked: &Locked) -> Option<Opened> {
        let infos = locked.slots();
        match &locked.format {
            LockedFormat::V1(l) => {
                let vault_id = &l.header.vault_id;
                let fitting = l.header.slots.iter().filter(|s| self.0.fits(s.kind, &s.label));
                for slot in fitting.collect::<Vec<_>>() {
                    let kek = self.0.kek(slot)?;
                    if let Some(data_key) = unwrap_slot(vault_id, slot, &kek) {
                        let info = infos.iter().find(|i| i.kind == slot.kind && i.label == slot.label)?.clone();
                        return Some(Opened { key: OpenKey::V1(data_key), slot: info });
                    }
                }
                None
            }
            LockedFormat::V2(doc) => {
                if let Some(plugin) = self.0.plugin() {
                    return open_with_plugin(doc, plugin, &infos);
                }
                let fitting = doc.slots.iter().filter(|s| self.0.fits(s.name.kind, &s.name.label));
                for slot in fitting.collect::<Vec<_>>() {
                    let secret = self.0.x25519(slot)?;
                    // The slot is the one whose recipient this secret's public key is: no
                    // trial decryption.
                    if crate::vault::v2::keys::recipient(&secret) == slot.recipient {
                        let info =
                            infos.iter().find(|i| i.kind == slot.name.kind && i.label == slot.name.label)?.clone();
                        return Some(Opened {
                            key: OpenKey::V2 { slot: slot.name.clone(), secret: secret.into() },
                            slot: info,
                        });
                    }
                }
                None
            }
        }
    }

    pub fn describe(&self) -> &'static str {
        self.0.describe()
    }
}

/// A plugin identity tries the member slots whose key is its plugin's: the one whose wrap of
/// `@default` it opens, to that domain's key, is the one.
fn open_with_plugin(
    doc: &crate::vault::v2::text::Document,
    plugin: std::sync::Arc<crate::vault::v2::plugin::PluginIdentity>,
    infos: &[SlotInfo],
) -> Option<Opened> {
    use crate::vault::v2::{keys, plugin as plugins, text};
    let default = doc.domain(text::DEFAULT)?;
    let opener = keys::Opener::Plugin(plugin.clone());
    let same_plugin = |slot: &&crate::vault::v2::text::Slot| {
        slot.name.kind == SlotKind::Member
            && plugins::recipient_plugin(&slot.recipient).as_deref() == Some(plugin.plugin())
    };
    // The slot of the identity's own recipient when its file names it (no trial); else each
    // member slot of the same plugin in turn (each try runs the plugin).
    let named: Vec<&crate::vault::v2::text::Slot> =
        doc.slots.iter().filter(same_plugin).filter(|s| plugin.recipient() == Some(s.recipient.as_str())).collect();
    let candidates = if named.is_empty() { doc.slots.iter().filter(same_plugin).collect() } else { named };
    for slot in candidates {
        let Some(wrap) = default.head.to.iter().find(|w| w.slot == slot.name) else { continue };
        let Some(key) = opener.unwrap(&wrap.age) else { continue };
        if keys::DomainKey::new(&doc.id, key).id() == default.head.key_id {
            let info = infos.iter().find(|i| i.kind == slot.name.kind && i.label == slot.name.label)?.clone();
            return Some(Opened { key: OpenKey::V2 { slot: slot.name.clone(), secret: opener }, slot: info });
        }
    }
    None
}

/// What the unlock chain may do in this process.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Try the passphrase slot at all (an Argon2 derivation). Completion never does: it runs on
    /// every Tab, in whatever repository the shell is in.
    pub passphrase: bool,
    /// Ask AWS KMS for a KMS slot's secret (a network call, with AWS credentials present).
    /// Completion and git's drivers never do.
    pub kms: bool,
}

/// KMS slots' secrets, decrypted by AWS KMS before the chain tries them (so that a failure is
/// a note naming the slot, not a silent miss).
struct KmsIdentity {
    secrets: Vec<(String, crate::sensitive::Key32)>,
}

impl Identity for KmsIdentity {
    fn fits(&self, kind: SlotKind, label: &str) -> bool {
        kind == SlotKind::Kms && self.secrets.iter().any(|(l, _)| l == label)
    }

    fn kek(&mut self, _: &crate::vault::format::Slot) -> Option<crate::sensitive::Key32> {
        None
    }

    fn x25519(&mut self, slot: &crate::vault::v2::text::Slot) -> Option<crate::sensitive::Key32> {
        self.secrets.iter().find(|(l, _)| *l == slot.name.label).map(|(_, k)| k.clone())
    }

    fn describe(&self) -> &'static str {
        "KMS key"
    }

    fn boxed(&self) -> Box<dyn Identity> {
        Box::new(KmsIdentity { secrets: self.secrets.clone() })
    }
}

/// The KMS slots of a format 2 vault, tried with this environment's AWS credentials.
fn try_kms(locked: &Locked, notes: &mut Vec<String>) -> Option<(Credential, Opened)> {
    let LockedFormat::V2(doc) = &locked.format else { return None };
    let slots: Vec<_> = doc.slots.iter().filter(|s| s.kms.is_some()).collect();
    if slots.is_empty() {
        return None;
    }
    if !crate::remote::kms::credentials_present() {
        notes.push("KMS slots, but no AWS credentials in this environment".into());
        return None;
    }
    let vault = locked.id_hex();
    let pin = std::env::var(crate::remote::kms::KEYS_VAR).ok();
    // One slot at a time, stopping at the first that opens: a slot someone added to the file is
    // not asked about once the job's own has answered.
    for s in slots {
        let kms = s.kms.as_ref()?;
        if !crate::remote::kms::allowed(&kms.key_id, pin.as_deref()) {
            notes.push(format!("{}: its key is not in {}", s.name.describe(), crate::remote::kms::KEYS_VAR));
            continue;
        }
        let key = match crate::remote::kms::decrypt(&kms.key_id, &vault, &s.name.to_string(), &kms.blob) {
            Ok(key) => key,
            Err(e) => {
                notes.push(format!("{}: {e}", s.name.describe()));
                continue;
            }
        };
        let mut credential = Credential::new(KmsIdentity { secrets: vec![(s.name.label.clone(), key)] });
        if let Some(opened) = credential.open(locked) {
            return Some((credential, opened));
        }
        notes.push(format!("{}: KMS gave a secret that is not its slot's", s.name.describe()));
    }
    None
}

/// How the unlock chain asks a person for a passphrase. The core never touches the terminal:
/// the command-line layer answers with its hidden prompt, completion and checks with [`NoOne`].
pub trait Ask {
    /// The passphrase for the vault at `path`, asked for the `attempt`th time (from 1); `None`
    /// when there is no one to ask.
    fn passphrase(&mut self, path: &std::path::Path, attempt: u32) -> Result<Option<Passphrase>>;

    /// The passphrase of the SSH private key at `key`; `None` when there is no one to ask.
    fn key_passphrase(&mut self, _key: &std::path::Path) -> Result<Option<Passphrase>> {
        Ok(None)
    }
}

/// Nobody to ask: the passphrase comes from `KEYWARD_PASSPHRASE_FILE` or not at all.
pub struct NoOne;

impl Ask for NoOne {
    fn passphrase(&mut self, _: &std::path::Path, _: u32) -> Result<Option<Passphrase>> {
        Ok(None)
    }
}

/// How many times a passphrase is asked for on a terminal (each try is an Argon2 derivation with
/// the file's parameters; see [`crypto::MAX_UNTRUSTED_DERIVATIONS`]).
pub const PROMPT_ATTEMPTS: u32 = 2;

fn derivations_spent(path: &std::path::Path) -> Error {
    Error::CannotUnlock {
        path: path.to_owned(),
        reason: format!(
            "this process already derived a passphrase {} times, the most it does (each derivation costs what the file asks for)",
            crypto::MAX_UNTRUSTED_DERIVATIONS
        ),
        hint: "run the command again".into(),
    }
}

/// Runs the unlock chain against a vault's header.
pub fn unlock(locked: &Locked, policy: Policy, ask: &mut dyn Ask) -> Result<(Credential, Opened)> {
    let slots = locked.slots();
    let path = &locked.path;

    if let Some(text) = crate::sensitive::env_secret(VAULT_KEY_VAR) {
        let text = zeroize::Zeroizing::new(String::from_utf8_lossy(&text).into_owned());
        let code = codes::parse(&text).map_err(|reason| Error::MalformedVaultKey { reason })?;
        let mut credential = Credential::new(code);
        return match credential.open(locked) {
            Some(opened) => Ok((credential, opened)),
            None => Err(Error::WrongVaultKey { path: path.clone() }),
        };
    }

    let mut notes = Vec::new();
    for backend in Backend::of_slots(&slots, false) {
        match keyring::get(backend, &locked.keyring_name()) {
            Ok(Some(secret)) => {
                let mut credential = Credential::new(KeyringIdentity { backend, secret });
                if let Some(opened) = credential.open(locked) {
                    return Ok((credential, opened));
                }
                notes.push(format!("the {} entry does not open this vault", backend.name()));
            }
            Ok(None) => notes.push(format!("no {} entry on this machine", backend.name())),
            Err(e) => notes.push(e.to_string()),
        }
    }
    if !slots.iter().any(|s| s.kind == SlotKind::Keyring) {
        notes.push("no keyring slot".into());
    }

    // Your identity, when the vault has members: an SSH key (KEYWARD_IDENTITY, or
    // ~/.ssh/id_ed25519 when a member slot names its public key), else your age identity.
    let env_identity = std::env::var_os(identity::IDENTITY_VAR).filter(|v| !v.is_empty()).map(std::path::PathBuf::from);
    let ssh_members: Vec<&str> = slots.iter().filter_map(|s| s.ssh.as_deref()).collect();
    let default_ssh = (env_identity.is_none() && !ssh_members.is_empty())
        .then(|| crate::paths::home().ok().map(|h| h.join(".ssh/id_ed25519")))
        .flatten()
        .filter(|key| {
            identity::ssh_public_blob(&key.with_extension("pub")).is_some_and(|b| ssh_members.contains(&b.as_str()))
        });
    let env_is_ssh = env_identity.as_deref().is_some_and(identity::is_ssh_key_file);
    let ssh_key = env_identity.clone().filter(|_| env_is_ssh).or(default_ssh);
    let has_members = slots.iter().any(|s| s.kind == SlotKind::Member);
    if let Some(key) = ssh_key.filter(|_| has_members) {
        match identity::ssh_secret(&key, &mut || ask.key_passphrase(&key)) {
            Ok(Some(secret)) => {
                let mut credential = Credential::new(identity::PersonalIdentity { secret });
                if let Some(opened) = credential.open(locked) {
                    return Ok((credential, opened));
                }
                notes.push(format!("the SSH key {} is not a member of this vault", key.display()));
            }
            Ok(None) => notes
                .push(format!("the SSH key {} is not an ed25519 key, or its passphrase was not given", key.display())),
            Err(e) => notes.push(e.to_string()),
        }
    }
    // The age identity too, when the SSH key did not open it (or there is none).
    let env_plugin = match env_identity.as_deref().filter(|_| has_members && !env_is_ssh) {
        Some(path) => identity::read_plugin_file(path),
        None => Ok(None),
    };
    let env_plugin = match env_plugin {
        Ok(plugin) => plugin,
        Err(e) => {
            notes.push(e.to_string());
            None
        }
    };
    if let Some(plugin) = env_plugin {
        let name = plugin.plugin().to_owned();
        let mut credential = Credential::new(identity::PluginMember { identity: std::sync::Arc::new(plugin) });
        if let Some(opened) = credential.open(locked) {
            return Ok((credential, opened));
        }
        notes.push(format!(
            "your age-plugin-{name} identity (KEYWARD_IDENTITY) opened no member slot (not a member, or the plugin failed)"
        ));
    } else if has_members && !env_is_ssh {
        match identity::load() {
            Ok(Some((secret, source))) => {
                let mut credential = Credential::new(identity::PersonalIdentity { secret });
                if let Some(opened) = credential.open(locked) {
                    return Ok((credential, opened));
                }
                notes.push(format!("your identity (from {source}) is not a member of this vault"));
            }
            Ok(None) => notes.push("no identity of yours on this machine (`keyward identity new`)".into()),
            Err(e) => notes.push(e.to_string()),
        }
    }

    // A CI job's cloud identity, after yours.
    if policy.kms
        && let Some(found) = try_kms(locked, &mut notes)
    {
        return Ok(found);
    }

    if !policy.passphrase {
        notes.push("the passphrase is not tried here".into());
    } else if slots.iter().any(|s| s.kind == SlotKind::Passphrase) {
        if let Some(file) = std::env::var_os(PASSPHRASE_FILE_VAR) {
            let passphrase = crate::sensitive::read_passphrase_file(std::path::Path::new(&file))?;
            let mut credential = Credential::new(PassphraseIdentity::new(passphrase));
            return match credential.open(locked) {
                Some(opened) => Ok((credential, opened)),
                None if !crypto::untrusted_derivations_left() => Err(derivations_spent(path)),
                None => {
                    Err(Error::WrongSecret { what: "passphrase (from KEYWARD_PASSPHRASE_FILE)", path: path.clone() })
                }
            };
        }
        if !crypto::untrusted_derivations_left() {
            return Err(derivations_spent(path));
        }
        for attempt in 1..=PROMPT_ATTEMPTS {
            let Some(passphrase) = ask.passphrase(path, attempt)? else { break };
            let mut credential = Credential::new(PassphraseIdentity::new(passphrase));
            if let Some(opened) = credential.open(locked) {
                return Ok((credential, opened));
            }
            if attempt == PROMPT_ATTEMPTS {
                return Err(Error::WrongSecret { what: "passphrase", path: path.clone() });
            }
        }
        notes.push("a passphrase slot, but no KEYWARD_PASSPHRASE_FILE and no terminal to ask on".into());
    } else {
        notes.push("no passphrase slot".into());
    }

    // Name only the ways in this vault has: no passphrase advice for a vault without one.
    let has_passphrase = slots.iter().any(|s| s.kind == SlotKind::Passphrase);
    Err(Error::CannotUnlock {
        path: path.clone(),
        reason: notes.join("; "),
        hint: if has_passphrase {
            "set KEYWARD_VAULT_KEY to a token or the recovery key, run `keyward unlock` to restore this machine's keyring entry, or give the passphrase (KEYWARD_PASSPHRASE_FILE or a terminal)".into()
        } else {
            "set KEYWARD_VAULT_KEY to a token or the recovery key, or run `keyward unlock` (with one of them) to restore this machine's keyring entry".into()
        },
    })
}

#[cfg(test)]
mod tests {
    use super::codes::{Code, CodeKind};
    use super::passphrase::PassphraseRecipient;
    use super::*;
    use crate::sensitive::Key32;
    use crate::vault::Vault;
    use crate::vault::crypto::Argon2Params;

    /// The cheapest parameters Argon2id accepts, so the test does not spend seconds deriving.
    const CHEAP: Argon2Params = Argon2Params { m_kib: 8, t: 1, p: 1 };

    struct Keys {
        recovery: Key32,
        first_token: Key32,
        second_token: Key32,
        secret_service: Key32,
        keyutils: Key32,
    }

    /// A vault with one slot of every kind, two tokens and two keyring slots, in format 1 or 2.
    fn vault(version: u16) -> (Vault, Keys) {
        let keys = Keys {
            recovery: Key32::random(),
            first_token: Key32::random(),
            second_token: Key32::random(),
            secret_service: Key32::random(),
            keyutils: Key32::random(),
        };
        let path = std::path::Path::new("/nonexistent/vault");
        let mut vault = if version == 1 { Vault::create_v1(path, 0) } else { Vault::create(path, 0) };
        crate::audit::init_secret(&mut vault).unwrap();
        let random = |kind, label: &str, secret| RandomSecret { kind, label: label.into(), secret };
        vault.add_slot(&random(SlotKind::Recovery, "", &keys.recovery), 0).unwrap();
        vault.add_slot(&random(SlotKind::Token, "ci", &keys.first_token), 0).unwrap();
        vault.add_slot(&random(SlotKind::Token, "deploy", &keys.second_token), 0).unwrap();
        vault.add_slot(&random(SlotKind::Keyring, "secret-service@host", &keys.secret_service), 0).unwrap();
        vault.add_slot(&random(SlotKind::Keyring, "keyutils@host", &keys.keyutils), 0).unwrap();
        vault.add_slot(&PassphraseRecipient { passphrase: "correct horse", params: CHEAP }, 0).unwrap();
        (vault, keys)
    }

    fn locked(vault: &mut Vault) -> Locked {
        Locked::from_bytes(&vault.path.clone(), zeroize::Zeroizing::new(vault.seal().unwrap()), None).unwrap()
    }

    /// The label of the slot `credential` opens, after checking that what it gave opens the vault.
    fn opens(vault: &mut Vault, mut credential: Credential) -> Option<String> {
        let locked = locked(vault);
        let opened = credential.open(&locked)?;
        if let OpenKey::V1(key) = &opened.key {
            assert_eq!(key.expose(), vault.data_key().unwrap().expose(), "an opened slot yields the data key");
        }
        let reopened = locked.open(opened.key).expect("the key opens the vault");
        assert!(reopened.records().is_ok());
        Some(opened.slot.label)
    }

    fn code(kind: CodeKind, secret: &Key32) -> Credential {
        Credential::new(Code { kind, secret: secret.clone() })
    }

    #[test]
    fn each_credential_opens_its_own_slot_and_no_other() {
        // A thread per format: each spends its own budget of passphrase derivations.
        for version in [1, 2] {
            std::thread::spawn(move || each_credential_opens_its_own_slot(version)).join().unwrap();
        }
    }

    fn each_credential_opens_its_own_slot(version: u16) {
        {
            let (mut vault, keys) = vault(version);
            let vault = &mut vault;
            assert_eq!(opens(vault, code(CodeKind::Recovery, &keys.recovery)).as_deref(), Some(""));
            assert_eq!(opens(vault, code(CodeKind::Token, &keys.first_token)).as_deref(), Some("ci"));
            // The second token slot is reached after the first one fails to open.
            assert_eq!(opens(vault, code(CodeKind::Token, &keys.second_token)).as_deref(), Some("deploy"));
            let keyring =
                |backend, secret: &Key32| Credential::new(KeyringIdentity { backend, secret: secret.clone() });
            assert_eq!(
                opens(vault, keyring(Backend::SecretService, &keys.secret_service)).as_deref(),
                Some("secret-service@host")
            );
            assert_eq!(opens(vault, keyring(Backend::Keyutils, &keys.keyutils)).as_deref(), Some("keyutils@host"));
            let passphrase = Credential::new(PassphraseIdentity::new(Passphrase::new("correct horse".into())));
            assert_eq!(opens(vault, passphrase).as_deref(), Some(""));

            // A secret presented as the wrong kind of credential opens nothing: a token is never
            // tried against the recovery slot, a keyring entry only against its own backend's slot.
            assert_eq!(opens(vault, code(CodeKind::Token, &keys.recovery)), None);
            assert_eq!(opens(vault, code(CodeKind::Recovery, &keys.first_token)), None);
            assert_eq!(opens(vault, keyring(Backend::Keyutils, &keys.secret_service)), None);
            assert_eq!(opens(vault, keyring(Backend::Keychain, &keys.keyutils)), None);
            assert_eq!(opens(vault, keyring(Backend::SecretService, &keys.recovery)), None);
            let wrong = Credential::new(PassphraseIdentity::new(Passphrase::new("wrong horse".into())));
            assert_eq!(opens(vault, wrong), None);
            assert_eq!(opens(vault, code(CodeKind::Token, &Key32::random())), None);
        }
    }

    #[test]
    fn with_no_way_in_the_error_names_each_one_tried() {
        // unlock() reads KEYWARD_VAULT_KEY and KEYWARD_PASSPHRASE_FILE; no test in this process
        // sets them, but a developer's shell might.
        if std::env::var_os(VAULT_KEY_VAR).is_some() || std::env::var_os(PASSPHRASE_FILE_VAR).is_some() {
            return;
        }
        for version in [1, 2] {
            let (mut vault, _) = vault(version);
            vault.remove_slots(|s| s.kind == SlotKind::Keyring).unwrap();
            let Err(Error::CannotUnlock { reason, .. }) =
                unlock(&locked(&mut vault), Policy { passphrase: true, kms: false }, &mut NoOne)
            else {
                panic!("a vault with no keyring slot, no key and no passphrase source does not open")
            };
            assert_eq!(
                reason,
                "no keyring slot; a passphrase slot, but no KEYWARD_PASSPHRASE_FILE and no terminal to ask on"
            );
            vault.remove_slots(|s| s.kind == SlotKind::Passphrase).unwrap();
            let Err(Error::CannotUnlock { reason, .. }) =
                unlock(&locked(&mut vault), Policy { passphrase: true, kms: false }, &mut NoOne)
            else {
                panic!()
            };
            assert_eq!(reason, "no keyring slot; no passphrase slot");
        }
    }

    #[test]
    fn credentials_describe_themselves_without_their_secret() {
        let secret = Key32::random();
        let described = [
            code(CodeKind::Recovery, &secret).describe(),
            code(CodeKind::Token, &secret).describe(),
            Credential::new(KeyringIdentity { backend: Backend::Keyutils, secret: secret.clone() }).describe(),
            Credential::new(PassphraseIdentity::new(Passphrase::new("x".repeat(12)))).describe(),
        ];
        assert_eq!(described, ["recovery key", "token", "keyring", "passphrase"]);
    }
}
