//! DNSSEC state of a name: secure, insecure, bogus or indeterminate (RFC 4035 section 4.3).
//!
//! posture relies on the validating resolver it is given and reads what that resolver reports:
//! the AD flag for secure data, SERVFAIL for bogus data, and Extended DNS Errors (RFC 8914) for
//! the reason. A SERVFAIL alone does not make a zone bogus, so the query is repeated with the
//! CD (checking disabled) flag: only when the data then resolves is the state bogus, and the
//! reason is worked out from the DS and DNSKEY records themselves when the resolver sent no
//! Extended DNS Error. A resolver that does not validate (no AD on the root's DNSKEY) makes
//! every state indeterminate.
//!
//! hickory's resolver does not expose the AD and CD flags or EDNS options, so this module sends
//! its own queries with hickory-proto's message types.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::proto::dnssec::PublicKey;
use hickory_resolver::proto::dnssec::rdata::{DNSKEY, DNSSECRData, DS};
use hickory_resolver::proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_resolver::proto::rr::rdata::opt::{EdnsCode, EdnsOption};
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use tokio::net::UdpSocket;
use tokio::sync::OnceCell;

/// DNSSEC state, as RFC 4035 section 4.3 defines the four.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnssecState {
    Secure,
    Insecure,
    Bogus,
    Indeterminate,
}

impl DnssecState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Secure => "secure",
            Self::Insecure => "insecure",
            Self::Bogus => "bogus",
            Self::Indeterminate => "indeterminate",
        }
    }
}

/// DS record facts at the parent.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DsFacts {
    pub key_tag: u16,
    pub algorithm: u8,
    pub digest_type: u8,
}

/// The DNSSEC check's observations of one name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnssecObservation {
    pub state: DnssecState,
    /// `no_ds`, `signature_expired`, `signature_not_yet_valid`, `ds_no_matching_dnskey`,
    /// `no_dnskey`, `bogus_other`, `resolver_failure` or `resolver_not_validating`.
    pub reason: Option<&'static str>,
    /// Extended DNS Error of the validating query, as `CODE text`.
    pub extended_error: Option<String>,
    pub ds: Vec<DsFacts>,
    pub dnskey_algorithms: Vec<u8>,
    /// Denial-of-existence method of the zone, when it has DNSKEY records.
    pub denial: Option<Denial>,
}

/// Authenticated denial of existence: NSEC (RFC 4034) or NSEC3 (RFC 5155).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    Nsec,
    Nsec3 { iterations: u16, salt_length: u8 },
}

impl Denial {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Nsec => "nsec",
            Self::Nsec3 { .. } => "nsec3",
        }
    }
}

/// RFC 8624 section 3.1: signing algorithms that MUST NOT or are NOT RECOMMENDED to be used
/// for signing: RSAMD5, DSA, RSASHA1, DSA-NSEC3-SHA1, RSASHA1-NSEC3-SHA1, RSASHA512 (NOT
/// RECOMMENDED) and ECC-GOST.
const DEPRECATED_ALGORITHMS: [u8; 7] = [1, 3, 5, 6, 7, 10, 12];

/// RFC 8624 section 3.3: DS digest types that MUST NOT be used when creating DS records:
/// NULL, SHA-1 and GOST R 34.11-94.
const DEPRECATED_DIGEST_TYPES: [u8; 3] = [0, 1, 3];

impl DnssecObservation {
    fn state(state: DnssecState, reason: Option<&'static str>) -> Self {
        Self {
            state,
            reason,
            extended_error: None,
            ds: Vec::new(),
            dnskey_algorithms: Vec::new(),
            denial: None,
        }
    }

    /// Algorithms of the DS and DNSKEY records that RFC 8624 advises against, sorted.
    pub fn deprecated_algorithms(&self) -> Vec<u8> {
        let mut found: Vec<u8> = self
            .ds
            .iter()
            .map(|ds| ds.algorithm)
            .chain(self.dnskey_algorithms.iter().copied())
            .filter(|algorithm| DEPRECATED_ALGORITHMS.contains(algorithm))
            .collect();
        found.sort_unstable();
        found.dedup();
        found
    }

    /// Digest types of the DS records that RFC 8624 advises against, sorted.
    pub fn deprecated_digest_types(&self) -> Vec<u8> {
        let mut found: Vec<u8> = self
            .ds
            .iter()
            .map(|ds| ds.digest_type)
            .filter(|digest| DEPRECATED_DIGEST_TYPES.contains(digest))
            .collect();
        found.sort_unstable();
        found.dedup();
        found
    }
}

/// Sends DNSSEC-aware queries to the configured resolvers.
pub struct DnssecClient {
    resolvers: Vec<SocketAddr>,
    timeout: Duration,
    attempts: u32,
    /// Whether the resolver validates, learnt once from the root's DNSKEY.
    validating: OnceCell<bool>,
}

/// A response, or the reason none came.
type Response = Result<Message, String>;

impl DnssecClient {
    pub fn new(resolvers: Vec<SocketAddr>, timeout: Duration, attempts: u32) -> Self {
        Self {
            resolvers,
            timeout,
            attempts: attempts.max(1),
            validating: OnceCell::new(),
        }
    }

    /// Determines the DNSSEC state of `name` and reads its DS and DNSKEY records.
    pub async fn observe(&self, name: &str) -> DnssecObservation {
        let Ok(name) = Name::from_ascii(format!("{}.", name.trim_end_matches('.'))) else {
            return DnssecObservation::state(DnssecState::Indeterminate, Some("resolver_failure"));
        };
        let validating = *self
            .validating
            .get_or_init(|| async {
                let root = self.query(&Name::root(), RecordType::DNSKEY, false).await;
                root.is_ok_and(|response| response.metadata.authentic_data)
            })
            .await;
        if !validating {
            return DnssecObservation::state(
                DnssecState::Indeterminate,
                Some("resolver_not_validating"),
            );
        }

        // 1. The DNSKEY query with validation on decides secure, insecure or a failure.
        let checked = self.query(&name, RecordType::DNSKEY, false).await;
        let mut observation = match &checked {
            Err(_) => {
                DnssecObservation::state(DnssecState::Indeterminate, Some("resolver_failure"))
            }
            Ok(response) => classify_validated(response),
        };
        if let Ok(response) = &checked {
            observation.extended_error = extended_error(response);
        }

        // 2. DS and DNSKEY with checking disabled: the facts, and the reason for a failure.
        let (ds, dnskey) = tokio::join!(
            self.query(&name, RecordType::DS, true),
            self.query(&name, RecordType::DNSKEY, true)
        );
        let ds_records = ds.as_ref().map(ds_records).unwrap_or_default();
        let keys = dnskey.as_ref().map(dnskey_records).unwrap_or_default();
        observation.ds = ds_records.iter().map(ds_facts).collect();
        observation.dnskey_algorithms = keys
            .iter()
            .map(|key| u8::from(key.public_key().algorithm()))
            .collect();
        observation.dnskey_algorithms.sort_unstable();
        observation.dnskey_algorithms.dedup();

        // 3. The denial of existence, from NSEC3PARAM at the apex or the proof that it has none.
        if !keys.is_empty()
            && let Ok(response) = self.query(&name, RecordType::NSEC3PARAM, true).await
        {
            observation.denial = denial(&response);
        }

        // 4. An insecure response despite a DS at the parent. When the parent's DS RRset
        //    validates, the chain of trust reaches this zone, so only an algorithm or digest
        //    type the resolver does not implement explains it (RFC 4035 section 5.2).
        if observation.state == DnssecState::Insecure && !ds_records.is_empty() {
            let validated_ds = self.query(&name, RecordType::DS, false).await;
            if validated_ds.is_ok_and(|response| response.metadata.authentic_data) {
                observation.reason = Some("unsupported_algorithm");
            }
        }

        if observation.reason == Some("servfail") {
            let resolves_unchecked = dnskey.as_ref().is_ok_and(|response| {
                matches!(
                    response.metadata.response_code,
                    ResponseCode::NoError | ResponseCode::NXDomain
                )
            });
            observation = if resolves_unchecked {
                let reason = bogus_reason(&name, &ds_records, &keys, dnskey.as_ref().ok());
                DnssecObservation {
                    state: DnssecState::Bogus,
                    reason: Some(reason),
                    ..observation
                }
            } else {
                DnssecObservation {
                    state: DnssecState::Indeterminate,
                    reason: Some("resolver_failure"),
                    ..observation
                }
            };
        }
        observation
    }

    /// Sends one query with the DO flag to each resolver in turn, retrying timeouts. A
    /// SERVFAIL is asked once more after a pause, as the DNS check does, because a busy
    /// resolver also answers SERVFAIL.
    async fn query(
        &self,
        name: &Name,
        record_type: RecordType,
        checking_disabled: bool,
    ) -> Response {
        let first = self.query_once(name, record_type, checking_disabled).await;
        match &first {
            Ok(response) if response.metadata.response_code == ResponseCode::ServFail => {
                tokio::time::sleep(Duration::from_millis(200)).await;
                self.query_once(name, record_type, checking_disabled).await
            }
            _ => first,
        }
    }

    async fn query_once(
        &self,
        name: &Name,
        record_type: RecordType,
        checking_disabled: bool,
    ) -> Response {
        let mut last_error = "no resolver configured".to_string();
        for attempt in 0..self.attempts {
            // Back off as the DNS check does: a resolver that drops queries is often busy,
            // and retries sent at once fall into the same busy spell.
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(200) * 2u32.pow(attempt - 1)).await;
            }
            for resolver in &self.resolvers {
                match exchange(
                    *resolver,
                    name,
                    record_type,
                    checking_disabled,
                    self.timeout,
                )
                .await
                {
                    Ok(response) => return Ok(response),
                    Err(error) => last_error = error,
                }
            }
        }
        Err(last_error)
    }
}

/// Reads the state from a validating resolver's response.
fn classify_validated(response: &Message) -> DnssecObservation {
    match response.metadata.response_code {
        ResponseCode::NoError | ResponseCode::NXDomain if response.metadata.authentic_data => {
            DnssecObservation::state(DnssecState::Secure, None)
        }
        ResponseCode::NoError | ResponseCode::NXDomain => {
            DnssecObservation::state(DnssecState::Insecure, Some("no_ds"))
        }
        // Resolved into bogus or indeterminate once the CD query is back.
        ResponseCode::ServFail => {
            DnssecObservation::state(DnssecState::Indeterminate, Some("servfail"))
        }
        _ => DnssecObservation::state(DnssecState::Indeterminate, Some("resolver_failure")),
    }
}

/// Works out why validation failed, from the records fetched with checking disabled.
fn bogus_reason(name: &Name, ds: &[DS], keys: &[DNSKEY], dnskey: Option<&Message>) -> &'static str {
    if !ds.is_empty() && keys.is_empty() {
        return "no_dnskey";
    }
    if !ds.is_empty()
        && !ds
            .iter()
            .any(|ds| keys.iter().any(|key| ds.covers(name, key).unwrap_or(false)))
    {
        return "ds_no_matching_dnskey";
    }
    let now = u32::try_from(chrono::Utc::now().timestamp()).unwrap_or(u32::MAX);
    let signatures = dnskey
        .into_iter()
        .flat_map(|response| response.answers.iter())
        .filter_map(|record| match &record.data {
            RData::DNSSEC(DNSSECRData::RRSIG(signature)) => Some(signature.input().clone()),
            _ => None,
        });
    for signature in signatures {
        // RFC 4034 section 3.1.5: serial-number arithmetic, which the u32 wrap handles here.
        if signature.sig_expiration.get().wrapping_sub(now) as i32 <= 0 {
            return "signature_expired";
        }
        if (now.wrapping_sub(signature.sig_inception.get()) as i32) < 0 {
            return "signature_not_yet_valid";
        }
    }
    "bogus_other"
}

/// Reads the denial method from a response to an NSEC3PARAM query: the NSEC3PARAM record of an
/// NSEC3 zone, or the NSEC or NSEC3 records that prove a NODATA response.
fn denial(response: &Message) -> Option<Denial> {
    response
        .answers
        .iter()
        .chain(response.authorities.iter())
        .find_map(|record| match &record.data {
            RData::DNSSEC(DNSSECRData::NSEC3PARAM(parameters)) => Some(Denial::Nsec3 {
                iterations: parameters.iterations(),
                salt_length: u8::try_from(parameters.salt().len()).unwrap_or(u8::MAX),
            }),
            RData::DNSSEC(DNSSECRData::NSEC3(nsec3)) => Some(Denial::Nsec3 {
                iterations: nsec3.iterations(),
                salt_length: u8::try_from(nsec3.salt().len()).unwrap_or(u8::MAX),
            }),
            RData::DNSSEC(DNSSECRData::NSEC(_)) => Some(Denial::Nsec),
            _ => None,
        })
}

fn ds_records(response: &Message) -> Vec<DS> {
    response
        .answers
        .iter()
        .filter_map(|record| match &record.data {
            RData::DNSSEC(DNSSECRData::DS(ds)) => Some(ds.clone()),
            _ => None,
        })
        .collect()
}

fn dnskey_records(response: &Message) -> Vec<DNSKEY> {
    response
        .answers
        .iter()
        .filter_map(|record| match &record.data {
            RData::DNSSEC(DNSSECRData::DNSKEY(key)) => Some(key.clone()),
            _ => None,
        })
        .collect()
}

fn ds_facts(ds: &DS) -> DsFacts {
    DsFacts {
        key_tag: ds.key_tag(),
        algorithm: u8::from(ds.algorithm()),
        digest_type: u8::from(ds.digest_type()),
    }
}

/// Returns the Extended DNS Error option (code 15) as `CODE text`, if the response has one.
fn extended_error(response: &Message) -> Option<String> {
    let edns = response.edns.as_ref()?;
    match edns.option(EdnsCode::Unknown(15))? {
        EdnsOption::Unknown(_, data) if data.len() >= 2 => {
            let code = u16::from_be_bytes([data[0], data[1]]);
            let text = String::from_utf8_lossy(&data[2..]);
            Some(if text.is_empty() {
                code.to_string()
            } else {
                format!("{code} {text}")
            })
        }
        _ => None,
    }
}

/// Sends one query over UDP, and again over TCP when the UDP response is truncated.
async fn exchange(
    resolver: SocketAddr,
    name: &Name,
    record_type: RecordType,
    checking_disabled: bool,
    timeout: Duration,
) -> Response {
    let id: u16 = rand::random();
    let mut message = Message::new(id, MessageType::Query, OpCode::Query);
    message.metadata.recursion_desired = true;
    message.metadata.checking_disabled = checking_disabled;
    message.add_query(Query::query(name.clone(), record_type));
    let mut edns = Edns::new();
    edns.set_dnssec_ok(true).set_max_payload(1232);
    message.set_edns(edns);
    let request = message
        .to_vec()
        .map_err(|error| format!("cannot encode query: {error}"))?;

    let response = tokio::time::timeout(timeout, exchange_udp(resolver, &request, id))
        .await
        .map_err(|_| format!("query to {resolver} timed out"))??;
    if !response.metadata.truncation {
        return Ok(response);
    }
    tokio::time::timeout(timeout, super::stub::exchange_tcp(resolver, &request))
        .await
        .map_err(|_| format!("TCP query to {resolver} timed out"))?
}

async fn exchange_udp(resolver: SocketAddr, request: &[u8], id: u16) -> Response {
    let local: SocketAddr = if resolver.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    }
    .parse()
    .expect("a literal unspecified address parses");
    let socket = UdpSocket::bind(local)
        .await
        .map_err(|error| format!("cannot open a UDP socket: {error}"))?;
    socket
        .connect(resolver)
        .await
        .map_err(|error| format!("cannot reach {resolver}: {error}"))?;
    socket
        .send(request)
        .await
        .map_err(|error| format!("cannot send to {resolver}: {error}"))?;
    let mut buffer = vec![0u8; 4096];
    loop {
        let length = socket
            .recv(&mut buffer)
            .await
            .map_err(|error| format!("no response from {resolver}: {error}"))?;
        // A datagram with another id is stale or forged; keep waiting for ours.
        if let Ok(response) = Message::from_vec(&buffer[..length])
            && response.metadata.id == id
        {
            return Ok(response);
        }
    }
}

#[cfg(test)]
mod tests {
    use hickory_resolver::proto::dnssec::rdata::{NSEC, NSEC3PARAM};
    use hickory_resolver::proto::dnssec::{
        Algorithm, DigestType, Nsec3HashAlgorithm, PublicKeyBuf,
    };
    use hickory_resolver::proto::rr::Record;

    use super::*;

    fn name(text: &str) -> Name {
        Name::from_ascii(text).unwrap()
    }

    fn response(code: ResponseCode, authentic: bool) -> Message {
        let mut message = Message::new(7, MessageType::Response, OpCode::Query);
        message.metadata.response_code = code;
        message.metadata.authentic_data = authentic;
        message
    }

    fn record(owner: &str, data: DNSSECRData) -> Record {
        Record::from_rdata(name(owner), 300, RData::DNSSEC(data))
    }

    fn key(byte: u8) -> DNSKEY {
        DNSKEY::new(
            true,
            true,
            false,
            PublicKeyBuf::new(vec![byte; 64], Algorithm::ECDSAP256SHA256),
        )
    }

    fn ds_for(owner: &Name, key: &DNSKEY) -> DS {
        let digest = key.to_digest(owner, DigestType::SHA256).unwrap();
        DS::new(
            key.calculate_key_tag().unwrap(),
            Algorithm::ECDSAP256SHA256,
            DigestType::SHA256,
            digest.as_ref().to_vec(),
        )
    }

    #[test]
    fn validated_response_decides_state() {
        let state = |code, authentic| classify_validated(&response(code, authentic));
        assert_eq!(
            state(ResponseCode::NoError, true).state,
            DnssecState::Secure
        );
        // An authenticated NXDOMAIN is secure too (RFC 4035 section 4.3).
        assert_eq!(
            state(ResponseCode::NXDomain, true).state,
            DnssecState::Secure
        );
        let insecure = state(ResponseCode::NoError, false);
        assert_eq!(
            (insecure.state, insecure.reason),
            (DnssecState::Insecure, Some("no_ds"))
        );
        // SERVFAIL stays undecided until the query with checking disabled is back.
        let failed = state(ResponseCode::ServFail, false);
        assert_eq!(
            (failed.state, failed.reason),
            (DnssecState::Indeterminate, Some("servfail"))
        );
        let refused = state(ResponseCode::Refused, false);
        assert_eq!(refused.reason, Some("resolver_failure"));
    }

    #[test]
    fn denial_from_nsec3param_or_proof() {
        let mut nsec3 = response(ResponseCode::NoError, false);
        nsec3.add_answer(record(
            "example.com.",
            DNSSECRData::NSEC3PARAM(NSEC3PARAM::new(
                Nsec3HashAlgorithm::SHA1,
                false,
                10,
                vec![0x5e, 0xed],
            )),
        ));
        assert_eq!(
            denial(&nsec3),
            Some(Denial::Nsec3 {
                iterations: 10,
                salt_length: 2
            })
        );

        let mut nsec = response(ResponseCode::NoError, false);
        nsec.add_authority(record(
            "example.com.",
            DNSSECRData::NSEC(NSEC::new(
                name("www.example.com."),
                [RecordType::A, RecordType::NS, RecordType::SOA],
            )),
        ));
        assert_eq!(denial(&nsec), Some(Denial::Nsec));
        assert_eq!(denial(&response(ResponseCode::NoError, false)), None);
    }

    #[test]
    fn bogus_reason_from_ds_and_dnskey() {
        let owner = name("example.com.");
        let published = key(1);
        let matching = ds_for(&owner, &published);
        let stray = ds_for(&owner, &key(2));
        assert_eq!(
            bogus_reason(&owner, std::slice::from_ref(&matching), &[], None),
            "no_dnskey"
        );
        assert_eq!(
            bogus_reason(&owner, &[stray], std::slice::from_ref(&published), None),
            "ds_no_matching_dnskey"
        );
        // A matching key and no signature to blame: the cause is not known.
        assert_eq!(
            bogus_reason(&owner, &[matching], &[published], None),
            "bogus_other"
        );
    }

    #[test]
    fn rfc8624_deprecated_algorithms_flagged() {
        let facts = |algorithm, digest_type| DsFacts {
            key_tag: 1,
            algorithm,
            digest_type,
        };
        let mut observation = DnssecObservation::state(DnssecState::Secure, None);
        observation.ds = vec![facts(5, 1), facts(5, 2), facts(13, 2)];
        observation.dnskey_algorithms = vec![5, 8, 13];
        assert_eq!(observation.deprecated_algorithms(), vec![5]);
        assert_eq!(observation.deprecated_digest_types(), vec![1]);

        observation.ds = vec![facts(8, 2), facts(15, 4)];
        observation.dnskey_algorithms = vec![8, 15];
        assert!(observation.deprecated_algorithms().is_empty());
        assert!(observation.deprecated_digest_types().is_empty());
    }

    #[test]
    fn extended_dns_error_read() {
        let mut message = response(ResponseCode::ServFail, false);
        let mut edns = Edns::new();
        let mut data = 7u16.to_be_bytes().to_vec();
        data.extend_from_slice(b"signature expired");
        edns.options_mut().insert(EdnsOption::Unknown(15, data));
        message.set_edns(edns);
        assert_eq!(
            extended_error(&message).as_deref(),
            Some("7 signature expired")
        );
        assert_eq!(
            extended_error(&response(ResponseCode::ServFail, false)),
            None
        );
    }
}
