//! The scoring rubric (a TOML file) and the score it gives one row's assessments.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use serde::Deserialize;

use super::finding::{Assessments, Severity, Verdict, lookup};

/// The rubric built into posture: `datasets/rubric.toml`.
pub const DEFAULT_RUBRIC: &str = include_str!("../../datasets/rubric.toml");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RubricFile {
    name: String,
    version: String,
    max_unknown_share: f64,
    penalty: BTreeMap<Severity, u32>,
    grade: Vec<GradeBand>,
    #[serde(default)]
    cap: BTreeMap<String, u32>,
    #[serde(default)]
    finding: BTreeMap<String, FindingOverride>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GradeBand {
    pub grade: String,
    pub min_score: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct FindingOverride {
    severity: Option<Severity>,
    penalty: Option<u32>,
}

/// A validated rubric.
#[derive(Debug, Clone)]
pub struct Rubric {
    pub name: String,
    pub version: String,
    /// FNV-1a hash of the file's text, so that two edits with the same version still differ.
    pub digest: String,
    pub max_unknown_share: f64,
    penalty: BTreeMap<Severity, u32>,
    pub grades: Vec<GradeBand>,
    caps: BTreeMap<String, u32>,
    findings: BTreeMap<String, FindingOverride>,
}

/// One failed test with the points it cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScoredFinding {
    pub id: &'static str,
    pub severity: Severity,
    pub evidence: String,
    pub penalty: u32,
}

/// Whether a row got a score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScoreStatus {
    Graded,
    /// The row's status shows that no check ran (invalid input, duplicate, excluded, ...).
    NotScanned,
    /// Tests with unknown evidence carry more than `max_unknown_share` of the weight, and no
    /// failed test has a cap.
    InsufficientEvidence,
}

impl ScoreStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ScoreStatus::Graded => "graded",
            ScoreStatus::NotScanned => "not_scanned",
            ScoreStatus::InsufficientEvidence => "insufficient_evidence",
        }
    }
}

/// The score of one row.
#[derive(Debug, Clone, PartialEq)]
pub struct RowScore {
    pub status: ScoreStatus,
    pub findings: Vec<ScoredFinding>,
    /// Ids of the tests whose evidence is unknown.
    pub unknown: Vec<&'static str>,
    pub passed: u32,
    pub score: Option<u32>,
    pub grade: Option<String>,
    /// The failed test whose cap set the score, when a cap was lower than the points left.
    pub capped_by: Option<&'static str>,
    /// Share of the penalty weight of applicable tests that rests on unknown evidence.
    pub unknown_share: Option<f64>,
}

fn fnv1a(text: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

impl Rubric {
    /// Returns the built-in rubric.
    pub fn builtin() -> Self {
        Self::parse(DEFAULT_RUBRIC).expect("datasets/rubric.toml is valid; a test checks it")
    }

    /// Reads a rubric file, or returns the built-in rubric for `None`.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        let Some(path) = path else {
            return Ok(Self::builtin());
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read rubric {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("invalid rubric {}", path.display()))
    }

    /// Parses and validates a rubric.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let file: RubricFile = toml::from_str(text)?;
        if !(0.0..=1.0).contains(&file.max_unknown_share) {
            anyhow::bail!(
                "max_unknown_share is {}; it must be from 0 to 1",
                file.max_unknown_share
            );
        }
        for severity in [
            Severity::Info,
            Severity::Low,
            Severity::Medium,
            Severity::High,
            Severity::Critical,
        ] {
            if !file.penalty.contains_key(&severity) {
                anyhow::bail!("[penalty] is missing {}", severity.as_str());
            }
        }
        if file.grade.is_empty() {
            anyhow::bail!("the rubric has no [[grade]] bands");
        }
        if !file
            .grade
            .windows(2)
            .all(|pair| pair[0].min_score > pair[1].min_score)
        {
            anyhow::bail!("[[grade]] bands must be in order of falling min_score");
        }
        if file.grade.last().is_some_and(|band| band.min_score != 0) {
            anyhow::bail!("the last [[grade]] band must have min_score = 0");
        }
        for id in file.cap.keys().chain(file.finding.keys()) {
            if lookup(id).is_none() {
                anyhow::bail!("unknown finding id {id:?}; docs/findings.md lists the ids");
            }
        }
        Ok(Self {
            name: file.name,
            version: file.version,
            digest: fnv1a(text),
            max_unknown_share: file.max_unknown_share,
            penalty: file.penalty,
            grades: file.grade,
            caps: file.cap,
            findings: file.finding,
        })
    }

    /// Returns `name version`, the label stored with every score.
    pub fn label(&self) -> String {
        format!("{} {}", self.name, self.version)
    }

    pub fn severity(&self, id: &str) -> Severity {
        self.findings
            .get(id)
            .and_then(|change| change.severity)
            .or_else(|| lookup(id).map(|kind| kind.severity))
            .unwrap_or(Severity::Info)
    }

    pub fn penalty(&self, id: &str) -> u32 {
        self.findings
            .get(id)
            .and_then(|change| change.penalty)
            .unwrap_or_else(|| self.penalty[&self.severity(id)])
    }

    pub fn cap(&self, id: &str) -> Option<u32> {
        self.caps.get(id).copied()
    }

    /// Returns the grade of a score from 0 to 100.
    pub fn grade(&self, score: u32) -> &str {
        self.grades
            .iter()
            .find(|band| score >= band.min_score)
            .map_or("F", |band| band.grade.as_str())
    }

    /// Scores one row's assessments.
    pub fn score(&self, assessments: &Assessments) -> RowScore {
        let mut findings = Vec::new();
        let mut unknown = Vec::new();
        let mut passed = 0;
        let mut known_weight = 0u64;
        let mut unknown_weight = 0u64;
        for assessment in &assessments.0 {
            let penalty = self.penalty(assessment.id);
            match &assessment.verdict {
                Verdict::Pass => {
                    passed += 1;
                    known_weight += u64::from(penalty);
                }
                Verdict::Fail(evidence) => {
                    known_weight += u64::from(penalty);
                    findings.push(ScoredFinding {
                        id: assessment.id,
                        severity: self.severity(assessment.id),
                        evidence: evidence.clone(),
                        penalty,
                    });
                }
                Verdict::Unknown => {
                    unknown_weight += u64::from(penalty);
                    unknown.push(assessment.id);
                }
                Verdict::NotApplicable => {}
            }
        }
        let total_weight = known_weight + unknown_weight;
        let unknown_share = if total_weight == 0 {
            1.0
        } else {
            unknown_weight as f64 / total_weight as f64
        };

        let lost: u32 = findings.iter().map(|finding| finding.penalty).sum();
        let mut score = 100u32.saturating_sub(lost);
        let mut capped_by = None;
        for finding in &findings {
            if let Some(cap) = self.cap(finding.id)
                && cap < score
            {
                score = cap;
                capped_by = Some(finding.id);
            }
        }
        // Unknown evidence can only add findings, so the score is an upper bound. A cap bounds
        // it too, which is why a capped row is graded whatever its share of unknowns.
        let capped = findings
            .iter()
            .any(|finding| self.cap(finding.id).is_some());
        let (status, score, grade) = if unknown_share > self.max_unknown_share && !capped {
            (ScoreStatus::InsufficientEvidence, None, None)
        } else {
            let grade = self.grade(score).to_string();
            (ScoreStatus::Graded, Some(score), Some(grade))
        };
        RowScore {
            status,
            findings,
            unknown,
            passed,
            score,
            grade,
            capped_by,
            unknown_share: Some((unknown_share * 1000.0).round() / 1000.0),
        }
    }

    /// Returns the score of a row that was never scanned.
    pub fn not_scanned() -> RowScore {
        RowScore {
            status: ScoreStatus::NotScanned,
            findings: Vec::new(),
            unknown: Vec::new(),
            passed: 0,
            score: None,
            grade: None,
            capped_by: None,
            unknown_share: None,
        }
    }
}
