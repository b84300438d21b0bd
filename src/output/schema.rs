//! The output schema, in one place. `docs/schema.md` documents every column; a change here
//! changes that page and `SCHEMA_VERSION`.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};

use crate::input::{PassColumn, PassKind};

/// Version of the output schema, stored in every row and in the manifest.
pub const SCHEMA_VERSION: u16 = 4;

fn text(name: &str) -> Field {
    Field::new(name, DataType::Utf8, true)
}

fn text_list(name: &str) -> Field {
    Field::new(
        name,
        DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
        true,
    )
}

fn timestamp(name: &str, unit: TimeUnit) -> Field {
    Field::new(name, DataType::Timestamp(unit, Some("+00:00".into())), true)
}

/// Columns that follow the passthrough columns, in output order.
pub fn posture_fields() -> Vec<Field> {
    let mx_struct = DataType::Struct(Fields::from(vec![
        Field::new("preference", DataType::UInt16, false),
        Field::new("exchange", DataType::Utf8, false),
    ]));
    let ds_struct = DataType::Struct(Fields::from(vec![
        Field::new("key_tag", DataType::UInt16, false),
        Field::new("algorithm", DataType::UInt8, false),
        Field::new("digest_type", DataType::UInt8, false),
    ]));
    let mut fields = vec![
        text("input"),
        text("domain"),
        text("domain_unicode"),
        text("registrable_domain"),
        text("public_suffix"),
        Field::new("status", DataType::Utf8, false),
        text("status_reason"),
        text("dns_a_outcome"),
        text_list("dns_a"),
        text("dns_aaaa_outcome"),
        text_list("dns_aaaa"),
        text("dns_ns_outcome"),
        text_list("dns_ns"),
        text("dns_mx_outcome"),
        Field::new(
            "dns_mx",
            DataType::List(Arc::new(Field::new("item", mx_struct, true))),
            true,
        ),
        text("dns_txt_outcome"),
        text_list("dns_txt"),
        text("dns_error"),
        Field::new("dns_ns_hosts", DataType::UInt32, true),
        Field::new("dns_ns_hosts_with_aaaa", DataType::UInt32, true),
        Field::new("dns_ns_ipv4_networks_24", DataType::UInt32, true),
        Field::new("dns_ns_ipv6_networks_48", DataType::UInt32, true),
        Field::new("dns_mx_hosts", DataType::UInt32, true),
        Field::new("dns_mx_hosts_with_aaaa", DataType::UInt32, true),
        text("dns_caa_outcome"),
        text_list("dns_caa_issue"),
        text_list("dns_caa_issuewild"),
        text_list("dns_caa_iodef"),
        Field::new("dns_caa_critical", DataType::Boolean, true),
        text_list("dns_caa_other_tags"),
        text("dns_wildcard_outcome"),
        Field::new("dns_wildcard", DataType::Boolean, true),
        text("dns_cname_outcome"),
        text_list("dns_cname_chain"),
        Field::new("dns_cname_chain_length", DataType::UInt32, true),
        Field::new("dns_cname_dangling", DataType::Boolean, true),
        text("dns_www_cname_outcome"),
        text_list("dns_www_cname_chain"),
        Field::new("dns_www_cname_chain_length", DataType::UInt32, true),
        Field::new("dns_www_cname_dangling", DataType::Boolean, true),
        text("dnssec_state"),
        text("dnssec_reason"),
        text("dnssec_extended_error"),
        Field::new(
            "dnssec_ds",
            DataType::List(Arc::new(Field::new("item", ds_struct, true))),
            true,
        ),
        Field::new(
            "dnssec_dnskey_algorithms",
            DataType::List(Arc::new(Field::new("item", DataType::UInt8, true))),
            true,
        ),
        Field::new(
            "dnssec_deprecated_algorithms",
            DataType::List(Arc::new(Field::new("item", DataType::UInt8, true))),
            true,
        ),
        Field::new(
            "dnssec_deprecated_digest_types",
            DataType::List(Arc::new(Field::new("item", DataType::UInt8, true))),
            true,
        ),
        text("dnssec_denial"),
        Field::new("dnssec_nsec3_iterations", DataType::UInt16, true),
        Field::new("dnssec_nsec3_salt_length", DataType::UInt8, true),
        text("spf_outcome"),
        text_list("spf_records"),
        Field::new("spf_valid", DataType::Boolean, true),
        text("spf_error"),
        text("spf_all"),
        Field::new("spf_all_implied", DataType::Boolean, true),
        Field::new("spf_lookups", DataType::UInt32, true),
        Field::new("spf_void_lookups", DataType::UInt32, true),
        text_list("spf_includes"),
        Field::new("spf_pass_all", DataType::Boolean, true),
        Field::new("spf_ptr", DataType::Boolean, true),
        Field::new("spf_deprecated_spf2", DataType::Boolean, true),
        Field::new("spf_authorized_ipv4", DataType::UInt64, true),
        text("dmarc_outcome"),
        text("dmarc_found_at"),
        text_list("dmarc_found_by"),
        text("dmarc_tree_walk_found_at"),
        Field::new("dmarc_methods_disagree", DataType::Boolean, true),
        text("dmarc_record"),
        Field::new("dmarc_valid", DataType::Boolean, true),
        text_list("dmarc_errors"),
        text_list("dmarc_warnings"),
        text("dmarc_policy"),
        text("dmarc_subdomain_policy"),
        Field::new("dmarc_pct", DataType::UInt8, true),
        text("dmarc_adkim"),
        text("dmarc_aspf"),
        text("dmarc_effective_policy"),
        text_list("dmarc_rua"),
        text_list("dmarc_ruf"),
        text_list("dmarc_report_external"),
        text_list("dmarc_report_unauthorized"),
        Field::new("dmarc_at_apex", DataType::Boolean, true),
    ];
    fields.extend(super::email::fields());
    fields.extend([
        text("https_outcome"),
        text("https_address"),
        Field::new("https_status", DataType::UInt16, true),
        text("https_error"),
        text("https_tls_version"),
        text("https_cert_verdict"),
        text("https_cert_error"),
        timestamp("https_cert_not_after", TimeUnit::Millisecond),
        text("http_outcome"),
        text("http_address"),
        Field::new("http_status", DataType::UInt16, true),
        text("http_error"),
        text("http_location"),
        Field::new("http_redirects_to_https", DataType::Boolean, true),
    ]);
    fields.extend(super::web::fields());
    fields.extend(super::http::fields());
    fields.extend(super::tls::fields());
    fields.extend([
        timestamp("scanned_at", TimeUnit::Millisecond),
        Field::new("duration_ms", DataType::UInt32, true),
        Field::new("posture_version", DataType::Utf8, false),
        Field::new("schema_version", DataType::UInt16, false),
    ]);
    fields
}

/// Renames passthrough columns that collide with posture's own or with each other:
/// `input_<name>` first, then a numeric suffix. Names compare without regard to case, as
/// DuckDB and SQL compare them.
pub fn passthrough_names(columns: &[PassColumn]) -> Vec<String> {
    let reserved: Vec<String> = posture_fields()
        .iter()
        .chain(crate::score::score_fields().iter())
        .map(|field| field.name().to_ascii_lowercase())
        .chain(["input_line".to_string()])
        .collect();
    let mut taken: Vec<String> = reserved.clone();
    let mut names = Vec::with_capacity(columns.len());
    for column in columns {
        let mut name = column.name.clone();
        if reserved.contains(&name.to_ascii_lowercase()) {
            name = format!("input_{name}");
        }
        let base = name.clone();
        let mut counter = 2;
        while taken.contains(&name.to_ascii_lowercase()) {
            name = format!("{base}_{counter}");
            counter += 1;
        }
        taken.push(name.to_ascii_lowercase());
        names.push(name);
    }
    names
}

/// Builds the whole output schema for an input with these passthrough columns.
pub fn schema(columns: &[PassColumn], names: &[String]) -> SchemaRef {
    let mut fields = vec![Field::new("input_line", DataType::UInt64, false)];
    for (column, name) in columns.iter().zip(names) {
        let data_type = match column.kind {
            PassKind::Text => DataType::Utf8,
            PassKind::Integer => DataType::Int64,
        };
        fields.push(Field::new(name, data_type, true));
    }
    fields.extend(posture_fields());
    Arc::new(Schema::new(fields))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colliding_passthrough_names_are_renamed() {
        let columns: Vec<PassColumn> = [
            "status",
            "company",
            "company",
            "input_status",
            "INPUT",
            "Company",
        ]
        .iter()
        .map(|name| PassColumn {
            name: name.to_string(),
            kind: PassKind::Text,
        })
        .collect();
        let names = passthrough_names(&columns);
        let expected = [
            "input_status",
            "company",
            "company_2",
            "input_status_2",
            "input_INPUT",
            "Company_3",
        ];
        assert_eq!(names, expected);
    }

    #[test]
    fn schema_documentation_lists_every_column() {
        let mut doc = include_str!("../../docs/schema.md").to_string();
        // The page documents the five DNS outcome columns as one pattern.
        for record_type in ["a", "aaaa", "ns", "mx", "txt"] {
            doc.push_str(&format!(" `dns_{record_type}_outcome`"));
        }
        for field in posture_fields() {
            let name = field.name();
            assert!(
                doc.contains(&format!("`{name}`")),
                "{name} is missing from docs/schema.md"
            );
        }
    }
}
