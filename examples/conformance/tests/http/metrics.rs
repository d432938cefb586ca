//! The HTTP scenario of `/metrics`. `http.rs` runs it on every framework
//! and backend.

use crate::common::{App, Framework};

/// `/metrics` serves Gimlet's metrics in Prometheus' text format, labelled
/// by backend and framework, and never names a key, a value or an id; it
/// does not touch the session.
pub(crate) async fn metrics_are_served_in_prometheus_text(app: App) {
    let b = app.browser();
    b.ok("/set/secretkey/secretvalue").await;
    let id = b.ok("/id").await;
    let reply = b.get("/metrics").await;
    assert_eq!(reply.status, 200);
    assert!(reply.set_cookies.is_empty(), "{:?}", reply.set_cookies);
    let framework = match app.framework {
        Framework::Axum => "axum",
        Framework::Actix => "actix",
        Framework::Rocket => "rocket",
    };
    let cookies = "gimlet_cookie_bytes_count{backend=\"";
    assert!(reply.body.contains(cookies), "{}", reply.body);
    assert!(
        reply.body.contains(&format!("framework=\"{framework}\"")),
        "{}",
        reply.body
    );
    if app.store.has_backend() {
        let commits = reply
            .body
            .lines()
            .find(|l| {
                l.starts_with("gimlet_commits_total{")
                    && l.contains(&format!("framework=\"{framework}\""))
                    && !l.contains("backend=\"none\"")
            })
            .unwrap_or_else(|| panic!("no commits counted: {}", reply.body));
        let count: f64 = commits.rsplit(' ').next().unwrap().parse().unwrap();
        assert!(count >= 1.0, "{commits}");
    }
    for secret in ["secretkey", "secretvalue", id.as_str()] {
        assert!(!reply.body.contains(secret), "{secret} in {}", reply.body);
    }
}
