//! Templates for `keyward inject`: `{{ keyward:NAME }}` and `{{ keyward:NAME@VERSION }}` are
//! replaced by values, like `op inject`; so are references to remote stores,
//! `{{ aws-sm://REGION/NAME[#key][@STAGE] }}` and `{{ vault:MOUNT/PATH#field[@version] }}`
//! (given to the lookup whole, with the version [`REMOTE`]). Other `{{ … }}` (Helm, Jinja) are left alone. Rendering
//! is all or nothing: the first bad reference is an error naming its line.

use std::borrow::Cow;

/// One reference found in a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference<'t> {
    pub name: &'t str,
    /// `current` unless given after `@`.
    pub version: &'t str,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateError {
    /// `{{ keyward:` with no closing `}}` on the same line, or a malformed name.
    Malformed { line: usize, reason: &'static str },
    /// The lookup did not find it.
    Unknown { line: usize, name: String, version: String },
}

const OPEN: &str = "{{";
const CLOSE: &str = "}}";
const SCHEME: &str = "keyward:";

/// The version a remote store's reference is given to the lookup with.
pub const REMOTE: &str = "remote";

/// Every reference in the template, in order.
pub fn references(template: &str) -> Result<Vec<Reference<'_>>, TemplateError> {
    Ok(scan(template)?.into_iter().map(|(_, r)| r).collect())
}

/// Renders the template; `lookup(name, version)` gives a value or `None` for an unknown one.
pub fn render<'v>(
    template: &str,
    mut lookup: impl FnMut(&str, &str) -> Option<Cow<'v, str>>,
) -> Result<zeroize::Zeroizing<String>, TemplateError> {
    let mut out = zeroize::Zeroizing::new(String::with_capacity(template.len()));
    let mut pos = 0;
    for (range, r) in scan(template)? {
        let value = lookup(r.name, r.version).ok_or_else(|| TemplateError::Unknown {
            line: r.line,
            name: r.name.into(),
            version: r.version.into(),
        })?;
        out.push_str(&template[pos..range.start]);
        out.push_str(&value);
        pos = range.end;
    }
    out.push_str(&template[pos..]);
    Ok(out)
}

/// Finds the references and where they stand.
fn scan(template: &str) -> Result<Vec<(std::ops::Range<usize>, Reference<'_>)>, TemplateError> {
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(offset) = template[at..].find(OPEN) {
        let open = at + offset;
        let inner_start = open + OPEN.len();
        let rest = &template[inner_start..];
        let trimmed = rest.trim_start_matches([' ', '\t']);
        if !trimmed.starts_with(SCHEME) && !trimmed.starts_with("aws-sm://") && !trimmed.starts_with("vault:") {
            at = inner_start;
            continue;
        }
        let line = template[..open].matches('\n').count() + 1;
        let line_rest = &rest[..rest.find('\n').unwrap_or(rest.len())];
        let Some(close) = line_rest.find(CLOSE) else {
            // An unclosed `{{ vault:` is someone else's business; an unclosed `{{ keyward:` ours.
            if !trimmed.starts_with(SCHEME) {
                at = inner_start;
                continue;
            }
            return Err(TemplateError::Malformed {
                line,
                reason: "a `{{ keyward:` reference is not closed with `}}` on its line",
            });
        };
        let inner = line_rest[..close].trim_matches([' ', '\t']);
        let end = inner_start + close + CLOSE.len();
        match crate::remote::reference::Reference::parse(inner) {
            Some(Ok(_)) => {
                found.push((open..end, Reference { name: inner, version: REMOTE, line }));
                at = end;
                continue;
            }
            Some(Err(_)) => {
                return Err(TemplateError::Malformed { line, reason: "the reference to a remote store is malformed" });
            }
            // `{{ vault:… }}` without `#field` is someone else's template syntax.
            None if !inner.starts_with(SCHEME) => {
                at = inner_start;
                continue;
            }
            None => {}
        }
        let reference = &inner[SCHEME.len()..];
        let (name, version) = reference.split_once('@').unwrap_or((reference, "current"));
        if crate::vault::secret::validate_name(name).is_err() {
            return Err(TemplateError::Malformed { line, reason: "the reference does not name a secret" });
        }
        if version.is_empty() || !version.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(TemplateError::Malformed {
                line,
                reason: "the version after `@` is not current, previous, pending or a number",
            });
        }
        found.push((open..end, Reference { name, version, line }));
        at = end;
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(name: &str, version: &str) -> Option<Cow<'static, str>> {
        match (name, version) {
            ("db/password", "current") => Some("p@ss\"w{{rd}}\n".into()),
            ("db/password", "previous") => Some("old".into()),
            _ => None,
        }
    }

    #[test]
    fn renders_references_and_leaves_other_braces() {
        let t = "url: postgres://app:{{ keyward:db/password }}@db\nold: {{keyward:db/password@previous}}\nhelm: {{ .Values.x }}\n";
        let out = render(t, values).unwrap();
        assert_eq!(&*out, "url: postgres://app:p@ss\"w{{rd}}\n@db\nold: old\nhelm: {{ .Values.x }}\n");
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(
            render("a\nb {{ keyward:nope }}\n", values),
            Err(TemplateError::Unknown { line: 2, name: "nope".into(), version: "current".into() })
        );
        assert!(matches!(
            render("x\n\n{{ keyward:db/password\n}}", values),
            Err(TemplateError::Malformed { line: 3, .. })
        ));
        assert!(matches!(render("{{ keyward:../etc }}", values), Err(TemplateError::Malformed { line: 1, .. })));
        assert!(matches!(render("{{ keyward:db/password@ }}", values), Err(TemplateError::Malformed { .. })));
    }

    #[test]
    fn references_are_listed() {
        // Someone else's unclosed `{{ vault:` is theirs.
        assert!(references("x: {{ vault:whatever\n").unwrap().is_empty());
        let refs = references("{{ keyward:a }} {{ keyward:b@2 }}").unwrap();
        assert_eq!(refs.iter().map(|r| (r.name, r.version)).collect::<Vec<_>>(), [("a", "current"), ("b", "2")]);
    }
}
