//! A TCP forwarder the test owns, to cut a dependency (Redis) off for real: `stop` closes
//! the port and every forwarded connection, `start_again` listens on the same port.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

/// Forwards `127.0.0.1:{port}` to `upstream` while running.
pub struct TcpProxy {
    port: u16,
    upstream: SocketAddr,
    running: Option<(CancellationToken, JoinHandle<()>)>,
}

impl TcpProxy {
    pub async fn start(upstream: SocketAddr) -> TcpProxy {
        let listener = bind(0).expect("bind the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let mut proxy = TcpProxy {
            port,
            upstream,
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
        let task = tokio::spawn(forward(listener, self.upstream, shutdown.clone()));
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
async fn forward(listener: TcpListener, upstream: SocketAddr, shutdown: CancellationToken) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => {
                if let Ok((mut inbound, _)) = accepted {
                    connections.spawn(async move {
                        if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                            tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await.ok();
                        }
                    });
                }
                while connections.try_join_next().is_some() {}
            }
        }
    }
    drop(listener);
    connections.shutdown().await;
}

fn bind(port: u16) -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))?;
    socket.listen(128)
}
