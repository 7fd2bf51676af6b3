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
//! accepted for it in the last second, but never less than half the pace before the cut (or,
//! at the first cut, half the rate its requests were sent at). The pace grows by 5 % a second
//! while IAM accepts and calls wait for their turn, and is cut again on the next
//! `Throttling`, at most once a second (answers to calls already in flight carry no new
//! information). A call waiting for its turn holds no in-flight slot, so the other operations
//! carry on.
//!
//! The retry of a throttled call takes a turn in the same pace ([`OperationPace::retry_delay`],
//! applied by the clients' interceptor, [`super::StatsInterceptor`]): retries are calls too,
//! and left to their own backoff they would keep the operation over IAM's rate when many
//! calls are in flight.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use tokio::sync::{Mutex, Semaphore, SemaphorePermit};
use tokio::time::Instant;

/// Share of the last second's accepted rate an operation is paced at after a throttle.
const CUT_FACTOR: f64 = 0.9;
/// A cut keeps at least this share of the pace it replaces.
const MAX_CUT: f64 = 0.5;
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
/// (see [`super::CallStats`]) and consulted before each call.
#[derive(Debug, Default)]
pub struct OperationPace {
    operations: StdMutex<HashMap<String, OpState>>,
}

#[derive(Debug)]
struct OpState {
    /// When the operation's recent answers were accepted (the last [`WINDOW`]).
    accepted: VecDeque<Instant>,
    /// When the operation's recent requests were sent, retries included (the last [`WINDOW`]).
    sent: VecDeque<Instant>,
    /// Calls per second, once IAM has throttled this operation.
    rate: Option<f64>,
    next_slot: Instant,
    last_cut: Instant,
    last_growth: Instant,
    /// When a call last had to wait for its turn: the pace, not the crawl, was the limit.
    last_held: Option<Instant>,
}

impl OpState {
    fn new(now: Instant) -> Self {
        OpState {
            accepted: VecDeque::new(),
            sent: VecDeque::new(),
            rate: None,
            next_slot: now,
            last_cut: now,
            last_growth: now,
            last_held: None,
        }
    }

    fn trim(&mut self, now: Instant) {
        for times in [&mut self.accepted, &mut self.sent] {
            while times
                .front()
                .is_some_and(|t| now.duration_since(*t) > WINDOW)
            {
                times.pop_front();
            }
        }
    }

    /// Calls per second over the last [`WINDOW`].
    fn per_second(times: &VecDeque<Instant>) -> f64 {
        times.len() as f64 / WINDOW.as_secs_f64()
    }
}

impl OperationPace {
    /// Records one request sent for `operation` (a first attempt or a retry).
    pub fn sent(&self, operation: &str, now: Instant) {
        let mut ops = self.operations.lock().expect("pace lock");
        let op = ops
            .entry(operation.to_string())
            .or_insert_with(|| OpState::new(now));
        op.trim(now);
        op.sent.push_back(now);
    }

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
                // Only a pace that holds calls back grows: an operation that sends fewer calls
                // than its pace allows learns nothing about how many more IAM would accept.
                if op
                    .last_held
                    .is_some_and(|t| now.duration_since(t) <= WINDOW)
                {
                    let dt = now.duration_since(op.last_growth).as_secs_f64();
                    *rate *= GROWTH_PER_SEC.powf(dt);
                }
                op.last_growth = now;
            }
            return;
        }
        if op.rate.is_some() && now.duration_since(op.last_cut) < WINDOW {
            return;
        }
        // Accepted answers lag behind throttled ones (IAM answers a refusal without doing
        // the work), so the last second's accepted count can be far below what IAM accepts.
        // A cut therefore never more than halves the pace: the current one, or for an
        // operation not paced yet, the rate its requests were sent at.
        let reference = op.rate.unwrap_or_else(|| OpState::per_second(&op.sent));
        let rate = (OpState::per_second(&op.accepted) * CUT_FACTOR)
            .max(reference * MAX_CUT)
            .max(MIN_RATE);
        tracing::debug!(
            "{operation} throttled: paced at {rate:.1} calls/s (was {})",
            op.rate
                .map_or_else(|| "unpaced".to_string(), |r| format!("{r:.1}/s"))
        );
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
        if slot > now {
            op.last_held = Some(now);
        }
        op.next_slot = slot + Duration::from_secs_f64(1.0 / rate);
        Some(slot)
    }

    /// How long the retry of a throttled call of `operation` waits, when the operation is
    /// paced: until its own turn in the pace (a retry is one more call to the operation), and
    /// at least one interval of the pace, since the service has just refused a call and its
    /// bucket needs that long to hold a token again.
    pub fn retry_delay(&self, operation: &str, now: Instant) -> Option<Duration> {
        let mut ops = self.operations.lock().expect("pace lock");
        let op = ops.get_mut(operation)?;
        let interval = Duration::from_secs_f64(1.0 / op.rate?);
        let slot = op.next_slot.max(now + interval);
        op.last_held = Some(now);
        op.next_slot = slot + interval;
        Some(slot - now)
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
        // Calls wait for their turn, and two seconds of accepted calls: 5 % a second.
        let held = cut + Duration::from_millis(1500);
        pace.next_slot("X", held).unwrap();
        assert!(pace.next_slot("X", held).unwrap() > held);
        pace.record("X", false, cut + Duration::from_secs(2));
        let grown = pace.rate("X").unwrap();
        assert!((grown - 9.0 * 1.05 * 1.05).abs() < 1e-9, "{grown}");
    }

    #[test]
    fn a_pace_that_holds_no_call_back_does_not_grow() {
        let pace = OperationPace::default();
        let t0 = Instant::now();
        for i in 0..10 {
            pace.record("X", false, t0 + Duration::from_millis(i * 50));
        }
        pace.record("X", true, t0 + Duration::from_millis(500));
        // One call every two seconds: far below the pace, never waiting for a turn.
        for i in 1..=5 {
            let t = t0 + Duration::from_secs(2 * i);
            assert_eq!(pace.next_slot("X", t), Some(t));
            pace.record("X", false, t + Duration::from_millis(50));
        }
        assert_eq!(pace.rate("X"), Some(9.0));
    }

    #[test]
    fn a_cut_never_more_than_halves_the_pace() {
        let pace = OperationPace::default();
        let t0 = Instant::now();
        for i in 0..20 {
            pace.record("X", false, t0 + Duration::from_millis(i * 40));
        }
        pace.record("X", true, t0 + Duration::from_millis(800));
        assert_eq!(pace.rate("X"), Some(18.0));
        // Two seconds later only one answer was accepted in the last second (the others
        // are still on their way), then a throttle: half of 18, not 0.9 a second.
        let t1 = t0 + Duration::from_millis(2800);
        pace.record("X", false, t1 - Duration::from_millis(100));
        pace.record("X", true, t1);
        assert_eq!(pace.rate("X"), Some(9.0));
    }

    #[test]
    fn the_first_cut_keeps_half_the_rate_requests_were_sent_at() {
        let pace = OperationPace::default();
        let t0 = Instant::now();
        // 40 requests at once; the refusals come back before any accepted answer.
        for _ in 0..40 {
            pace.sent("X", t0);
        }
        pace.record("X", true, t0 + Duration::from_millis(50));
        assert_eq!(pace.rate("X"), Some(20.0));
    }

    #[test]
    fn a_throttled_retry_waits_for_its_turn_in_the_pace() {
        let pace = OperationPace::default();
        let t0 = Instant::now();
        assert_eq!(pace.retry_delay("X", t0), None, "an unpaced operation");
        for i in 0..10 {
            pace.record("X", false, t0 + Duration::from_millis(i * 10));
        }
        let t1 = t0 + Duration::from_millis(100);
        pace.record("X", true, t1);
        assert_eq!(pace.rate("X"), Some(9.0));
        let interval = Duration::from_secs_f64(1.0 / 9.0);
        // Each retry waits at least one interval, and takes the next free turn.
        assert_eq!(pace.retry_delay("X", t1), Some(interval));
        assert_eq!(pace.retry_delay("X", t1), Some(interval * 2));
        // A new call comes after them.
        assert_eq!(pace.next_slot("X", t1), Some(t1 + interval * 3));
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
