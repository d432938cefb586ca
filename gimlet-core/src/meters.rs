//! What Gimlet tells a [`metrics`] recorder (Prometheus, StatsD and
//! OpenTelemetry exporters plug into that facade): counters of its I/O and
//! of what the I/O found, and histograms of backend call time and cookie
//! sizes, labelled by backend and framework, never by an id, an owner or
//! a key. The handles are made once, at the first request, from the
//! recorder installed then; with none, every update is a no-op.

use std::time::Duration;

use metrics::{Counter, Histogram, counter, histogram};

/// Every meter of one Gimlet.
#[derive(Debug)]
pub(crate) struct Meters {
    /// Backend loads.
    pub(crate) loads: Counter,
    /// Backend commits (a write after the commit included).
    pub(crate) commits: Counter,
    /// Every backend call.
    pub(crate) round_trips: Counter,
    /// Channels that found their record gone and started afresh.
    pub(crate) heals: Counter,
    /// Cookies refused because this app server heard their session had
    /// ended: no I/O.
    pub(crate) revoked_pushed: Counter,
    /// Cookies whose session a load found ended.
    pub(crate) revoked_checked: Counter,
    /// Commits refused because a key an `update` read had changed.
    pub(crate) conflicts: Counter,
    /// Sessions of another library imported.
    pub(crate) imports: Counter,
    /// Another library's cookies that imported nothing: not verified, or
    /// their session missing, expired or unreadable.
    pub(crate) imports_refused: Counter,
    /// Backend call time in seconds: loads, commits, the rest.
    call_seconds: [Histogram; 3],
    /// The bytes of each session cookie set (`name=value`).
    pub(crate) cookie_bytes: Histogram,
}

impl Meters {
    /// The meters of a Gimlet on `backend` serving `framework`, from the
    /// recorder installed now.
    pub(crate) fn new(backend: &'static str, framework: &'static str) -> Self {
        let labels = [("backend", backend), ("framework", framework)];
        let call = |call: &'static str| {
            let labels = [labels[0], labels[1], ("call", call)];
            histogram!("gimlet_backend_call_seconds", &labels)
        };
        Meters {
            loads: counter!("gimlet_loads_total", &labels),
            commits: counter!("gimlet_commits_total", &labels),
            round_trips: counter!("gimlet_round_trips_total", &labels),
            heals: counter!("gimlet_heals_total", &labels),
            revoked_pushed: counter!(
                "gimlet_revoked_cookies_total",
                &[labels[0], labels[1], ("how", "pushed")]
            ),
            revoked_checked: counter!(
                "gimlet_revoked_cookies_total",
                &[labels[0], labels[1], ("how", "checked")]
            ),
            conflicts: counter!("gimlet_update_conflicts_total", &labels),
            imports: counter!(
                "gimlet_imports_total",
                &[labels[0], labels[1], ("outcome", "imported")]
            ),
            imports_refused: counter!(
                "gimlet_imports_total",
                &[labels[0], labels[1], ("outcome", "refused")]
            ),
            call_seconds: [call("load"), call("commit"), call("other")],
            cookie_bytes: histogram!("gimlet_cookie_bytes", &labels),
        }
    }

    /// Records a backend call named `call` that took `took`.
    pub(crate) fn call(&self, call: &str, took: Duration) {
        let histogram = match call {
            "load" => &self.call_seconds[0],
            "commit" => &self.call_seconds[1],
            _ => &self.call_seconds[2],
        };
        histogram.record(took.as_secs_f64());
        self.round_trips.increment(1);
    }
}
