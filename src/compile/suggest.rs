//! Did-you-mean: the known name closest to a misspelt one, if any is close enough.

/// The candidate nearest to `name`, when it is within a third of the name's length
/// (at least one edit) and shares at least one character with it; ties go to the
/// alphabetically first.
pub(crate) fn closest<'c>(
    name: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<String> {
    let budget = (name.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .filter(|candidate| *candidate != name)
        .map(|candidate| (strsim::damerau_levenshtein(name, candidate), candidate))
        .filter(|(distance, _)| *distance <= budget && *distance < name.chars().count())
        .min_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)))
        .map(|(_, candidate)| candidate.to_owned())
}

#[cfg(test)]
mod tests {
    use super::closest;

    #[test]
    fn a_typo_finds_the_intended_name() {
        assert_eq!(
            closest("anomaly_cnt", ["anomaly_count", "threshold"]).as_deref(),
            Some("anomaly_count")
        );
        assert_eq!(
            closest("reprot", ["report", "repair"]).as_deref(),
            Some("report")
        );
    }

    #[test]
    fn a_distant_name_suggests_nothing() {
        assert_eq!(closest("xyz", ["report", "repair"]), None);
    }
}
