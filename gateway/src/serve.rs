//! Serving the router with the limits `axum::serve` does not have, so that slow and greedy
//! clients cannot hold the gateway (issue #18 item 3; AP-2, API4):
//!
//! - At most [`Limits::max_connections`] connections at once. A permit is taken *before*
//!   accepting, so a connection beyond them waits unanswered in the kernel's listen queue
//!   until one closes: it costs no file descriptor and no task here.
//! - Headers: a connection that has not begun a request within [`Limits::header_read`] of
//!   being accepted is closed (the [`Watchdog`], whatever the protocol). On a kept-alive
//!   HTTP/1 connection the next request's head must arrive whole within the same time from its
//!   first byte (hyper's `header_read_timeout` on [`HeadTimer`], so the wait between requests
//!   is the idle limit's, not this one's).
//! - Idle: a connection with no request in flight for [`Limits::keep_alive_idle`] since its
//!   last answer (or its opening) is shut down gracefully, and closed a second later. Bytes
//!   alone do not count as activity: HTTP/2 pings or a frame trickled byte by byte would
//!   otherwise hold a connection for ever, and a client that reads an answer too slowly is cut
//!   too.
//! - Bodies: `http/deadline.rs` answers 408 when a body does not arrive in time.
//! - Shutdown: no more accepting; every connection finishes its requests and closes.

use std::{
    future::Future,
    io,
    net::SocketAddr,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed},
    },
    task::{Context, Poll},
    time::{Duration, Instant},
};

use axum::{Router, extract::ConnectInfo};
use hyper::{body::Incoming, service::service_fn};
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{OwnedSemaphorePermit, Semaphore},
};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// The limits on connections.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections served at once (`MAX_CONNECTIONS`).
    pub max_connections: u32,
    /// Time to send a request's headers (`HEADER_READ_TIMEOUT_SECS`).
    pub header_read: Duration,
    /// Time a connection may stay idle (`KEEP_ALIVE_IDLE_SECS`).
    pub keep_alive_idle: Duration,
}

/// How long a connection told to shut down gracefully for idleness has before it is closed.
const IDLE_GRACE: Duration = Duration::from_secs(1);

/// Serves `router` on `listener` until `shutdown` is cancelled, then waits for every
/// connection to finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: CancellationToken,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections as usize));
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            () = shutdown.cancelled() => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, or a connection reset while queued: wait a
                    // little rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(connection(
            stream,
            peer,
            router.clone(),
            limits,
            shutdown.clone(),
            permit,
        ));
    }
    drop(listener);
    // Each connection holds a permit until it ends: all of them back, every connection ended.
    let _ = permits.acquire_many(limits.max_connections).await;
}

/// Serves one connection within the limits; `_permit` is its place among the connections.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: Limits,
    shutdown: CancellationToken,
    _permit: OwnedSemaphorePermit,
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        inner: Some(stream),
        activity: activity.clone(),
    });
    let counted = activity.clone();
    let service = service_fn(move |mut req: hyper::Request<Incoming>| {
        let in_flight = InFlight::begin(counted.clone());
        req.extensions_mut().insert(ConnectInfo(peer));
        let answer = router.clone().oneshot(req);
        async move {
            let res = answer.await;
            drop(in_flight);
            res
        }
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(HeadTimer(activity.clone()))
        .header_read_timeout(limits.header_read);
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let watchdog = Watchdog { activity, limits };
    let mut shutting_down = false;
    let mut idle_since: Option<Instant> = None;
    loop {
        tokio::select! {
            done = conn.as_mut() => {
                if let Err(e) = done {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            verdict = watchdog.verdict(idle_since) => match verdict {
                Verdict::Close => return, // dropping the connection closes the socket
                Verdict::Idle => {
                    conn.as_mut().graceful_shutdown();
                    idle_since = Some(Instant::now());
                }
            },
            () = shutdown.cancelled(), if !shutting_down => {
                conn.as_mut().graceful_shutdown();
                shutting_down = true;
            }
        }
    }
}

/// What a connection has done lately, shared by its IO, its service and its watchdog.
#[derive(Debug)]
struct Activity {
    accepted: Instant,
    /// Milliseconds from `accepted` to the end of the last request (0: none yet).
    last: AtomicU64,
    /// Reads that brought bytes.
    reads: AtomicU64,
    /// Requests whose headers arrived.
    requests: AtomicU64,
    /// Requests not yet answered.
    in_flight: AtomicUsize,
}

impl Activity {
    fn new() -> Self {
        Self {
            accepted: Instant::now(),
            last: AtomicU64::new(0),
            reads: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
        }
    }

    fn request_ended(&self) {
        let ms = u64::try_from(self.accepted.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(ms, Relaxed);
    }

    fn last(&self) -> Instant {
        self.accepted + Duration::from_millis(self.last.load(Relaxed))
    }
}

/// A request being answered, counted while it lives.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn begin(activity: Arc<Activity>) -> Self {
        activity.requests.fetch_add(1, Relaxed);
        activity.in_flight.fetch_add(1, Relaxed);
        Self(activity)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.request_ended();
        self.0.in_flight.fetch_sub(1, Relaxed);
    }
}

/// What the watchdog found.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// Idle too long: shut down gracefully.
    Idle,
    /// Close now: no request began in time, or a graceful shutdown did not end in time.
    Close,
}

/// Watches a connection's [`Activity`] against the limits.
struct Watchdog {
    activity: Arc<Activity>,
    limits: Limits,
}

impl Watchdog {
    /// Resolves when the connection must be shut down (`idle_since`: when it was told to
    /// shut down for idleness).
    async fn verdict(&self, idle_since: Option<Instant>) -> Verdict {
        loop {
            let (verdict, at) = self.next(idle_since);
            if let Some(verdict) = verdict
                && at <= Instant::now()
            {
                return verdict;
            }
            tokio::time::sleep_until(at.max(Instant::now()).into()).await;
        }
    }

    /// The next verdict and when it falls due (`None`: look again then).
    fn next(&self, idle_since: Option<Instant>) -> (Option<Verdict>, Instant) {
        let a = &self.activity;
        if let Some(since) = idle_since {
            return (Some(Verdict::Close), since + IDLE_GRACE);
        }
        let now = Instant::now();
        if a.requests.load(Relaxed) == 0 {
            let first_due = a.accepted + self.limits.header_read;
            if first_due <= now {
                return (Some(Verdict::Close), first_due);
            }
        }
        let idle_due = a.last() + self.limits.keep_alive_idle;
        let verdict = (a.in_flight.load(Relaxed) == 0 && idle_due <= now).then_some(Verdict::Idle);
        if verdict.is_some() {
            return (verdict, idle_due);
        }
        // Look again at the earliest moment something may fall due.
        let mut at = idle_due.max(now + Duration::from_millis(100));
        if a.requests.load(Relaxed) == 0 {
            at = at.min(a.accepted + self.limits.header_read);
        }
        (None, at)
    }
}

/// The connection's socket, counting the reads that bring bytes (for [`HeadTimer`]), and
/// closed lingering ([`linger`]).
struct Watched {
    /// Always there until dropped.
    inner: Option<TcpStream>,
    activity: Arc<Activity>,
}

impl Watched {
    fn stream(&mut self) -> Pin<&mut TcpStream> {
        Pin::new(
            self.inner
                .as_mut()
                .expect("the socket is there until dropped"),
        )
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        if let (Some(stream), Ok(runtime)) =
            (self.inner.take(), tokio::runtime::Handle::try_current())
        {
            runtime.spawn(linger(stream));
        }
    }
}

/// A closed connection is still read (and the bytes dropped) while bytes keep coming, each
/// within [`LINGER_QUIET`], for at most [`LINGER`] and [`LINGER_BYTES`] in all.
const LINGER_QUIET: Duration = Duration::from_secs(1);
const LINGER: Duration = Duration::from_secs(5);
const LINGER_BYTES: usize = 16 * 1024 * 1024;

/// Closes `stream` as nginx's lingering close does: the answer is already sent (hyper shut
/// the socket down for writing), but a client still sending (the rest of a body refused with
/// 413 or 408) would receive a reset for the unread bytes and might lose the answer with it.
/// So what it still sends is read and dropped, within the bounds above.
async fn linger(mut stream: TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _ = stream.shutdown().await;
    let drain = async {
        let mut buf = vec![0u8; 64 * 1024];
        let mut left = LINGER_BYTES;
        while left > 0 {
            match tokio::time::timeout(LINGER_QUIET, stream.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => left = left.saturating_sub(n),
                _ => break,
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = self.stream().poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.reads.fetch_add(1, Relaxed);
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.stream().poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.stream().poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner
            .as_ref()
            .is_some_and(TcpStream::is_write_vectored)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.stream().poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.stream().poll_shutdown(cx)
    }
}

/// hyper's timer for the HTTP/1 header deadline, counting from the first byte of the head
/// rather than from when hyper begins waiting for it: hyper arms its header timer as soon as
/// it waits for the next request, which would make the header deadline the idle limit of
/// every kept-alive connection.
#[derive(Debug, Clone)]
struct HeadTimer(Arc<Activity>);

impl hyper::rt::Timer for HeadTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(HeadSleep {
            activity: self.0.clone(),
            armed_at_reads: self.0.reads.load(Relaxed),
            duration,
            sleep: None,
        })
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        self.sleep(deadline.saturating_duration_since(Instant::now()))
    }
}

/// [`HeadTimer`]'s sleep: pending until a byte arrives after it was armed, then `duration`.
/// hyper polls it each time the connection wakes while a head is incomplete, which every
/// arriving byte does.
struct HeadSleep {
    activity: Arc<Activity>,
    armed_at_reads: u64,
    duration: Duration,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Future for HeadSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.sleep.is_none() {
            if self.activity.reads.load(Relaxed) == self.armed_at_reads {
                // Nothing of the head yet: waiting for it is the idle limit's business.
                return Poll::Pending;
            }
            self.sleep = Some(Box::pin(tokio::time::sleep(self.duration)));
        }
        match &mut self.sleep {
            Some(sleep) => sleep.as_mut().poll(cx),
            None => Poll::Pending,
        }
    }
}

impl hyper::rt::Sleep for HeadSleep {}
