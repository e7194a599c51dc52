//! The decrypted payload: a list of records, each `{name, var, env, body}`.
//!
//! Reads borrow straight from the decrypted buffer ([`PayloadView`]): finding one secret among
//! 100,000 decodes only the index and that one body. Writes work on owned [`Record`]s.

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use super::secret::{Body, Secret, validate_record_fields};
use crate::sensitive::{SecretBytes, to_zeroizing_bytes};

#[derive(Deserialize)]
pub struct PayloadView<'a> {
    #[serde(borrow)]
    pub settings: Vec<(&'a str, &'a str)>,
    #[serde(borrow)]
    pub records: Vec<RecordView<'a>>,
}

/// A record borrowed from the plaintext. Names are kept as bytes: a lookup among 100,000 records
/// compares bytes and validates UTF-8 only for the records it decodes.
#[derive(Deserialize, Clone, Copy)]
pub struct RecordView<'a> {
    pub name: &'a [u8],
    pub var: &'a [u8],
    #[serde(borrow)]
    pub env: Option<&'a [u8]>,
    pub body: &'a [u8],
}

fn text(bytes: &[u8]) -> Result<String, DecodeError> {
    std::str::from_utf8(bytes).map(str::to_owned).map_err(|_| DecodeError::Undecodable)
}

/// Why a record could not be read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The bytes do not decode.
    Undecodable,
    /// It decodes, but a clear field is not what keyward writes: a crafted vault.
    Invalid { name: String, reason: String },
    /// A version 2 record of a domain the unlocking slot does not hold.
    NoAccess { domain: String },
    /// A version 2 record that does not authenticate under its domain's key.
    Unsealable { name: String },
}

impl From<postcard::Error> for DecodeError {
    fn from(_: postcard::Error) -> Self {
        DecodeError::Undecodable
    }
}

/// The clear fields, checked as on writing (see [`validate_record_fields`]).
fn checked(name: &[u8], var: &[u8], env: Option<&[u8]>) -> Result<(String, String, Option<String>), DecodeError> {
    let (name, var, env) = (text(name)?, text(var)?, env.map(text).transpose()?);
    validate_record_fields(&name, &var, env.as_deref())
        .map_err(|reason| DecodeError::Invalid { name: name.clone(), reason })?;
    Ok((name, var, env))
}

#[derive(Serialize, Clone, Debug)]
pub struct Record {
    pub name: String,
    pub var: String,
    pub env: Option<String>,
    pub body: RecordBody,
}

/// A record's body: encoded (version 1 always; version 2 once changed), or a version 2 body still
/// sealed, which opens on demand and, unchanged, is written back byte for byte.
#[derive(Clone, Debug)]
pub enum RecordBody {
    Plain(SecretBytes),
    Sealed(super::v2::vault::Sealed),
}

impl Serialize for RecordBody {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            RecordBody::Plain(bytes) => bytes.serialize(s),
            RecordBody::Sealed(_) => Err(serde::ser::Error::custom("a sealed version 2 body has no version 1 form")),
        }
    }
}

/// The owned, editable form of the payload.
#[derive(Serialize, Default, Debug)]
pub struct Records {
    pub settings: Vec<(String, String)>,
    pub records: Vec<Record>,
}

impl Drop for Records {
    /// Settings include the audit secret and earlier epochs' MAC keys (the records' bodies wipe
    /// themselves).
    fn drop(&mut self) {
        for (_, value) in &mut self.settings {
            value.zeroize();
        }
    }
}

impl<'a> RecordView<'a> {
    pub fn decode(&self) -> Result<Secret, DecodeError> {
        let (name, var, env) = checked(self.name, self.var, self.env)?;
        let body: Body = postcard::from_bytes(self.body)?;
        Ok(Secret { name, var, env, body })
    }

    pub fn to_owned_record(&self) -> Result<Record, DecodeError> {
        let (name, var, env) = checked(self.name, self.var, self.env)?;
        Ok(Record { name, var, env, body: RecordBody::Plain(SecretBytes::copy_from(self.body)) })
    }

    /// The name, if it is one keyward would write (completion offers nothing else to a shell).
    pub fn valid_name(&self) -> Option<&'a str> {
        std::str::from_utf8(self.name).ok().filter(|n| super::secret::validate_name(n).is_ok())
    }
}

impl Record {
    pub fn encode(secret: &Secret) -> Record {
        Record {
            name: secret.name.clone(),
            var: secret.var.clone(),
            env: secret.env.clone(),
            body: RecordBody::Plain(SecretBytes(to_zeroizing_bytes(&secret.body, 256))),
        }
    }

    pub fn decode(&self) -> Result<Secret, DecodeError> {
        let opened;
        let body: &[u8] = match &self.body {
            RecordBody::Plain(bytes) => &bytes.0,
            RecordBody::Sealed(sealed) => {
                opened = sealed.open()?;
                &opened
            }
        };
        RecordView {
            name: self.name.as_bytes(),
            var: self.var.as_bytes(),
            env: self.env.as_ref().map(std::string::String::as_bytes),
            body,
        }
        .decode()
    }

    /// The encoded body, opening a sealed one.
    pub fn plain_body(&self) -> Result<SecretBytes, DecodeError> {
        match &self.body {
            RecordBody::Plain(bytes) => Ok(bytes.clone()),
            RecordBody::Sealed(sealed) => Ok(SecretBytes(sealed.open()?)),
        }
    }
}

impl<'a> PayloadView<'a> {
    pub fn parse(plaintext: &'a [u8]) -> Result<Self, postcard::Error> {
        let (view, rest) = postcard::take_from_bytes::<PayloadView<'a>>(plaintext)?;
        if !rest.is_empty() {
            return Err(postcard::Error::DeserializeBadEncoding);
        }
        Ok(view)
    }

    pub fn find(&self, name: &str) -> Option<&RecordView<'a>> {
        self.records.iter().find(|r| r.name == name.as_bytes())
    }

    pub fn to_owned_records(&self) -> Result<Records, DecodeError> {
        Ok(Records {
            settings: self.settings.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            records: self.records.iter().map(RecordView::to_owned_record).collect::<Result<_, _>>()?,
        })
    }
}

impl Records {
    pub fn encode(&self) -> Zeroizing<Vec<u8>> {
        let body_len = |r: &Record| match &r.body {
            RecordBody::Plain(b) => b.0.len(),
            RecordBody::Sealed(_) => 0,
        };
        let hint = self.records.iter().map(|r| r.name.len() + r.var.len() + body_len(r) + 16).sum::<usize>() + 16;
        to_zeroizing_bytes(self, hint)
    }

    /// Refuses a second secret with the same variable in the same environment.
    pub fn check_var_conflict(&self, name: &str, var: &str, env: Option<&str>) -> crate::error::Result<()> {
        if let Some(other) = self.records.iter().find(|r| r.name != name && r.var == var && r.env.as_deref() == env) {
            return Err(crate::error::Error::VarConflict {
                var: var.to_owned(),
                env: env.unwrap_or("(none)").to_owned(),
                other: other.name.clone(),
            });
        }
        Ok(())
    }

    /// The secret a secret is paired with (`--paired-with`) must exist and be another one.
    pub fn check_paired(&self, name: &str, meta: &super::secret::Metadata) -> crate::error::Result<()> {
        use crate::error::Error;
        let Some(paired) = meta.ext.get(super::secret::ext::PAIRED_WITH) else { return Ok(()) };
        if paired == name {
            return Err(Error::invalid("--paired-with", paired, "a secret cannot be paired with itself"));
        }
        if self.position(paired).is_none() {
            return Err(Error::SecretNotFound { name: paired.clone(), suggestion: None });
        }
        Ok(())
    }

    pub fn position(&self, name: &str) -> Option<usize> {
        self.records.iter().position(|r| r.name == name)
    }

    /// Decodes the secret `name`, lets `change` edit it (with the other records at hand, to check
    /// conflicts or note settings), and stores it back: the one read-change-write of a record.
    /// `Ok(None)` when there is no such secret.
    pub fn update<T, E: From<DecodeError>>(
        &mut self,
        name: &str,
        change: impl FnOnce(&mut Secret, &mut Records) -> Result<T, E>,
    ) -> Result<Option<T>, E> {
        let Some(index) = self.position(name) else { return Ok(None) };
        let mut secret = self.records[index].decode()?;
        let result = change(&mut secret, self)?;
        let index = self.position(name).unwrap_or(index);
        self.records[index] = Record::encode(&secret);
        Ok(Some(result))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::sensitive::SecretValue;
    use crate::vault::secret::Metadata;

    fn meta() -> Metadata {
        let mut meta = Metadata::new(1);
        meta.provider = Some("stripe".into());
        meta.scopes = vec!["read".into()];
        meta.tags = vec!["ci".into()];
        meta
    }

    proptest! {
        #[test]
        fn encode_then_view_round_trips(
            entries in proptest::collection::vec(("[a-z][a-z0-9_.-]{0,8}(/[a-z0-9][a-z0-9_.-]{0,8}){0,2}", "\\PC{1,40}", proptest::option::of("[a-z]{1,8}")), 0..20)
        ) {
            let secrets: Vec<Secret> = entries.iter().map(|(name, value, env)| {
                Secret::new(name.clone(), crate::vault::secret::default_var(name), env.clone(), meta(), SecretValue::new(value.clone()), 7)
            }).collect();
            let records = Records { settings: vec![("k".into(), "v".into())], records: secrets.iter().map(Record::encode).collect() };
            let bytes = records.encode();
            let view = PayloadView::parse(&bytes).unwrap();
            prop_assert_eq!(view.settings.clone(), vec![("k", "v")]);
            let decoded: Vec<Secret> = view.records.iter().map(|r| r.decode().unwrap()).collect();
            prop_assert_eq!(&decoded, &secrets);
            // and the owned form re-encodes to the same bytes
            prop_assert_eq!(&view.to_owned_records().unwrap().encode()[..], &bytes[..]);
        }
    }

    #[test]
    fn records_are_found_by_exact_name() {
        let secret = |name: &str| Secret::new(name.into(), "V".into(), None, meta(), SecretValue::new("v".into()), 1);
        let records =
            Records { settings: vec![], records: ["a", "b", "b/c"].map(|n| Record::encode(&secret(n))).to_vec() };
        assert_eq!(records.position("a"), Some(0));
        assert_eq!(records.position("b"), Some(1));
        assert_eq!(records.position("b/c"), Some(2));
        assert_eq!(records.position("B"), None);
        assert_eq!(records.position("b/"), None);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bytes in [&b""[..], b"\x05", b"\x00\x05abc", &[0xff; 40]] {
            let _ = PayloadView::parse(bytes);
        }
        assert!(PayloadView::parse(&[0, 0, 1]).is_err(), "trailing bytes are refused");
    }
}
