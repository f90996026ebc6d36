//! Waiting for the signal to stop: SIGINT (Ctrl-C) or SIGTERM (what service
//! managers and orchestrators send).
//!
//! Handlers are installed by [`Shutdown::listen`], before the server
//! announces its address: a signal that arrives right after the
//! announcement must already mean "drain and exit 0", not the default
//! "die at once".

use crate::Error;

#[derive(Debug)]
pub struct Shutdown {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Shutdown {
    #[cfg(unix)]
    pub fn listen() -> Result<Self, Error> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            interrupt: signal(SignalKind::interrupt()).map_err(Error::Signals)?,
            terminate: signal(SignalKind::terminate()).map_err(Error::Signals)?,
        })
    }

    #[cfg(not(unix))]
    pub fn listen() -> Result<Self, Error> {
        Ok(Self {})
    }

    /// Resolves when a stop signal arrives.
    #[cfg(unix)]
    pub async fn wait(mut self) {
        let name = tokio::select! {
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.terminate.recv() => "SIGTERM",
        };
        tracing::info!(signal = name, "shutting down: finishing in-flight requests");
    }

    #[cfg(not(unix))]
    pub async fn wait(self) {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot wait for Ctrl-C; shutting down");
        }
        tracing::info!("shutting down: finishing in-flight requests");
    }
}
