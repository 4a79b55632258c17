//! Prometheus metrics: requests by route and status, request / queue / inference latency,
//! batch sizes and tokens, and the queues' sizes, rendered in the text exposition format.

use crate::queue::BatchObserver;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// A cumulative histogram over fixed upper bounds.
#[derive(Debug)]
struct Histogram {
    bounds: &'static [f64],
    state: Mutex<(Vec<u64>, f64, u64)>,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            state: Mutex::new((vec![0; bounds.len()], 0.0, 0)),
        }
    }

    fn observe(&self, value: f64) {
        let mut s = self.state.lock().expect("metrics lock");
        for (count, bound) in s.0.iter_mut().zip(self.bounds) {
            if value <= *bound {
                *count += 1;
            }
        }
        s.1 += value;
        s.2 += 1;
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let s = self.state.lock().expect("metrics lock");
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (count, bound) in s.0.iter().zip(self.bounds) {
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {count}");
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", s.2);
        let _ = writeln!(out, "{name}_sum {}\n{name}_count {}", s.1, s.2);
    }
}

const SECONDS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
const COUNTS: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
];
const TOKENS: &[f64] = &[
    16.0, 64.0, 256.0, 1024.0, 2048.0, 4096.0, 8192.0, 16384.0, 32768.0,
];

/// The server's metrics.
#[derive(Debug)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    request_seconds: Histogram,
    queue_seconds: Histogram,
    inference_seconds: Histogram,
    batch_requests: Histogram,
    batch_rows: Histogram,
    batch_tokens: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            requests: Mutex::default(),
            request_seconds: Histogram::new(SECONDS),
            queue_seconds: Histogram::new(SECONDS),
            inference_seconds: Histogram::new(SECONDS),
            batch_requests: Histogram::new(COUNTS),
            batch_rows: Histogram::new(COUNTS),
            batch_tokens: Histogram::new(TOKENS),
        }
    }
}

impl Metrics {
    /// One answered request.
    pub fn request(&self, route: &str, status: u16, elapsed: Duration) {
        *self
            .requests
            .lock()
            .expect("metrics lock")
            .entry((route.to_owned(), status))
            .or_default() += 1;
        self.request_seconds.observe(elapsed.as_secs_f64());
    }

    /// One request's wait in a queue.
    pub fn queued(&self, wait: Duration) {
        self.queue_seconds.observe(wait.as_secs_f64());
    }

    /// Requests answered so far on `route` with `status`.
    pub fn count(&self, route: &str, status: u16) -> u64 {
        self.requests
            .lock()
            .expect("metrics lock")
            .get(&(route.to_owned(), status))
            .copied()
            .unwrap_or(0)
    }

    /// The text exposition format, with the queues' current sizes (`queue` label: which model).
    pub fn render(&self, queues: &[(&str, usize)]) -> String {
        let mut out = String::new();
        out.push_str("# HELP retune_requests_total Requests answered, by route and status.\n");
        out.push_str("# TYPE retune_requests_total counter\n");
        for ((route, status), n) in self.requests.lock().expect("metrics lock").iter() {
            let _ = writeln!(
                out,
                "retune_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str("# HELP retune_queue_size Requests waiting for a batch.\n");
        out.push_str("# TYPE retune_queue_size gauge\n");
        for (name, depth) in queues {
            let _ = writeln!(out, "retune_queue_size{{queue=\"{name}\"}} {depth}");
        }
        let histograms = [
            (
                &self.request_seconds,
                "retune_request_duration_seconds",
                "Time from request to answer.",
            ),
            (
                &self.queue_seconds,
                "retune_queue_duration_seconds",
                "Time a request waited for its batch.",
            ),
            (
                &self.inference_seconds,
                "retune_inference_duration_seconds",
                "Time one batch ran on the engine.",
            ),
            (
                &self.batch_requests,
                "retune_batch_requests",
                "Requests packed into one batch.",
            ),
            (
                &self.batch_rows,
                "retune_batch_size",
                "Texts or pairs in one batch.",
            ),
            (
                &self.batch_tokens,
                "retune_batch_tokens",
                "Real tokens in one batch.",
            ),
        ];
        for (h, name, help) in histograms {
            h.render(&mut out, name, help);
        }
        out
    }
}

impl BatchObserver for Metrics {
    fn batch(&self, requests: usize, rows: usize, tokens: usize, inference: Duration) {
        self.batch_requests.observe(requests as f64);
        self.batch_rows.observe(rows as f64);
        self.batch_tokens.observe(tokens as f64);
        self.inference_seconds.observe(inference.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_gauges_and_cumulative_buckets() {
        let m = Metrics::default();
        m.request("/embed", 200, Duration::from_millis(3));
        m.request("/embed", 200, Duration::from_millis(30));
        m.request("/embed", 422, Duration::from_millis(1));
        m.batch(2, 5, 100, Duration::from_millis(20));
        let text = m.render(&[("embed", 3)]);
        assert!(
            text.contains("retune_requests_total{route=\"/embed\",status=\"200\"} 2"),
            "{text}"
        );
        assert!(text.contains("retune_requests_total{route=\"/embed\",status=\"422\"} 1"));
        assert!(text.contains("retune_queue_size{queue=\"embed\"} 3"));
        assert!(
            text.contains("retune_request_duration_seconds_bucket{le=\"0.005\"} 2"),
            "{text}"
        );
        assert!(text.contains("retune_request_duration_seconds_bucket{le=\"+Inf\"} 3"));
        assert!(text.contains("retune_batch_tokens_bucket{le=\"64\"} 0"));
        assert!(text.contains("retune_batch_tokens_bucket{le=\"256\"} 1"));
        assert_eq!(m.count("/embed", 200), 2);
    }
}
