//! The business-context indicator: workforce sentiment from optional input columns, such as an
//! employer rating and CEO approval, which some raters read as an insider-risk signal. It is
//! stored in its own `context_*` columns and never enters the technical score.

use super::evidence::RowEvidence;

/// Input columns found by their usual names, or given by flags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContextColumns {
    /// Employer rating on the 1 to 5 scale of employee review sites.
    pub employee_rating: Option<String>,
    /// CEO approval as a percentage (`87`, `87%`) or a fraction (`0.87`).
    pub ceo_approval: Option<String>,
}

const EMPLOYEE_RATING_NAMES: &[&str] = &[
    "employee_rating",
    "employer_rating",
    "glassdoor_rating",
    "company_rating",
    "overall_rating",
    "rating",
];
const CEO_APPROVAL_NAMES: &[&str] = &[
    "ceo_approval",
    "ceo_approval_rating",
    "ceo_approval_percent",
    "glassdoor_ceo_approval",
];

/// Lowercases a column name and turns every run of other characters into one `_`.
fn normalise(name: &str) -> String {
    let mut out = String::new();
    for character in name.chars() {
        if character.is_ascii_alphanumeric() {
            out.push(character.to_ascii_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches('_').to_string()
}

impl ContextColumns {
    /// Finds the columns among `names`; a name given in `self` wins over a found one.
    pub fn resolve(&self, names: &[&str]) -> Self {
        let find = |candidates: &[&str]| {
            candidates.iter().find_map(|candidate| {
                names
                    .iter()
                    .find(|name| normalise(name) == *candidate)
                    .map(|name| name.to_string())
            })
        };
        Self {
            employee_rating: self
                .employee_rating
                .clone()
                .or_else(|| find(EMPLOYEE_RATING_NAMES)),
            ceo_approval: self
                .ceo_approval
                .clone()
                .or_else(|| find(CEO_APPROVAL_NAMES)),
        }
    }
}

/// Reads a number from a passthrough value, which may be text (`4.1`, `87%`) or a number.
fn read_number(row: &RowEvidence<'_>, column: &str) -> Option<f64> {
    if let Some(number) = row.number(column) {
        return Some(number as f64);
    }
    if let Some(number) = row.real(column) {
        return Some(number);
    }
    let text = row.text(column)?.trim();
    let (text, percent) = match text.strip_suffix('%') {
        Some(text) => (text.trim(), true),
        None => (text, false),
    };
    let value: f64 = text.replace(',', ".").parse().ok()?;
    if !value.is_finite() {
        return None;
    }
    Some(if percent { value / 100.0 } else { value })
}

/// The context values of one row.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ContextValues {
    /// Rating from 1 to 5.
    pub employee_rating: Option<f64>,
    /// Approval from 0 to 1.
    pub ceo_approval: Option<f64>,
    /// Mean of the available values on a 0 to 100 scale; lower means less content staff.
    pub score: Option<f64>,
}

/// Reads and scales the context values of one row; values out of range are ignored.
pub fn context_values(row: &RowEvidence<'_>, columns: &ContextColumns) -> ContextValues {
    let employee_rating = columns
        .employee_rating
        .as_deref()
        .and_then(|column| read_number(row, column))
        .filter(|rating| (1.0..=5.0).contains(rating));
    let ceo_approval = columns
        .ceo_approval
        .as_deref()
        .and_then(|column| read_number(row, column))
        .map(|approval| {
            if approval > 1.0 {
                approval / 100.0
            } else {
                approval
            }
        })
        .filter(|approval| (0.0..=1.0).contains(approval));
    let scaled: Vec<f64> = [
        employee_rating.map(|rating| (rating - 1.0) / 4.0 * 100.0),
        ceo_approval.map(|approval| approval * 100.0),
    ]
    .into_iter()
    .flatten()
    .collect();
    let score = (!scaled.is_empty())
        .then(|| (scaled.iter().sum::<f64>() / scaled.len() as f64 * 10.0).round() / 10.0);
    ContextValues {
        employee_rating,
        ceo_approval,
        score,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usual_names_are_found() {
        let found =
            ContextColumns::default().resolve(&["Company", "Glassdoor Rating", "CEO Approval"]);
        assert_eq!(found.employee_rating.as_deref(), Some("Glassdoor Rating"));
        assert_eq!(found.ceo_approval.as_deref(), Some("CEO Approval"));
    }

    #[test]
    fn flag_wins_over_found_name() {
        let given = ContextColumns {
            employee_rating: Some("stars".to_string()),
            ceo_approval: None,
        };
        let found = given.resolve(&["rating", "stars"]);
        assert_eq!(found.employee_rating.as_deref(), Some("stars"));
        assert_eq!(found.ceo_approval, None);
    }
}
