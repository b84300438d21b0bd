//! A recursive resolver stand-in that answers from a map, over UDP and TCP, and can misbehave
//! per name: SERVFAIL, silence, or an answer whose owner name is a compression pointer to
//! itself.
//!
//! Messages are built by hand instead of with hickory-proto, because the hostile answers are
//! ones that a correct encoder refuses to produce.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

/// Largest UDP response sent. A longer one is replaced by an empty answer with the TC bit, so
/// that the client repeats the query over TCP.
const MAX_UDP_RESPONSE: usize = 1232;

const TYPE_A: u16 = 1;
const TYPE_CNAME: u16 = 5;
const TYPE_MX: u16 = 15;
const TYPE_TXT: u16 = 16;
const TYPE_AAAA: u16 = 28;

const RCODE_SERVFAIL: u16 = 2;
const RCODE_NXDOMAIN: u16 = 3;

#[derive(Clone, Debug)]
pub enum Record {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Cname(String),
    Mx(u16, String),
    /// One TXT record made of these strings (each at most 255 bytes).
    Txt(Vec<Vec<u8>>),
}

impl Record {
    fn record_type(&self) -> u16 {
        match self {
            Self::A(_) => TYPE_A,
            Self::Aaaa(_) => TYPE_AAAA,
            Self::Cname(_) => TYPE_CNAME,
            Self::Mx(..) => TYPE_MX,
            Self::Txt(_) => TYPE_TXT,
        }
    }
}

/// How the server treats a name and every name below it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Misbehaviour {
    ServFail,
    Silent,
    /// The answer's owner name is a compression pointer to its own offset.
    PointerLoop,
}

/// Records and misbehaviours by name. Names are lowercase without the trailing dot.
#[derive(Default)]
pub struct Zone {
    records: HashMap<String, Vec<Record>>,
    misbehaviours: HashMap<String, Misbehaviour>,
}

impl Zone {
    pub fn add(&mut self, name: &str, record: Record) {
        self.records
            .entry(name.to_string())
            .or_default()
            .push(record);
    }

    pub fn misbehave(&mut self, name: &str, misbehaviour: Misbehaviour) {
        self.misbehaviours.insert(name.to_string(), misbehaviour);
    }

    fn misbehaviour(&self, name: &str) -> Option<Misbehaviour> {
        let mut rest = name;
        loop {
            if let Some(found) = self.misbehaviours.get(rest) {
                return Some(*found);
            }
            rest = rest.split_once('.')?.1;
        }
    }
}

/// Serves `zone` on UDP and TCP port 53 of `address` until the runtime ends, and returns the
/// count of TCP connections accepted.
pub async fn serve(address: Ipv4Addr, zone: Zone) -> Arc<AtomicUsize> {
    let socket_address = SocketAddr::from((address, 53));
    let udp = UdpSocket::bind(socket_address)
        .await
        .expect("the DNS fixture binds UDP port 53");
    let tcp = TcpListener::bind(socket_address)
        .await
        .expect("the DNS fixture binds TCP port 53");
    let zone = Arc::new(zone);
    let tcp_connections = Arc::new(AtomicUsize::new(0));
    let counter = tcp_connections.clone();

    let udp_zone = zone.clone();
    tokio::spawn(async move {
        let mut buffer = vec![0u8; 65535];
        loop {
            let Ok((length, peer)) = udp.recv_from(&mut buffer).await else {
                continue;
            };
            let Some(mut response) = respond(&udp_zone, &buffer[..length]) else {
                continue;
            };
            if response.len() > MAX_UDP_RESPONSE {
                response = truncated(&buffer[..length]);
            }
            let _ = udp.send_to(&response, peer).await;
        }
    });

    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = tcp.accept().await else {
                continue;
            };
            counter.fetch_add(1, Ordering::SeqCst);
            let zone = zone.clone();
            tokio::spawn(async move {
                loop {
                    let mut length = [0u8; 2];
                    if stream.read_exact(&mut length).await.is_err() {
                        return;
                    }
                    let mut query = vec![0u8; u16::from_be_bytes(length) as usize];
                    if stream.read_exact(&mut query).await.is_err() {
                        return;
                    }
                    // A silent name keeps the connection open without an answer.
                    let Some(response) = respond(&zone, &query) else {
                        continue;
                    };
                    let mut framed = (response.len() as u16).to_be_bytes().to_vec();
                    framed.extend_from_slice(&response);
                    if stream.write_all(&framed).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    tcp_connections
}

/// A parsed question: the name (lowercase, no trailing dot), its type, and where it ends.
struct Question {
    name: String,
    record_type: u16,
    end: usize,
}

fn parse_question(query: &[u8]) -> Option<Question> {
    let mut offset = 12;
    let mut labels = Vec::new();
    loop {
        let length = *query.get(offset)? as usize;
        offset += 1;
        if length == 0 {
            break;
        }
        if length > 63 {
            return None;
        }
        let label = query.get(offset..offset + length)?;
        labels.push(String::from_utf8_lossy(label).to_ascii_lowercase());
        offset += length;
    }
    let record_type = u16::from_be_bytes([*query.get(offset)?, *query.get(offset + 1)?]);
    Some(Question {
        name: labels.join("."),
        record_type,
        end: offset + 4,
    })
}

/// Builds the header and question of a response to `query`, with the counts after QDCOUNT zero.
fn response_start(query: &[u8], question_end: usize, rcode: u16, truncated: bool) -> Vec<u8> {
    let mut message = query[..question_end].to_vec();
    let query_flags = u16::from_be_bytes([query[2], query[3]]);
    // QR, the query's opcode and RD, RA, and the response code.
    let mut flags = 0x8000 | (query_flags & 0x7900) | 0x0080 | rcode;
    if truncated {
        flags |= 0x0200;
    }
    message[2..4].copy_from_slice(&flags.to_be_bytes());
    message[4..6].copy_from_slice(&1u16.to_be_bytes());
    message[6..12].fill(0);
    message
}

fn truncated(query: &[u8]) -> Vec<u8> {
    let question = parse_question(query).expect("a response was built, so the query parses");
    response_start(query, question.end, 0, true)
}

fn encode_name(name: &str, out: &mut Vec<u8>) {
    for label in name.split('.').filter(|label| !label.is_empty()) {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
}

fn encode_record(owner: &str, record: &Record, out: &mut Vec<u8>) {
    encode_name(owner, out);
    out.extend_from_slice(&record.record_type().to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&60u32.to_be_bytes());
    let mut data = Vec::new();
    match record {
        Record::A(address) => data.extend_from_slice(&address.octets()),
        Record::Aaaa(address) => data.extend_from_slice(&address.octets()),
        Record::Cname(target) => encode_name(target, &mut data),
        Record::Mx(preference, exchange) => {
            data.extend_from_slice(&preference.to_be_bytes());
            encode_name(exchange, &mut data);
        }
        Record::Txt(strings) => {
            for string in strings {
                let length = u8::try_from(string.len()).expect("a TXT string fits 255 bytes");
                data.push(length);
                data.extend_from_slice(string);
            }
        }
    }
    out.extend_from_slice(&(data.len() as u16).to_be_bytes());
    out.extend_from_slice(&data);
}

/// Builds the response to `query`, or `None` when the server stays silent.
fn respond(zone: &Zone, query: &[u8]) -> Option<Vec<u8>> {
    let question = parse_question(query)?;
    match zone.misbehaviour(&question.name) {
        Some(Misbehaviour::Silent) => return None,
        Some(Misbehaviour::ServFail) => {
            return Some(response_start(query, question.end, RCODE_SERVFAIL, false));
        }
        Some(Misbehaviour::PointerLoop) => {
            let mut message = response_start(query, question.end, 0, false);
            message[6..8].copy_from_slice(&1u16.to_be_bytes());
            // The owner name points at its own first byte.
            let offset = message.len() as u16;
            message.extend_from_slice(&(0xC000 | offset).to_be_bytes());
            message.extend_from_slice(&question.record_type.to_be_bytes());
            message.extend_from_slice(&[0, 1, 0, 0, 0, 60, 0, 4, 127, 77, 9, 9]);
            return Some(message);
        }
        None => {}
    }

    // Follow CNAMEs as a recursive resolver does, stopping at the first repeated name.
    let mut answers = Vec::new();
    let mut owner = question.name.clone();
    let mut visited = vec![owner.clone()];
    let mut name_exists = false;
    while let Some(records) = zone.records.get(&owner) {
        name_exists = true;
        let alias = records.iter().find_map(|record| match record {
            Record::Cname(target) if question.record_type != TYPE_CNAME => Some(target.clone()),
            _ => None,
        });
        match alias {
            Some(target) => {
                answers.push((owner.clone(), Record::Cname(target.clone())));
                if visited.contains(&target) {
                    break;
                }
                visited.push(target.clone());
                owner = target;
            }
            None => {
                for record in records {
                    if record.record_type() == question.record_type {
                        answers.push((owner.clone(), record.clone()));
                    }
                }
                break;
            }
        }
    }

    let rcode = if name_exists { 0 } else { RCODE_NXDOMAIN };
    let mut message = response_start(query, question.end, rcode, false);
    message[6..8].copy_from_slice(&(answers.len() as u16).to_be_bytes());
    for (owner, record) in &answers {
        encode_record(owner, record, &mut message);
    }
    Some(message)
}
