//! `posture report`: one self-contained HTML file with charts drawn as inline SVG, so it opens
//! offline and fetches nothing.
//!
//! Every figure in the page is also in `data-` attributes (`data-count`, `data-total`,
//! `data-score`, ...), so tests and scripts can read the numbers without parsing the text.
//! docs/analysis.md gives the DuckDB query behind each figure.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use arrow::array::{Array, AsArray, RecordBatch};

use super::diff;
use super::evidence::Evidence;

/// Rows shown in the "most common findings" and "worst domains" tables.
const TOP_FINDINGS: usize = 15;
const WORST_DOMAINS: usize = 20;

/// One scan's scored batches, with the label the report shows for it.
pub struct ScanInput {
    pub label: String,
    pub batches: Vec<RecordBatch>,
}

/// An adoption measure: its key, title, and the column and value that count as adopted.
struct Measure {
    key: &'static str,
    title: &'static str,
    column: &'static str,
    /// `Some(text)` counts rows where the column equals the text; `None` counts true flags.
    value: Option<&'static str>,
}

const MEASURES: &[Measure] = &[
    Measure {
        key: "https_enforced",
        title: "HTTP redirects to HTTPS",
        column: "http_redirects_to_https",
        value: None,
    },
    Measure {
        key: "hsts",
        title: "HSTS",
        column: "hsts_valid",
        value: None,
    },
    Measure {
        key: "dmarc_reject",
        title: "DMARC reject",
        column: "dmarc_effective_policy",
        value: Some("reject"),
    },
    Measure {
        key: "dnssec",
        title: "DNSSEC signed",
        column: "dnssec_state",
        value: Some("secure"),
    },
    Measure {
        key: "tls1_0",
        title: "TLS 1.0 accepted",
        column: "tls_tls1_0_offered",
        value: None,
    },
];

/// Input column names, lowercase, that give a row's industry.
const INDUSTRY_COLUMNS: &[&str] = &["industry", "sector"];

/// The figures of one scan.
#[derive(Debug, Default)]
struct ScanFigures {
    /// Rows of each grade, and `ungraded` for rows with insufficient evidence.
    grades: BTreeMap<String, u64>,
    /// Industry, then measure key: (adopted, rows with status ok). Measures whose column the
    /// scan lacks are missing.
    adoption: BTreeMap<String, BTreeMap<&'static str, (u64, u64)>>,
    industry_column: Option<String>,
    /// Finding id: rows that have it.
    findings: BTreeMap<String, u64>,
    /// (score, domain, grade) of every graded row.
    scores: Vec<(u32, String, String)>,
    /// Rows with status `ok`.
    ok_rows: u64,
}

fn industry_column(batch: &RecordBatch) -> Option<String> {
    batch
        .schema()
        .fields()
        .iter()
        .map(|field| field.name().clone())
        .find(|name| INDUSTRY_COLUMNS.contains(&name.to_ascii_lowercase().as_str()))
}

fn finding_ids(batch: &RecordBatch, index: usize) -> Vec<String> {
    let Some(lists) = batch
        .column_by_name("findings")
        .and_then(|column| column.as_list_opt::<i32>())
    else {
        return Vec::new();
    };
    if lists.is_null(index) {
        return Vec::new();
    }
    let values = lists.value(index);
    let Some(ids) = values
        .as_struct_opt()
        .and_then(|structs| structs.column_by_name("id"))
        .and_then(|ids| arrow::compute::cast(ids, &arrow::datatypes::DataType::Utf8).ok())
    else {
        return Vec::new();
    };
    ids.as_string::<i32>()
        .iter()
        .flatten()
        .map(str::to_string)
        .collect()
}

fn scan_figures(scan: &ScanInput) -> ScanFigures {
    let mut figures = ScanFigures::default();
    for batch in &scan.batches {
        let industry = industry_column(batch);
        if figures.industry_column.is_none() {
            figures.industry_column = industry.clone();
        }
        let evidence = Evidence::new(batch);
        let measured: Vec<&Measure> = MEASURES
            .iter()
            .filter(|measure| evidence.has_column(measure.column))
            .collect();
        for index in 0..evidence.num_rows() {
            let row = evidence.row(index);
            match (row.text("score_status"), row.text("grade")) {
                (Some("graded"), Some(grade)) => {
                    *figures.grades.entry(grade.to_string()).or_default() += 1;
                    if let (Some(score), Some(domain)) = (row.number("score"), row.text("domain")) {
                        figures
                            .scores
                            .push((score as u32, domain.to_string(), grade.to_string()));
                    }
                }
                (Some("insufficient_evidence"), _) => {
                    *figures.grades.entry("ungraded".to_string()).or_default() += 1;
                }
                _ => {}
            }
            if row.text("status") != Some("ok") {
                continue;
            }
            figures.ok_rows += 1;
            for id in finding_ids(batch, index) {
                *figures.findings.entry(id).or_default() += 1;
            }
            let group = industry
                .as_deref()
                .map(|column| row.text(column).unwrap_or("(none)").to_string())
                .unwrap_or_else(|| "all rows".to_string());
            let cells = figures.adoption.entry(group).or_default();
            for measure in &measured {
                let adopted = match measure.value {
                    Some(value) => row.text(measure.column) == Some(value),
                    None => row.flag(measure.column) == Some(true),
                };
                let cell = cells.entry(measure.key).or_default();
                cell.0 += u64::from(adopted);
                cell.1 += 1;
            }
        }
    }
    figures
}

/// Escapes text for HTML element content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(character),
        }
    }
    out
}

fn percent(count: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        count as f64 * 100.0 / total as f64
    }
}

/// Draws the grade distribution of every scan as grouped vertical bars.
fn grade_chart(scans: &[(String, ScanFigures)], grade_order: &[String]) -> String {
    let mut order: Vec<String> = grade_order.to_vec();
    order.push("ungraded".to_string());
    let max = scans
        .iter()
        .flat_map(|(_, figures)| figures.grades.values())
        .copied()
        .max()
        .unwrap_or(1)
        .max(1);
    let group_width = 60.0;
    let bar_width = (group_width - 10.0) / scans.len() as f64;
    let height = 200.0;
    let width = group_width * order.len() as f64 + 40.0;
    let colours = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759"];

    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{}" role="img" aria-label="Grade distribution">"#,
        height + 45.0 + 16.0 * scans.len() as f64
    );
    if scans.len() > 1 {
        for (scan_index, (label, _)) in scans.iter().enumerate() {
            let y = height + 45.0 + 16.0 * scan_index as f64;
            let _ = write!(
                svg,
                r#"<rect x="30" y="{:.1}" width="10" height="10" fill="{}"/><text x="46" y="{y:.1}" font-size="12">{}</text>"#,
                y - 9.0,
                colours[scan_index % colours.len()],
                escape(label)
            );
        }
    }

    for (position, grade) in order.iter().enumerate() {
        let x0 = 30.0 + position as f64 * group_width;
        for (scan_index, (label, figures)) in scans.iter().enumerate() {
            let count = figures.grades.get(grade).copied().unwrap_or(0);
            let bar = height * count as f64 / max as f64;
            let x = x0 + scan_index as f64 * bar_width;
            let _ = write!(
                svg,
                r#"<rect class="grade-bar" data-scan="{}" data-grade="{}" data-count="{count}" x="{x:.1}" y="{:.1}" width="{:.1}" height="{bar:.1}" fill="{}"><title>{}: {count}</title></rect>"#,
                escape(label),
                escape(grade),
                height - bar + 10.0,
                bar_width - 2.0,
                colours[scan_index % colours.len()],
                escape(grade),
            );
            let _ = write!(
                svg,
                r#"<text x="{:.1}" y="{:.1}" font-size="10" text-anchor="middle">{count}</text>"#,
                x + bar_width / 2.0 - 1.0,
                height - bar + 6.0
            );
        }
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" font-size="12" text-anchor="middle">{}</text>"#,
            x0 + (group_width - 10.0) / 2.0,
            height + 28.0,
            escape(grade)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Draws a horizontal bar for a share from 0 to 100.
fn share_bar(share: f64) -> String {
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="100" height="10" aria-hidden="true"><rect width="100" height="10" fill="#eee"/><rect width="{share:.1}" height="10" fill="#4e79a7"/></svg>"##
    )
}

fn adoption_table(figures: &ScanFigures) -> String {
    let mut html = String::from("<table id=\"adoption\"><thead><tr><th>");
    html.push_str(&escape(
        figures.industry_column.as_deref().unwrap_or("group"),
    ));
    html.push_str("</th><th>rows</th>");
    for measure in MEASURES {
        let _ = write!(html, "<th>{}</th>", escape(measure.title));
    }
    html.push_str("</tr></thead><tbody>");
    for (group, cells) in &figures.adoption {
        let total = cells.values().map(|(_, total)| *total).max().unwrap_or(0);
        let _ = write!(
            html,
            r#"<tr class="industry" data-industry="{}" data-total="{total}"><td>{}</td><td>{total}</td>"#,
            escape(group),
            escape(group)
        );
        for measure in MEASURES {
            match cells.get(measure.key) {
                Some((count, total)) => {
                    let share = percent(*count, *total);
                    let _ = write!(
                        html,
                        r#"<td class="measure" data-measure="{}" data-count="{count}" data-total="{total}">{} {share:.0}%</td>"#,
                        measure.key,
                        share_bar(share)
                    );
                }
                None => {
                    let _ = write!(
                        html,
                        r#"<td class="measure" data-measure="{}" data-measured="false">not measured</td>"#,
                        measure.key
                    );
                }
            }
        }
        html.push_str("</tr>");
    }
    html.push_str("</tbody></table>");
    html
}

fn findings_table(figures: &ScanFigures) -> String {
    let mut sorted: Vec<(&String, &u64)> = figures.findings.iter().collect();
    sorted.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let mut html = String::from(
        "<table id=\"findings\"><thead><tr><th>finding</th><th>domains</th><th>share of scanned</th></tr></thead><tbody>",
    );
    for (id, count) in sorted.into_iter().take(TOP_FINDINGS) {
        let share = percent(*count, figures.ok_rows);
        let _ = write!(
            html,
            r#"<tr class="finding" data-finding="{}" data-count="{count}"><td><code>{}</code></td><td>{count}</td><td>{} {share:.0}%</td></tr>"#,
            escape(id),
            escape(id),
            share_bar(share)
        );
    }
    html.push_str("</tbody></table>");
    html
}

fn worst_table(figures: &ScanFigures) -> String {
    let mut scores = figures.scores.clone();
    scores.sort();
    let mut html = String::from(
        "<table id=\"worst\"><thead><tr><th>domain</th><th>score</th><th>grade</th></tr></thead><tbody>",
    );
    for (score, domain, grade) in scores.iter().take(WORST_DOMAINS) {
        let _ = write!(
            html,
            r#"<tr class="worst" data-domain="{}" data-score="{score}" data-grade="{}"><td>{}</td><td>{score}</td><td>{}</td></tr>"#,
            escape(domain),
            escape(grade),
            escape(domain),
            escape(grade)
        );
    }
    html.push_str("</tbody></table>");
    html
}

fn changes_section(old: &ScanInput, new: &ScanInput) -> anyhow::Result<String> {
    let changes = diff::compare(
        &diff::domain_states(&old.batches)?,
        &diff::domain_states(&new.batches)?,
    );
    let count = |kind: &str| {
        changes
            .iter()
            .filter(|change| change.change == kind)
            .count()
    };
    let mut html = format!(
        r#"<section id="changes" data-improved="{}" data-regressed="{}" data-unchanged="{}"><h2>Changes from {} to {}</h2><p>{} domains improved, {} regressed, {} kept their score.</p>"#,
        count("improved"),
        count("regressed"),
        count("unchanged"),
        escape(&old.label),
        escape(&new.label),
        count("improved"),
        count("regressed"),
        count("unchanged"),
    );
    for kind in ["improved", "regressed"] {
        let _ = write!(
            html,
            "<h3>{kind}</h3><table><thead><tr><th>domain</th><th>score</th><th>findings gone</th><th>new findings</th></tr></thead><tbody>"
        );
        for change in changes
            .iter()
            .filter(|change| change.change == kind)
            .take(50)
        {
            let _ = write!(
                html,
                r#"<tr class="change" data-change="{kind}" data-domain="{}"><td>{}</td><td>{} → {}</td><td>{}</td><td>{}</td></tr>"#,
                escape(&change.domain),
                escape(&change.domain),
                change.old_score.map_or("-".into(), |s| s.to_string()),
                change.new_score.map_or("-".into(), |s| s.to_string()),
                escape(&change.disappeared.join(", ")),
                escape(&change.appeared.join(", "))
            );
        }
        html.push_str("</tbody></table>");
    }
    html.push_str("</section>");
    Ok(html)
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;max-width:72em;color:#222}\
table{border-collapse:collapse;margin:1em 0}td,th{padding:.25em .6em;border-bottom:1px solid #ddd;\
text-align:left;font-size:.9em}td.measure{white-space:nowrap}h2{margin-top:2em}.note{color:#666;font-size:.9em}";

/// Builds the report of one or more scored scans. The last scan is the current one; with two
/// or more, the first is compared with it.
pub fn render(scans: &[ScanInput], grade_order: &[String]) -> anyhow::Result<String> {
    let Some(current) = scans.last() else {
        anyhow::bail!("no scan to report on");
    };
    let figures: Vec<(String, ScanFigures)> = scans
        .iter()
        .map(|scan| (scan.label.clone(), scan_figures(scan)))
        .collect();
    let latest = &figures.last().expect("one scan at least").1;

    let mut html = String::from("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">");
    let _ = write!(
        html,
        "<title>posture report</title><style>{STYLE}</style></head><body>\
         <h1>posture report</h1><p class=\"note\">Scans: {}. Generated by posture {}.</p>",
        scans
            .iter()
            .map(|scan| escape(&scan.label))
            .collect::<Vec<_>>()
            .join(", "),
        env!("CARGO_PKG_VERSION")
    );
    let _ = write!(
        html,
        "<section id=\"grades\"><h2>Grade distribution</h2>{}<p class=\"note\">Rows with status ok or \
         deadline_exceeded; \"ungraded\" rows had too much unknown evidence for a grade.</p></section>",
        grade_chart(&figures, grade_order)
    );
    let _ = write!(
        html,
        "<section><h2>Adoption by {}</h2><p class=\"note\">Share of rows with status ok in the \
         current scan. \"not measured\" means the scan has no column for it.</p>{}</section>",
        escape(latest.industry_column.as_deref().unwrap_or("group")),
        adoption_table(latest)
    );
    let _ = write!(
        html,
        "<section><h2>Most common findings</h2>{}</section>",
        findings_table(latest)
    );
    let _ = write!(
        html,
        "<section><h2>Worst domains</h2>{}</section>",
        worst_table(latest)
    );
    if scans.len() >= 2 {
        html.push_str(&changes_section(&scans[0], current)?);
    }
    html.push_str("</body></html>\n");
    Ok(html)
}
