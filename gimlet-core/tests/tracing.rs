//! The `gimlet.session` span and its `gimlet.backend` children, seen by a
//! subscriber of this test's own: their fields, their parents, the events
//! inside them, and no secret, id or value in any of it.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use common::browser;
use gimlet_core::adapter::ResponseHeaders;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// A span or event's fields, as name and text.
type FieldList = Vec<(String, String)>;

/// A span: its id, name, parent and fields.
type SeenSpan = (u64, &'static str, Option<u64>, FieldList);

/// What the subscriber saw: spans, events (message, parent span, fields),
/// and the spans entered.
#[derive(Default)]
struct Seen {
    spans: Vec<SeenSpan>,
    events: Vec<(String, Option<u64>, FieldList)>,
    current: Vec<u64>,
}

#[derive(Clone, Default)]
struct Recorder {
    seen: Arc<Mutex<Seen>>,
    next: Arc<AtomicU64>,
}

struct Fields(Vec<(String, String)>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name().to_owned(), value.to_owned()));
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let id = self.next.fetch_add(1, Ordering::SeqCst) + 1;
        let mut fields = Fields(Vec::new());
        span.record(&mut fields);
        let mut seen = self.seen.lock().unwrap();
        let parent = span.parent().map(Id::into_u64).or_else(|| {
            span.is_contextual()
                .then(|| seen.current.last().copied())
                .flatten()
        });
        seen.spans
            .push((id, span.metadata().name(), parent, fields.0));
        Id::from_u64(id)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut fields = Fields(Vec::new());
        values.record(&mut fields);
        let mut seen = self.seen.lock().unwrap();
        if let Some(entry) = seen.spans.iter_mut().find(|s| s.0 == span.into_u64()) {
            entry.3.extend(fields.0);
        }
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields(Vec::new());
        event.record(&mut fields);
        let mut seen = self.seen.lock().unwrap();
        let parent = event.parent().map(Id::into_u64).or_else(|| {
            event
                .is_contextual()
                .then(|| seen.current.last().copied())
                .flatten()
        });
        let message = fields
            .0
            .iter()
            .find(|(k, _)| k == "message")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        seen.events.push((message, parent, fields.0));
    }

    fn enter(&self, span: &Id) {
        self.seen.lock().unwrap().current.push(span.into_u64());
    }

    fn exit(&self, _: &Id) {
        self.seen.lock().unwrap().current.pop();
    }
}

/// A response with no headers, for `finish`.
#[derive(Default)]
struct Response(Vec<(&'static str, String)>);

impl ResponseHeaders for Response {
    fn status(&self) -> u16 {
        200
    }

    fn values(&self, name: &'static str) -> impl Iterator<Item = &str> {
        self.0
            .iter()
            .filter(move |(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    fn remove(&mut self, name: &'static str) {
        self.0.retain(|(n, _)| *n != name);
    }

    fn append(&mut self, name: &'static str, value: String) {
        self.0.push((name, value));
    }
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[tokio::test(flavor = "current_thread")]
async fn the_session_span_carries_status_backend_and_round_trips_and_parents_each_call() {
    let recorder = Recorder::default();
    let _default = tracing::subscriber::set_default(recorder.clone());
    let b = browser(|g| g.clientside_keys(["user_id"]));

    // Request 1 writes; request 2 reads server data, with a tampered copy
    // of the cookie sent first.
    let s = b.open();
    s.insert("user_id", &7).await.unwrap();
    s.insert("cart", "secret-cart-value").await.unwrap();
    let id = s.id().unwrap();
    let mut response = Response::default();
    b.gimlet.finish(&s, &mut response).await.unwrap();
    let cookies: Vec<String> = response
        .values("set-cookie")
        .map(|c| c.split(';').next().unwrap().to_owned())
        .collect();
    let (name, value) = cookies[0].split_once('=').unwrap();
    let flipped = if value.starts_with('A') { 'B' } else { 'A' };
    let tampered = format!("{name}={flipped}{}", &value[1..]);
    let header = format!("{tampered}; {}", cookies.join("; "));
    let s = b.gimlet.open_from_headers([header.as_str()]);
    assert_eq!(
        s.get::<String>("cart").await.unwrap().unwrap(),
        "secret-cart-value"
    );
    b.gimlet.finish(&s, &mut Response::default()).await.unwrap();

    let seen = recorder.seen.lock().unwrap();
    let sessions: Vec<_> = seen
        .spans
        .iter()
        .filter(|s| s.1 == "gimlet.session")
        .collect();
    assert_eq!(sessions.len(), 2, "one span per request");
    for (_, _, _, fields) in &sessions {
        assert_eq!(field(fields, "backend"), Some("memory"));
    }
    let (first, _, _, fields) = sessions[0];
    assert_eq!(field(fields, "activity"), Some("Changed"));
    assert_eq!(field(fields, "round_trips"), Some("1"));
    assert!(field(fields, "backend_ms").is_some());
    let (second, _, _, fields) = sessions[1];
    assert_eq!(field(fields, "activity"), Some("Read"));
    assert_eq!(field(fields, "round_trips"), Some("1"));

    // One backend span per call, under its request's span.
    let calls: Vec<(&str, Option<u64>)> = seen
        .spans
        .iter()
        .filter(|s| s.1 == "gimlet.backend")
        .map(|s| (field(&s.3, "call").unwrap(), s.2))
        .collect();
    assert_eq!(calls, [("commit", Some(*first)), ("load", Some(*second))]);

    // The tampered cookie: a debug event with its reason, in the span.
    let ignored = seen
        .events
        .iter()
        .find(|e| e.0 == "session cookie ignored")
        .unwrap_or_else(|| panic!("no event for the tampered cookie: {:?}", seen.events));
    assert_eq!(ignored.1, Some(*second));
    assert!(field(&ignored.2, "reason").is_some(), "{:?}", ignored.2);
    let finished = seen.events.iter().filter(|e| e.0 == "session finished");
    assert_eq!(finished.count(), 2);

    // No id, cookie or value anywhere.
    let everything = format!(
        "{:?}{:?}",
        seen.spans.iter().map(|s| &s.3).collect::<Vec<_>>(),
        seen.events.iter().map(|e| &e.2).collect::<Vec<_>>()
    );
    for secret in [id.as_str(), value, &value[1..], "secret-cart-value"] {
        assert!(
            !everything.contains(secret),
            "{secret} leaked: {everything}"
        );
    }
}
