//! References to a remote store's secrets, resolved directly (as `op run` resolves `op://`):
//! `aws-sm://REGION/NAME[#json-key][@AWSCURRENT|AWSPREVIOUS|AWSPENDING]` and
//! `vault:MOUNT/PATH#field[@version]`. The server again comes from the user's environment only.

use super::RemoteError;
use crate::sensitive::SecretValue;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    Aws { region: String, id: String, key: Option<String>, stage: &'static str },
    Kv { mount: String, path: String, field: String, version: Option<u64> },
}

fn key_ok(key: &str) -> bool {
    (1..=128).contains(&key.len()) && key.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
}

impl Reference {
    /// `None` when `text` is not a remote reference at all; `Some(Err)` when it starts like one
    /// and is malformed.
    pub fn parse(text: &str) -> Option<Result<Reference, String>> {
        if let Some(rest) = text.strip_prefix("aws-sm://") {
            return Some(Self::parse_aws(rest));
        }
        // `vault:` is a word other values start with (a commit title "vault: fix #42"), and
        // Bank-Vaults' webhook has its own `vault:MOUNT/data/PATH#KEY`: only the whole form,
        // with a path that is not an API path, is ours; anything else is left as it is.
        let rest = text.strip_prefix("vault:")?;
        let reference = Self::parse_kv(rest).ok()?;
        match &reference {
            Reference::Kv { path, .. } if path.starts_with("data/") || path.starts_with("metadata/") => None,
            _ => Some(Ok(reference)),
        }
    }

    fn parse_aws(rest: &str) -> Result<Reference, String> {
        let (rest, stage) = match rest.rsplit_once('@') {
            Some((r, "AWSCURRENT")) => (r, "AWSCURRENT"),
            Some((r, "AWSPREVIOUS")) => (r, "AWSPREVIOUS"),
            Some((r, "AWSPENDING")) => (r, "AWSPENDING"),
            Some((_, other)) if !other.contains('/') && !other.contains('#') => {
                return Err(format!("{other:?} is not AWSCURRENT, AWSPREVIOUS or AWSPENDING"));
            }
            _ => (rest, "AWSCURRENT"),
        };
        let (rest, key) = match rest.split_once('#') {
            Some((r, k)) if key_ok(k) => (r, Some(k.to_owned())),
            Some(_) => return Err("a JSON key is 1-128 letters, digits, '_', '-' or '.'".into()),
            None => (rest, None),
        };
        let (region, id) = rest.split_once('/').ok_or("expected aws-sm://REGION/NAME")?;
        if !super::aws::sound_region(region) {
            return Err(format!("{region:?} is not an AWS region"));
        }
        if !super::path_segments_ok(id, "+=@", 512) {
            return Err("the secret name is letters, digits and /_+=.@-".into());
        }
        Ok(Reference::Aws { region: region.to_owned(), id: id.to_owned(), key, stage })
    }

    fn parse_kv(rest: &str) -> Result<Reference, String> {
        let (path, field) = rest.split_once('#').ok_or("expected vault:MOUNT/PATH#field")?;
        let (field, version) = match field.split_once('@') {
            Some((f, v)) => (f, Some(v.parse::<u64>().ok().filter(|v| *v >= 1).ok_or("a version is a number from 1")?)),
            None => (field, None),
        };
        let (mount, path) = path.split_once('/').ok_or("expected vault:MOUNT/PATH#field")?;
        if !super::path_segments_ok(mount, "", 200) || !super::path_segments_ok(path, "", 512) || !key_ok(field) {
            return Err("write vault:MOUNT/PATH#field[@version] (letters, digits, _-. between slashes)".into());
        }
        Ok(Reference::Kv { mount: mount.to_owned(), path: path.to_owned(), field: field.to_owned(), version })
    }

    /// The value, read from the store.
    pub fn resolve(&self) -> Result<SecretValue, RemoteError> {
        match self {
            Reference::Aws { region, id, key, stage } => {
                super::aws::SecretsManager::connect(region, "")?.read(id, stage, key.as_deref())
            }
            Reference::Kv { mount, path, field, version } => super::kv::Kv::connect(mount, path)?.read(field, *version),
        }
    }
}

/// The string at `key` of a JSON object, copied once into a value of its size.
pub(super) fn json_field(text: &str, key: &str) -> Result<SecretValue, String> {
    let map: std::collections::BTreeMap<String, serde_json::Value> =
        serde_json::from_str(text).map_err(|_| "the secret is not a JSON object".to_owned())?;
    match map.get(key) {
        Some(serde_json::Value::String(s)) => Ok(SecretValue::new(s.clone())),
        Some(_) => Err(format!("the key {key} is not a string")),
        None => Err(format!("no key {key} in the secret")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse() {
        let r = Reference::parse("aws-sm://eu-west-1/prod/db#password@AWSPREVIOUS").unwrap().unwrap();
        assert_eq!(
            r,
            Reference::Aws {
                region: "eu-west-1".into(),
                id: "prod/db".into(),
                key: Some("password".into()),
                stage: "AWSPREVIOUS"
            }
        );
        let r = Reference::parse("vault:secret/app/db#password@3").unwrap().unwrap();
        assert_eq!(
            r,
            Reference::Kv { mount: "secret".into(), path: "app/db".into(), field: "password".into(), version: Some(3) }
        );
        for not_ours in [
            "vault:is just a word",
            "vault: fix #42",
            "vault:secret/data/accounts/aws#AWS_SECRET_ACCESS_KEY",
            "vault:secret/x#f@0",
            "vault:secret#f",
            "vault:secret/a b#f",
            "plain",
        ] {
            assert!(Reference::parse(not_ours).is_none(), "{not_ours}");
        }
        for bad in ["aws-sm://evil.example.com/x", "aws-sm://eu-west-1/x@LATEST", "aws-sm://eu-west-1/../x"] {
            assert!(matches!(Reference::parse(bad), Some(Err(_))), "{bad}");
        }
        assert!(Reference::parse("vault://evil.example.com/x#f").is_none());
    }

    #[test]
    fn json_fields() {
        assert_eq!(json_field(r#"{"user":"u","password":"p\"w"}"#, "password").unwrap().expose(), "p\"w");
        assert!(json_field(r#"{"n":1}"#, "n").is_err());
        assert!(json_field("not json", "n").is_err());
    }
}
