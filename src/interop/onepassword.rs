//! 1Password's exports: the CSV export (a header row naming the columns, as 1Password 8 writes
//! `Title,Url,Username,Password,OTPAuth,Favorite,Archived,Tags,Notes`) and the `.1pux` export (a
//! zip holding `export.data`, JSON: accounts → vaults → items).
//!
//! From a `.1pux`, API credentials (category 112: the `credential` field, its `expires` date),
//! passwords (005) and logins (001: the field designated `password`) are read; other categories,
//! archived and deleted items are counted as left out. The username, host and URL go into the note.

use std::io::Read;

use serde_json::Value;
use zeroize::{Zeroize, Zeroizing};

use super::Item;
use super::csv;

/// A `.1pux` file's `export.data` may be at most this large (uncompressed): parsed as a JSON
/// document, it grows several times in memory.
const MAX_EXPORT_DATA: u64 = 16 * 1024 * 1024;
/// A `.1pux` holds export.data, export.attributes and attachments: a zip listing more entries
/// than this is not an export (and its central directory would cost memory).
const MAX_ENTRIES: usize = 100_000;
/// The latest expiry kept (9999-12-31T23:59:59Z): later dates are not dates.
const MAX_EXPIRES: i64 = 253_402_300_799;

/// Why an export could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{0}")]
    Csv(#[from] csv::CsvError),
    #[error("the CSV has no Title and Password columns in its first line (export as CSV from 1Password)")]
    NoHeader,
    #[error("it is not a 1PUX export: {0}")]
    NotAZip(String),
    #[error("its export.data is not the JSON of a 1PUX export: {0}")]
    BadJson(String),
}

/// What an export held besides the items read.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct LeftOut {
    pub archived: usize,
    pub other_categories: usize,
    /// Items with a one-time-password seed (an `OTPAuth` column or a TOTP field), which keyward
    /// does not keep.
    pub otp: usize,
}

impl LeftOut {
    /// One phrase per kind of thing left out, for the report.
    #[must_use]
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.archived > 0 {
            out.push(format!("{} archived or deleted items", self.archived));
        }
        if self.other_categories > 0 {
            out.push(format!("{} items of other categories (cards, notes, identities…)", self.other_categories));
        }
        if self.otp > 0 {
            out.push(format!("{} one-time-password seeds", self.otp));
        }
        out
    }
}

/// Items of a CSV export, by its header row.
pub fn from_csv(text: &str) -> Result<(Vec<Item>, LeftOut), ExportError> {
    let rows = csv::parse(text)?;
    let mut left_out = LeftOut::default();
    let Some((header, rows)) = rows.split_first() else { return Ok((Vec::new(), left_out)) };
    let column =
        |names: &[&str]| header.fields.iter().position(|h| names.iter().any(|n| h.trim().eq_ignore_ascii_case(n)));
    let (Some(title), Some(password)) = (column(&["title", "name"]), column(&["password"])) else {
        return Err(ExportError::NoHeader);
    };
    let notes = column(&["notes", "notesplain"]);
    let username = column(&["username"]);
    let url = column(&["url", "website"]);
    let tags = column(&["tags"]);
    let archived = column(&["archived"]);
    let otp = column(&["otpauth", "otp", "totp"]);
    let field = |row: &csv::Row, i: Option<usize>| -> String {
        i.and_then(|i| row.fields.get(i)).map(|f| f.trim().to_owned()).unwrap_or_default()
    };
    let mut items = Vec::new();
    for row in rows {
        if field(row, archived).eq_ignore_ascii_case("true") {
            left_out.archived += 1;
            continue;
        }
        left_out.otp += usize::from(!field(row, otp).is_empty());
        let value =
            row.fields.get(password).map_or_else(|| Zeroizing::new(String::new()), |v| Zeroizing::new(v.to_string()));
        items.push(Item {
            line: row.line,
            label: field(row, Some(title)),
            value,
            note: note(&field(row, notes), &[("username", field(row, username)), ("url", field(row, url))]),
            tags: split_tags(&field(row, tags)),
            expires: None,
        });
    }
    Ok((items, left_out))
}

/// Writes items as a 1Password CSV (the columns of its own export, which it imports back).
pub fn write_csv(out: &mut Vec<u8>, items: &[(&str, &str, &str, &[String])]) {
    csv::write_row(out, &["Title", "Url", "Username", "Password", "OTPAuth", "Favorite", "Archived", "Tags", "Notes"]);
    for (title, value, note, tags) in items {
        csv::write_row(out, &[title, "", "", value, "", "false", "false", &tags.join(","), note]);
    }
}

/// Items of a `.1pux` export (the whole file's bytes).
pub fn from_1pux(bytes: &[u8]) -> Result<(Vec<Item>, LeftOut), ExportError> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| ExportError::NotAZip(e.to_string()))?;
    if zip.len() > MAX_ENTRIES {
        return Err(ExportError::NotAZip(format!("it lists more than {MAX_ENTRIES} files")));
    }
    let mut entry = zip.by_name("export.data").map_err(|_| ExportError::NotAZip("it has no export.data".into()))?;
    if entry.size() > MAX_EXPORT_DATA {
        return Err(ExportError::NotAZip("its export.data is larger than 64 MiB".into()));
    }
    // Sized up front (the zip says how large) and read through `take`, so a lying size cannot
    // make the buffer grow behind a copy.
    let size = usize::try_from(entry.size()).unwrap_or(0);
    let mut data = Zeroizing::new(Vec::with_capacity(size));
    (&mut entry).take(size as u64).read_to_end(&mut data).map_err(|e| ExportError::NotAZip(e.to_string()))?;
    let mut json: Value = serde_json::from_slice(&data).map_err(|e| ExportError::BadJson(e.to_string()))?;
    let result = items_of(&json);
    wipe(&mut json);
    result
}

fn items_of(json: &Value) -> Result<(Vec<Item>, LeftOut), ExportError> {
    let accounts = json["accounts"].as_array().ok_or_else(|| ExportError::BadJson("no accounts".into()))?;
    let mut items = Vec::new();
    let mut left_out = LeftOut::default();
    let mut position = 0;
    for vault in accounts.iter().filter_map(|a| a["vaults"].as_array()).flatten() {
        for item in vault["items"].as_array().into_iter().flatten() {
            position += 1;
            if item["state"].as_str().is_some_and(|s| s != "active") {
                left_out.archived += 1;
                continue;
            }
            let details = &item["details"];
            let fields: Vec<&Value> = details["sections"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s["fields"].as_array())
                .flatten()
                .collect();
            let field = |id: &str| fields.iter().find(|f| f["id"] == id).map(|f| &f["value"]);
            let text = |v: Option<&Value>| -> String {
                v.and_then(|v| v.as_object()).and_then(|o| o.values().find_map(Value::as_str)).unwrap_or("").to_owned()
            };
            let (value, extra, expires) = match item["categoryUuid"].as_str() {
                Some("112") => (
                    text(field("credential")),
                    vec![("username", text(field("username"))), ("host", text(field("hostname")))],
                    field("expires").and_then(|v| v["date"].as_i64()).filter(|t| (0..=MAX_EXPIRES).contains(t)),
                ),
                Some("005") => (details["password"].as_str().unwrap_or("").to_owned(), Vec::new(), None),
                Some("001") => {
                    let login = details["loginFields"].as_array().into_iter().flatten();
                    let find =
                        |d: &str| login.clone().find(|f| f["designation"] == d).and_then(|f| f["value"].as_str());
                    (
                        find("password").unwrap_or("").to_owned(),
                        vec![("username", find("username").unwrap_or("").to_owned())],
                        None,
                    )
                }
                _ => {
                    left_out.other_categories += 1;
                    continue;
                }
            };
            let has_otp = fields
                .iter()
                .any(|f| f["value"].get("totp").is_some_and(|t| t.as_str().is_some_and(|t| !t.is_empty())));
            left_out.otp += usize::from(has_otp);
            let overview = &item["overview"];
            let mut extra = extra;
            extra.push(("url", overview["url"].as_str().unwrap_or("").to_owned()));
            items.push(Item {
                line: position,
                label: overview["title"].as_str().unwrap_or("").to_owned(),
                value: Zeroizing::new(value),
                note: note(details["notesPlain"].as_str().unwrap_or(""), &extra),
                tags: overview["tags"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect(),
                expires,
            });
        }
    }
    Ok((items, left_out))
}

/// Wipes every string in a parsed document before it is dropped.
fn wipe(value: &mut Value) {
    match value {
        Value::String(s) => s.zeroize(),
        Value::Array(a) => a.iter_mut().for_each(wipe),
        Value::Object(o) => o.values_mut().for_each(wipe),
        _ => {}
    }
}

/// The notes, then `key: value` lines for what else the item said.
fn note(notes: &str, extra: &[(&str, String)]) -> Option<String> {
    let mut out = notes.trim().to_owned();
    for (key, value) in extra.iter().filter(|(_, v)| !v.trim().is_empty()) {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&format!("{key}: {}", value.trim()));
    }
    (!out.is_empty()).then_some(out)
}

fn split_tags(tags: &str) -> Vec<String> {
    tags.split([',', ';']).map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_csv_export_by_its_header() {
        let text = "Title,Url,Username,Password,OTPAuth,Favorite,Archived,Tags,Notes\r\n\
            Stripe live,https://stripe.com,ops@example.com,sk_live_x,,false,false,\"billing,prod\",\"rolled in May\"\r\n\
            Old,,,pw,,false,true,,\r\n";
        let (items, left_out) = from_csv(text).unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(left_out, LeftOut { archived: 1, other_categories: 0, otp: 0 });
        assert_eq!(items[0].label, "Stripe live");
        assert_eq!(&*items[0].value, "sk_live_x");
        assert_eq!(items[0].tags, ["billing", "prod"]);
        assert_eq!(items[0].note.as_deref(), Some("rolled in May\nusername: ops@example.com\nurl: https://stripe.com"));
        assert!(matches!(from_csv("a,b\n1,2\n"), Err(ExportError::NoHeader)));
    }

    #[test]
    fn what_is_written_reads_back() {
        let tags = vec!["a".to_owned(), "b".to_owned()];
        let mut out = Vec::new();
        write_csv(&mut out, &[("svc/key", "v,\"1\"\nx", "a note", &tags)]);
        let (items, _) = from_csv(std::str::from_utf8(&out).unwrap()).unwrap();
        assert_eq!((items[0].label.as_str(), items[0].value.as_str()), ("svc/key", "v,\"1\"\nx"));
        assert_eq!((items[0].note.as_deref(), &items[0].tags), (Some("a note"), &tags));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(matches!(from_1pux(b"not a zip"), Err(ExportError::NotAZip(_))));
    }
}
