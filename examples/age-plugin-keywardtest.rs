//! `age-plugin-keywardtest`: an age plugin for keyward's tests, run over the real plugin
//! protocol by keyward and by the `age` command alike. Its recipient is `age1keywardtest1…` over
//! an X25519 public key and its identity `AGE-PLUGIN-KEYWARDTEST-1…` over the X25519 secret; it
//! wraps as age's X25519 recipient does, under its own stanza tag. Every run appends a line to
//! the file `KEYWARDTEST_LOG` names (tests check when it ran). Not for real use: the identity
//! holds the secret in the clear, as a plain age identity does.
//!
//! `age-plugin-keywardtest --generate` prints a new identity, then its recipient.

use std::collections::{HashMap, HashSet};
use std::io::{self, Write as _};

use age::secrecy::ExposeSecret as _;
use age_core::format::{FileKey, Stanza};
use age_plugin::identity::{self, IdentityPluginV1};
use age_plugin::recipient::{self, RecipientPluginV1};
use age_plugin::{Callbacks, PluginHandler, run_state_machine};

const NAME: &str = "keywardtest";

fn log(what: &str) {
    if let Some(path) = std::env::var_os("KEYWARDTEST_LOG")
        && let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path)
    {
        let _ = writeln!(f, "{what}");
    }
}

fn x25519_recipient(bytes: &[u8]) -> Option<age::x25519::Recipient> {
    let hrp = bech32::Hrp::parse("age").ok()?;
    bech32::encode::<bech32::Bech32>(hrp, bytes).ok()?.parse().ok()
}

fn x25519_identity(bytes: &[u8]) -> Option<age::x25519::Identity> {
    let hrp = bech32::Hrp::parse("AGE-SECRET-KEY-").ok()?;
    bech32::encode_upper::<bech32::Bech32>(hrp, bytes).ok()?.parse().ok()
}

struct Handler;

impl PluginHandler for Handler {
    type RecipientV1 = Recipients;
    type IdentityV1 = Identities;

    fn recipient_v1(self) -> io::Result<Recipients> {
        Ok(Recipients(Vec::new()))
    }

    fn identity_v1(self) -> io::Result<Identities> {
        Ok(Identities(Vec::new()))
    }
}

struct Recipients(Vec<age::x25519::Recipient>);

impl RecipientPluginV1 for Recipients {
    fn add_recipient(&mut self, index: usize, plugin: &str, bytes: &[u8]) -> Result<(), recipient::Error> {
        match x25519_recipient(bytes).filter(|_| plugin == NAME) {
            Some(r) => {
                self.0.push(r);
                Ok(())
            }
            None => Err(recipient::Error::Recipient { index, message: "not a keywardtest recipient".into() }),
        }
    }

    fn add_identity(&mut self, index: usize, _plugin: &str, _bytes: &[u8]) -> Result<(), recipient::Error> {
        Err(recipient::Error::Identity { index, message: "identities are not recipients here".into() })
    }

    fn labels(&mut self) -> HashSet<String> {
        HashSet::new()
    }

    fn wrap_file_keys(
        &mut self,
        file_keys: Vec<FileKey>,
        _callbacks: impl Callbacks<recipient::Error>,
    ) -> io::Result<Result<Vec<Vec<Stanza>>, Vec<recipient::Error>>> {
        use age::Recipient as _;
        log("wrap");
        let mut out = Vec::new();
        for file_key in &file_keys {
            let mut stanzas = Vec::new();
            for r in &self.0 {
                let (wrapped, _) = r.wrap_file_key(file_key).map_err(io::Error::other)?;
                stanzas.extend(wrapped.into_iter().map(|s| Stanza { tag: NAME.into(), args: s.args, body: s.body }));
            }
            out.push(stanzas);
        }
        Ok(Ok(out))
    }
}

struct Identities(Vec<age::x25519::Identity>);

impl IdentityPluginV1 for Identities {
    fn add_identity(&mut self, index: usize, plugin: &str, bytes: &[u8]) -> Result<(), identity::Error> {
        match x25519_identity(bytes).filter(|_| plugin == NAME) {
            Some(i) => {
                self.0.push(i);
                Ok(())
            }
            None => Err(identity::Error::Identity { index, message: "not a keywardtest identity".into() }),
        }
    }

    fn unwrap_file_keys(
        &mut self,
        files: Vec<Vec<Stanza>>,
        _callbacks: impl Callbacks<identity::Error>,
    ) -> io::Result<HashMap<usize, Result<FileKey, Vec<identity::Error>>>> {
        use age::Identity as _;
        log("unwrap");
        let mut keys = HashMap::new();
        for (index, stanzas) in files.iter().enumerate() {
            for stanza in stanzas.iter().filter(|s| s.tag == NAME) {
                let as_x25519 = Stanza { tag: "X25519".into(), args: stanza.args.clone(), body: stanza.body.clone() };
                if let Some(Ok(key)) = self.0.iter().find_map(|i| i.unwrap_stanza(&as_x25519)) {
                    keys.insert(index, Ok(key));
                    break;
                }
            }
        }
        Ok(keys)
    }
}

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if let Some(machine) = args.iter().find_map(|a| a.strip_prefix("--age-plugin=")) {
        log(&format!("run {machine}"));
        return run_state_machine(machine, Handler);
    }
    if args.iter().any(|a| a == "--generate") {
        let secret = age::x25519::Identity::generate();
        let text = secret.to_string();
        let (_, bytes) = bech32::decode(text.expose_secret()).map_err(io::Error::other)?;
        let public = bech32::decode(&secret.to_public().to_string()).map_err(io::Error::other)?.1;
        let id_hrp = bech32::Hrp::parse("AGE-PLUGIN-KEYWARDTEST-").map_err(io::Error::other)?;
        let r_hrp = bech32::Hrp::parse("age1keywardtest").map_err(io::Error::other)?;
        println!("{}", bech32::encode_upper::<bech32::Bech32>(id_hrp, &bytes).map_err(io::Error::other)?);
        println!("{}", bech32::encode::<bech32::Bech32>(r_hrp, &public).map_err(io::Error::other)?);
        return Ok(());
    }
    eprintln!("age-plugin-keywardtest: a test plugin; --generate prints an identity and its recipient");
    Ok(())
}
