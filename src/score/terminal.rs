//! The text `posture check` prints: one scored row for a person to read in a terminal.

use std::fmt::Write as _;

use arrow::array::{Array, AsArray, RecordBatch};
use console::Style;

use super::evidence::Evidence;

fn grade_style(grade: &str, colour: bool) -> Style {
    let style = match grade.chars().next() {
        Some('A') => Style::new().green(),
        Some('B' | 'C') => Style::new().yellow(),
        _ => Style::new().red(),
    };
    style.bold().force_styling(colour)
}

fn severity_style(severity: &str, colour: bool) -> Style {
    let style = match severity {
        "critical" | "high" => Style::new().red(),
        "medium" => Style::new().yellow(),
        _ => Style::new().dim(),
    };
    style.force_styling(colour)
}

/// One finding of the row, as stored.
struct FindingText {
    id: String,
    severity: String,
    penalty: i64,
    evidence: String,
}

fn findings(batch: &RecordBatch) -> Vec<FindingText> {
    let Some(lists) = batch
        .column_by_name("findings")
        .and_then(|column| column.as_list_opt::<i32>())
    else {
        return Vec::new();
    };
    if lists.is_null(0) {
        return Vec::new();
    }
    let values = lists.value(0);
    let Some(structs) = values.as_struct_opt() else {
        return Vec::new();
    };
    let evidence = Evidence::new(&RecordBatch::from(structs.clone()));
    let mut out: Vec<FindingText> = (0..evidence.num_rows())
        .map(|index| {
            let row = evidence.row(index);
            FindingText {
                id: row.text("id").unwrap_or("").to_string(),
                severity: row.text("severity").unwrap_or("").to_string(),
                penalty: row.number("penalty").unwrap_or(0),
                evidence: row.text("evidence").unwrap_or("").to_string(),
            }
        })
        .collect();
    out.sort_by(|a, b| b.penalty.cmp(&a.penalty).then(a.id.cmp(&b.id)));
    out
}

/// Renders the first row of a scored batch; `verbose` adds the tests with unknown evidence.
pub fn render_row(batch: &RecordBatch, colour: bool, verbose: bool) -> String {
    let evidence = Evidence::new(batch);
    let row = evidence.row(0);
    let mut text = String::new();
    let domain = row.text("domain").or(row.text("input")).unwrap_or("");
    let bold = Style::new().bold().force_styling(colour);
    let _ = writeln!(text, "{}", bold.apply_to(domain));

    match (row.text("grade"), row.number("score")) {
        (Some(grade), Some(score)) => {
            let _ = writeln!(
                text,
                "  grade {}  score {score}/100",
                grade_style(grade, colour).apply_to(grade)
            );
        }
        _ => {
            let status = row.text("score_status").unwrap_or("not scored");
            let reason = row.text("status_reason").unwrap_or("");
            let _ = writeln!(text, "  no grade: {status} {reason}");
        }
    }
    if let Some(finding) = row.text("score_capped_by") {
        let _ = writeln!(text, "  capped by {finding}");
    }
    if let Some(share) = row.real("score_unknown_share") {
        let _ = writeln!(
            text,
            "  {:.0}% of the score's weight rests on unknown evidence",
            share * 100.0
        );
    }
    if let Some(rubric) = row.text("score_rubric") {
        let _ = writeln!(text, "  rubric {rubric}");
    }

    let findings = findings(batch);
    if findings.is_empty() {
        let _ = writeln!(text, "\nNo findings.");
    } else {
        let _ = writeln!(text, "\nFindings:");
    }
    for finding in &findings {
        let severity = severity_style(&finding.severity, colour);
        let _ = writeln!(
            text,
            "  {:<9} {:<30} -{:<3} {}",
            severity.apply_to(&finding.severity),
            finding.id,
            finding.penalty,
            finding.evidence
        );
    }
    if verbose && let Some(unknown) = row.texts("score_unknown_tests") {
        let _ = writeln!(text, "\nUnknown evidence: {}", unknown.join(", "));
    }
    text
}
