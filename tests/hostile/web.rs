//! Raw TCP servers that play broken or hostile web servers, and count the connections they
//! accept.

use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What a fixture does with each connection it accepts.
#[derive(Clone, Debug)]
pub enum Behaviour {
    /// A small 200 response.
    Normal,
    /// Reads the request and never writes.
    Silent,
    /// Sends a status line, then one header byte a second, forever.
    SlowHead,
    /// Sends a header value of 100 MB.
    HugeHead,
    /// Sends a chunked body that never ends.
    EndlessBody,
    /// Sends a gzip body of a few hundred kilobytes that expands to 256 MiB of zeros.
    GzipBomb,
    /// Redirects `/` and `/hop/N` to `/hop/N+1`, without end.
    EndlessRedirects,
    /// Redirects to the location that the request's Host header maps to.
    RedirectByHost(Arc<HashMap<String, String>>),
    /// Sends 4 KiB of bytes that are neither TLS nor HTTP.
    Garbage,
    /// Sends a plain HTTP response to whatever arrives, also on port 443.
    PlainHttp,
    /// Sends `429 Too Many Requests` with `Retry-After: 1`, also on port 443.
    TooManyRequests,
    /// Sends `503 Service Unavailable`, with `Retry-After` of this many seconds when set, also
    /// on port 443.
    ServiceUnavailable(Option<u32>),
    /// Replies to a TLS ClientHello with a fatal `handshake_failure` alert, as a server does
    /// when it shares no version or suite with the client.
    TlsAlert,
    /// Reads the request, then resets the connection.
    Reset,
}

/// A listener on one address and port, and the connections it accepted.
pub struct Fixture {
    pub accepted: Arc<AtomicUsize>,
    /// The moment each connection was accepted, in order.
    accept_times: Arc<Mutex<Vec<Instant>>>,
    /// The moment of the first 429 or 503 response or reset, for the behaviours that send
    /// them.
    first_signal: Arc<OnceLock<Instant>>,
}

impl Fixture {
    pub fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    pub fn accept_times(&self) -> Vec<Instant> {
        self.accept_times.lock().unwrap().clone()
    }

    pub fn first_signal(&self) -> Option<Instant> {
        self.first_signal.get().copied()
    }
}

/// Starts `behaviour` on `address`:`port`.
pub async fn serve(address: IpAddr, port: u16, behaviour: Behaviour) -> Fixture {
    let socket_address = SocketAddr::new(address, port);
    let listener = TcpListener::bind(socket_address)
        .await
        .unwrap_or_else(|error| panic!("the web fixture binds {socket_address}: {error}"));
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    let accept_times = Arc::new(Mutex::new(Vec::new()));
    let times = accept_times.clone();
    let first_signal = Arc::new(OnceLock::new());
    let signal = first_signal.clone();
    let gzip_body = Arc::new(match behaviour {
        Behaviour::GzipBomb => gzip_of_zeros(256 << 20),
        _ => Vec::new(),
    });
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            times.lock().unwrap().push(Instant::now());
            counter.fetch_add(1, Ordering::SeqCst);
            let behaviour = behaviour.clone();
            let gzip_body = gzip_body.clone();
            let signal = signal.clone();
            tokio::spawn(async move {
                let _ = handle(stream, &behaviour, &gzip_body, &signal).await;
            });
        }
    });
    Fixture {
        accepted,
        accept_times,
        first_signal,
    }
}

fn gzip_of_zeros(length: usize) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let block = vec![0u8; 1 << 20];
    for _ in 0..length / block.len() {
        encoder.write_all(&block).unwrap();
    }
    encoder.finish().unwrap()
}

/// Reads a request head (or the first bytes of whatever the client sends) and returns it.
async fn read_head(stream: &mut TcpStream) -> std::io::Result<String> {
    let mut head = Vec::new();
    let mut buffer = [0u8; 4096];
    while head.len() < 16 * 1024 && !head.windows(4).any(|window| window == b"\r\n\r\n") {
        let read = stream.read(&mut buffer).await?;
        if read == 0 {
            break;
        }
        head.extend_from_slice(&buffer[..read]);
        // A TLS ClientHello has no end of head to wait for.
        if head[0] == 0x16 {
            break;
        }
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then_some(value.trim())
    })
}

async fn handle(
    mut stream: TcpStream,
    behaviour: &Behaviour,
    gzip_body: &[u8],
    first_signal: &OnceLock<Instant>,
) -> std::io::Result<()> {
    let head = read_head(&mut stream).await?;
    match behaviour {
        Behaviour::Normal | Behaviour::PlainHttp => {
            let body = "hello";
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(response.as_bytes()).await
        }
        Behaviour::Silent => {
            // Keep the connection open until the client gives up.
            let mut sink = [0u8; 4096];
            while stream.read(&mut sink).await? > 0 {}
            Ok(())
        }
        Behaviour::SlowHead => {
            stream.write_all(b"HTTP/1.1 200 OK\r\nX-Slow: ").await?;
            let mut ticks = tokio::time::interval(Duration::from_secs(1));
            loop {
                ticks.tick().await;
                stream.write_all(b"a").await?;
            }
        }
        Behaviour::HugeHead => {
            stream.write_all(b"HTTP/1.1 200 OK\r\nX-Huge: ").await?;
            let chunk = vec![b'a'; 64 * 1024];
            for _ in 0..(100 << 20) / chunk.len() {
                stream.write_all(&chunk).await?;
            }
            stream.write_all(b"\r\n\r\n").await
        }
        Behaviour::EndlessBody => {
            stream
                .write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                .await?;
            let mut chunk = format!("{:x}\r\n", 64 * 1024).into_bytes();
            chunk.extend(std::iter::repeat_n(b'x', 64 * 1024));
            chunk.extend_from_slice(b"\r\n");
            loop {
                stream.write_all(&chunk).await?;
            }
        }
        Behaviour::GzipBomb => {
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n",
                gzip_body.len()
            );
            stream.write_all(response.as_bytes()).await?;
            stream.write_all(gzip_body).await
        }
        Behaviour::EndlessRedirects => {
            let path = head.split_whitespace().nth(1).unwrap_or("/");
            let hop: u64 = path
                .strip_prefix("/hop/")
                .and_then(|number| number.parse().ok())
                .unwrap_or(0);
            redirect(&mut stream, &format!("/hop/{}", hop + 1)).await
        }
        Behaviour::RedirectByHost(targets) => {
            let host = header(&head, "host").unwrap_or("").to_ascii_lowercase();
            let target = targets.get(&host).map(String::as_str).unwrap_or("/");
            redirect(&mut stream, target).await
        }
        Behaviour::Garbage => {
            let mut state = 0x2545_f491_u32;
            let garbage: Vec<u8> = (0..4096)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 17;
                    state ^= state << 5;
                    state as u8
                })
                .collect();
            stream.write_all(&garbage).await
        }
        Behaviour::TooManyRequests => {
            let response = "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\n\
                            Content-Length: 0\r\nConnection: close\r\n\r\n";
            // Noted before the response leaves, so no connection that follows it is missed.
            first_signal.get_or_init(Instant::now);
            stream.write_all(response.as_bytes()).await
        }
        Behaviour::ServiceUnavailable(retry_after) => {
            let retry_after = match retry_after {
                Some(seconds) => format!("Retry-After: {seconds}\r\n"),
                None => String::new(),
            };
            let response = format!(
                "HTTP/1.1 503 Service Unavailable\r\n{retry_after}Content-Length: 0\r\n\
                 Connection: close\r\n\r\n"
            );
            first_signal.get_or_init(Instant::now);
            stream.write_all(response.as_bytes()).await
        }
        Behaviour::TlsAlert => {
            // A TLS 1.2 record of content type 21 (alert): level 2 (fatal), description 40.
            stream.write_all(&[21, 3, 3, 0, 2, 2, 40]).await?;
            // Reading until the client closes leaves no unread bytes, which would make the
            // close send RST instead of FIN.
            stream.shutdown().await?;
            let mut sink = [0u8; 4096];
            while stream.read(&mut sink).await? > 0 {}
            Ok(())
        }
        Behaviour::Reset => {
            // With a zero linger time, closing the socket sends RST instead of FIN.
            stream.set_zero_linger()?;
            first_signal.get_or_init(Instant::now);
            drop(stream);
            Ok(())
        }
    }
}

async fn redirect(stream: &mut TcpStream, location: &str) -> std::io::Result<()> {
    let response = format!(
        "HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\
         Connection: close\r\n\r\n"
    );
    stream.write_all(response.as_bytes()).await
}
