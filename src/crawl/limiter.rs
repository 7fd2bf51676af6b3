//! Bounds on how hard the crawl presses on the API: at most N calls in flight, and
//! optionally at most R calls started per second (`--max-rps`), for accounts whose IAM
//! rate is shared with production automation.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, Semaphore, SemaphorePermit};
use tokio::time::Instant;

#[derive(Debug)]
pub struct Limiter {
    in_flight: Semaphore,
    pace: Option<Pace>,
}

/// Spaces call starts evenly at `interval`, so `--max-rps` is never exceeded in any second.
#[derive(Debug)]
struct Pace {
    interval: Duration,
    next_slot: Arc<Mutex<Instant>>,
}

impl Limiter {
    pub fn new(concurrency: usize, max_rps: Option<u32>) -> Self {
        Limiter {
            in_flight: Semaphore::new(concurrency.max(1)),
            pace: max_rps.filter(|r| *r > 0).map(|rps| Pace {
                interval: Duration::from_secs_f64(1.0 / f64::from(rps)),
                next_slot: Arc::new(Mutex::new(Instant::now())),
            }),
        }
    }

    /// Waits for a free slot; the call may start when this returns and must hold the
    /// permit until it completes.
    pub async fn acquire(&self) -> SemaphorePermit<'_> {
        let permit = self
            .in_flight
            .acquire()
            .await
            .expect("the limiter's semaphore is never closed");
        if let Some(pace) = &self.pace {
            let slot = {
                let mut next = pace.next_slot.lock().await;
                let slot = (*next).max(Instant::now());
                *next = slot + pace.interval;
                slot
            };
            tokio::time::sleep_until(slot).await;
        }
        permit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn max_rps_spaces_call_starts() {
        let limiter = Limiter::new(8, Some(50));
        let start = Instant::now();
        for _ in 0..5 {
            drop(limiter.acquire().await);
        }
        // Five starts at 50/s: the fifth starts at least 80 ms after the first.
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_millis(80), "{elapsed:?}");
    }

    #[tokio::test]
    async fn concurrency_bounds_permits() {
        let limiter = Limiter::new(2, None);
        let a = limiter.acquire().await;
        let _b = limiter.acquire().await;
        assert_eq!(limiter.in_flight.available_permits(), 0);
        drop(a);
        assert_eq!(limiter.in_flight.available_permits(), 1);
    }
}
