//! The redirect-chain columns of an output row, flattened into [`Row`](super::Row).
//!
//! The `https_*` and `http_*` columns of the first request stay in [`Row`](super::Row). These
//! columns describe where each chain went, and which response is graded as the site's.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Fields};
use serde::Serialize;

use crate::check::WebScan;
use crate::check::follow::{Chain, graded_response, is_bot_wall};

/// One request of a chain, as stored in `web_hops`.
#[derive(Debug, Serialize)]
pub struct HopColumn {
    pub chain: &'static str,
    pub url: String,
    pub address: Option<String>,
    pub outcome: &'static str,
    pub status: Option<u16>,
    pub location: Option<String>,
    pub error: Option<String>,
}

/// Returns the Arrow fields of a `web_hops` entry.
pub fn hop_fields() -> Fields {
    Fields::from(vec![
        Field::new("chain", DataType::Utf8, false),
        Field::new("url", DataType::Utf8, false),
        Field::new("address", DataType::Utf8, true),
        Field::new("outcome", DataType::Utf8, false),
        Field::new("status", DataType::UInt16, true),
        Field::new("location", DataType::Utf8, true),
        Field::new("error", DataType::Utf8, true),
    ])
}

/// Returns the fields of every chain and those derived across chains, in schema order.
pub fn fields() -> Vec<Field> {
    let text = |name: &str| Field::new(name, DataType::Utf8, true);
    let mut fields = Vec::new();
    for chain in ["https", "http", "www_https", "www_http"] {
        if chain.starts_with("www") {
            fields.push(text(&format!("{chain}_outcome")));
        }
        fields.push(text(&format!("{chain}_end")));
        fields.push(text(&format!("{chain}_final_url")));
        fields.push(Field::new(
            format!("{chain}_final_status"),
            DataType::UInt16,
            true,
        ));
        fields.push(Field::new(
            format!("{chain}_hop_count"),
            DataType::UInt8,
            true,
        ));
    }
    fields.extend([
        Field::new("https_enforced", DataType::Boolean, true),
        Field::new("https_downgrade", DataType::Boolean, true),
        text("web_graded_url"),
        Field::new("web_graded_status", DataType::UInt16, true),
        Field::new("web_bot_wall", DataType::Boolean, true),
        Field::new(
            "web_hops",
            DataType::List(Arc::new(Field::new(
                "item",
                DataType::Struct(hop_fields()),
                true,
            ))),
            true,
        ),
    ]);
    fields
}

/// Redirect-chain columns. Every one is null when the web check did not run.
#[derive(Debug, Default, Serialize)]
pub struct WebColumns {
    pub https_end: Option<&'static str>,
    pub https_final_url: Option<String>,
    pub https_final_status: Option<u16>,
    pub https_hop_count: Option<u8>,
    pub http_end: Option<&'static str>,
    pub http_final_url: Option<String>,
    pub http_final_status: Option<u16>,
    pub http_hop_count: Option<u8>,
    pub www_https_outcome: Option<&'static str>,
    pub www_https_end: Option<&'static str>,
    pub www_https_final_url: Option<String>,
    pub www_https_final_status: Option<u16>,
    pub www_https_hop_count: Option<u8>,
    pub www_http_outcome: Option<&'static str>,
    pub www_http_end: Option<&'static str>,
    pub www_http_final_url: Option<String>,
    pub www_http_final_status: Option<u16>,
    pub www_http_hop_count: Option<u8>,
    pub https_enforced: Option<bool>,
    pub https_downgrade: Option<bool>,
    pub web_graded_url: Option<String>,
    pub web_graded_status: Option<u16>,
    pub web_bot_wall: Option<bool>,
    pub web_hops: Option<Vec<HopColumn>>,
}

/// The end, final URL, final status and response count of one chain.
type ChainSummary = (
    Option<&'static str>,
    Option<String>,
    Option<u16>,
    Option<u8>,
);

fn summary(chain: &Chain) -> ChainSummary {
    let last = chain.last_response();
    let count = u8::try_from(chain.responses().count()).unwrap_or(u8::MAX);
    (
        chain.end.map(|end| end.as_str()),
        last.map(|hop| hop.url.to_string()),
        last.and_then(|hop| hop.observation.status),
        (count > 0).then_some(count),
    )
}

impl WebColumns {
    pub fn new(web: &WebScan, name: &str) -> Self {
        let mut columns = Self::default();
        (
            columns.https_end,
            columns.https_final_url,
            columns.https_final_status,
            columns.https_hop_count,
        ) = summary(&web.https);
        (
            columns.http_end,
            columns.http_final_url,
            columns.http_final_status,
            columns.http_hop_count,
        ) = summary(&web.http);
        if let Some(chain) = &web.www_https {
            columns.www_https_outcome = Some(chain.first().outcome.as_str());
            (
                columns.www_https_end,
                columns.www_https_final_url,
                columns.www_https_final_status,
                columns.www_https_hop_count,
            ) = summary(chain);
        }
        if let Some(chain) = &web.www_http {
            columns.www_http_outcome = Some(chain.first().outcome.as_str());
            (
                columns.www_http_end,
                columns.www_http_final_url,
                columns.www_http_final_status,
                columns.www_http_hop_count,
            ) = summary(chain);
        }

        columns.https_enforced = web.http.end.map(|_| {
            web.http
                .final_response()
                .is_some_and(|hop| hop.url.scheme() == "https")
        });
        let answered = web.chains().any(|chain| chain.end.is_some());
        // Every redirect from an https:// URL to an http:// one counts, followed or not.
        columns.https_downgrade = answered.then(|| {
            web.chains().flat_map(|chain| chain.responses()).any(|hop| {
                hop.url.scheme() == "https"
                    && hop.observation.is_redirect()
                    && hop
                        .observation
                        .location
                        .as_deref()
                        .and_then(|location| hop.url.join(location.trim()).ok())
                        .is_some_and(|target| target.scheme() == "http")
            })
        });
        if let Some(graded) = graded_response(web, name) {
            columns.web_graded_url = Some(graded.url.to_string());
            columns.web_graded_status = graded.observation.status;
            columns.web_bot_wall = Some(is_bot_wall(graded));
        }
        columns.web_hops = Some(
            web.chains()
                .flat_map(|chain| {
                    chain.hops.iter().map(|hop| HopColumn {
                        chain: chain.start.as_str(),
                        url: hop.url.to_string(),
                        address: hop.observation.address.map(|address| address.to_string()),
                        outcome: hop.observation.outcome.as_str(),
                        status: hop.observation.status,
                        location: hop.observation.location.clone(),
                        error: hop.observation.error.clone(),
                    })
                })
                .collect(),
        );
        columns
    }
}
