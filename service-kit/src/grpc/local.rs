//! gRPC inside one process: the all-in-one's parts call each other's servers in place.
//!
//! A part reaches another over a [`GrpcChannel`]: a network [`Channel`] (HTTP/2, TLS when
//! configured), or a [`LocalChannel`] to a server of this very process. A local call is the same
//! gRPC call: the generated client encodes it, the server's own stack serves it (its request
//! span, metrics, caller authentication, scope guard and generated server decode and answer),
//! with the same metadata, deadline and status codes. Only HTTP/2 framing and the loopback
//! socket are left out, which were a third of the all-in-one's CPU on the gateway's
//! `GET /api/v1/user` (docs/benchmarks.md, issue #21).
//!
//! A server is reachable in place once [`ServiceHost`](crate::host::ServiceHost) has bound it:
//! the URL `inproc://<its address>` names it. Only the all-in-one passes such URLs; the separate
//! binaries are given `http(s)://` URLs and always talk over the network. Calls made before the
//! server runs wait for it, as a connection would wait in its listen queue; calls after it
//! stopped answer UNAVAILABLE, as a refused connection would.

use std::{
    collections::HashMap,
    convert::Infallible,
    future::Future,
    net::SocketAddr,
    pin::Pin,
    sync::{
        Arc, LazyLock, Mutex, OnceLock,
        atomic::{AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use anyhow::anyhow;
use tonic::{Status, body::Body, transport::Channel};
use tower::{Service, util::BoxCloneSyncService};
use tracing::Instrument;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type ResponseFuture = Pin<Box<dyn Future<Output = Result<http::Response<Body>, BoxError>> + Send>>;

/// The URL scheme of a server of this process.
pub const SCHEME: &str = "inproc";

/// Longest a call may run, as the servers' `timeout` (`super::server_builder`).
const SERVER_TIMEOUT: Duration = Duration::from_secs(30);

/// A client's way to a gRPC server: over the network, or in place (see the module).
#[derive(Debug, Clone)]
pub enum GrpcChannel {
    /// HTTP/2 over TCP (TLS when configured).
    Remote(Channel),
    /// A server of this process, called in place.
    Local(LocalChannel),
}

impl From<Channel> for GrpcChannel {
    fn from(channel: Channel) -> Self {
        Self::Remote(channel)
    }
}

impl Service<http::Request<Body>> for GrpcChannel {
    type Response = http::Response<Body>;
    type Error = BoxError;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        match self {
            Self::Remote(channel) => channel.poll_ready(cx).map_err(Into::into),
            Self::Local(_) => Poll::Ready(Ok(())),
        }
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        match self {
            Self::Remote(channel) => {
                let call = channel.call(req);
                Box::pin(async move { call.await.map_err(Into::into) })
            }
            Self::Local(local) => Box::pin(local.clone().call(req)),
        }
    }
}

/// What a server's stack is, to be called in place: the layered routes it serves.
pub type LocalService = BoxCloneSyncService<http::Request<Body>, http::Response<Body>, Infallible>;

/// Where a server stands, as its local callers see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Bound, not yet serving: calls wait.
    Starting,
    /// Serving: calls are served.
    Serving,
    /// Stopping or stopped: new calls answer UNAVAILABLE; those in flight finish.
    Stopped,
}

/// A server of this process, called in place. Cheap to clone.
#[derive(Clone)]
pub struct LocalChannel(Arc<LocalServer>);

struct LocalServer {
    /// The part the server belongs to (`identity-svc`, …), for its request span.
    part: &'static str,
    addr: SocketAddr,
    /// Set when the server starts serving.
    service: OnceLock<LocalService>,
    /// Closed when the server's host is gone.
    phase: tokio::sync::watch::Receiver<Phase>,
    /// Calls being served, which the server waits for before it closes its database.
    in_flight: AtomicUsize,
    /// Told when the last call in flight ends.
    idle: tokio::sync::Notify,
}

/// One call in flight, for as long as it lives.
struct InFlight(Arc<LocalServer>);

impl InFlight {
    fn new(server: &Arc<LocalServer>) -> Self {
        server.in_flight.fetch_add(1, Ordering::AcqRel);
        Self(server.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl std::fmt::Debug for LocalChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalChannel")
            .field("part", &self.0.part)
            .field("addr", &self.0.addr)
            .finish_non_exhaustive()
    }
}

impl LocalChannel {
    /// Serves `req` as the server's connection would: waits until it serves, runs the call in
    /// the server's request span within the call's deadline (`grpc-timeout`, at most the
    /// server's own).
    async fn call(self, req: http::Request<Body>) -> Result<http::Response<Body>, BoxError> {
        let server = &self.0;
        // Counted first: a stop that begins after this waits for the call.
        let _in_flight = InFlight::new(server);
        if *server.phase.borrow() != Phase::Serving {
            let mut phase = server.phase.clone();
            if phase.wait_for(|p| *p != Phase::Starting).await.is_err() {
                return Err(stopped(server.addr));
            }
        }
        if *server.phase.borrow() != Phase::Serving || server.phase.has_changed().is_err() {
            return Err(stopped(server.addr));
        }
        let Some(service) = server.service.get() else {
            return Err(stopped(server.addr));
        };
        let (parts, body) = req.into_parts();
        let head = http::Request::from_parts(parts, ());
        let span = super::part_request_span(server.part, &head);
        let deadline =
            grpc_timeout(head.headers()).map_or(SERVER_TIMEOUT, |t| t.min(SERVER_TIMEOUT));
        let (parts, ()) = head.into_parts();
        let call = service
            .clone()
            .call(http::Request::from_parts(parts, body))
            .instrument(span);
        match tokio::time::timeout(deadline, call).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(never)) => match never {},
            // What the server's timeout answers (tonic's `GrpcTimeout`).
            Err(_) => Ok(Status::cancelled("Timeout expired").into_http()),
        }
    }
}

fn stopped(addr: SocketAddr) -> BoxError {
    Box::new(Status::unavailable(format!(
        "{SCHEME}://{addr}: the server has stopped"
    )))
}

/// The servers of this process that may be called in place, by the address they listen on.
static SERVERS: LazyLock<Mutex<HashMap<SocketAddr, LocalChannel>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// A server's side of its in-place callers: it says when it serves, and it stops being
/// reachable when dropped.
#[derive(Debug)]
pub(crate) struct Registration {
    channel: LocalChannel,
    phase: tokio::sync::watch::Sender<Phase>,
}

impl Registration {
    /// Makes the server of `part` bound at `addr` reachable as `inproc://<addr>`.
    pub(crate) fn new(part: &'static str, addr: SocketAddr) -> Self {
        let (phase, receiver) = tokio::sync::watch::channel(Phase::Starting);
        let channel = LocalChannel(Arc::new(LocalServer {
            part,
            addr,
            service: OnceLock::new(),
            phase: receiver,
            in_flight: AtomicUsize::new(0),
            idle: tokio::sync::Notify::new(),
        }));
        lock().insert(addr, channel.clone());
        Self { channel, phase }
    }

    /// The server serves `service` from now on; waiting callers go on.
    pub(crate) fn serve(&self, service: LocalService) {
        let _ = self.channel.0.service.set(service);
        self.phase.send_replace(Phase::Serving);
    }

    /// Stops taking calls (new ones answer UNAVAILABLE) and waits for those in flight, as the
    /// network server drains its connections; then the server is no longer reachable.
    pub(crate) async fn stop(self) {
        self.phase.send_replace(Phase::Stopped);
        let server = &self.channel.0;
        loop {
            let idle = server.idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            if server.in_flight.load(Ordering::Acquire) == 0 {
                break;
            }
            idle.await;
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut servers = lock();
        if servers
            .get(&self.channel.0.addr)
            .is_some_and(|c| Arc::ptr_eq(&c.0, &self.channel.0))
        {
            servers.remove(&self.channel.0.addr);
        }
    }
}

fn lock() -> std::sync::MutexGuard<'static, HashMap<SocketAddr, LocalChannel>> {
    SERVERS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The channel of `url` when it names a server of this process (`inproc://<address>`), `None`
/// for any other scheme.
pub fn connect(url: &str) -> anyhow::Result<Option<LocalChannel>> {
    let Some(authority) = url.strip_prefix(SCHEME).and_then(|r| r.strip_prefix("://")) else {
        return Ok(None);
    };
    let addr: SocketAddr = authority.trim_end_matches('/').parse().map_err(|_| {
        anyhow!("{url}: an {SCHEME}:// URL names an address, as {SCHEME}://127.0.0.1:50051")
    })?;
    lock()
        .get(&addr)
        .cloned()
        .map(Some)
        .ok_or_else(|| anyhow!("{url}: no gRPC server of this process listens there"))
}

/// A call's `grpc-timeout` header (gRPC over HTTP/2: at most 8 digits and a unit).
fn grpc_timeout(headers: &http::HeaderMap) -> Option<Duration> {
    let value = headers.get("grpc-timeout")?.to_str().ok()?;
    if value.len() < 2 || value.len() > 9 {
        return None;
    }
    let (digits, unit) = value.split_at(value.len() - 1);
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount.saturating_mul(3600)),
        "M" => Duration::from_secs(amount.saturating_mul(60)),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

#[cfg(test)]
mod tests;
