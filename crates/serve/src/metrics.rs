//! The service's Prometheus metrics, kept in memory and written in the text exposition
//! format (version 0.0.4) on `GET /metrics`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds of the latency histogram's buckets, seconds.
pub const BUCKETS: [f64; 14] =
    [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

#[derive(Debug, Default)]
struct Series {
    count: u64,
    sum: f64,
    /// Non-cumulative counts per bucket; the last is `+Inf`.
    buckets: [u64; BUCKETS.len() + 1],
}

/// The counters and histograms the service keeps.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Per (route template, method, status).
    requests: Mutex<BTreeMap<(String, String, u16), Series>>,
    /// Recommendation lists answered (known users and folded-in ones).
    pub recommendations: AtomicU64,
    /// Movies in those lists.
    pub recommended_movies: AtomicU64,
    /// Refreshes that swapped a new model in.
    pub refresh_ok: AtomicU64,
    /// Refreshes that failed (the old model kept serving).
    pub refresh_failed: AtomicU64,
    /// Grid search jobs started.
    pub gridsearch_started: AtomicU64,
    /// Grid search jobs that finished.
    pub gridsearch_succeeded: AtomicU64,
    /// Grid search jobs that failed.
    pub gridsearch_failed: AtomicU64,
}

/// What `/metrics` shows of the requests being answered ([`crate::admission`]).
#[derive(Debug, Default)]
pub struct Load {
    /// Requests being worked on now.
    pub in_flight: usize,
    /// Requests waiting their turn now.
    pub queued: usize,
    /// Requests refused (503) since the start, every place taken.
    pub refused: u64,
    /// The most worked on at once.
    pub max_in_flight: usize,
    /// The most waiting.
    pub max_queue: usize,
}

/// What `/metrics` shows of the model being served.
#[derive(Debug)]
pub struct ModelGauges<'a> {
    /// The data fingerprint the model was trained on.
    pub fingerprint: &'a str,
    /// When the model file was written.
    pub created_at: &'a str,
    /// Where it came from.
    pub source: &'a str,
    /// Seconds since the epoch when it was written.
    pub created_seconds: Option<u64>,
    /// Seconds since the epoch when this service loaded it.
    pub loaded_seconds: u64,
    /// Its age now.
    pub age_seconds: Option<u64>,
    /// The age past which it is stale (the service's setting).
    pub max_age_seconds: u64,
    /// Users and movies it knows.
    pub users: usize,
    /// Movies it knows.
    pub movies: usize,
}

impl Metrics {
    /// Records one answered request.
    pub fn observe(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let bucket = BUCKETS.iter().position(|&b| seconds <= b).unwrap_or(BUCKETS.len());
        let mut map = self.requests.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let series = map.entry((route.to_owned(), method.to_owned(), status)).or_default();
        series.count += 1;
        series.sum += seconds;
        series.buckets[bucket] += 1;
    }

    /// The exposition text.
    pub fn render(
        &self,
        model: Option<&ModelGauges<'_>>,
        load: &Load,
        gridsearch_running: bool,
        started_seconds: u64,
    ) -> String {
        let mut out = String::with_capacity(8192);
        self.render_requests(&mut out);
        self.render_counts(&mut out, load, gridsearch_running);
        render_model(&mut out, model);
        header(&mut out, "process_start_time_seconds", "gauge", "Start time of the process since the Unix epoch.");
        let _ = writeln!(out, "process_start_time_seconds {started_seconds}");
        if let Some(rss) = resident_bytes() {
            header(&mut out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
            let _ = writeln!(out, "process_resident_memory_bytes {rss}");
        }
        out
    }

    /// The requests answered: counts and latency histograms, by route, method and status.
    fn render_requests(&self, out: &mut String) {
        let map = self.requests.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        header(out, "movierec_http_requests_total", "counter", "HTTP requests answered, by route, method and status.");
        for ((route, method, status), s) in map.iter() {
            let _ = writeln!(
                out,
                "movierec_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {}",
                s.count
            );
        }
        header(
            out,
            "movierec_http_request_duration_seconds",
            "histogram",
            "Time to answer an HTTP request, by route, method and status.",
        );
        for ((route, method, status), s) in map.iter() {
            let labels = format!("route=\"{route}\",method=\"{method}\",status=\"{status}\"");
            let mut cumulative = 0;
            for (i, bound) in BUCKETS.iter().enumerate() {
                cumulative += s.buckets[i];
                let _ = writeln!(
                    out,
                    "movierec_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(out, "movierec_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}", s.count);
            let _ = writeln!(out, "movierec_http_request_duration_seconds_sum{{{labels}}} {}", s.sum);
            let _ = writeln!(out, "movierec_http_request_duration_seconds_count{{{labels}}} {}", s.count);
        }
        drop(map);
    }

    /// The load, the counters of recommendations, refreshes and grid search jobs.
    fn render_counts(&self, out: &mut String, load: &Load, gridsearch_running: bool) {
        let counter = |out: &mut String, name: &str, help: &str, v: &AtomicU64| {
            header(out, name, "counter", help);
            let _ = writeln!(out, "{name} {}", v.load(Ordering::Relaxed));
        };
        let gauge = |out: &mut String, name: &str, help: &str, v: usize| {
            header(out, name, "gauge", help);
            let _ = writeln!(out, "{name} {v}");
        };
        gauge(out, "movierec_http_requests_in_flight", "Requests being worked on now.", load.in_flight);
        gauge(out, "movierec_http_requests_queued", "Requests waiting their turn now.", load.queued);
        gauge(out, "movierec_http_max_in_flight", "The most requests worked on at once.", load.max_in_flight);
        gauge(out, "movierec_http_max_queue", "The most requests waiting their turn.", load.max_queue);
        header(
            out,
            "movierec_http_requests_refused_total",
            "counter",
            "Requests answered 503 at once because every place to work and to wait was taken.",
        );
        let _ = writeln!(out, "movierec_http_requests_refused_total {}", load.refused);
        counter(out, "movierec_recommendations_total", "Recommendation lists served.", &self.recommendations);
        counter(out, "movierec_recommended_movies_total", "Movies in the lists served.", &self.recommended_movies);
        header(out, "movierec_refresh_total", "counter", "Model refreshes, by result.");
        let _ =
            writeln!(out, "movierec_refresh_total{{result=\"success\"}} {}", self.refresh_ok.load(Ordering::Relaxed));
        let _ = writeln!(
            out,
            "movierec_refresh_total{{result=\"failure\"}} {}",
            self.refresh_failed.load(Ordering::Relaxed)
        );
        header(out, "movierec_gridsearch_jobs_total", "counter", "Grid search jobs, by result.");
        for (result, v) in [
            ("started", &self.gridsearch_started),
            ("succeeded", &self.gridsearch_succeeded),
            ("failed", &self.gridsearch_failed),
        ] {
            let _ =
                writeln!(out, "movierec_gridsearch_jobs_total{{result=\"{result}\"}} {}", v.load(Ordering::Relaxed));
        }
        header(out, "movierec_gridsearch_running", "gauge", "1 while a grid search job runs.");
        let _ = writeln!(out, "movierec_gridsearch_running {}", u8::from(gridsearch_running));
    }
}

/// The model served: whether one is, and what it is.
fn render_model(out: &mut String, model: Option<&ModelGauges<'_>>) {
    header(out, "movierec_model_loaded", "gauge", "1 when a model is loaded and served.");
    let _ = writeln!(out, "movierec_model_loaded {}", u8::from(model.is_some()));
    if let Some(m) = model {
        header(
            out,
            "movierec_model_info",
            "gauge",
            "The model served: its data fingerprint, creation time and source.",
        );
        let _ = writeln!(
            out,
            "movierec_model_info{{fingerprint=\"{}\",created_at=\"{}\",source=\"{}\"}} 1",
            escape(m.fingerprint),
            escape(m.created_at),
            escape(m.source)
        );
        if let Some(c) = m.created_seconds {
            header(out, "movierec_model_created_timestamp_seconds", "gauge", "When the model file was written.");
            let _ = writeln!(out, "movierec_model_created_timestamp_seconds {c}");
        }
        if let Some(a) = m.age_seconds {
            header(out, "movierec_model_age_seconds", "gauge", "Seconds since the model file was written.");
            let _ = writeln!(out, "movierec_model_age_seconds {a}");
        }
        header(
            out,
            "movierec_model_max_age_seconds",
            "gauge",
            "The age past which the model is stale (serve --max-model-age).",
        );
        let _ = writeln!(out, "movierec_model_max_age_seconds {}", m.max_age_seconds);
        header(out, "movierec_model_loaded_timestamp_seconds", "gauge", "When this service loaded the model.");
        let _ = writeln!(out, "movierec_model_loaded_timestamp_seconds {}", m.loaded_seconds);
        header(out, "movierec_model_users", "gauge", "Users the model knows.");
        let _ = writeln!(out, "movierec_model_users {}", m.users);
        header(out, "movierec_model_movies", "gauge", "Movies the model knows.");
        let _ = writeln!(out, "movierec_model_movies {}", m.movies);
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// A label value with `\`, `"` and newlines escaped.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// The resident set size, from `/proc/self/statm` (Linux).
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative_and_counted() {
        let m = Metrics::default();
        m.observe("/users/{id}", "GET", 200, 0.0002);
        m.observe("/users/{id}", "GET", 200, 0.003);
        m.observe("/users/{id}", "GET", 404, 7.0);
        let text = m.render(None, &Load { refused: 3, ..Load::default() }, false, 1);
        let labels = r#"route="/users/{id}",method="GET",status="200""#;
        assert!(text.contains(&format!("movierec_http_requests_total{{{labels}}} 2\n")), "{text}");
        assert!(text.contains(&format!("movierec_http_request_duration_seconds_bucket{{{labels},le=\"0.0001\"}} 0\n")));
        assert!(
            text.contains(&format!("movierec_http_request_duration_seconds_bucket{{{labels},le=\"0.00025\"}} 1\n"))
        );
        assert!(text.contains(&format!("movierec_http_request_duration_seconds_bucket{{{labels},le=\"0.005\"}} 2\n")));
        assert!(text.contains(&format!("movierec_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} 2\n")));
        let slow = r#"route="/users/{id}",method="GET",status="404""#;
        assert!(text.contains(&format!("movierec_http_request_duration_seconds_bucket{{{slow},le=\"2.5\"}} 0\n")));
        assert!(text.contains(&format!("movierec_http_request_duration_seconds_bucket{{{slow},le=\"+Inf\"}} 1\n")));
        assert!(text.contains("movierec_model_loaded 0\n"));
        assert!(
            text.contains("movierec_http_requests_refused_total 3\n")
                && text.contains("movierec_http_requests_queued 0\n")
        );
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
