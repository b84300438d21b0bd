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
    /// One group of sockets per usable resolver.
    channels: OnceCell<Vec<Vec<Arc<Channel>>>>,
    /// Receiving tasks, one per socket, ended when the stub is dropped.
    receivers: Mutex<Vec<AbortHandle>>,
    next: AtomicUsize,
    next_socket: AtomicUsize,
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
                    if !answers(&response, &query.name, query.record_type) {
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
            next_socket: AtomicUsize::new(0),
        }
    }

    /// Opens the sockets on first use, so that a stub can be made outside the runtime. A
    /// resolver whose sockets cannot be opened or connected is left out, with a warning.
    async fn channels(&self) -> Result<&[Vec<Arc<Channel>>], Failure> {
        let groups = self
            .channels
            .get_or_try_init(|| async {
                let mut groups = Vec::new();
                let mut last_error = Failure::Error("no resolver configured".into());
                for &resolver in &self.resolvers {
                    match open_channels(resolver).await {
                        Ok(group) => groups.push(group),
                        Err(error) => {
                            tracing::warn!(%resolver, %error, "resolver skipped because its UDP sockets could not be opened");
                            last_error = error;
                        }
                    }
                }
                if groups.is_empty() {
                    return Err(last_error);
                }
                // Receivers start only once every socket is open, so a failure leaks none.
                let mut receivers = self
                    .receivers
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                for channel in groups.iter().flatten() {
                    receivers.push(tokio::spawn(channel.clone().receive()).abort_handle());
                }
                Ok::<_, Failure>(groups)
            })
            .await?;
        Ok(groups)
    }

    /// Returns the index in the resolver list where a new query starts. The caller sends try
    /// `n` (from 0) to index `start + n`, so that a retry goes to the next resolver.
    pub fn first_resolver(&self) -> usize {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    /// Sends one query with recursion desired and waits for its response. When the UDP
    /// response is truncated, the query is sent again over TCP. `resolver` is taken modulo
    /// the number of usable resolvers, and successive calls to one resolver use successive
    /// sockets.
    pub async fn exchange(
        &self,
        resolver: usize,
        name: &Name,
        record_type: RecordType,
    ) -> Result<Message, Failure> {
        let groups = self.channels().await?;
        let group = &groups[resolver % groups.len()];
        let channel = &group[self.next_socket.fetch_add(1, Ordering::Relaxed) % group.len()];

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
                match channel.socket.send(&request).await {
                    Ok(_) => {}
                    // The kernel reports the ICMP error of an earlier datagram on this socket
                    // here instead of to the receiver. This copy is not sent, like one lost on
                    // the way, so the query times out unless a later copy gets a response.
                    Err(error) if error.kind() == std::io::ErrorKind::ConnectionRefused => {
                        tracing::debug!(resolver = %channel.resolver, %error, "UDP send failed");
                    }
                    Err(error) => {
                        return Err(Failure::Error(format!(
                            "cannot send to {}: {error}",
                            channel.resolver
                        )));
                    }
                }
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
        let message = tokio::time::timeout(self.timeout, exchange_tcp(channel.resolver, &request))
            .await
            .map_err(|_| Failure::Timeout)?
            .map_err(Failure::Error)?;
        if !answers(&message, name, record_type) {
            return Err(Failure::Error(format!(
                "the TCP response from {} does not match the query",
                channel.resolver
            )));
        }
        Ok(message)
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

/// Opens [`SOCKETS_PER_RESOLVER`] UDP sockets connected to one resolver.
async fn open_channels(resolver: SocketAddr) -> Result<Vec<Arc<Channel>>, Failure> {
    let local: SocketAddr = if resolver.is_ipv4() {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let mut group = Vec::new();
    for _ in 0..SOCKETS_PER_RESOLVER {
        let socket = UdpSocket::bind(local)
            .await
            .map_err(|error| Failure::Error(format!("cannot open a UDP socket: {error}")))?;
        socket
            .connect(resolver)
            .await
            .map_err(|error| Failure::Error(format!("cannot reach {resolver}: {error}")))?;
        group.push(Arc::new(Channel {
            resolver,
            socket,
            pending: Mutex::new(HashMap::new()),
            tokens: AtomicU64::new(0),
        }));
    }
    Ok(group)
}

/// Returns whether a message is a response whose only question is `name` and `record_type`
/// (names compare without case).
fn answers(message: &Message, name: &Name, record_type: RecordType) -> bool {
    message.metadata.message_type == MessageType::Response
        && message.queries.len() == 1
        && message.queries[0].query_type() == record_type
        && message.queries[0].name() == name
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
    // Another ID is another exchange's response, or a forged one.
    if buffer.get(..2) != request.get(..2) {
        return Err(format!(
            "the TCP response from {resolver} has another message ID"
        ));
    }
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
        let exchange = stub.exchange(0, &name, RecordType::TXT);
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
    async fn tcp_response_must_match_query() {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let address = server.local_addr().unwrap();
        let listener = tokio::net::TcpListener::bind(address).await.unwrap();
        let stub = Stub::new(vec![address], Duration::from_secs(30));
        let name = Name::from_ascii("asked.example.").unwrap();
        let exchange = stub.exchange(0, &name, RecordType::TXT);
        let serve = async {
            let mut buffer = [0u8; 1232];
            let (length, from) = server.recv_from(&mut buffer).await.unwrap();
            let mut truncated = buffer[..length].to_vec();
            truncated[2] |= 0x80 | 0x02;
            server.send_to(&truncated, from).await.unwrap();
            // Over TCP: NXDOMAIN for another name under another ID.
            let (mut stream, _) = listener.accept().await.unwrap();
            let length = stream.read_u16().await.unwrap();
            let mut query = vec![0u8; usize::from(length)];
            stream.read_exact(&mut query).await.unwrap();
            let id = u16::from_be_bytes([query[0], query[1]]) ^ 0xffff;
            let other = Name::from_ascii("other.example.").unwrap();
            let forged = nxdomain(&encode(id, &other, RecordType::TXT).unwrap());
            let mut framed = u16::try_from(forged.len()).unwrap().to_be_bytes().to_vec();
            framed.extend_from_slice(&forged);
            stream.write_all(&framed).await.unwrap();
        };
        let (result, ()) = tokio::join!(exchange, serve);
        assert!(matches!(result, Err(Failure::Error(_))), "{result:?}");
    }

    #[tokio::test]
    async fn silence_is_a_timeout_after_three_sends() {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let stub = Stub::new(
            vec![server.local_addr().unwrap()],
            Duration::from_millis(600),
        );
        let name = Name::from_ascii("silent.example.").unwrap();
        let exchange = stub.exchange(0, &name, RecordType::A);
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
