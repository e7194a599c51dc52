//! What `scan` reports: findings, one JSON document, or SARIF 2.1.0 for code-scanning services
//! (the command prints a table of them).
//! A finding carries a masked preview and a fingerprint, never the value.

use serde::Serialize;
use serde_json::{Value, json};

use crate::providers::check::Verdict;

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub path: String,
    pub line: u64,
    pub column: u64,
    pub rule: String,
    /// The provider's key kind, or the assigned name for the generic rule.
    pub kind: Option<String>,
    /// The vault secret the value belongs to.
    pub secret: Option<String>,
    /// Found inside base64 or percent-encoded text.
    pub encoding: Option<&'static str>,
    pub preview: String,
    pub fingerprint: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<Commit>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict_detail: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Commit {
    pub id: String,
    pub author: String,
    pub date: String,
}

#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct Stats {
    pub files: u64,
    pub bytes: u64,
    pub skipped_binary: u64,
    pub suppressed: u64,
    pub errors: u64,
    /// Archives opened, members scanned inside them, and members skipped (too large, a bomb,
    /// encrypted, nested too deep).
    pub archives: u64,
    pub archive_members: u64,
    pub archive_skipped: u64,
}

impl Finding {
    /// What was found, for a table.
    pub fn what(&self) -> String {
        let mut what = match (&self.secret, &self.kind) {
            (Some(secret), _) => format!("vault secret {secret}"),
            (None, Some(kind)) if self.rule == super::generic::RULE => format!("high-entropy value of {kind}"),
            (None, Some(kind)) => kind.clone(),
            (None, None) => self.rule.clone(),
        };
        if let Some(e) = self.encoding {
            what.push_str(&format!(" ({e})"));
        }
        what
    }
}

pub fn plural(n: u64, what: &str) -> String {
    if n == 1 { format!("1 {what}") } else { format!("{n} {what}s") }
}

pub fn size(bytes: u64) -> String {
    if bytes >= 1 << 20 { format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20)) } else { format!("{bytes} bytes") }
}

pub fn json_document(findings: &[Finding], stats: &Stats, notes: &[String]) -> Value {
    json!({ "findings": findings, "stats": stats, "notes": notes })
}

/// A SARIF 2.1.0 log with one run: a rule per rule id found, a result per finding.
pub fn sarif(findings: &[Finding], rule_help: impl Fn(&str) -> String) -> Value {
    let mut rule_ids: Vec<&str> = findings.iter().map(|f| f.rule.as_str()).collect();
    rule_ids.sort_unstable();
    rule_ids.dedup();
    let rules: Vec<Value> = rule_ids
        .iter()
        .map(|id| {
            json!({
                "id": id,
                "name": id,
                "shortDescription": { "text": rule_help(id) },
                "defaultConfiguration": { "level": "error" },
                "properties": { "tags": ["security", "secret"] },
            })
        })
        .collect();
    let results: Vec<Value> = findings
        .iter()
        .map(|f| {
            let mut region = json!({ "startLine": f.line, "startColumn": f.column });
            region["snippet"] = json!({ "text": f.preview });
            let mut result = json!({
                "ruleId": f.rule,
                "ruleIndex": rule_ids.iter().position(|r| *r == f.rule).unwrap_or(0),
                "level": "error",
                "message": { "text": format!("{} ({})", f.what(), f.preview) },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": uri(&f.path) },
                        "region": region,
                    }
                }],
                "partialFingerprints": { "keyward/v1": f.fingerprint },
            });
            let mut props = serde_json::Map::new();
            if let Some(c) = &f.commit {
                props.insert("commit".into(), json!(c.id));
            }
            if let Some(v) = f.verdict {
                props.insert("verdict".into(), json!(v.as_str()));
            }
            if !props.is_empty() {
                result["properties"] = Value::Object(props);
            }
            result
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "keyward",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/keyward/keyward",
                "rules": rules,
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }]
    })
}

/// A relative URI reference for a path: `/` separators, each segment percent-encoded.
fn uri(path: &str) -> String {
    path.split('/').map(crate::mask::forms::percent_encode).collect::<Vec<_>>().join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_percent_encoded() {
        assert_eq!(uri("src/my file#1.env"), "src/my%20file%231.env");
    }
}
