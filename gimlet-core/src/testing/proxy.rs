//! A TCP proxy that a test can cut and restore: a store's connection
//! killed (a restart, a network fault) for one app server only.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Forwards every connection made to [`CutProxy::addr`] to the upstream
/// address, until [`CutProxy::cut`].
#[derive(Debug)]
pub struct CutProxy {
    addr: SocketAddr,
    upstream: SocketAddr,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl CutProxy {
    /// A proxy to `upstream` on a free port of 127.0.0.1.
    ///
    /// # Errors
    ///
    /// No port to listen on.
    pub async fn start(upstream: SocketAddr) -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let proxy = CutProxy {
            addr: listener.local_addr()?,
            upstream,
            tasks: Arc::default(),
        };
        proxy.serve(listener);
        Ok(proxy)
    }

    /// A proxy to the server of `url` (`scheme://[user@]host:port/…`), and
    /// the URL that reaches the server through it.
    ///
    /// # Errors
    ///
    /// A URL without a host and port that resolve, or no port to listen
    /// on.
    pub async fn in_front_of(url: &str) -> io::Result<(Self, String)> {
        let invalid = || io::Error::new(io::ErrorKind::InvalidInput, "a URL with host:port");
        let (scheme, rest) = url.split_once("://").ok_or_else(invalid)?;
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        let (user, host) = match authority.rsplit_once('@') {
            Some((user, host)) => (format!("{user}@"), host),
            None => (String::new(), authority),
        };
        let upstream = tokio::net::lookup_host(host)
            .await?
            .next()
            .ok_or_else(invalid)?;
        let proxy = CutProxy::start(upstream).await?;
        let through = format!("{scheme}://{user}{}{path}", proxy.addr());
        Ok((proxy, through))
    }

    /// Where to connect instead of the upstream address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Closes every connection, and refuses new ones until
    /// [`CutProxy::restore`].
    pub fn cut(&self) {
        for task in self.lock().drain(..) {
            task.abort();
        }
    }

    /// Accepts connections again, on the same port.
    ///
    /// # Errors
    ///
    /// The port was taken meanwhile.
    pub async fn restore(&self) -> io::Result<()> {
        // The listener of before the cut closes once its aborted task is
        // dropped, at the runtime's next turn: until then the port is busy.
        let mut waits = 0;
        let listener = loop {
            match TcpListener::bind(self.addr).await {
                Err(e) if e.kind() == io::ErrorKind::AddrInUse && waits < 100 => {
                    waits += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
                bound => break bound?,
            }
        };
        self.serve(listener);
        Ok(())
    }

    fn serve(&self, listener: TcpListener) {
        let (upstream, tasks) = (self.upstream, Arc::clone(&self.tasks));
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let pipe = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                lock(&tasks).push(pipe);
            }
        });
        self.lock().push(accept);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<JoinHandle<()>>> {
        lock(&self.tasks)
    }
}

fn lock(tasks: &Mutex<Vec<JoinHandle<()>>>) -> std::sync::MutexGuard<'_, Vec<JoinHandle<()>>> {
    tasks.lock().unwrap_or_else(|e| e.into_inner())
}

impl Drop for CutProxy {
    fn drop(&mut self) {
        self.cut();
    }
}
