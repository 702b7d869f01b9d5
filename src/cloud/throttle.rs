//! Client-side ARM throttling: one token bucket per (subscription, principal,
//! operation kind), as ARM counts them (reads, writes and deletes apart, per
//! subscription × principal: a spec whose teams span four subscriptions gets
//! four times the budget). A bucket starts at Azure's documented size and
//! refill (reads 250 + 25/s, writes and deletes 200 + 10/s) and then learns
//! from the `x-ms-ratelimit-remaining-subscription-*` headers of the answers:
//! what remains (the server's count is the truth, less what is still on its
//! way to it), the largest size seen, and how fast the server refills (the
//! rise of what remains between answers, plus the requests answered in
//! between, over the time between). A 429 empties the bucket, pauses it for
//! the `Retry-After` and halves the learnt refill.
//!
//! Requests waiting for a token queue by their class of work (`activity`):
//! the class with the highest priority *now* goes first (a class is raised
//! while its requests wait, when one of its requests turns out to start a
//! long-running operation), then arrival order. Only the first waiter of a
//! bucket sleeps on the clock; the others wait to be woken when they come
//! first. What each bucket has waiting is visible for progress. Nothing here
//! knows what the requests are for.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::cloud::activity::Class;

/// The ARM operation kinds that have separate buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OpKind {
    /// GET, HEAD.
    Read,
    /// PUT, PATCH, POST actions.
    Write,
    /// DELETE.
    Delete,
}

impl OpKind {
    /// The kind of an HTTP method.
    pub fn of(method: &reqwest::Method) -> OpKind {
        match *method {
            reqwest::Method::GET | reqwest::Method::HEAD => OpKind::Read,
            reqwest::Method::DELETE => OpKind::Delete,
            _ => OpKind::Write,
        }
    }

    /// The header in which Azure says what remains.
    pub fn header(self) -> &'static str {
        match self {
            OpKind::Read => "x-ms-ratelimit-remaining-subscription-reads",
            OpKind::Write => "x-ms-ratelimit-remaining-subscription-writes",
            OpKind::Delete => "x-ms-ratelimit-remaining-subscription-deletes",
        }
    }

    /// How people read it.
    pub fn noun(self) -> &'static str {
        match self {
            OpKind::Read => "reads",
            OpKind::Write => "writes",
            OpKind::Delete => "deletes",
        }
    }

    /// Azure's documented bucket size and refill per second (ARM's token
    /// bucket per subscription × principal), before anything is learnt.
    fn limits(self) -> (f64, f64) {
        match self {
            OpKind::Read => (250.0, 25.0),
            OpKind::Write | OpKind::Delete => (200.0, 10.0),
        }
    }
}

/// Which bucket a request takes its token from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BucketKey {
    /// The subscription id, lower-case.
    pub subscription: String,
    /// The caller's object id, lower-case (empty when unknown).
    pub principal: String,
    /// The operation kind.
    pub kind: OpKind,
}

impl BucketKey {
    /// The bucket of `kind` requests of `principal` in `subscription`.
    pub fn new(subscription: &str, principal: &str, kind: OpKind) -> BucketKey {
        BucketKey {
            subscription: subscription.to_ascii_lowercase(),
            principal: principal.to_ascii_lowercase(),
            kind,
        }
    }

    /// `writes of subscription …0000b1` (the id's end tells subscriptions apart).
    pub fn label(&self) -> String {
        let tail: String = self
            .subscription
            .chars()
            .rev()
            .take(6)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        format!("{} of subscription …{tail}", self.kind.noun())
    }
}

/// An answer's news about a bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Answer {
    /// Answered; Azure said this much remains (when it said).
    Counted(Option<f64>),
    /// 429: nothing remains; try again after this long.
    Throttled(Option<Duration>),
    /// No answer (a dropped connection): nothing learnt.
    Lost,
}

/// The smallest stretch of answers a refill estimate is made from: long
/// enough for the server's whole-token rounding to matter little.
const SAMPLE_TOKENS: f64 = 20.0;
const SAMPLE_MAX: Duration = Duration::from_secs(2);
const SAMPLE_MIN: Duration = Duration::from_millis(2);

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    updated: Instant,
    capacity: f64,
    /// Refill per second: Azure's documented figure until answers say better.
    rate: f64,
    /// Whether `rate` was learnt from answers yet.
    learnt: bool,
    nominal_rate: f64,
    /// No token before this (a 429's Retry-After).
    paused_until: Option<Instant>,
    /// Requests sent and not answered yet: Azure's count of what remains
    /// does not know of them.
    in_flight: usize,
    /// The answer a refill estimate starts from: when, what remained, and
    /// the requests answered since.
    sample: Option<(Instant, f64, usize)>,
    /// Waiters, one lane per class of work, each in arrival order with what wakes it.
    lanes: Vec<Lane>,
}

#[derive(Debug)]
struct Lane {
    class: Arc<Class>,
    queue: VecDeque<(u64, Arc<Notify>)>,
}

impl Bucket {
    fn new(kind: OpKind, now: Instant) -> Bucket {
        let (capacity, rate) = kind.limits();
        Bucket {
            tokens: capacity,
            updated: now,
            capacity,
            rate,
            learnt: false,
            nominal_rate: rate,
            paused_until: None,
            in_flight: 0,
            sample: None,
            lanes: Vec::new(),
        }
    }

    /// The waiter that goes first: the front of the lane whose class has the
    /// highest priority now (the earliest front on a tie).
    fn first(&self) -> Option<(u64, &Arc<Notify>)> {
        self.lanes
            .iter()
            .filter_map(|l| {
                l.queue
                    .front()
                    .map(|(seq, n)| (l.class.priority(), *seq, n))
            })
            .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)))
            .map(|(_, seq, n)| (seq, n))
    }

    fn waiters(&self) -> usize {
        self.lanes.iter().map(|l| l.queue.len()).sum()
    }

    fn remove(&mut self, seq: u64) {
        for lane in &mut self.lanes {
            if let Some(i) = lane.queue.iter().position(|(s, _)| *s == seq) {
                lane.queue.remove(i);
            }
        }
        self.lanes.retain(|l| !l.queue.is_empty());
    }

    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + dt * self.rate).min(self.capacity);
        self.updated = now;
    }

    /// How long until a token is there.
    fn wait(&self, now: Instant) -> Duration {
        if let Some(until) = self.paused_until.filter(|u| *u > now) {
            return until - now;
        }
        Duration::from_secs_f64(((1.0 - self.tokens).max(0.0) / self.rate).max(0.0005))
    }

    fn wake_first(&self) {
        if let Some((_, n)) = self.first() {
            n.notify_one();
        }
    }

    /// Learns from what Azure says remains `remaining` at `now`.
    fn learn(&mut self, remaining: f64, now: Instant) {
        // Requests still on their way are not in Azure's count yet.
        #[allow(clippy::cast_precision_loss)]
        let pending = self.in_flight as f64;
        self.capacity = self.capacity.max(remaining + 1.0 + pending);
        self.tokens = (remaining - pending).clamp(0.0, self.capacity);
        self.updated = now;
        // A full bucket refills nothing: no estimate from it.
        let full = remaining + pending + 2.0 >= self.capacity;
        match self.sample {
            Some((since, then, answered)) if !full => {
                let answered = answered + 1;
                let dt = now.saturating_duration_since(since);
                let expected = dt.as_secs_f64() * self.rate;
                #[allow(clippy::cast_precision_loss)]
                let refilled = remaining - then + answered as f64;
                if dt >= SAMPLE_MIN
                    && (expected >= SAMPLE_TOKENS || refilled >= SAMPLE_TOKENS || dt >= SAMPLE_MAX)
                {
                    let seen = (refilled / dt.as_secs_f64().max(1e-6))
                        .clamp(self.nominal_rate / 4.0, self.nominal_rate * 1000.0);
                    self.rate = if self.learnt {
                        self.rate * 0.7 + seen * 0.3
                    } else {
                        seen
                    };
                    self.learnt = true;
                    self.sample = Some((now, remaining, 0));
                } else {
                    self.sample = Some((since, then, answered));
                }
            }
            _ => self.sample = (!full).then_some((now, remaining, 0)),
        }
    }
}

/// What waits in a bucket now, for progress.
#[derive(Debug, Clone, PartialEq)]
pub struct Waiting {
    /// The bucket.
    pub key: BucketKey,
    /// Requests waiting for a token.
    pub waiters: usize,
}

/// All buckets.
#[derive(Debug, Default)]
pub struct Throttle {
    buckets: Mutex<HashMap<BucketKey, Bucket>>,
    seq: std::sync::atomic::AtomicU64,
}

/// Removes a waiter that stops waiting (its request was cancelled).
struct Queued<'a> {
    throttle: &'a Throttle,
    key: &'a BucketKey,
    seq: u64,
    done: bool,
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut buckets = self.throttle.lock();
        if let Some(b) = buckets.get_mut(self.key) {
            b.remove(self.seq);
            b.wake_first();
        }
    }
}

impl Throttle {
    /// Buckets with Azure's documented sizes, until answers say better.
    pub fn new() -> Throttle {
        Throttle::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<BucketKey, Bucket>> {
        self.buckets.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes a token from `key`'s bucket, first waiting behind every waiter
    /// of a class with a higher priority and every earlier one of the same.
    pub async fn acquire(&self, key: &BucketKey, class: &Arc<Class>) {
        let seq = self.seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let notify = Arc::new(Notify::new());
        {
            let now = Instant::now();
            let mut buckets = self.lock();
            let b = buckets
                .entry(key.clone())
                .or_insert_with(|| Bucket::new(key.kind, now));
            match b.lanes.iter_mut().find(|l| Arc::ptr_eq(&l.class, class)) {
                Some(lane) => lane.queue.push_back((seq, notify.clone())),
                None => b.lanes.push(Lane {
                    class: class.clone(),
                    queue: VecDeque::from([(seq, notify.clone())]),
                }),
            }
        }
        let mut queued = Queued {
            throttle: self,
            key,
            seq,
            done: false,
        };
        loop {
            let wait = {
                let now = Instant::now();
                let mut buckets = self.lock();
                let b = buckets
                    .entry(key.clone())
                    .or_insert_with(|| Bucket::new(key.kind, now));
                if b.first().map(|(s, _)| s) == Some(seq) {
                    b.refill(now);
                    let paused = b.paused_until.is_some_and(|u| u > now);
                    if !paused && b.tokens >= 1.0 {
                        b.tokens -= 1.0;
                        b.in_flight += 1;
                        b.paused_until = None;
                        b.remove(seq);
                        b.wake_first();
                        queued.done = true;
                        return;
                    }
                    Some(b.wait(now))
                } else {
                    // Another comes first now (a class was raised while this
                    // one slept): it is the one to watch the clock.
                    b.wake_first();
                    None
                }
            };
            // The first waiter sleeps until a token is due (or news comes);
            // the others until they are woken.
            match wait {
                Some(d) => {
                    tokio::select! {
                        () = tokio::time::sleep(d) => {}
                        () = notify.notified() => {}
                    }
                }
                None => notify.notified().await,
            }
        }
    }

    /// Records the answer to a request that took a token from `key`.
    pub fn finish(&self, key: &BucketKey, answer: Answer) {
        let now = Instant::now();
        let mut buckets = self.lock();
        let Some(b) = buckets.get_mut(key) else {
            return;
        };
        b.in_flight = b.in_flight.saturating_sub(1);
        match answer {
            Answer::Counted(Some(remaining)) => b.learn(remaining, now),
            Answer::Counted(None) | Answer::Lost => {}
            Answer::Throttled(retry_after) => {
                b.refill(now);
                b.tokens = 0.0;
                b.rate = (b.rate / 2.0).max(b.nominal_rate / 4.0);
                b.sample = None;
                let until =
                    now + retry_after.unwrap_or_else(|| Duration::from_secs_f64(1.0 / b.rate));
                b.paused_until = Some(b.paused_until.map_or(until, |u| u.max(until)));
            }
        }
        // What remains may have risen: the first waiter looks again.
        b.wake_first();
    }

    /// The buckets that have requests waiting, most waiting first.
    pub fn waiting(&self) -> Vec<Waiting> {
        let mut out: Vec<Waiting> = self
            .lock()
            .iter()
            .filter(|(_, b)| b.waiters() > 0)
            .map(|(k, b)| Waiting {
                key: k.clone(),
                waiters: b.waiters(),
            })
            .collect();
        out.sort_by(|a, b| b.waiters.cmp(&a.waiters).then(a.key.cmp(&b.key)));
        out
    }

    /// The refill per second a bucket has learnt (`None`: never used).
    #[cfg(test)]
    pub fn rate(&self, key: &BucketKey) -> Option<f64> {
        self.lock().get(key).map(|b| b.rate)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use super::{Answer, BucketKey, OpKind, Throttle};
    use crate::cloud::activity::Class;

    fn key(sub: &str, principal: &str, kind: OpKind) -> BucketKey {
        BucketKey::new(sub, principal, kind)
    }

    fn any() -> Arc<Class> {
        Arc::new(Class::new(0))
    }

    #[tokio::test]
    async fn a_bucket_empties_then_waits_for_the_refill_and_buckets_are_apart() {
        let t = Throttle::new();
        let w = key("s", "p", OpKind::Write);
        for _ in 0..200 {
            t.acquire(&w, &any()).await;
        }
        let started = Instant::now();
        t.acquire(&w, &any()).await;
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(80), "{waited:?}");
        // Other subscriptions, principals and kinds have their own buckets.
        for other in [
            key("other", "p", OpKind::Write),
            key("s", "q", OpKind::Write),
            key("s", "p", OpKind::Read),
        ] {
            let started = Instant::now();
            t.acquire(&other, &any()).await;
            assert!(started.elapsed() < Duration::from_millis(50));
        }
        assert_eq!(key("S", "P", OpKind::Read), key("s", "p", OpKind::Read));
        assert_eq!(
            key("00000000-0000-0000-0000-0000000000b1", "p", OpKind::Write).label(),
            "writes of subscription …0000b1"
        );
    }

    #[tokio::test]
    async fn azures_remaining_header_sets_the_estimate_both_ways() {
        let t = Throttle::new();
        let d = key("s", "p", OpKind::Delete);
        t.acquire(&d, &any()).await;
        t.finish(&d, Answer::Counted(Some(0.0)));
        // Empty now: a request waits.
        let waited = tokio::time::timeout(Duration::from_millis(30), t.acquire(&d, &any())).await;
        assert!(waited.is_err(), "an empty bucket makes a request wait");
        // A server that refilled says so, and requests go on at once.
        t.acquire(&d, &any()).await; // the wait above ends in time
        t.finish(&d, Answer::Counted(Some(150.0)));
        let started = Instant::now();
        t.acquire(&d, &any()).await;
        assert!(started.elapsed() < Duration::from_millis(20));
    }

    #[tokio::test]
    async fn the_refill_is_learnt_from_what_remains_between_answers() {
        let t = Throttle::new();
        let r = key("s", "p", OpKind::Read);
        // The server reports 10 left, then, 0.1 s later and 5 answers on,
        // 100 left: it refilled 95 tokens in 0.1 s, far above 25/s.
        t.acquire(&r, &any()).await;
        t.finish(&r, Answer::Counted(Some(10.0)));
        std::thread::sleep(Duration::from_millis(100));
        for i in 0..5 {
            t.acquire(&r, &any()).await;
            t.finish(&r, Answer::Counted(Some(if i == 4 { 100.0 } else { 10.0 })));
        }
        let learnt = t.rate(&r).expect("used");
        assert!(learnt > 400.0, "learnt {learnt}/s");
        // A 429 halves it and pauses the bucket.
        t.acquire(&r, &any()).await;
        t.finish(&r, Answer::Throttled(Some(Duration::from_millis(60))));
        assert!(t.rate(&r).expect("used") < learnt);
        let started = Instant::now();
        t.acquire(&r, &any()).await;
        assert!(started.elapsed() >= Duration::from_millis(50));
    }

    /// Empties `k`'s bucket, then has each waiter arrive after its delay (ms)
    /// and take a token; `meanwhile` runs while they wait. Who was served
    /// when, and the throttle.
    async fn served(
        k: &BucketKey,
        waiters: Vec<(&'static str, Arc<Class>, u64)>,
        meanwhile: impl std::future::Future<Output = ()>,
    ) -> (Vec<&'static str>, Arc<Throttle>) {
        let t = Arc::new(Throttle::new());
        t.acquire(k, &any()).await;
        t.finish(k, Answer::Counted(Some(0.0)));
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut set = tokio::task::JoinSet::new();
        for (name, class, delay) in waiters {
            let (t, k, order) = (t.clone(), k.clone(), order.clone());
            set.spawn(async move {
                tokio::time::sleep(Duration::from_millis(delay)).await;
                t.acquire(&k, &class).await;
                order.lock().expect("lock").push(name);
                t.finish(&k, Answer::Counted(Some(0.0)));
            });
        }
        meanwhile.await;
        while set.join_next().await.is_some() {}
        let order = order.lock().expect("lock").clone();
        (order, t)
    }

    #[tokio::test]
    async fn waiters_are_served_by_their_class_priority_now_then_arrival() {
        let w = key("s", "p", OpKind::Write);
        let (low, raised, high) = (any(), any(), Arc::new(Class::new(9)));
        let waiters = vec![
            ("low-1", low.clone(), 0),
            ("low-2", low, 5),
            ("raised", raised.clone(), 8),
            ("high", high, 10),
        ];
        // A class raised while its request waits goes ahead of older ones.
        let (order, t) = served(&w, waiters, async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            raised.raise(5);
        })
        .await;
        assert_eq!(order, vec!["high", "raised", "low-1", "low-2"]);
        assert!(t.waiting().is_empty());
    }

    #[tokio::test]
    async fn a_change_under_way_reads_first_then_the_refresh_then_polls() {
        use crate::cloud::activity::{POLLS, READS, READS_SPAN, UNDER_WAY};
        let class = |start: i64, raised: i64| {
            let c = Class::new(start);
            c.raise(raised);
            Arc::new(c)
        };
        // In order of arrival: a poll, the read most of the plan waits on, a
        // detach's class (raised by its 30 s operations), a revoke's read.
        let waiters = vec![
            ("poll", class(POLLS, 0), 0),
            ("refresh", class(READS, READS_SPAN), 3),
            ("detach", class(UNDER_WAY, 30_000), 6),
            ("revoke", class(UNDER_WAY, 0), 9),
        ];
        let (order, _) = served(&key("s", "p", OpKind::Read), waiters, async {}).await;
        assert_eq!(order, vec!["detach", "revoke", "refresh", "poll"]);
    }
}
