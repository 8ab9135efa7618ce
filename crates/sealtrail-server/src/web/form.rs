//! Pieces of HTML forms that several pages draw (the audit page's filters, the settings page's
//! role and tile-access choices).

/// One `<option>` of a `<select>`: what is submitted, what is shown, and whether it is the
/// current choice (so a page drawn again after a refusal keeps what the user picked).
#[derive(Debug, Clone)]
pub struct SelectOption {
    /// Submitted value.
    pub value: String,
    /// Shown text.
    pub label: String,
    /// Currently chosen.
    pub selected: bool,
}

/// The period presets as the pages name them, in [`sealtrail_core::filter::PRESETS`] order:
/// the audit page's Period dropdown and the settings page's default period offer the same.
pub const PERIODS: [(&str, &str); 6] = [
    ("24h", "Last 24 hours"),
    ("7d", "Last 7 days"),
    ("30d", "Last 30 days"),
    ("90d", "Last 90 days"),
    ("3m", "Last 3 months"),
    ("this_month", "This month"),
];

#[cfg(test)]
mod tests {
    #[test]
    fn the_pages_name_every_preset_the_filter_knows() {
        let named: Vec<&str> = super::PERIODS.iter().map(|(v, _)| *v).collect();
        assert_eq!(named, sealtrail_core::filter::PRESETS);
    }
}
