//! "Did you mean …?": the closest of some known words to a mistyped one.

/// The candidate closest to `word` (Damerau-Levenshtein: a swapped pair of letters counts once),
/// if it is close enough to be a typo of it: at most two edits, and fewer than the word has
/// letters (`ab` is not a typo of `xy`).
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = 2.min(word.chars().count().saturating_sub(1));
    candidates
        .into_iter()
        .filter(|c| *c != word)
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| c)
}

/// `" (did you mean X?)"`, or nothing.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    closest(word, candidates).map(|c| format!(" (did you mean {c}?)")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_are_matched_and_strangers_are_not() {
        let envs = ["dev", "staging", "prod"];
        assert_eq!(closest("prdo", envs), Some("prod"));
        assert_eq!(closest("stagin", envs), Some("staging"));
        assert_eq!(closest("prod", envs), None, "the word itself is no suggestion");
        assert_eq!(closest("xy", envs), None);
        assert_eq!(closest("production-eu", envs), None);
        assert_eq!(did_you_mean("stripe/lve", ["stripe/live", "github/ci"]), " (did you mean stripe/live?)");
    }
}
