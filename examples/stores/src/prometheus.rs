//! The `/metrics` the examples serve: Gimlet's metrics in Prometheus' text
//! format, through `metrics-exporter-prometheus`.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the Prometheus recorder, once per process. Call it before the
/// first request: Gimlet takes its meters from the recorder installed
/// then. A process that installed another recorder keeps it, and serves
/// an empty page.
pub fn install() {
    HANDLE.get_or_init(|| match PrometheusBuilder::new().install_recorder() {
        Ok(handle) => Some(handle),
        Err(error) => {
            tracing::warn!(%error, "no Prometheus recorder: /metrics stays empty");
            None
        }
    });
}

/// The metrics in Prometheus' text format.
pub fn render() -> String {
    HANDLE
        .get()
        .and_then(Option::as_ref)
        .map(PrometheusHandle::render)
        .unwrap_or_default()
}
