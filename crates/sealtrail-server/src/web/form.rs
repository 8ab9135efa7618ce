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
