//! The finding type that the record parsers share, and the tag-list syntax that DMARC, DKIM,
//! MTA-STS, TLS-RPT and BIMI records have in common.

use serde::Serialize;

/// One error or warning about a record: a machine-readable kind and a message for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issue<K> {
    pub kind: K,
    pub message: String,
}

impl<K> Issue<K> {
    pub fn new(kind: K, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

/// One `name=value` pair of a tag list, with the whitespace around the name and the value
/// removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tag<'a> {
    pub name: &'a str,
    pub value: &'a str,
}

/// A part of a tag list that is not a `name=value` pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagSyntaxError {
    /// Nothing between two semicolons, or a list that is empty.
    Empty { position: usize },
    /// A part without `=`, or with nothing before it.
    Malformed { text: String },
}

impl TagSyntaxError {
    pub fn message(&self) -> String {
        match self {
            Self::Empty { position } => format!("tag {position} is empty"),
            Self::Malformed { text } => format!("{text:?} is not a name=value tag"),
        }
    }
}

/// Splits a tag list at `;` and each part at its first `=`. Whitespace (as `is_space`
/// defines it) around names and values is removed, and a final `;` followed only by
/// whitespace is allowed. Tags come back in order, duplicates included.
pub fn split_tags(text: &str, is_space: fn(char) -> bool) -> (Vec<Tag<'_>>, Vec<TagSyntaxError>) {
    let mut tags = Vec::new();
    let mut errors = Vec::new();
    let parts: Vec<&str> = text.split(';').collect();
    for (index, part) in parts.iter().enumerate() {
        let trimmed = part.trim_matches(is_space);
        if trimmed.is_empty() {
            let is_last = index + 1 == parts.len();
            if !is_last || index == 0 {
                errors.push(TagSyntaxError::Empty {
                    position: index + 1,
                });
            }
            continue;
        }
        match trimmed.split_once('=') {
            Some((name, value)) if !name.trim_matches(is_space).is_empty() => tags.push(Tag {
                name: name.trim_matches(is_space),
                value: value.trim_matches(is_space),
            }),
            _ => errors.push(TagSyntaxError::Malformed {
                text: trimmed.to_string(),
            }),
        }
    }
    (tags, errors)
}

/// WSP of RFC 5234: space and horizontal tab.
pub fn is_wsp(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// FWS of RFC 6376 section 2.8, as it remains after the strings of a TXT record are joined:
/// space, tab, CR and LF.
pub fn is_fws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// True for a DNS host name made of LDH labels of 1 to 63 octets, with at least two labels
/// and at most 253 octets. A final dot is allowed.
pub fn is_host_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() || name.len() > 253 || !name.contains('.') {
        return false;
    }
    name.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    })
}

/// Returns the host of an `https://` URL with a valid host name, or `None`. The scheme is
/// case-insensitive, and a port, path or query may follow the host.
pub fn https_host(url: &str) -> Option<&str> {
    let scheme = url.get(..8)?;
    if !scheme.eq_ignore_ascii_case("https://") || url.chars().any(char::is_whitespace) {
        return None;
    }
    let rest = &url[8..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => host,
        Some(_) => return None,
        None => authority,
    };
    is_host_name(host).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_split_with_whitespace() {
        let (tags, errors) = split_tags(" a = 1 ;b=2;\t", is_wsp);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(tags.len(), 2);
        assert_eq!(
            tags[0],
            Tag {
                name: "a",
                value: "1"
            }
        );
        assert_eq!(
            tags[1],
            Tag {
                name: "b",
                value: "2"
            }
        );
    }

    #[test]
    fn tags_empty_and_malformed() {
        let (tags, errors) = split_tags("a=1;;b", is_wsp);
        assert_eq!(tags.len(), 1);
        assert_eq!(errors[0], TagSyntaxError::Empty { position: 2 });
        assert_eq!(
            errors[1],
            TagSyntaxError::Malformed {
                text: "b".to_string()
            }
        );
        let (tags, errors) = split_tags("", is_wsp);
        assert!(tags.is_empty());
        assert_eq!(errors, [TagSyntaxError::Empty { position: 1 }]);
        let (_, errors) = split_tags("=x", is_wsp);
        assert_eq!(errors.len(), 1);
    }

    #[test]
    fn value_keeps_inner_equals() {
        let (tags, _) = split_tags("l=https://x.example/a?b=c", is_wsp);
        assert_eq!(tags[0].value, "https://x.example/a?b=c");
    }

    #[test]
    fn host_names() {
        assert!(is_host_name("mail.example.com"));
        assert!(is_host_name("example.com."));
        assert!(!is_host_name("com"));
        assert!(!is_host_name("-a.example.com"));
        assert!(!is_host_name("a..example.com"));
        assert!(!is_host_name("a_b.example.com"));
    }

    #[test]
    fn https_hosts() {
        assert_eq!(
            https_host("https://bimi.example.com/logo.svg"),
            Some("bimi.example.com")
        );
        assert_eq!(https_host("HTTPS://example.com:8443"), Some("example.com"));
        assert_eq!(https_host("http://example.com/"), None);
        assert_eq!(https_host("https://"), None);
        assert_eq!(https_host("https://example.com:x/"), None);
        assert_eq!(https_host("https://exa mple.com/"), None);
    }
}
