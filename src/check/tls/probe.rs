//! Protocol version and cipher suite probes with hand-built ClientHello messages.
