//! Password policy and hashing (checklist AU-1, AU-2, AU-4, AU-5, AU-7).
//!
//! Argon2id with the `argon2` crate's defaults (m = 19 MiB, t = 2, p = 1: the OWASP minimum),
//! each hashing thread reusing one 19 MiB buffer from hash to hash, run on `concurrency`
//! dedicated threads (at nice 19) behind a semaphore, so that at most that many hashes
//! (19 MiB each) are in flight and at most that many threads ever hold hashing memory (the
//! allocator keeps freed memory per thread: on tokio's elastic blocking pool the resident size
//! grew with every new thread); a caller that cannot get a permit within `queue_timeout` is
//! refused with RESOURCE_EXHAUSTED instead of piling up memory (AU-4). Logins for unknown emails verify
//! against a dummy hash so they cost the same time as a wrong password.

use std::{
    collections::HashSet,
    sync::{
        Arc, LazyLock,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use std::cell::RefCell;

use argon2::{
    Algorithm, Argon2, Block, Params, Version,
    password_hash::phc::{Output, ParamsString, PasswordHash, Salt},
};
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq as _;
use tokio::sync::Semaphore;

use crate::error::{Error, Result};

/// Shortest password accepted (ASVS 5.0 6.2.1).
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password accepted, in bytes (ASVS 5.0 6.2.9 asks for at least 64 characters).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// The 3000 most common passwords of at least `MIN_PASSWORD_CHARS` characters, lowercase, one a
/// line (`#` lines are comments). Source, licence and how they were picked: `data/README.md`.
const COMMON_PASSWORDS_FILE: &str = include_str!("../../data/common-passwords.txt");

/// The common-password list as a set (AU-5, ASVS 5.0 6.2.4), built on first use.
static COMMON_PASSWORDS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    COMMON_PASSWORDS_FILE
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
});

/// Whether `password` is on the common-password list. The lookup is case-insensitive (the list
/// is lowercase, as in NIST SP 800-63B practice and Django's validator): only the copy used for
/// the lookup is lowercased, never the password that is hashed.
fn is_common(password: &str) -> bool {
    COMMON_PASSWORDS.contains(password.to_lowercase().as_str())
}

/// Checks the password policy (AU-5): at least `MIN_PASSWORD_CHARS` characters, at most
/// `MAX_PASSWORD_BYTES` bytes, not on the common-password list. No composition rules; nothing is
/// truncated or case-folded.
pub fn check_policy(password: &SecretString) -> Result<()> {
    let p = password.expose_secret();
    if p.chars().count() < MIN_PASSWORD_CHARS {
        return Err(Error::InvalidArgument(
            format!("password must be at least {MIN_PASSWORD_CHARS} characters").into(),
        ));
    }
    if p.len() > MAX_PASSWORD_BYTES {
        return Err(Error::InvalidArgument(
            format!("password must be at most {MAX_PASSWORD_BYTES} bytes").into(),
        ));
    }
    if is_common(p) {
        return Err(Error::InvalidArgument(
            "password is too common; choose a less predictable one".into(),
        ));
    }
    Ok(())
}

type Job = Box<dyn FnOnce() + Send>;

/// Metrics of the hashing queue (docs/operations.md, "Metrics"): hashes waiting for a thread,
/// running on one, the threads, and the refusals after a wait past the queue's timeout.
const HASHES_WAITING: &str = "password_hashes_waiting";
const HASHES_RUNNING: &str = "password_hashes_running";
const HASH_CONCURRENCY: &str = "password_hash_concurrency";
const HASH_MEMORY_THREADS: &str = "password_hash_threads_holding_memory";
const HASHES_REJECTED: &str = "password_hashes_rejected_total";

/// One more in a gauge while held (a waiter whose caller gives up leaves it too).
struct GaugeGuard(metrics::Gauge);

impl GaugeGuard {
    fn enter(name: &'static str) -> Self {
        let gauge = metrics::gauge!(name);
        gauge.increment(1.0);
        Self(gauge)
    }
}

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

/// Hashes and verifies passwords with bounded concurrency.
#[derive(Debug, Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    queue_timeout: Duration,
    dummy_hash: Arc<str>,
    jobs: flume::Sender<Job>,
    /// How many hashing threads hold Argon2 memory (none once idle).
    #[cfg(test)]
    holding: Arc<AtomicUsize>,
}

/// The nice value of the hashing threads: a burst of logins then slows logins, not every
/// other request the process serves meanwhile (with equal priority, two hashing threads on two
/// cores made each request wait behind them at every thread hand-off). 19, the lowest: at 10,
/// requests that wait on PostgreSQL (a process of its own, at nice 0) still queued behind the
/// hashes at each round trip (p99 12-14 ms vs 9.8 ms at 19, docs/benchmarks.md). Logins alone
/// run at the same rate; only when the CPU is also busy with other work do they yield it.
pub const HASHING_NICE: i32 = 19;

/// Gives the calling thread the hashing threads' lower priority (Linux: nice is per thread).
#[cfg(target_os = "linux")]
fn lower_priority() {
    let tid = rustix::thread::gettid();
    if let Err(e) = rustix::process::setpriority_process(Some(tid), HASHING_NICE) {
        tracing::warn!(error = %e, "cannot lower the priority of a hashing thread");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

/// Starts `n` hashing threads that take jobs until every sender is gone; `holding` counts the
/// threads that hold Argon2 memory.
fn start_threads(n: usize, holding: &Arc<AtomicUsize>) -> Result<flume::Sender<Job>> {
    let (tx, rx) = flume::unbounded::<Job>();
    for i in 0..n {
        let (rx, holding) = (rx.clone(), Arc::clone(holding));
        std::thread::Builder::new()
            .name(format!("argon2-{i}"))
            .spawn(move || {
                lower_priority();
                HOLDING.with(|cell| *cell.borrow_mut() = Some(holding));
                take_jobs(&rx);
            })
            .map_err(|e| Error::Internal(anyhow::anyhow!("cannot start a hashing thread: {e}")))?;
    }
    Ok(tx)
}

/// How long a hashing thread keeps its Argon2 memory while no job comes. Under a burst of logins
/// the next job arrives within milliseconds (a permit frees only as a hash ends, so the queue is
/// often empty for a moment between two hashes): giving the 19 MiB back then, and taking it again
/// from the kernel zeroed a moment later, cost a third of the login rate.
const KEEP_MEMORY_WHEN_IDLE: Duration = Duration::from_millis(100);

/// A hashing thread's loop. A multi-consumer channel, so that an idle thread waits without a
/// lock: with the receiver behind a mutex, the thread waiting for work held it, and a thread
/// finishing a hash blocked on it before it could give back its 19 MiB, which it then kept until
/// the next job came (issue #21: the first sign-up left a buffer resident for good).
fn take_jobs(rx: &flume::Receiver<Job>) {
    loop {
        let job = match rx.recv_timeout(KEEP_MEMORY_WHEN_IDLE) {
            Ok(job) => job,
            Err(flume::RecvTimeoutError::Disconnected) => return,
            Err(flume::RecvTimeoutError::Timeout) => {
                // Idle: the Argon2 memory goes back before the thread sleeps, so an idle
                // process keeps none of it.
                release_blocks();
                match rx.recv() {
                    Ok(job) => job,
                    Err(flume::RecvError::Disconnected) => return,
                }
            }
        };
        // A panicking job must not take the thread (and the pool's capacity) with it.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
    }
}

impl PasswordHasher {
    /// Holds `n` permits of the pool (all of them, for a busy pool) until the answer is dropped;
    /// waits for jobs still finishing to release theirs.
    #[cfg(test)]
    pub(crate) async fn hold_permits(&self, n: u32) -> tokio::sync::OwnedSemaphorePermit {
        self.permits
            .clone()
            .acquire_many_owned(n)
            .await
            .expect("an open pool")
    }

    /// How many hashing threads hold Argon2 memory now.
    #[cfg(test)]
    fn threads_holding_memory(&self) -> usize {
        self.holding.load(Ordering::Relaxed)
    }

    /// A hasher allowing `concurrency` hashes at once.
    pub fn new(concurrency: usize, queue_timeout: Duration) -> Result<Self> {
        let concurrency = concurrency.max(1);
        // On a thread of its own that then exits: the Argon2 buffer it used (19 MiB) goes with
        // it, instead of staying with whichever thread builds the hasher.
        let dummy = std::thread::scope(|s| {
            s.spawn(|| hash_blocking(&crate::domain::password::random_password()))
                .join()
        })
        .map_err(|_| Error::Internal(anyhow::anyhow!("computing the dummy hash panicked")))??;
        metrics::gauge!(HASH_CONCURRENCY).set(concurrency as f64);
        // Present from the start (0), so that a rate over it is defined before the first refusal.
        metrics::counter!(HASHES_REJECTED).increment(0);
        metrics::gauge!(HASH_MEMORY_THREADS).set(0.0);
        let holding = Arc::new(AtomicUsize::new(0));
        Ok(Self {
            permits: Arc::new(Semaphore::new(concurrency)),
            queue_timeout,
            dummy_hash: dummy.into(),
            jobs: start_threads(concurrency, &holding)?,
            #[cfg(test)]
            holding,
        })
    }

    /// Hashes `password` into a PHC string.
    pub async fn hash(&self, password: SecretString) -> Result<String> {
        self.run(move || hash_blocking(&password)).await?
    }

    /// Verifies `password` against `hash`, or against the dummy hash when there is none (so the
    /// caller cannot tell the two cases apart by time). Never true without a real hash.
    pub async fn verify(&self, password: SecretString, hash: Option<String>) -> Result<bool> {
        let dummy = self.dummy_hash.clone();
        self.run(move || {
            let target = hash.as_deref().unwrap_or(&dummy);
            let ok = verify_blocking(password.expose_secret().as_bytes(), target);
            ok && hash.is_some()
        })
        .await
    }

    async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        let waiting = GaugeGuard::enter(HASHES_WAITING);
        let permit = tokio::time::timeout(self.queue_timeout, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| {
                metrics::counter!(HASHES_REJECTED).increment(1);
                Error::ResourceExhausted("too many password checks in progress; try again".into())
            })?
            .map_err(|e| Error::Internal(e.into()))?;
        drop(waiting);
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let running = GaugeGuard::enter(HASHES_RUNNING);
            let out = f();
            // Before the answer: its caller may look at once (this thread runs at nice 19).
            drop(running);
            drop(permit);
            let _ = done.send(out);
        });
        self.jobs
            .send(job)
            .map_err(|_| Error::Internal(anyhow::anyhow!("the hashing threads are gone")))?;
        result
            .await
            .map_err(|_| Error::Internal(anyhow::anyhow!("a hashing job was lost")))
    }
}

thread_local! {
    /// The Argon2 memory of this hashing thread, reused from one hash to the next while jobs
    /// come (no 19 MiB allocation, and zeroing by the kernel, per hash under a burst of logins),
    /// and returned when none has come for [`KEEP_MEMORY_WHEN_IDLE`] ([`release_blocks`]).
    static BLOCKS: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
    /// On a pool's hashing threads: the pool's count of threads holding [`BLOCKS`].
    static HOLDING: RefCell<Option<Arc<AtomicUsize>>> = const { RefCell::new(None) };
}

/// Counts this thread in (`true`) or out of its pool's threads holding Argon2 memory.
fn count_holding(holds: bool) {
    HOLDING.with(|cell| {
        if let Some(count) = cell.borrow().as_ref() {
            let now = if holds {
                count.fetch_add(1, Ordering::Relaxed) + 1
            } else {
                count.fetch_sub(1, Ordering::Relaxed) - 1
            };
            metrics::gauge!(HASH_MEMORY_THREADS).set(now as f64);
        }
    });
}

/// Returns this thread's Argon2 memory to the allocator.
fn release_blocks() {
    BLOCKS.with(|cell| {
        let mut blocks = cell.borrow_mut();
        if !blocks.is_empty() {
            *blocks = Vec::new();
            count_holding(false);
        }
    });
}

/// How many blocks this thread keeps for its next hash (tests).
#[cfg(test)]
fn kept_blocks() -> usize {
    BLOCKS.with(|cell| cell.borrow().len())
}

/// Largest memory a thread keeps between hashes, in blocks (KiB): the default parameters'
/// 19 MiB, so the memory held per permit stays what AU-4 budgets; a stored hash with a larger
/// `m_cost` gets a buffer of its own, freed after it.
const MAX_KEPT_BLOCKS: usize = Params::DEFAULT_M_COST as usize;

/// Runs Argon2 into `out` on this thread's reused memory.
fn compute(
    argon: &Argon2<'_>,
    params: &Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> std::result::Result<(), argon2::Error> {
    let n = params.block_count();
    if n > MAX_KEPT_BLOCKS {
        return argon.hash_password_into_with_memory(password, salt, out, vec![Block::new(); n]);
    }
    BLOCKS.with(|cell| {
        let mut blocks = cell.borrow_mut();
        if blocks.is_empty() {
            count_holding(true);
        }
        if blocks.len() < n {
            blocks.resize(n, Block::new());
        }
        argon.hash_password_into_with_memory(password, salt, out, &mut blocks[..n])
    })
}

/// Hashes a password with Argon2id at the OWASP minimum (the `argon2` defaults) into a PHC string.
fn hash_blocking(password: &SecretString) -> Result<String> {
    let fail = |e: &dyn std::fmt::Display| Error::Internal(anyhow::anyhow!("argon2: {e}"));
    let params = Params::default();
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| fail(&e))?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    compute(
        &argon,
        &params,
        password.expose_secret().as_bytes(),
        &salt,
        &mut out,
    )
    .map_err(|e| fail(&e))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| fail(&e))?,
        salt: Some(Salt::new(&salt).map_err(|e| fail(&e))?),
        hash: Some(Output::new(&out).map_err(|e| fail(&e))?),
    };
    Ok(phc.to_string())
}

/// Whether a stored PHC string was made otherwise than [`hash_blocking`] makes one today: another
/// algorithm or version, or other Argon2 parameters (weaker ones, and stronger ones that exceed
/// the memory budgeted per hash, AU-4) or output length. A login with the right password then
/// replaces it (AU-3). A string that does not parse is left alone: it verifies nothing.
pub fn needs_rehash(phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let current = Params::default();
    let same_params = Params::try_from(&parsed).is_ok_and(|p| {
        p.m_cost() == current.m_cost()
            && p.t_cost() == current.t_cost()
            && p.p_cost() == current.p_cost()
    });
    let same_output = parsed
        .hash
        .is_some_and(|h| h.as_bytes().len() == Params::DEFAULT_OUTPUT_LEN);
    parsed.algorithm != Algorithm::Argon2id.ident()
        || parsed.version != Some(Version::V0x13.into())
        || !same_params
        || !same_output
}

/// Whether `password` matches the PHC string `phc` (any Argon2 variant and parameters it
/// names), compared in constant time.
fn verify_blocking(password: &[u8], phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm.as_str()) else {
        return false;
    };
    let Ok(version) = parsed.version.map(Version::try_from).transpose() else {
        return false;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    let argon = Argon2::new(algorithm, version.unwrap_or_default(), params.clone());
    let mut buffer = [0u8; 64];
    let Some(out) = buffer.get_mut(..expected.as_bytes().len()) else {
        return false;
    };
    if compute(&argon, &params, password, salt, out).is_err() {
        return false;
    }
    out.ct_eq(expected.as_bytes()).into()
}

fn random_password() -> SecretString {
    SecretString::from(service_kit::secret::random_token::<16>(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A value of the process's metrics (other tests hash too: compare with at least).
    fn metric(handle: &metrics_exporter_prometheus::PrometheusHandle, name: &str) -> f64 {
        let text = handle.render();
        let line = text.lines().find(|l| l.starts_with(&format!("{name} ")));
        line.and_then(|l| l.split(' ').nth(1)?.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {text}"))
    }

    #[tokio::test]
    async fn the_queue_is_measured_waiters_and_refusals() {
        let handle = service_kit::metrics::install().unwrap();
        let pw = || SecretString::from("correct horse battery staple".to_owned());
        let h = PasswordHasher::new(1, Duration::from_millis(300)).unwrap();
        let refused = metric(&handle, HASHES_REJECTED);
        let held = h.hold_permits(1).await;
        let waiter = tokio::spawn({
            let h = h.clone();
            async move { h.hash(pw()).await }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(metric(&handle, HASHES_WAITING) >= 1.0);
        let e = waiter.await.unwrap().unwrap_err();
        assert!(matches!(e, Error::ResourceExhausted(_)), "{e:?}");
        assert!(metric(&handle, HASHES_REJECTED) >= refused + 1.0);
        drop(held);
        h.hash(pw()).await.unwrap();
        assert!(metric(&handle, HASH_CONCURRENCY) >= 1.0);
    }

    #[test]
    fn hashes_interoperate_with_the_argon2_crate_and_reuse_memory() {
        use argon2::{PasswordHasher as _, PasswordVerifier as _};
        let pw = SecretString::from("correct horse battery staple".to_owned());
        let ours = hash_blocking(&pw).unwrap();
        assert!(
            ours.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{ours}"
        );
        assert!(
            Argon2::default()
                .verify_password(b"correct horse battery staple", ours.as_str())
                .is_ok()
        );
        let theirs = Argon2::default()
            .hash_password(b"correct horse battery staple")
            .unwrap()
            .to_string();
        assert!(verify_blocking(b"correct horse battery staple", &theirs));
        assert!(!verify_blocking(b"correct horse battery stapl", &theirs));
        // Other parameters (a smaller m_cost) and other variants verify too, on the same buffer.
        let small = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x13,
            Params::new(8192, 3, 1, None).unwrap(),
        )
        .hash_password(b"pw-1234567")
        .unwrap()
        .to_string();
        assert!(verify_blocking(b"pw-1234567", &small));
        assert!(
            verify_blocking(b"correct horse battery staple", &ours),
            "after a smaller hash"
        );
        for bad in [
            "",
            "$argon2id$v=19$m=19456,t=2,p=1$",
            "not a hash",
            "$scrypt$ln=4,r=8,p=1$c2FsdHNhbHQ$aGFzaA",
        ] {
            assert!(!verify_blocking(b"x", bad), "{bad}");
        }
        assert_ne!(hash_blocking(&pw).unwrap(), ours, "salted");
    }

    /// AU-3: a hash made with other parameters or another variant is due for a re-hash; one
    /// made today is not.
    #[test]
    fn au_3_hashes_with_other_parameters_need_a_rehash() {
        use argon2::PasswordHasher as _;
        let pw = b"correct horse battery staple";
        let with = |alg, m, t, p| {
            Argon2::new(alg, Version::V0x13, Params::new(m, t, p, None).unwrap())
                .hash_password(pw)
                .unwrap()
                .to_string()
        };
        let ours = hash_blocking(&SecretString::from("correct horse battery staple")).unwrap();
        assert!(!needs_rehash(&ours), "{ours}");
        assert!(!needs_rehash(&with(Algorithm::Argon2id, 19 * 1024, 2, 1)));
        for (name, old) in [
            ("m=9216,t=4", with(Algorithm::Argon2id, 9216, 4, 1)),
            ("t=1", with(Algorithm::Argon2id, 19 * 1024, 1, 1)),
            ("p=2", with(Algorithm::Argon2id, 19 * 1024, 2, 2)),
            ("m=64 MiB", with(Algorithm::Argon2id, 64 * 1024, 2, 1)),
            ("argon2i", with(Algorithm::Argon2i, 19 * 1024, 2, 1)),
        ] {
            assert!(needs_rehash(&old), "{name}: {old}");
        }
        assert!(!needs_rehash("not a hash"));
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn hashing_threads_run_at_a_lower_priority() {
        let h = PasswordHasher::new(1, Duration::from_secs(5)).unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel();
        h.jobs
            .send(Box::new(move || {
                let tid = rustix::thread::gettid();
                let _ = tx.send(rustix::process::getpriority_process(Some(tid)));
            }))
            .unwrap();
        assert_eq!(rx.await.unwrap().unwrap(), HASHING_NICE);
        let here = rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap();
        assert_ne!(here, HASHING_NICE, "other threads keep their priority");
    }

    fn s(v: &str) -> SecretString {
        SecretString::from(v)
    }

    /// AU-1 and AU-2: the stored string is an Argon2id PHC string at or above the OWASP minimum.
    #[tokio::test]
    async fn au_1_au_2_hashes_are_argon2id_at_the_owasp_minimum() {
        let hasher = PasswordHasher::new(2, Duration::from_secs(5)).unwrap();
        let hash = hasher.hash(s("correct horse battery")).await.unwrap();
        let parsed = argon2::PasswordHash::new(&hash).unwrap();
        assert_eq!(parsed.algorithm.as_str(), "argon2id");
        assert_eq!(parsed.version, Some(19));
        let m: u32 = parsed.params.get_decimal("m").unwrap();
        let t: u32 = parsed.params.get_decimal("t").unwrap();
        let p: u32 = parsed.params.get_decimal("p").unwrap();
        assert!(m >= 19456 && t >= 2 && p == 1, "m={m} t={t} p={p}");
        assert!(
            parsed.salt.unwrap().len() >= 16,
            "salt at least 16 bytes (base64 chars)"
        );
        assert!(!hash.contains("correct horse battery"));
        assert!(
            hasher
                .verify(s("correct horse battery"), Some(hash.clone()))
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify(s("correct horse batterY"), Some(hash))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn the_dummy_hash_never_verifies() {
        let hasher = PasswordHasher::new(1, Duration::from_secs(5)).unwrap();
        assert!(!hasher.verify(s("anything at all"), None).await.unwrap());
    }

    /// Issue #21: an idle hashing thread keeps no Argon2 memory (19 MiB each).
    #[tokio::test]
    async fn an_idle_hashing_thread_returns_its_memory() {
        let hasher = PasswordHasher::new(1, Duration::from_secs(5)).unwrap();
        let during = hasher
            .run(|| {
                hash_blocking(&s("long enough password")).unwrap();
                kept_blocks()
            })
            .await
            .unwrap();
        assert_eq!(
            during,
            Params::DEFAULT_M_COST as usize,
            "reused while it hashes"
        );
        // Kept while jobs follow each other; gone once none has come for a while (each look here
        // is a job, so it waits longer than that first).
        let mut after = usize::MAX;
        for _ in 0..20 {
            tokio::time::sleep(KEEP_MEMORY_WHEN_IDLE * 2).await;
            after = hasher.run(kept_blocks).await.unwrap();
            if after == 0 {
                break;
            }
        }
        assert_eq!(after, 0, "returned once nothing was queued");
    }

    /// Issue #21: with several hashing threads, every one gives its memory back once idle (an
    /// idle thread waiting for work must not keep another from seeing that).
    #[tokio::test]
    async fn every_idle_hashing_thread_returns_its_memory() {
        let hasher = PasswordHasher::new(2, Duration::from_secs(5)).unwrap();
        let pw = || s("long enough password");
        // Both threads at once, then one after the other (a sign-up, then a login).
        let (a, b) = tokio::join!(hasher.hash(pw()), hasher.hash(pw()));
        let phc = a.unwrap();
        b.unwrap();
        assert!(hasher.verify(pw(), Some(phc)).await.unwrap());
        let mut holding = usize::MAX;
        for _ in 0..300 {
            holding = hasher.threads_holding_memory();
            if holding == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(holding, 0, "threads still holding Argon2 memory when idle");
    }

    #[tokio::test]
    async fn a_saturated_pool_refuses_instead_of_queueing_forever() {
        let hasher = PasswordHasher::new(1, Duration::from_millis(1)).unwrap();
        let held = hasher.permits.clone().acquire_owned().await.unwrap();
        let err = hasher.hash(s("long enough password")).await.unwrap_err();
        assert!(matches!(err, Error::ResourceExhausted(_)));
        drop(held);
    }

    /// AU-5: the password policy, case by case (ASVS 5.0 6.2.1, 6.2.4, 6.2.5, 6.2.8, 6.2.9).
    #[test]
    fn au_5_password_policy_table() {
        let too_common = "password is too common; choose a less predictable one";
        let cases: &[(&str, String, Option<&str>)] = &[
            ("7 chars", "kx7#qpz".into(), Some("at least 8 characters")),
            ("8 chars", "kx7#qpzw".into(), None),
            ("8 digits, not on the list", "58203917".into(), None),
            ("64 chars", "k".repeat(64), None),
            ("128 chars", "k".repeat(128), None),
            ("1024 bytes", "k".repeat(MAX_PASSWORD_BYTES), None),
            (
                "1025 bytes",
                "k".repeat(MAX_PASSWORD_BYTES + 1),
                Some("at most 1024 bytes"),
            ),
            ("top list", "password123".into(), Some(too_common)),
            (
                "top list, other case",
                "Password123".into(),
                Some(too_common),
            ),
            (
                "top list, upper case",
                "PASSWORD123".into(),
                Some(too_common),
            ),
            ("top list, 8 digits", "12345678".into(), Some(too_common)),
            ("top list, with a space", "password123 ".into(), None),
            (
                "no composition rule",
                "correct horse battery staple".into(),
                None,
            ),
            ("emoji, 8 chars", "🔐🔐🔐🔐🔐🔐🔐🔐".into(), None),
            (
                "emoji, 7 chars",
                "🔐🔐🔐🔐🔐🔐🔐".into(),
                Some("at least 8"),
            ),
            ("unicode", "Grüße aus Köln".into(), None),
            ("unicode, 8 chars", "пароль12".into(), None),
            ("CJK", "密码是安全的吗八".into(), None),
        ];
        for (name, password, refused) in cases {
            let got = check_policy(&s(password));
            match (refused, got) {
                (None, Ok(())) => {}
                (Some(msg), Err(Error::InvalidArgument(m))) => {
                    assert!(m.contains(msg), "{name}: message {m:?}");
                    assert!(
                        !m.contains(password.as_str()),
                        "{name}: the password is echoed"
                    );
                }
                (want, got) => panic!("{name}: wanted refusal {want:?}, got {got:?}"),
            }
        }
    }

    /// AU-5: unicode passwords are hashed as given (no case change, no normalization) and verify
    /// exactly.
    #[tokio::test]
    async fn au_5_unicode_passwords_verify_exactly() {
        let hasher = PasswordHasher::new(1, Duration::from_secs(5)).unwrap();
        let password = "Grüße 🔐 密码 Köln";
        check_policy(&s(password)).unwrap();
        let hash = hasher.hash(s(password)).await.unwrap();
        assert!(
            hasher
                .verify(s(password), Some(hash.clone()))
                .await
                .unwrap()
        );
        for other in [
            "grüße 🔐 密码 köln",
            "Gru\u{308}ße 🔐 密码 Köln",
            "Grüße 🔐 密码 Köl",
        ] {
            assert!(
                !hasher.verify(s(other), Some(hash.clone())).await.unwrap(),
                "{other}"
            );
        }
    }

    /// AU-5: the embedded list is the 3000 entries picked in `data/README.md`: lowercase, none
    /// shorter than the minimum, no duplicates, and it holds the checklist's example.
    #[test]
    fn au_5_common_password_list() {
        let entries: Vec<&str> = COMMON_PASSWORDS_FILE
            .lines()
            .filter(|l| !l.starts_with('#'))
            .collect();
        assert_eq!(entries.len(), 3000);
        assert_eq!(COMMON_PASSWORDS.len(), 3000, "no duplicates");
        for e in &entries {
            assert!(
                e.chars().count() >= MIN_PASSWORD_CHARS,
                "{e:?} is too short"
            );
            assert!(e.len() <= MAX_PASSWORD_BYTES, "{e:?} is too long");
            assert_eq!(*e, e.to_lowercase(), "{e:?} is not lowercase");
            assert_eq!(*e, e.trim(), "{e:?} has surrounding whitespace");
        }
        assert_eq!(entries.first(), Some(&"123456789"));
        assert!(COMMON_PASSWORDS.contains("password123"));
    }
}
