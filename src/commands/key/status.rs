//! `keyward key status`: which vault, why, its slots, and what unlocks it right now.

use serde_json::json;

use crate::Outcome;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::parse;
use crate::unlock::keyring::{self, Backend};
use crate::unlock::{self, Policy};

pub(super) fn run(ctx: &Context) -> Result<Outcome> {
    let location = ctx.location()?;
    let backends: Vec<_> = Backend::ALL
        .into_iter()
        .filter(|b| cfg!(target_os = "macos") == (*b == Backend::Keychain))
        .map(|b| {
            let state = keyring::probe(b).map_or_else(|e| e.to_string(), |()| "reachable".to_string());
            json!({"backend": b.name(), "state": state, "persistence": b.persistence()})
        })
        .collect();

    let locked = match ctx.read_locked() {
        Ok(locked) => Some(locked),
        Err(Error::VaultNotFound { .. }) => None,
        Err(e) => return Err(e),
    };
    let Some(locked) = locked else {
        let doc =
            json!({"vault": location.path, "why": location.reason.describe(), "exists": false, "keyrings": backends});
        print(ctx, &doc);
        return Ok(Outcome::Missing);
    };
    let version = locked.version();
    let slots: Vec<_> = locked
        .slots()
        .iter()
        .map(|s| {
            let kdf = match (s.argon2, version) {
                (None, 1) => "hkdf-sha256".to_string(),
                (None, _) => "x25519".to_string(),
                (Some(p), 1) => format!("argon2id m={}KiB t={} p={}", p.m_kib, p.t, p.p),
                (Some(p), _) => format!("argon2id m={}KiB t={} p={}, x25519", p.m_kib, p.t, p.p),
            };
            json!({
                "kind": s.kind.as_str(),
                "label": s.label,
                "created": parse::time(s.created),
                "kdf": kdf,
                "access": super::access_json(&s.access),
            })
        })
        .collect();
    let unlocks_with = match unlock::unlock(&locked, Policy { passphrase: true, kms: true }, &mut unlock::NoOne) {
        Ok((credential, opened)) => {
            let label = if opened.slot.label.is_empty() { String::new() } else { format!(" ({})", opened.slot.label) };
            json!({"ok": true, "source": format!("{}{label}", credential.describe())})
        }
        Err(e) => json!({"ok": false, "source": null, "reason": e.to_string()}),
    };
    let doc = json!({
        "vault": locked.path,
        "why": location.reason.describe(),
        "exists": true,
        "vault_id": locked.id_hex(),
        "format_version": version,
        "created": parse::time(locked.created()),
        "slots": slots,
        "unlocks_now": unlocks_with,
        "keyrings": backends,
    });
    print(ctx, &doc);
    Ok(Outcome::Success)
}

fn print(ctx: &Context, doc: &serde_json::Value) {
    if ctx.out.json {
        ctx.out.json(doc);
        return;
    }
    let s = |v: &serde_json::Value| v.as_str().map_or_else(|| "-".into(), crate::output::sanitize);
    let mut text = format!("vault:       {}\nwhy:         {}\n", s(&doc["vault"]), s(&doc["why"]));
    if doc["exists"] == false {
        text.push_str("exists:      no (create it with `keyward init`)\n");
    } else {
        text.push_str(&format!(
            "vault id:    {}\nformat:      version {}\ncreated:     {}\n",
            s(&doc["vault_id"]),
            doc["format_version"],
            s(&doc["created"])
        ));
        let unlock = &doc["unlocks_now"];
        if unlock["ok"] == true {
            text.push_str(&format!("unlocks now: yes, with the {}\n", s(&unlock["source"])));
        } else {
            text.push_str(&format!("unlocks now: no: {}\n", s(&unlock["reason"])));
        }
        text.push_str("slots:\n");
        for slot in doc["slots"].as_array().into_iter().flatten() {
            let label = s(&slot["label"]);
            let label = if label.is_empty() { String::new() } else { format!(" {label}") };
            let access = match &slot["access"] {
                serde_json::Value::Array(envs) => {
                    let envs: Vec<String> = envs.iter().map(s).collect();
                    format!(", access: {} and secrets with no environment", envs.join(", "))
                }
                _ => String::new(),
            };
            text.push_str(&format!(
                "  {}{label}  (created {}, {}{access})\n",
                s(&slot["kind"]),
                s(&slot["created"]),
                s(&slot["kdf"])
            ));
        }
    }
    text.push_str("keyrings:\n");
    for b in doc["keyrings"].as_array().into_iter().flatten() {
        text.push_str(&format!("  {}: {}; {}\n", s(&b["backend"]), s(&b["state"]), s(&b["persistence"])));
    }
    ctx.out.write(text.as_bytes());
}
