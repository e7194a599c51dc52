//! AWS KMS for CI unlock: a KMS slot's X25519 secret is kept in the vault encrypted by a KMS key
//! (`Encrypt`), with an encryption context naming the vault and the slot, so the ciphertext
//! cannot be replayed into another vault or slot (`Decrypt` refuses another context). A CI job
//! whose cloud identity may use the key unlocks with nothing stored.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::RemoteError;
use super::aws::JsonApi;
use super::http;
use crate::sensitive::Key32;

#[derive(Serialize)]
struct Context<'a> {
    #[serde(rename = "keyward-vault")]
    vault: &'a str,
    #[serde(rename = "keyward-slot")]
    slot: &'a str,
}

/// The region of a key: the ARN's, else `AWS_REGION` / `AWS_DEFAULT_REGION`. A key id comes
/// from a vault: the ARN is read strictly (its region names the host asked).
pub fn region_of(key_id: &str) -> Result<String, RemoteError> {
    if key_id.starts_with("arn:") {
        // arn:aws:kms:REGION:ACCOUNT:key/ID or …:alias/NAME
        let parts: Vec<&str> = key_id.split(':').collect();
        let sound = parts.len() == 6
            && parts[1] == "aws"
            && parts[2] == "kms"
            && super::aws::sound_region(parts[3])
            && parts[4].len() == 12
            && parts[4].bytes().all(|b| b.is_ascii_digit())
            && (parts[5].starts_with("key/") || parts[5].starts_with("alias/"));
        if !sound {
            return Err(RemoteError::Setup(format!(
                "{} is not a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)",
                crate::sanitize::sanitize(key_id)
            )));
        }
        return Ok(parts[3].to_owned());
    }
    ["AWS_REGION", "AWS_DEFAULT_REGION"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|r| !r.trim().is_empty()))
        .ok_or_else(|| {
            RemoteError::Setup(format!("no region for the KMS key {key_id}: give its ARN, or set AWS_REGION"))
        })
}

/// `KEYWARD_KMS_KEYS`: the keys a CI job allows the vault's KMS slots to name (comma or space
/// separated); unset, any.
pub const KEYS_VAR: &str = "KEYWARD_KMS_KEYS";

/// Whether a slot's `key_id` may be asked, under the pin `pin` (the value of [`KEYS_VAR`]).
pub fn allowed(key_id: &str, pin: Option<&str>) -> bool {
    pin.is_none_or(|p| p.split([',', ' ', '\n']).any(|k| k.trim() == key_id))
}

/// Whether this environment has AWS credentials to try (the unlock chain asks KMS only then).
pub fn credentials_present() -> bool {
    let set = |v: &str| std::env::var_os(v).is_some_and(|x| !x.is_empty());
    (set("AWS_ACCESS_KEY_ID") && set("AWS_SECRET_ACCESS_KEY"))
        || (set("AWS_ROLE_ARN") && set("AWS_WEB_IDENTITY_TOKEN_FILE"))
        || set("AWS_PROFILE")
        || crate::paths::home().is_ok_and(|h| h.join(".aws/credentials").is_file())
}

fn api(key_id: &str) -> Result<JsonApi, RemoteError> {
    JsonApi::connect("kms", "KMS", &region_of(key_id)?)
}

/// Encrypts `secret` under `key_id` for slot `slot` (`kms:LABEL`) of vault `vault` (hex id).
pub fn encrypt(key_id: &str, vault: &str, slot: &str, secret: &Key32) -> Result<Vec<u8>, RemoteError> {
    #[derive(Serialize)]
    struct Body<'a> {
        #[serde(rename = "KeyId")]
        key_id: &'a str,
        #[serde(rename = "Plaintext")]
        plaintext: &'a str,
        #[serde(rename = "EncryptionContext")]
        context: Context<'a>,
    }
    #[derive(Deserialize)]
    struct Answer {
        #[serde(rename = "CiphertextBlob")]
        blob: String,
    }
    let plaintext = Zeroizing::new(data_encoding::BASE64.encode(secret.expose()));
    let body = Body { key_id, plaintext: &plaintext, context: Context { vault, slot } };
    let body = http::json_body(&body, 0);
    let resp = api(key_id)?
        .call("TrentService.Encrypt", &body)?
        .map_err(|(kind, message)| RemoteError::Refused(format!("KMS Encrypt with {key_id}: {kind} ({message})")))?;
    let answer: Answer = serde_json::from_slice(&resp.body)
        .map_err(|_| RemoteError::Refused("KMS Encrypt: an answer this cannot read".into()))?;
    data_encoding::BASE64
        .decode(answer.blob.as_bytes())
        .map_err(|_| RemoteError::Refused("KMS Encrypt: the ciphertext is not base64".into()))
}

/// Decrypts a KMS slot's secret; KMS refuses a ciphertext made for another vault or slot.
pub fn decrypt(key_id: &str, vault: &str, slot: &str, blob: &[u8]) -> Result<Key32, RemoteError> {
    #[derive(Serialize)]
    struct Body<'a> {
        #[serde(rename = "KeyId")]
        key_id: &'a str,
        #[serde(rename = "CiphertextBlob")]
        blob: String,
        #[serde(rename = "EncryptionContext")]
        context: Context<'a>,
    }
    #[derive(Deserialize)]
    struct Answer {
        #[serde(rename = "Plaintext")]
        plaintext: http::WireValue,
    }
    let body = Body { key_id, blob: data_encoding::BASE64.encode(blob), context: Context { vault, slot } };
    let body: Arc<Zeroizing<Vec<u8>>> = http::json_body(&body, blob.len() * 2);
    let resp = api(key_id)?.call("TrentService.Decrypt", &body)?.map_err(|(kind, message)| {
        if kind == "InvalidCiphertextException" {
            RemoteError::Refused(format!(
                "KMS refused the ciphertext of {slot}: it was not made for this vault and slot ({message})"
            ))
        } else {
            RemoteError::Refused(format!("KMS Decrypt with {key_id}: {kind} ({message})"))
        }
    })?;
    let answer: Answer = serde_json::from_slice(&resp.body)
        .map_err(|_| RemoteError::Refused("KMS Decrypt: an answer this cannot read".into()))?;
    let raw = Zeroizing::new(
        data_encoding::BASE64
            .decode(answer.plaintext.0.expose().as_bytes())
            .map_err(|_| RemoteError::Refused("KMS Decrypt: the plaintext is not base64".into()))?,
    );
    Key32::from_slice(&raw).ok_or_else(|| RemoteError::Refused(format!("KMS Decrypt: {slot}'s secret is not 32 bytes")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_from_arns() {
        assert_eq!(region_of("arn:aws:kms:eu-west-1:123456789012:key/abc").unwrap(), "eu-west-1");
        for bad in [
            "arn:aws:s3:::bucket",
            "arn:aws:kms:evil.example/:123456789012:key/x",
            "arn:aws:kms:eu-west-1:1234:key/x",
            "arn:aws:kms:eu-west-1:123456789012:other/x",
        ] {
            assert!(region_of(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pins() {
        assert!(allowed("arn:aws:kms:eu-west-1:123456789012:key/a", None));
        let pin = "arn:aws:kms:eu-west-1:123456789012:key/a, alias/b";
        assert!(allowed("arn:aws:kms:eu-west-1:123456789012:key/a", Some(pin)));
        assert!(allowed("alias/b", Some(pin)));
        assert!(!allowed("arn:aws:kms:eu-west-1:999999999999:key/a", Some(pin)));
    }
}
