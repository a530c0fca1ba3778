//! A `TcpProxy` in front of PostgreSQL whose observer reads the client's half of the wire
//! protocol, to count what the service asks of the database: statements run, and bare
//! `Sync`s, which are sqlx's connection pings. Each of either is one round trip.
//! TLS must be off (`sslmode=disable`) for the messages to be readable.

use std::sync::{Arc, Mutex};

use url::Url;

use crate::tcp_proxy::TcpProxy;
use crate::test_database::TestDatabase;

/// What every connection through the tap has sent so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    /// `Execute` (extended protocol) and `Query` (simple protocol) messages.
    pub statements: u64,
    /// `Sync` messages with nothing before them since the last one.
    pub pings: u64,
}

impl std::ops::Sub for Traffic {
    type Output = Traffic;

    fn sub(self, earlier: Traffic) -> Traffic {
        Traffic {
            statements: self.statements - earlier.statements,
            pings: self.pings - earlier.pings,
        }
    }
}

/// Forwards to PostgreSQL and counts what crosses, until dropped.
pub struct PostgresWireTap {
    traffic: Arc<Mutex<Traffic>>,
    _proxy: TcpProxy,
}

impl PostgresWireTap {
    /// Starts a tap in front of `database`'s server and points its URL at the tap.
    pub async fn in_front_of(database: &mut TestDatabase) -> PostgresWireTap {
        let mut url = Url::parse(&database.url).expect("database URL");
        let host = url.host_str().expect("database host").to_owned();
        let port = url.port_or_known_default().unwrap_or(5432);
        let upstream = tokio::net::lookup_host((host, port))
            .await
            .expect("resolve the database host")
            .next()
            .expect("an address for the database host");
        let traffic = Arc::new(Mutex::new(Traffic::default()));
        let counted = Arc::clone(&traffic);
        let proxy = TcpProxy::observing(
            upstream,
            Arc::new(move || {
                let traffic = Arc::clone(&counted);
                let mut messages = ClientMessages::default();
                Box::new(move |bytes: &[u8]| {
                    messages.feed(bytes, &mut traffic.lock().expect("traffic lock"));
                })
            }),
        );
        url.set_host(Some("127.0.0.1")).expect("a host");
        url.set_port(Some(proxy.port())).expect("a port");
        url.query_pairs_mut().append_pair("sslmode", "disable");
        database.url = url.to_string();
        PostgresWireTap {
            traffic,
            _proxy: proxy,
        }
    }

    pub fn traffic(&self) -> Traffic {
        *self.traffic.lock().expect("traffic lock")
    }
}

/// Splits the client's byte stream into messages: one untyped start-up message, then
/// each message a type byte and a big-endian length that counts itself.
#[derive(Default)]
struct ClientMessages {
    pending: Vec<u8>,
    started: bool,
    since_sync: u64,
}

impl ClientMessages {
    fn feed(&mut self, bytes: &[u8], traffic: &mut Traffic) {
        self.pending.extend_from_slice(bytes);
        loop {
            let length_at = usize::from(self.started);
            let Some(length) = self.pending.get(length_at..length_at + 4) else {
                return;
            };
            let end = length_at + u32::from_be_bytes(length.try_into().expect("four bytes")) as usize;
            if self.pending.len() < end {
                return;
            }
            if self.started {
                self.count(self.pending[0], traffic);
            }
            self.started = true;
            self.pending.drain(..end);
        }
    }

    fn count(&mut self, message_type: u8, traffic: &mut Traffic) {
        match message_type {
            b'S' => {
                if self.since_sync == 0 {
                    traffic.pings += 1;
                }
                self.since_sync = 0;
            }
            // A simple query is a round trip of its own, without a Sync.
            b'Q' => {
                traffic.statements += 1;
                self.since_sync = 0;
            }
            b'E' => {
                traffic.statements += 1;
                self.since_sync += 1;
            }
            _ => self.since_sync += 1,
        }
    }
}
