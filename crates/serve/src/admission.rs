//! Admission control: at most `max_in_flight` requests are worked on at once, at most
//! `max_queue` more wait their turn (first come, first served), and any request beyond those
//! is answered 503 at once, with `Retry-After`, instead of joining a queue whose wait would
//! grow without bound. `/health`, `/ready` and `/metrics` are never queued, so a service
//! under more load than it can answer still says so.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use crate::error::ApiError;

/// Routes answered whatever the load: the probes and the metrics.
const NEVER_QUEUED: [&str; 3] = ["/health", "/ready", "/metrics"];

/// Seconds a refused client is told to wait before trying again.
pub const RETRY_AFTER_SECONDS: u64 = 1;

/// The requests being worked on and those waiting.
#[derive(Debug)]
pub struct Admission {
    /// One permit per request worked on at once; waiters are served in order.
    working: Arc<Semaphore>,
    /// Requests admitted: working or waiting.
    admitted: AtomicUsize,
    max_in_flight: usize,
    max_queue: usize,
    /// Requests refused since the start.
    refused: AtomicU64,
}

/// A request admitted: it holds its place until dropped.
#[derive(Debug)]
pub struct Ticket<'a> {
    admission: &'a Admission,
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        self.admission.admitted.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Admission {
    /// At most `max_in_flight` requests at once (at least one), `max_queue` waiting.
    pub fn new(max_in_flight: usize, max_queue: usize) -> Admission {
        let max_in_flight = max_in_flight.max(1);
        Admission {
            working: Arc::new(Semaphore::new(max_in_flight)),
            admitted: AtomicUsize::new(0),
            max_in_flight,
            max_queue,
            refused: AtomicU64::new(0),
        }
    }

    /// A place for one more request, or `None` when every place to work and to wait is taken
    /// (the refusal is counted).
    pub fn try_admit(&self) -> Option<Ticket<'_>> {
        let limit = self.max_in_flight + self.max_queue;
        let admitted =
            self.admitted.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < limit).then_some(n + 1));
        match admitted {
            Ok(_) => Some(Ticket { admission: self }),
            Err(_) => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// Requests being worked on now.
    pub fn in_flight(&self) -> usize {
        self.max_in_flight - self.working.available_permits()
    }

    /// Requests waiting now.
    pub fn queued(&self) -> usize {
        self.admitted.load(Ordering::Acquire).saturating_sub(self.in_flight())
    }

    /// Requests refused since the start.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// The limits: requests at once, and waiting.
    pub fn limits(&self) -> (usize, usize) {
        (self.max_in_flight, self.max_queue)
    }
}

/// The middleware: admits the request, waits for its turn, and runs it; or refuses it at
/// once with 503 and `Retry-After`.
pub async fn admit(State(admission): State<Arc<Admission>>, request: Request, next: Next) -> Response {
    if NEVER_QUEUED.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    let Some(_ticket) = admission.try_admit() else {
        let (at_once, waiting) = admission.limits();
        let mut response = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            format!(
                "the service is answering as many requests as it can ({at_once} at once, {waiting} waiting): \
                 retry after {RETRY_AFTER_SECONDS} s"
            ),
        )
        .into_response();
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
        return response;
    };
    // The semaphore is never closed, so waiting for a permit cannot fail.
    let Ok(_permit) = admission.working.acquire().await else {
        return ApiError::internal().into_response();
    };
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_taken_up_to_the_limits_and_given_back() {
        let a = Admission::new(2, 1);
        let tickets: Vec<_> = (0..3).map(|_| a.try_admit().expect("a place")).collect();
        assert!(a.try_admit().is_none());
        assert!(a.try_admit().is_none());
        assert_eq!(a.refused(), 2);
        drop(tickets);
        assert!(a.try_admit().is_some());
        assert_eq!((a.in_flight(), a.queued(), a.limits()), (0, 0, (2, 1)));
        // No queue: only the requests worked on at once.
        let a = Admission::new(0, 0);
        let t = a.try_admit().expect("one at least");
        assert!(a.try_admit().is_none());
        drop(t);
        assert!(a.try_admit().is_some());
    }
}
