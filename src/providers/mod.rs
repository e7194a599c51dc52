//! The provider registry: who issues a key, what its keys look like, which of them are live or
//! test keys, how to check one online, and where it is rolled.
//!
//! Built-in providers come from `builtin.toml`, compiled into the binary; the user's config file
//! adds providers or overrides fields with the same schema (see [`crate::config`]). Regexes are
//! compiled on first use, so commands that only need one provider pay for one.

pub mod aws;
pub mod check;
mod pattern;
mod schema;

use serde::Deserialize;

use crate::error::{Error, Result};

pub(crate) use self::pattern::longest_match;
pub use self::pattern::{BytesRegexes, Pattern, SecretPart};
pub use self::schema::{Auth, Check, Method, PatternDef, ProviderDef};

pub const BUILTIN: &str = include_str!("builtin.toml");

/// Whether a key is a live (production) or a test key, from the provider's markers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Live,
    Test,
    Unmarked,
}

#[derive(Debug)]
pub struct Provider {
    pub id: String,
    pub name: String,
    pub keywords: Vec<String>,
    pub base_url: Option<String>,
    pub live: Vec<String>,
    pub test: Vec<String>,
    pub rotation_hint: Option<String>,
    pub revoke_path: Option<String>,
    /// keyward may generate values for it (`internal`, `generic`).
    pub generate: bool,
    pub patterns: Vec<Pattern>,
    pub checks: Vec<Check>,
}

impl Provider {
    pub fn classify(&self, value: &str) -> Class {
        if self.live.iter().any(|p| value.starts_with(p.as_str())) {
            Class::Live
        } else if self.test.iter().any(|p| value.starts_with(p.as_str())) {
            Class::Test
        } else {
            Class::Unmarked
        }
    }

    /// The first pattern the whole value matches.
    pub fn pattern_for(&self, value: &str) -> Option<&Pattern> {
        self.patterns.iter().find(|p| p.matches_whole(value))
    }

    /// Where its checks go: `KEYWARD_PROVIDER_<ID>_URL`, else the config's or the built-in base URL.
    pub fn base_url(&self) -> Option<String> {
        let var = format!("KEYWARD_PROVIDER_{}_URL", self.id.to_ascii_uppercase().replace('-', "_"));
        std::env::var(var).ok().filter(|s| !s.is_empty()).or_else(|| self.base_url.clone())
    }

    /// The checks that apply to a value (some apply only to certain kinds of key).
    pub fn checks_for(&self, value: &str) -> Vec<&Check> {
        let kind = self.pattern_for(value).map(|p| p.kind.as_str());
        self.checks
            .iter()
            .filter(|c| c.kinds.is_empty() || kind.is_some_and(|k| c.kinds.iter().any(|x| x == k)))
            .collect()
    }
}

/// Where a definition came from, for error messages.
pub struct Source<'a> {
    pub path: &'a str,
    pub text: &'a str,
}

pub struct Registry {
    pub providers: Vec<Provider>,
}

pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 40
        && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BuiltinFile {
    providers: ordered::Ordered<ProviderDef>,
}

/// TOML tables deserialize into a map; keep the file's order so detection tries providers in the
/// order they are written (specific before general).
pub mod ordered {
    use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};

    pub struct Ordered<T>(pub Vec<(String, T)>);

    impl<'de, T: Deserialize<'de>> Deserialize<'de> for Ordered<T> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V<T>(std::marker::PhantomData<T>);
            impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
                type Value = Ordered<T>;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("a table of providers")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                    let mut out = Vec::new();
                    while let Some((k, v)) = map.next_entry::<String, T>()? {
                        out.push((k, v));
                    }
                    Ok(Ordered(out))
                }
            }
            d.deserialize_map(V(std::marker::PhantomData))
        }
    }
}

impl Registry {
    /// The built-in registry with the user's overrides applied.
    pub fn load(overrides: &[(String, ProviderDef)], source: Option<&Source<'_>>) -> Result<Registry> {
        let builtin: BuiltinFile = toml::from_str(BUILTIN).expect("the built-in registry parses (tested)");
        let mut defs = builtin.providers.0;
        for (id, def) in overrides {
            match defs.iter_mut().find(|(i, _)| i == id) {
                Some((_, existing)) => merge(existing, def.clone()),
                // A user's provider goes before `generic`, which matches nothing by shape anyway.
                None => defs.push((id.clone(), def.clone())),
            }
        }
        let builtin_src = Source { path: "(built-in registry)", text: BUILTIN };
        let mut providers = Vec::with_capacity(defs.len());
        for (id, def) in defs {
            let from_user = overrides.iter().any(|(i, _)| *i == id);
            let src = if from_user { source.unwrap_or(&builtin_src) } else { &builtin_src };
            providers.push(compile(&id, def, src, from_user)?);
        }
        Ok(Registry { providers })
    }

    pub fn builtin() -> Registry {
        Registry::load(&[], None).expect("the built-in registry compiles (tested)")
    }

    pub fn get(&self, id: &str) -> Option<&Provider> {
        self.providers.iter().find(|p| p.id == id)
    }

    /// The provider a value's shape identifies, from patterns with a distinctive prefix only: a
    /// bare hex string could be anyone's.
    pub fn detect(&self, value: &str) -> Option<(&Provider, &Pattern)> {
        self.providers
            .iter()
            .flat_map(|p| p.patterns.iter().map(move |pat| (p, pat)))
            .find(|(_, pat)| !pat.near_keyword && pat.matches_whole(value))
    }
}

fn merge(base: &mut ProviderDef, over: ProviderDef) {
    macro_rules! take {
        ($($f:ident),*) => { $( if over.$f.is_some() { base.$f = over.$f; } )* };
    }
    take!(name, keywords, base_url, live, test, rotation_hint, revoke_path, generate, patterns, checks);
}

fn line_of(text: &str, needle: &str) -> Option<usize> {
    text.find(needle).map(|at| text[..at].lines().count().max(1))
}

/// `from_user`: the definition comes from a config file (or overrides one), so its patterns are
/// checked now; the built-in ones are checked by the test suite.
fn compile(id: &str, def: ProviderDef, src: &Source<'_>, from_user: bool) -> Result<Provider> {
    let bad = |field: String, reason: String, needle: &str| Error::Config {
        path: src.path.into(),
        line: line_of(src.text, needle),
        field,
        reason,
    };
    if !valid_id(id) {
        return Err(bad(format!("providers.{id}"), "a provider id is 1-40 of a-z, 0-9, '-' and '_'".into(), id));
    }
    let name = def.name.ok_or_else(|| bad(format!("providers.{id}.name"), "a new provider needs a name".into(), id))?;
    let mut patterns = Vec::new();
    for (i, p) in def.patterns.unwrap_or_default().into_iter().enumerate() {
        let field = format!("providers.{id}.patterns[{i}].regex");
        // Built-in patterns are compiled by the test suite; a user's are compiled here, so a bad
        // one is an error now (compiling all ~70 up front would cost every command that loads
        // the registry; they are compiled when first used).
        if from_user && let Err(e) = regex::Regex::new(&p.regex) {
            let first = e.to_string().lines().last().unwrap_or("invalid regex").trim().to_string();
            return Err(bad(field, first, &p.regex));
        }
        if let Some(group) = &p.secret_group
            && !p.regex.contains(&format!("(?P<{group}>"))
        {
            return Err(bad(
                format!("providers.{id}.patterns[{i}].secret_group"),
                format!("the regex has no group named {group}"),
                &p.regex,
            ));
        }
        if p.max_len == 0 || p.max_len > 4096 {
            return Err(bad(format!("providers.{id}.patterns[{i}].max_len"), "use 1 to 4096".into(), &p.regex));
        }
        // The mask engine tries a pattern on at most max_len bytes: a longer match would be cut
        // short, and the rest of the key left in the clear. (The test suite checks the built-in
        // patterns.)
        if from_user {
            let longest = longest_match(&p.regex);
            if longest.is_none_or(|n| n > p.max_len) {
                let can = longest.map_or("without limit".to_string(), |n| format!("up to {n} bytes"));
                return Err(bad(
                    format!("providers.{id}.patterns[{i}].max_len"),
                    format!(
                        "the regex can match {can}, more than max_len ({}); bound every repetition (e.g. {{20,40}}) and set max_len to the longest match",
                        p.max_len
                    ),
                    &p.regex,
                ));
            }
        }
        patterns.push(Pattern::new(p));
    }
    let checks = def.checks.unwrap_or_default();
    for (i, c) in checks.iter().enumerate() {
        if !c.path.starts_with('/') {
            return Err(bad(format!("providers.{id}.checks[{i}].path"), "a path starts with '/'".into(), &c.path));
        }
        let needs = match c.auth {
            Auth::Header if c.header.is_none() => Some("header"),
            Auth::Query if c.query.is_none() => Some("query"),
            Auth::Basic if c.username.is_none() && c.password.is_none() => Some("username"),
            _ => None,
        };
        if let Some(field) = needs {
            return Err(bad(format!("providers.{id}.checks[{i}].{field}"), "this auth style needs it".into(), &c.name));
        }
    }
    if let Some(url) = &def.base_url
        && !(url.starts_with("https://") || url.starts_with("http://"))
    {
        return Err(bad(format!("providers.{id}.base_url"), "expected an http(s) URL".into(), url));
    }
    Ok(Provider {
        id: id.to_owned(),
        name,
        keywords: def.keywords.unwrap_or_default().into_iter().map(|k| k.to_ascii_lowercase()).collect(),
        base_url: def.base_url,
        live: def.live.unwrap_or_default(),
        test: def.test.unwrap_or_default(),
        rotation_hint: def.rotation_hint,
        revoke_path: def.revoke_path,
        generate: def.generate.unwrap_or(false),
        patterns,
        checks,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn literal_prefixes() {
        let prefixes = |regex: &str| {
            let def = PatternDef::new("k", regex, 100);
            let r = Registry::load(
                &[(
                    "x".into(),
                    ProviderDef { name: Some("X".into()), patterns: Some(vec![def]), ..Default::default() },
                )],
                None,
            )
            .unwrap();
            r.get("x").unwrap().patterns[0].literal_prefixes().map(<[Vec<u8>]>::to_vec)
        };
        let s = |v: &[&str]| Some(v.iter().map(|x| x.as_bytes().to_vec()).collect::<Vec<_>>());
        assert_eq!(prefixes("(?P<prefix>sk_(?:live|test)_)[0-9]{4}"), s(&["sk_live_", "sk_test_"]));
        assert_eq!(prefixes("(?P<prefix>https://hooks\\.slack\\.com/)T"), s(&["https://hooks.slack.com/T"]));
        assert_eq!(prefixes("(?P<prefix>(?:AKIA|ASIA))[A-Z]"), s(&["AKIA", "ASIA"]));
        assert_eq!(prefixes("ab?c"), s(&["abc", "ac"]));
        assert_eq!(prefixes("[0-9a-f]{32}"), None);
    }

    use super::*;

    #[test]
    fn builtin_registry_loads_with_enough_providers() {
        let r = Registry::builtin();
        assert!(r.providers.len() >= 27, "{} providers", r.providers.len());
        for id in [
            "stripe",
            "github",
            "gitlab",
            "openai",
            "anthropic",
            "slack",
            "sendgrid",
            "twilio",
            "google",
            "hubspot",
            "aws",
            "npm",
            "pypi",
            "digitalocean",
            "mailgun",
            "shopify",
            "discord",
            "huggingface",
            "datadog",
            "sentry",
            "linear",
            "postman",
            "heroku",
            "cloudflare",
            "internal",
            "generic",
        ] {
            assert!(r.get(id).is_some(), "missing {id}");
        }
    }

    /// The mask engine tries a pattern on max_len bytes: no match may be longer.
    #[test]
    fn no_builtin_pattern_can_match_more_than_its_max_len() {
        let r = Registry::builtin();
        for p in &r.providers {
            for pat in &p.patterns {
                let longest = longest_match(&pat.source);
                assert!(
                    longest.is_some_and(|n| n <= pat.max_len),
                    "{}/{}: {longest:?} > {}",
                    p.id,
                    pat.kind,
                    pat.max_len
                );
            }
        }
    }

    #[test]
    fn every_pattern_matches_its_examples_and_not_its_counter_examples() {
        let r = Registry::builtin();
        for p in &r.providers {
            for pat in &p.patterns {
                assert!(!pat.examples.is_empty(), "{}/{} has no example", p.id, pat.kind);
                assert!(!pat.not.is_empty(), "{}/{} has no counter-example", p.id, pat.kind);
                for e in &pat.examples {
                    assert!(pat.matches_whole(e), "{}/{} should match {e}", p.id, pat.kind);
                    assert!(e.len() <= pat.max_len, "{}/{}: example longer than max_len", p.id, pat.kind);
                    assert!(pat.regex().is_match(e));
                }
                for n in &pat.not {
                    assert!(!pat.matches_whole(n), "{}/{} should not match {n}", p.id, pat.kind);
                }
            }
        }
    }

    #[test]
    fn detection_picks_the_right_provider_for_every_distinctive_example() {
        let r = Registry::builtin();
        for p in &r.providers {
            for pat in p.patterns.iter().filter(|pat| !pat.near_keyword) {
                for e in &pat.examples {
                    let (found, kind) = r.detect(e).unwrap_or_else(|| panic!("{e} not detected"));
                    assert_eq!((found.id.as_str(), kind.kind.as_str()), (p.id.as_str(), pat.kind.as_str()), "{e}");
                }
            }
        }
        // Bare shapes are never guessed.
        assert!(r.detect("0123456789abcdef0123456789abcdef").is_none());
        assert!(r.detect("hello world").is_none());
    }

    #[test]
    fn live_and_test_markers() {
        let r = Registry::builtin();
        let stripe = r.get("stripe").unwrap();
        assert_eq!(stripe.classify("sk_live_abc"), Class::Live);
        assert_eq!(stripe.classify("rk_test_abc"), Class::Test);
        assert_eq!(r.get("github").unwrap().classify("ghp_x"), Class::Unmarked);
    }

    #[test]
    fn public_prefixes() {
        let r = Registry::builtin();
        let (p, pat) = r.detect(&r.get("stripe").unwrap().patterns[0].examples[0]).unwrap();
        assert_eq!(p.id, "stripe");
        assert_eq!(pat.public_prefix(&pat.examples[0]), Some("sk_live_"));
    }

    #[test]
    fn overrides_merge_field_by_field_and_bad_regexes_are_named() {
        let over = ProviderDef { base_url: Some("https://github.example.com/api/v3".into()), ..Default::default() };
        let r = Registry::load(&[("github".into(), over)], None).unwrap();
        let gh = r.get("github").unwrap();
        assert_eq!(gh.base_url.as_deref(), Some("https://github.example.com/api/v3"));
        assert_eq!(gh.patterns.len(), 3, "patterns kept");

        let text = "[providers.acme]\nname = \"Acme\"\n[[providers.acme.patterns]]\nkind = \"k\"\nregex = 'acme_(['\nmax_len = 10\n";
        let def = ProviderDef {
            name: Some("Acme".into()),
            patterns: Some(vec![PatternDef::new("k", "acme_([", 10)]),
            ..Default::default()
        };
        let src = Source { path: "/x/config.toml", text };
        let Err(Error::Config { line, field, .. }) = Registry::load(&[("acme".into(), def)], Some(&src)) else {
            panic!("expected a config error");
        };
        assert_eq!((line, field.as_str()), (Some(5), "providers.acme.patterns[0].regex"));
    }

    /// The README's count of formats is the registry's, not a number typed once.
    #[test]
    fn the_readme_counts_the_registrys_formats() {
        let count: usize = Registry::builtin().providers.iter().map(|p| p.patterns.len()).sum();
        let readme = include_str!("../../README.md");
        assert!(
            readme.contains(&format!("Keys of the {count} formats in the registry")),
            "the README should say \"Keys of the {count} formats in the registry\""
        );
    }

    /// A secret group the regex does not have is a config error, not a rule that never applies.
    #[test]
    fn a_secret_group_must_be_in_the_regex() {
        let mut def = PatternDef::new("k", "acme_(?P<secret>[a-z]{10})", 20);
        def.secret_group = Some("password".into());
        let acme = ProviderDef { name: Some("Acme".into()), patterns: Some(vec![def]), ..Default::default() };
        let Err(Error::Config { field, .. }) = Registry::load(&[("acme".into(), acme)], None) else {
            panic!("expected a config error");
        };
        assert_eq!(field, "providers.acme.patterns[0].secret_group");
    }

    /// A user's pattern must fit its max_len: the mask engine tries no more.
    #[test]
    fn a_users_pattern_longer_than_its_max_len_is_refused() {
        let with = |regex: &str, max_len: usize| ProviderDef {
            name: Some("Acme".into()),
            patterns: Some(vec![PatternDef::new("k", regex, max_len)]),
            ..Default::default()
        };
        for (regex, max_len, says) in
            [("acme_[a-z0-9]+", 40, "without limit"), ("acme_[a-z0-9]{10,20}", 24, "up to 25 bytes")]
        {
            let Err(Error::Config { field, reason, .. }) =
                Registry::load(&[("acme".into(), with(regex, max_len))], None)
            else {
                panic!("{regex} with max_len {max_len} was accepted");
            };
            assert_eq!(field, "providers.acme.patterns[0].max_len");
            assert!(reason.contains(says), "{reason}");
        }
        assert!(Registry::load(&[("acme".into(), with("acme_[a-z0-9]{10,20}", 25))], None).is_ok());
    }
}
