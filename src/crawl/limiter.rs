//! Bounds on how hard the crawl presses on the API:
//!
//! - at most N calls in flight (`--concurrency`);
//! - optionally at most R calls started per second in all (`--max-rps`), for accounts whose
//!   IAM rate is shared with production automation;
//! - an adaptive pace per API operation ([`OperationPace`]), learnt from IAM's own
//!   `Throttling` answers.
//!
//! IAM throttles each action with its own token bucket, at rates AWS does not publish. One
//! client-wide rate (the SDK's adaptive retry mode) lets throttling on one action slow every
//! other action, so the crawl keeps a pace per operation instead: an operation runs unpaced
//! until IAM first throttles it; from then on its calls start evenly at 90 % of what IAM
//! accepted for it in the last second. The pace grows by 5 % a second while IAM accepts and
//! is cut again on the next `Throttling`, at most once a second (answers to calls already in
//! flight carry no new information). A call waiting for its turn holds no in-flight slot, so
//! the other operations carry on.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use tokio::sync::{Mutex, Semaphore, SemaphorePermit};
use tokio::time::Instant;

/// Share of the last second's accepted rate an operation is paced at after a throttle.
const CUT_FACTOR: f64 = 0.9;
/// Growth of a paced operation's rate per second without throttling.
const GROWTH_PER_SEC: f64 = 1.05;
/// A paced operation never goes slower than this (calls per second).
const MIN_RATE: f64 = 1.0;
/// How far back "accepted in the last second" looks.
const WINDOW: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub struct Limiter {
    in_flight: Semaphore,
    pace: Option<Pace>,
    operations: Arc<OperationPace>,
}

/// Spaces call starts evenly at `interval`, so `--max-rps` is never exceeded in any second.
#[derive(Debug)]
struct Pace {
    interval: Duration,
    next_slot: Mutex<Instant>,
}

impl Limiter {
    pub fn new(concurrency: usize, max_rps: Option<u32>, operations: Arc<OperationPace>) -> Self {
        Limiter {
            in_flight: Semaphore::new(concurrency.max(1)),
            pace: max_rps.filter(|r| *r > 0).map(|rps| Pace {
                interval: Duration::from_secs_f64(1.0 / f64::from(rps)),
                next_slot: Mutex::new(Instant::now()),
            }),
            operations,
        }
    }

    /// Waits for `operation`'s turn and a free slot; the call may start when this returns
    /// and must hold the permit until it completes.
    pub async fn acquire(&self, operation: &str) -> SemaphorePermit<'_> {
        if let Some(slot) = self.operations.next_slot(operation, Instant::now()) {
            tokio::time::sleep_until(slot).await;
        }
        if let Some(pace) = &self.pace {
            let slot = {
                let mut next = pace.next_slot.lock().await;
                let slot = (*next).max(Instant::now());
                *next = slot + pace.interval;
                slot
            };
            tokio::time::sleep_until(slot).await;
        }
        self.in_flight
            .acquire()
            .await
            .expect("the limiter's semaphore is never closed")
    }
}

/// The adaptive pace of each API operation, fed by every answer the clients receive
/// (see [`crate::aws::CallStats`]) and consulted before each call.
#[derive(Debug, Default)]
pub struct OperationPace {
    operations: StdMutex<HashMap<String, OpState>>,
}

#[derive(Debug)]
struct OpState {
    /// When the operation's recent answers were accepted (the last [`WINDOW`]).
    accepted: VecDeque<Instant>,
    /// Calls per second, once IAM has throttled this operation.
    rate: Option<f64>,
    next_slot: Instant,
    last_cut: Instant,
    last_growth: Instant,
}

impl OpState {
    fn new(now: Instant) -> Self {
        OpState {
            accepted: VecDeque::new(),
            rate: None,
            next_slot: now,
            last_cut: now,
            last_growth: now,
        }
    }

    fn trim(&mut self, now: Instant) {
        while self
            .accepted
            .front()
            .is_some_and(|t| now.duration_since(*t) > WINDOW)
        {
            self.accepted.pop_front();
        }
    }
}

impl OperationPace {
    /// Records one answer to `operation`: accepted, or throttled by the service.
    pub fn record(&self, operation: &str, throttled: bool, now: Instant) {
        let mut ops = self.operations.lock().expect("pace lock");
        let op = ops
            .entry(operation.to_string())
            .or_insert_with(|| OpState::new(now));
        op.trim(now);
        if !throttled {
            op.accepted.push_back(now);
            if let Some(rate) = op.rate.as_mut() {
                let dt = now.duration_since(op.last_growth).as_secs_f64();
                *rate *= GROWTH_PER_SEC.powf(dt);
                op.last_growth = now;
            }
            return;
        }
        if op.rate.is_some() && now.duration_since(op.last_cut) < WINDOW {
            return;
        }
        let accepted = op.accepted.len() as f64 / WINDOW.as_secs_f64();
        let rate = (accepted * CUT_FACTOR).max(MIN_RATE);
        op.rate = Some(rate);
        op.last_cut = now;
        op.last_growth = now;
        // Calls already scheduled keep their slots; later ones follow the new pace.
        op.next_slot = op.next_slot.max(now);
    }

    /// When the next call of `operation` may start, or `None` if it is not paced.
    fn next_slot(&self, operation: &str, now: Instant) -> Option<Instant> {
        let mut ops = self.operations.lock().expect("pace lock");
        let op = ops.get_mut(operation)?;
        let rate = op.rate?;
        let slot = op.next_slot.max(now);
        op.next_slot = slot + Duration::from_secs_f64(1.0 / rate);
        Some(slot)
    }

    /// The current pace of `operation` in calls per second, when it is paced.
    pub fn rate(&self, operation: &str) -> Option<f64> {
        let ops = self.operations.lock().expect("pace lock");
        ops.get(operation).and_then(|op| op.rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(concurrency: usize, max_rps: Option<u32>) -> Limiter {
        Limiter::new(concurrency, max_rps, Arc::default())
    }

    #[tokio::test]
    async fn max_rps_spaces_call_starts() {
        let limiter = limiter(8, Some(50));
        let start = Instant::now();
        for _ in 0..5 {
            drop(limiter.acquire("ListUsers").await);
        }
        // Five starts at 50/s: the fifth starts at least 80 ms after the first.
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_millis(80), "{elapsed:?}");
    }

    #[tokio::test]
    async fn concurrency_bounds_permits() {
        let limiter = limiter(2, None);
        let a = limiter.acquire("ListUsers").await;
        let _b = limiter.acquire("ListUsers").await;
        assert_eq!(limiter.in_flight.available_permits(), 0);
        drop(a);
        assert_eq!(limiter.in_flight.available_permits(), 1);
    }

    #[test]
    fn an_operation_is_unpaced_until_throttled() {
        let pace = OperationPace::default();
        let t0 = Instant::now();
        for i in 0..50 {
            pace.record("ListAccessKeys", false, t0 + Duration::from_millis(i * 10));
        }
        assert_eq!(pace.rate("ListAccessKeys"), None);
        assert_eq!(pace.next_slot("ListAccessKeys", t0), None);
    }

    #[test]
    fn a_throttle_paces_that_operation_at_ninety_percent_of_what_was_accepted() {
        let pace = OperationPace::default();
        let t0 = Instant::now();
        // 20 accepted within the last second, then a throttle.
        for i in 0..20 {
            pace.record("ListAccessKeys", false, t0 + Duration::from_millis(i * 40));
        }
        let t1 = t0 + Duration::from_millis(800);
        pace.record("ListAccessKeys", true, t1);
        assert_eq!(pace.rate("ListAccessKeys"), Some(18.0));
        // Another operation is untouched.
        assert_eq!(pace.rate("GetAccessKeyLastUsed"), None);
        // Calls are spaced 1/18 s apart from now on.
        let a = pace.next_slot("ListAccessKeys", t1).unwrap();
        let b = pace.next_slot("ListAccessKeys", t1).unwrap();
        assert_eq!(a, t1);
        assert_eq!(b - a, Duration::from_secs_f64(1.0 / 18.0));
    }

    #[test]
    fn throttles_within_a_second_of_a_cut_change_nothing_and_accepts_grow_the_pace() {
        let pace = OperationPace::default();
        let t0 = Instant::now();
        for i in 0..10 {
            pace.record("X", false, t0 + Duration::from_millis(i * 50));
        }
        let cut = t0 + Duration::from_millis(500);
        pace.record("X", true, cut);
        assert_eq!(pace.rate("X"), Some(9.0));
        // Answers to calls sent before the cut: no second cut.
        pace.record("X", true, cut + Duration::from_millis(300));
        assert_eq!(pace.rate("X"), Some(9.0));
        // Two seconds of accepted calls: 5 % a second.
        pace.record("X", false, cut + Duration::from_secs(2));
        let grown = pace.rate("X").unwrap();
        assert!((grown - 9.0 * 1.05 * 1.05).abs() < 1e-9, "{grown}");
    }

    #[test]
    fn the_pace_never_drops_below_one_call_a_second() {
        let pace = OperationPace::default();
        pace.record("X", true, Instant::now());
        assert_eq!(pace.rate("X"), Some(MIN_RATE));
    }

    #[tokio::test]
    async fn a_paced_call_waits_without_holding_a_slot() {
        let pace = Arc::new(OperationPace::default());
        let limiter = Limiter::new(1, None, pace.clone());
        pace.record("Slow", true, Instant::now());
        drop(limiter.acquire("Slow").await);
        // "Slow" now waits ~1 s for its next turn, but another operation gets the one slot.
        let waiting = limiter.acquire("Slow");
        tokio::pin!(waiting);
        assert!(futures::poll!(&mut waiting).is_pending());
        let other = tokio::time::timeout(Duration::from_millis(200), limiter.acquire("Fast"))
            .await
            .expect("another operation is not held up by a paced one");
        drop(other);
    }
}
