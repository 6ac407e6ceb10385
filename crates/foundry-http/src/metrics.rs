//! Prometheus metrics: requests by route template, method and status, a latency histogram per
//! route, requests in flight, and gauges components add (the database pool).
//!
//! Counters are plain atomics rendered to the text format on `GET /metrics`; recording a
//! request is a route lookup and a few atomic adds. (The `metrics` facade with its Prometheus
//! exporter would hash a key per update and add a dozen crates to the build for the same
//! output.)

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use http::{Method, StatusCode};

/// Upper bounds of the latency buckets, in seconds (Prometheus' defaults).
pub const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A gauge read when metrics are rendered: name, help, and `(labels, value)` samples.
pub type GaugeSource = Box<dyn Fn() -> Gauge + Send + Sync>;

/// One gauge family.
#[derive(Debug, Clone, PartialEq)]
pub struct Gauge {
    /// The metric name.
    pub name: &'static str,
    /// Its help text.
    pub help: &'static str,
    /// Label pairs and values.
    pub samples: Vec<(Vec<(&'static str, String)>, f64)>,
}

#[derive(Default)]
struct RouteSeries {
    /// `(method, status, count)`; a short list scanned under a read lock.
    counts: RwLock<Vec<(Method, u16, AtomicU64)>>,
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

struct RouteTable {
    templates: Vec<String>,
    /// One per template, then one for requests no route matched.
    series: Vec<RouteSeries>,
}

/// The registry of one app.
#[derive(Default)]
pub struct Metrics {
    routes: OnceLock<RouteTable>,
    in_flight: AtomicI64,
    gauges: RwLock<Vec<GaugeSource>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("routes", &self.routes.get().map(|r| r.templates.len()))
            .finish_non_exhaustive()
    }
}

impl Metrics {
    /// Metrics that count nothing until [`Metrics::set_routes`] gives the route templates.
    pub fn new() -> Self {
        Self::default()
    }

    /// The route templates, indexed as the front's route lookup indexes them; requests that
    /// match none count under `route=""`. Only the first call counts.
    pub fn set_routes(&self, templates: Vec<String>) {
        let series = (0..=templates.len())
            .map(|_| RouteSeries::default())
            .collect();
        let _ = self.routes.set(RouteTable { templates, series });
    }

    /// Add a gauge read at render time.
    pub fn add_gauge(&self, source: impl Fn() -> Gauge + Send + Sync + 'static) {
        if let Ok(mut gauges) = self.gauges.write() {
            gauges.push(Box::new(source));
        }
    }

    pub(crate) fn started(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn finished(&self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }

    /// Count a finished request to route `route` (an index into the templates, `None` for no
    /// route).
    pub(crate) fn record(
        &self,
        route: Option<usize>,
        method: &Method,
        status: StatusCode,
        elapsed: Duration,
    ) {
        let Some(table) = self.routes.get() else {
            return;
        };
        let unmatched = table.templates.len();
        let series = &table.series[route.unwrap_or(unmatched).min(unmatched)];
        let status = status.as_u16();
        let counted = series.counts.read().is_ok_and(|counts| {
            counts
                .iter()
                .find(|(m, s, _)| *s == status && m == method)
                .map(|(_, _, n)| n.fetch_add(1, Ordering::Relaxed))
                .is_some()
        });
        if !counted && let Ok(mut counts) = series.counts.write() {
            match counts.iter().find(|(m, s, _)| *s == status && m == method) {
                Some((_, _, n)) => {
                    n.fetch_add(1, Ordering::Relaxed);
                }
                None => counts.push((method.clone(), status, AtomicU64::new(1))),
            }
        }
        let secs = elapsed.as_secs_f64();
        if let Some(bucket) = BUCKETS.iter().position(|b| secs <= *b) {
            series.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        }
        series.count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        series.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        let (templates, all_series) = match self.routes.get() {
            Some(table) => (table.templates.as_slice(), table.series.as_slice()),
            None => (&[][..], &[][..]),
        };
        let route = |i: usize| templates.get(i).map_or("", String::as_str);
        out.push_str(
            "# HELP http_requests_total Requests answered, by route template, method and status.\n",
        );
        out.push_str("# TYPE http_requests_total counter\n");
        for (i, series) in all_series.iter().enumerate() {
            if let Ok(counts) = series.counts.read() {
                for (method, status, n) in counts.iter() {
                    let _ = writeln!(
                        out,
                        "http_requests_total{{route=\"{}\",method=\"{}\",status=\"{status}\"}} {}",
                        escape(route(i)),
                        method,
                        n.load(Ordering::Relaxed)
                    );
                }
            }
        }
        out.push_str(
            "# HELP http_request_duration_seconds Time to the response head, by route template.\n",
        );
        out.push_str("# TYPE http_request_duration_seconds histogram\n");
        for (i, series) in all_series.iter().enumerate() {
            let count = series.count.load(Ordering::Relaxed);
            if count == 0 {
                continue;
            }
            let label = escape(route(i));
            let mut cumulative = 0;
            for (bound, bucket) in BUCKETS.iter().zip(&series.buckets) {
                cumulative += bucket.load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "http_request_duration_seconds_bucket{{route=\"{label}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "http_request_duration_seconds_bucket{{route=\"{label}\",le=\"+Inf\"}} {count}"
            );
            let sum = series.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
            let _ = writeln!(
                out,
                "http_request_duration_seconds_sum{{route=\"{label}\"}} {sum}"
            );
            let _ = writeln!(
                out,
                "http_request_duration_seconds_count{{route=\"{label}\"}} {count}"
            );
        }
        out.push_str("# HELP http_requests_in_flight Requests being answered.\n");
        out.push_str("# TYPE http_requests_in_flight gauge\n");
        let _ = writeln!(
            out,
            "http_requests_in_flight {}",
            self.in_flight.load(Ordering::Relaxed)
        );
        if let Ok(gauges) = self.gauges.read() {
            for source in gauges.iter() {
                let gauge = source();
                let _ = writeln!(out, "# HELP {} {}", gauge.name, gauge.help);
                let _ = writeln!(out, "# TYPE {} gauge", gauge.name);
                for (labels, value) in gauge.samples {
                    let labels: Vec<String> = labels
                        .iter()
                        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
                        .collect();
                    if labels.is_empty() {
                        let _ = writeln!(out, "{} {value}", gauge.name);
                    } else {
                        let _ = writeln!(out, "{}{{{}}} {value}", gauge.name, labels.join(","));
                    }
                }
            }
        }
        out
    }
}

/// Escape a label value (backslash, quote, newline).
fn escape(value: &str) -> std::borrow::Cow<'_, str> {
    if value.contains(['\\', '"', '\n']) {
        value
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
            .into()
    } else {
        value.into()
    }
}

/// The handler behind `GET /metrics`.
pub fn handler(
    metrics: Arc<Metrics>,
) -> impl Fn() -> std::future::Ready<([(http::HeaderName, &'static str); 1], String)> + Clone {
    move || {
        std::future::ready((
            [(
                http::header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            metrics.render(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_histograms_render_in_the_text_format() {
        let m = Metrics::new();
        m.record(
            Some(0),
            &Method::GET,
            StatusCode::OK,
            Duration::from_millis(3),
        );
        m.set_routes(vec!["/posts/{post}".into(), "/".into()]);
        m.started();
        m.started();
        m.finished();
        for _ in 0..3 {
            m.record(
                Some(0),
                &Method::GET,
                StatusCode::OK,
                Duration::from_millis(3),
            );
        }
        m.record(
            Some(0),
            &Method::GET,
            StatusCode::NOT_FOUND,
            Duration::from_millis(30),
        );
        m.record(
            None,
            &Method::POST,
            StatusCode::NOT_FOUND,
            Duration::from_secs(20),
        );
        m.add_gauge(|| Gauge {
            name: "db_pool_connections",
            help: "Connections in the pool.",
            samples: vec![(vec![("state", "idle".to_owned())], 2.0)],
        });
        let text = m.render();
        for line in [
            "http_requests_total{route=\"/posts/{post}\",method=\"GET\",status=\"200\"} 3",
            "http_requests_total{route=\"/posts/{post}\",method=\"GET\",status=\"404\"} 1",
            "http_requests_total{route=\"\",method=\"POST\",status=\"404\"} 1",
            "http_request_duration_seconds_bucket{route=\"/posts/{post}\",le=\"0.005\"} 3",
            "http_request_duration_seconds_bucket{route=\"/posts/{post}\",le=\"0.05\"} 4",
            "http_request_duration_seconds_bucket{route=\"\",le=\"10\"} 0",
            "http_request_duration_seconds_bucket{route=\"\",le=\"+Inf\"} 1",
            "http_request_duration_seconds_count{route=\"/posts/{post}\"} 4",
            "http_requests_in_flight 1",
            "# TYPE db_pool_connections gauge",
            "db_pool_connections{state=\"idle\"} 2",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
        }
        assert!(
            !text.contains("route=\"/\""),
            "routes without requests are left out"
        );
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
