//! A TCP forwarder the test owns. It cuts a dependency (Redis) off for real: `stop`
//! closes the port and every forwarded connection, `start_again` listens on the same
//! port. It can also show each connection's client bytes to an observer, which is how
//! the PostgreSQL wire tap counts round trips.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

/// Sees every chunk one connection's client sends, in order, before it goes upstream.
pub type ClientBytesObserver = Box<dyn FnMut(&[u8]) + Send>;

/// Makes a fresh observer for each accepted connection, since a byte stream is parsed
/// per connection.
pub type ObserverFactory = Arc<dyn Fn() -> ClientBytesObserver + Send + Sync>;

/// Forwards `127.0.0.1:{port}` to `upstream` while running.
pub struct TcpProxy {
    port: u16,
    upstream: SocketAddr,
    observer: Option<ObserverFactory>,
    running: Option<(CancellationToken, JoinHandle<()>)>,
}

impl TcpProxy {
    pub fn start(upstream: SocketAddr) -> TcpProxy {
        TcpProxy::listen(upstream, None)
    }

    /// Starts a proxy that shows each connection's client bytes to its own observer.
    pub fn observing(upstream: SocketAddr, observer: ObserverFactory) -> TcpProxy {
        TcpProxy::listen(upstream, Some(observer))
    }

    fn listen(upstream: SocketAddr, observer: Option<ObserverFactory>) -> TcpProxy {
        let listener = bind(0).expect("bind the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let mut proxy = TcpProxy {
            port,
            upstream,
            observer,
            running: None,
        };
        proxy.spawn(listener);
        proxy
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Refuses new connections and drops the open ones.
    pub async fn stop(&mut self) {
        if let Some((shutdown, task)) = self.running.take() {
            shutdown.cancel();
            task.await.expect("proxy accept loop");
        }
    }

    /// Listens again on the same port.
    pub async fn start_again(&mut self) {
        for _ in 0..100 {
            if let Ok(listener) = bind(self.port) {
                self.spawn(listener);
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the proxy could not re-bind port {}", self.port);
    }

    fn spawn(&mut self, listener: TcpListener) {
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(accept(
            listener,
            self.upstream,
            self.observer.clone(),
            shutdown.clone(),
        ));
        self.running = Some((shutdown, task));
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        if let Some((shutdown, _)) = &self.running {
            shutdown.cancel();
        }
    }
}

/// Owns the listener and every forwarded connection: returning closes them all.
async fn accept(
    listener: TcpListener,
    upstream: SocketAddr,
    observer: Option<ObserverFactory>,
    shutdown: CancellationToken,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => {
                if let Ok((client, _)) = accepted {
                    let observe = observer.as_ref().map(|start| start());
                    connections.spawn(forward(client, upstream, observe));
                }
                while connections.try_join_next().is_some() {}
            }
        }
    }
    drop(listener);
    connections.shutdown().await;
}

/// Copies both ways until either side closes, then closes the other.
async fn forward(client: TcpStream, upstream: SocketAddr, mut observe: Option<ClientBytesObserver>) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    client.set_nodelay(true).ok();
    server.set_nodelay(true).ok();
    let (mut client_reads, mut client_writes) = client.into_split();
    let (mut server_reads, mut server_writes) = server.into_split();
    let requests = async {
        let mut buffer = vec![0; 16 * 1024];
        loop {
            let read = match client_reads.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(read) => read,
            };
            // Observed before it is sent, so the count is in place before any reply.
            if let Some(observe) = observe.as_mut() {
                observe(&buffer[..read]);
            }
            if server_writes.write_all(&buffer[..read]).await.is_err() {
                return;
            }
        }
    };
    let replies = tokio::io::copy(&mut server_reads, &mut client_writes);
    tokio::select! {
        () = requests => {}
        _ = replies => {}
    }
}

fn bind(port: u16) -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))?;
    socket.listen(128)
}
