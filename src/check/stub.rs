//! The transport of the scan's stub resolver: queries to the configured recursive resolvers
//! over a few UDP sockets that stay open for the whole scan, and over TCP when a response is
//! truncated. hickory-proto encodes and decodes the messages.
//!
//! hickory-resolver's client binds a new UDP socket for every query, to get a fresh source
//! port each time, and registers and closes it with the runtime. A scan sends millions of
//! queries to one resolver, often on the same machine. In a primed email scan where posture
//! and Unbound shared two cores, binding, registering, deregistering and closing those
//! sockets took about 18% of posture's CPU time (`perf record`, `docs/benchmarks.md`).
//!
//! Here each resolver gets [`SOCKETS_PER_RESOLVER`] sockets, each bound to a port the kernel
//! picks at random. A response is matched to its query by source (the socket is connected),
//! message ID (random, unique on its socket) and question.
//!
//! NOTE: eight ports for the whole scan give an off-path attacker fewer combinations to guess
//! than a new port per query. That matters only where forged packets can reach posture's host
//! with the resolver's address as their source, so use a resolver on the same host or a
//! trusted network.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_resolver::proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_resolver::proto::rr::{Name, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::{OnceCell, oneshot};
use tokio::task::AbortHandle;
use tokio::time::Instant;

/// UDP sockets per resolver. Spreading the queries in flight over several ports keeps each
/// socket's receive queue short when responses arrive in bursts, and lets the runtime's
/// worker threads read them in parallel.
pub const SOCKETS_PER_RESOLVER: usize = 8;

/// Times a query is sent over UDP while it waits for a response: first at once, then again
/// with the same bytes after a third and two thirds of the timeout, for a datagram lost on
/// the way. A response to any copy completes the query.
const SENDS_PER_QUERY: u32 = 3;

/// Largest UDP response accepted, as advertised in EDNS (the DNS Flag Day 2020 size).
const UDP_PAYLOAD: u16 = 1232;

/// The reason an exchange ended without a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// No response within the timeout.
    Timeout,
    /// The socket failed, or the response could not be decoded.
    Error(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Timeout => f.write_str("request timed out"),
            Failure::Error(detail) => f.write_str(detail),
        }
    }
}

/// Sends queries to a fixed list of resolvers and waits for their responses.
pub struct Stub {
    resolvers: Vec<SocketAddr>,
    timeout: Duration,
    channels: OnceCell<Vec<Arc<Channel>>>,
    /// Receiving tasks, one per socket, ended when the stub is dropped.
    receivers: Mutex<Vec<AbortHandle>>,
    next: AtomicUsize,
}

/// One connected UDP socket and the queries that wait for a response on it.
struct Channel {
    resolver: SocketAddr,
    socket: UdpSocket,
    pending: Mutex<HashMap<u16, Pending>>,
    /// Source of the tokens that tell apart two queries that used the same ID in turn.
    tokens: AtomicU64,
}

struct Pending {
    token: u64,
    name: Name,
    record_type: RecordType,
    reply: oneshot::Sender<Result<Message, Failure>>,
}

/// Removes a query from its socket's table when it ends: with a response, by timeout or by
/// cancellation.
struct Registration<'a> {
    channel: &'a Channel,
    id: u16,
    token: u64,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        let mut pending = self.channel.pending();
        if pending.get(&self.id).is_some_and(|p| p.token == self.token) {
            pending.remove(&self.id);
        }
    }
}

impl Channel {
    fn pending(&self) -> std::sync::MutexGuard<'_, HashMap<u16, Pending>> {
        // A panic while the lock is held leaves the table consistent: every change is one
        // insert or one remove.
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Reads responses and hands each to the query it matches, until the task is aborted.
    async fn receive(self: Arc<Self>) {
        let mut buffer = vec![0u8; usize::from(u16::MAX)];
        loop {
            let length = match self.socket.recv(&mut buffer).await {
                Ok(length) => length,
                // An ICMP error from an earlier datagram (the resolver's port was closed)
                // belongs to no query in particular: those queries time out.
                Err(error) => {
                    tracing::debug!(resolver = %self.resolver, %error, "UDP receive failed");
                    continue;
                }
            };
            let Some(id) = buffer[..length]
                .first_chunk::<2>()
                .map(|b| u16::from_be_bytes(*b))
            else {
                continue;
            };
            let decoded = Message::from_vec(&buffer[..length]);
            let mut pending = self.pending();
            let Some(query) = pending.get(&id) else {
                // Late (the query timed out) or forged.
                continue;
            };
            let result = match decoded {
                Ok(response) => {
                    let question = response.queries.first();
                    let matches = response.metadata.message_type == MessageType::Response
                        && response.queries.len() == 1
                        && question.is_some_and(|q| {
                            q.query_type() == query.record_type && *q.name() == query.name
                        });
                    if !matches {
                        // Another question under the same ID: not the response we wait for.
                        continue;
                    }
                    Ok(response)
                }
                Err(error) => Err(Failure::Error(format!("invalid DNS response: {error}"))),
            };
            if let Some(query) = pending.remove(&id) {
                // The query may have ended in the meantime, and then the response is dropped.
                let _ = query.reply.send(result);
            }
        }
    }
}

impl Stub {
    pub fn new(resolvers: Vec<SocketAddr>, timeout: Duration) -> Self {
        Self {
            resolvers,
            timeout,
            channels: OnceCell::new(),
            receivers: Mutex::new(Vec::new()),
            next: AtomicUsize::new(0),
        }
    }

    /// Opens the sockets on first use, so that a stub can be made outside the runtime.
    async fn channels(&self) -> Result<&[Arc<Channel>], Failure> {
        let channels = self
            .channels
            .get_or_try_init(|| async {
                let mut channels = Vec::new();
                let mut receivers = Vec::new();
                for &resolver in &self.resolvers {
                    for _ in 0..SOCKETS_PER_RESOLVER {
                        let local: SocketAddr = if resolver.is_ipv4() {
                            (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
                        } else {
                            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
                        };
                        let socket = UdpSocket::bind(local).await.map_err(|error| {
                            Failure::Error(format!("cannot open a UDP socket: {error}"))
                        })?;
                        socket.connect(resolver).await.map_err(|error| {
                            Failure::Error(format!("cannot reach {resolver}: {error}"))
                        })?;
                        let channel = Arc::new(Channel {
                            resolver,
                            socket,
                            pending: Mutex::new(HashMap::new()),
                            tokens: AtomicU64::new(0),
                        });
                        receivers.push(tokio::spawn(channel.clone().receive()).abort_handle());
                        channels.push(channel);
                    }
                }
                self.receivers
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .extend(receivers);
                Ok::<_, Failure>(channels)
            })
            .await?;
        Ok(channels)
    }

    /// Sends one query with recursion desired and waits for its response. When the UDP
    /// response is truncated, the query is sent again over TCP. Successive calls go to
    /// successive sockets, and so in turn to every resolver.
    pub async fn exchange(&self, name: &Name, record_type: RecordType) -> Result<Message, Failure> {
        let channels = self.channels().await?;
        if channels.is_empty() {
            return Err(Failure::Error("no resolver configured".into()));
        }
        let channel = &channels[self.next.fetch_add(1, Ordering::Relaxed) % channels.len()];

        let (reply, response) = oneshot::channel();
        let token = channel.tokens.fetch_add(1, Ordering::Relaxed);
        let id = {
            let mut pending = channel.pending();
            let id = loop {
                let id: u16 = rand::random();
                if !pending.contains_key(&id) {
                    break id;
                }
            };
            pending.insert(
                id,
                Pending {
                    token,
                    name: name.clone(),
                    record_type,
                    reply,
                },
            );
            id
        };
        let _registration = Registration { channel, id, token };
        let request = encode(id, name, record_type)?;

        let started = Instant::now();
        let mut response = std::pin::pin!(response);
        let mut sends = 0;
        let message = loop {
            if sends < SENDS_PER_QUERY {
                channel.socket.send(&request).await.map_err(|error| {
                    Failure::Error(format!("cannot send to {}: {error}", channel.resolver))
                })?;
                sends += 1;
            }
            let wait_until = if sends < SENDS_PER_QUERY {
                started + self.timeout * sends / SENDS_PER_QUERY
            } else {
                started + self.timeout
            };
            match tokio::time::timeout_at(wait_until, &mut response).await {
                Ok(Ok(result)) => break result?,
                Ok(Err(_)) => return Err(Failure::Error("the receiving task ended".into())),
                Err(_) if sends >= SENDS_PER_QUERY => return Err(Failure::Timeout),
                Err(_) => {}
            }
        };
        if !message.metadata.truncation {
            return Ok(message);
        }
        tokio::time::timeout(self.timeout, exchange_tcp(channel.resolver, &request))
            .await
            .map_err(|_| Failure::Timeout)?
            .map_err(Failure::Error)
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        let receivers = self
            .receivers
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for receiver in receivers.drain(..) {
            receiver.abort();
        }
    }
}

/// Encodes a query with recursion desired and EDNS, without the DO bit.
fn encode(id: u16, name: &Name, record_type: RecordType) -> Result<Vec<u8>, Failure> {
    let mut message = Message::new(id, MessageType::Query, OpCode::Query);
    message.metadata.recursion_desired = true;
    message.add_query(Query::query(name.clone(), record_type));
    let mut edns = Edns::new();
    edns.set_max_payload(UDP_PAYLOAD);
    message.set_edns(edns);
    message
        .to_vec()
        .map_err(|error| Failure::Error(format!("cannot encode query: {error}")))
}

/// Sends one encoded query over a new TCP connection and reads its response (RFC 1035
/// section 4.2.2: each message preceded by its length in two bytes).
pub async fn exchange_tcp(resolver: SocketAddr, request: &[u8]) -> Result<Message, String> {
    let mut stream = TcpStream::connect(resolver)
        .await
        .map_err(|error| format!("cannot connect to {resolver} over TCP: {error}"))?;
    let length = u16::try_from(request.len()).map_err(|_| "query too long".to_string())?;
    let mut framed = length.to_be_bytes().to_vec();
    framed.extend_from_slice(request);
    stream
        .write_all(&framed)
        .await
        .map_err(|error| format!("TCP send failed: {error}"))?;
    let length = stream
        .read_u16()
        .await
        .map_err(|error| format!("TCP receive failed: {error}"))?;
    let mut buffer = vec![0u8; usize::from(length)];
    stream
        .read_exact(&mut buffer)
        .await
        .map_err(|error| format!("TCP receive failed: {error}"))?;
    Message::from_vec(&buffer).map_err(|error| format!("invalid DNS response: {error}"))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Turns a query into an NXDOMAIN response to it: the same header and question, with the
    /// response bit, recursion available and RCODE 3.
    pub(crate) fn nxdomain(query: &[u8]) -> Vec<u8> {
        let mut response = query.to_vec();
        response[2] |= 0x80;
        response[3] = 0x80 | 3;
        response
    }

    #[tokio::test]
    async fn only_the_matching_response_answers() {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let stub = Stub::new(vec![server.local_addr().unwrap()], Duration::from_secs(30));
        let name = Name::from_ascii("asked.example.").unwrap();
        let exchange = stub.exchange(&name, RecordType::TXT);
        let serve = async {
            let mut buffer = [0u8; 1232];
            let (length, from) = server.recv_from(&mut buffer).await.unwrap();
            let query = buffer[..length].to_vec();
            // Another ID: ignored.
            let mut other_id = nxdomain(&query);
            other_id[0] ^= 0xff;
            server.send_to(&other_id, from).await.unwrap();
            // The same ID for another question: ignored.
            let other = Name::from_ascii("other.example.").unwrap();
            let id = u16::from_be_bytes([query[0], query[1]]);
            let forged = nxdomain(&encode(id, &other, RecordType::TXT).unwrap());
            server.send_to(&forged, from).await.unwrap();
            // The same ID and question, the name in capitals: the response (names compare
            // without case), and the only one of the three that reads "ASKED".
            let upper = Name::from_ascii("ASKED.example.").unwrap();
            let cased = nxdomain(&encode(id, &upper, RecordType::TXT).unwrap());
            server.send_to(&cased, from).await.unwrap();
        };
        let (response, ()) = tokio::join!(exchange, serve);
        let response = response.unwrap();
        assert_eq!(
            response.metadata.response_code,
            hickory_resolver::proto::op::ResponseCode::NXDomain
        );
        assert_eq!(response.queries[0].name().to_ascii(), "ASKED.example.");
    }

    #[tokio::test]
    async fn silence_is_a_timeout_after_three_sends() {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let stub = Stub::new(
            vec![server.local_addr().unwrap()],
            Duration::from_millis(600),
        );
        let name = Name::from_ascii("silent.example.").unwrap();
        let exchange = stub.exchange(&name, RecordType::A);
        let count = async {
            let mut buffer = [0u8; 1232];
            let mut copies = Vec::new();
            while let Ok(received) =
                tokio::time::timeout(Duration::from_secs(2), server.recv_from(&mut buffer)).await
            {
                copies.push(buffer[..received.unwrap().0].to_vec());
            }
            copies
        };
        let (result, copies) = tokio::join!(exchange, count);
        assert_eq!(result.unwrap_err(), Failure::Timeout);
        assert_eq!(copies.len(), SENDS_PER_QUERY as usize);
        assert!(copies.iter().all(|copy| *copy == copies[0]));
    }
}
