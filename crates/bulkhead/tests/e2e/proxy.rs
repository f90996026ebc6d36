//! A TCP proxy that a test controls, put between a server and PostgreSQL to
//! stage an outage without touching the PostgreSQL server others share.
//! [`PgProxy::cut`] ends every connection through it and refuses new ones
//! (its port is closed, as a stopped server's would be); [`PgProxy::restore`]
//! accepts again on the same port.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::{TcpSocket, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

pub struct PgProxy {
    addr: SocketAddr,
    upstream: SocketAddr,
    running: Mutex<Option<Running>>,
}

/// The accepting task and the connections it forwards; dropping it closes
/// them all.
struct Running {
    accept: JoinHandle<()>,
    connections: Arc<Mutex<JoinSet<()>>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.accept.abort();
        self.connections.lock().unwrap().abort_all();
    }
}

impl PgProxy {
    /// Starts forwarding a free loopback port to `upstream`.
    pub fn start(upstream: SocketAddr) -> PgProxy {
        let (addr, running) = Self::serve("127.0.0.1:0".parse().unwrap(), upstream);
        PgProxy {
            addr,
            upstream,
            running: Mutex::new(Some(running)),
        }
    }

    /// Where to connect instead of `upstream`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Ends every forwarded connection and refuses new ones.
    pub fn cut(&self) {
        drop(self.running.lock().unwrap().take());
    }

    /// Accepts connections again, on the same port.
    pub fn restore(&self) {
        let mut running = self.running.lock().unwrap();
        if running.is_none() {
            *running = Some(Self::serve(self.addr, self.upstream).1);
        }
    }

    fn serve(addr: SocketAddr, upstream: SocketAddr) -> (SocketAddr, Running) {
        let socket = TcpSocket::new_v4().unwrap();
        // The port was ours a moment ago; its closed connections may still
        // be in TIME_WAIT.
        socket.set_reuseaddr(true).unwrap();
        socket.bind(addr).unwrap();
        let listener = socket.listen(128).unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(Mutex::new(JoinSet::new()));
        let tracked = Arc::clone(&connections);
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                tracked.lock().unwrap().spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        (
            addr,
            Running {
                accept,
                connections,
            },
        )
    }
}
