//! The diagnostic footer: what the request that rendered the page did with
//! its session, what that cost, where each key lives, and the cookies.

use gimlet_core::{Activity, CSRF_KEY, Error, FLASH_KEY_PREFIX, Session};

use crate::html::escape;
use crate::pages::{CART_ID, CART_ITEMS, USER};

/// What each part of a page cost, in backend round trips, measured from
/// the session's own count as the page is built.
#[derive(Debug, Default)]
pub struct Ledger {
    steps: Vec<Step>,
    counted: usize,
}

#[derive(Debug)]
struct Step {
    what: &'static str,
    paid_for: &'static str,
    trips: usize,
}

impl Ledger {
    /// Records that the part `what` is done: it cost the round trips made
    /// since the previous part, which, if any, were `paid_for` that.
    pub fn step(&mut self, session: &Session, what: &'static str, paid_for: &'static str) {
        let now = session.status().round_trips;
        self.steps.push(Step {
            what,
            paid_for,
            trips: now - self.counted,
        });
        self.counted = now;
    }
}

/// What the page knows that the footer cannot ask without cost.
#[derive(Debug, Clone, Copy)]
pub struct Seen {
    /// The page read `cart_items` (so the server data is loaded).
    pub cart_read: bool,
    /// The page showed flash messages, and so emptied their key.
    pub flashed: bool,
}

/// The footer, as HTML.
///
/// # Errors
///
/// The session's errors (none for lookups that need no load).
pub async fn render(session: &Session, ledger: &Ledger, seen: Seen) -> Result<String, Error> {
    let before = session.status().round_trips;
    let keys = key_rows(session, seen).await?;
    // The listing above must not cost what it reports: it asks nothing that
    // needs a load the page did not make already.
    let own = session.status().round_trips - before;
    let status = session.status();
    let total = status.round_trips;
    let mut html = String::from("<footer class=diag><div class=wrap><h2>Session diagnostics</h2>");
    html += &format!("<p class=headline>{}</p>", headline(ledger, total));
    html += "<div class=cols><div><h3>This request</h3><table>";
    html += &format!(
        "<tr><th>Activity</th><td><code>{:?}</code>: {}</td></tr>",
        status.activity,
        activity(status.activity)
    );
    html += &format!(
        "<tr><th>Round trips</th><td><code>{total}</code> so far; the commit after \
         this page adds at most one</td></tr>"
    );
    for step in &ledger.steps {
        html += &format!(
            "<tr><td class=sub>{}</td><td><code>{}</code> {}</td></tr>",
            step.what,
            step.trips,
            plural(step.trips, "round trip")
        );
    }
    html += &format!(
        "<tr><td class=sub>this panel's listing</td><td><code>{own}</code> {}</td></tr>",
        plural(own, "round trip")
    );
    html += "</table><h3>Cookies your browser sent</h3><table>";
    // By role: their names (`gimlet-n`, `gimlet-p` by default) are
    // configurable.
    for (what, bytes) in [
        ("transient", status.transient_cookie_bytes),
        ("permanent", status.permanent_cookie_bytes),
    ] {
        let size = match bytes {
            0 => "none".to_owned(),
            n => format!("<code>{n}</code> bytes"),
        };
        html += &format!("<tr><th>{what}</th><td>{size}</td></tr>");
    }
    html += "</table></div><div><h3>Where each key lives</h3><div class=scroll><table>\
             <tr><th>Key</th><th>Holds</th><th>Lives in</th><th>Now</th></tr>";
    html += &keys;
    html += "</table></div><p class=small>The shop's known keys, not <code>keys()</code>: \
             listing every key loads the server data, which would add the round trip \
             this panel is here to show. Cookie keys are answered from the cookie; a \
             backend key only if the page loaded it anyway.</p>";
    html += "</div></div></div></footer>";
    Ok(html)
}

/// The one line a visitor reads: why this page was fast, or what it paid.
fn headline(ledger: &Ledger, total: usize) -> String {
    if total == 0 {
        return "0 backend round trips: everything this page needed was in the signed \
                cookie."
            .into();
    }
    let parts: Vec<String> = ledger
        .steps
        .iter()
        .filter(|step| step.trips > 0)
        .map(|step| format!("{} {}", step.trips, step.paid_for))
        .collect();
    format!(
        "{total} backend {}: {}. Everything else came from the signed cookie.",
        plural(total, "round trip"),
        parts.join(", ")
    )
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        word.to_owned()
    } else {
        format!("{word}s")
    }
}

fn activity(activity: Activity) -> &'static str {
    match activity {
        Activity::Untouched => "the session was not used",
        Activity::Read => "read, changed nothing",
        Activity::Changed => "changed keys; the commit writes them",
        Activity::Renewed => "moved under new ids",
        Activity::Ended => "ended",
        _ => "see gimlet_core::Activity",
    }
}

/// One row per key the shop knows. Why these and not `keys()`: that call
/// loads the server data (one round trip) whenever the session may have
/// some, so on a page that needed only the cookie the footer would make the
/// very cost it reports. Instead it asks about each known key: for keys on
/// the clientside whitelist (`user_id`, `cart_id`, the CSRF token, the
/// flash queue) `contains_key`, `is_clientside` and `is_permanent` answer
/// from the cookie with no I/O (a whitelisted key is never server-side).
/// `cart_items` lives in the backend: it is asked about only if the page
/// loaded it already (then the answers are free too); otherwise the row
/// says where it is declared to live and that this page did not look.
async fn key_rows(session: &Session, seen: Seen) -> Result<String, Error> {
    // The default queue's key: the prefix and the empty queue name.
    let flash = FLASH_KEY_PREFIX.to_owned();
    let known: [(&str, &str, bool); 5] = [
        (USER.name(), "who you are", true),
        (CART_ID.name(), "which cart is yours", true),
        (CART_ITEMS.name(), "what is in the cart", false),
        (CSRF_KEY, "the forms' CSRF token", true),
        (&flash, "messages for the next page", true),
    ];
    let mut html = String::new();
    for (name, holds, whitelisted) in known {
        let (lives, now) = if whitelisted || seen.cart_read {
            if session.contains_key(name).await? {
                let place = if session.is_clientside(name).await? {
                    "cookie"
                } else {
                    "backend"
                };
                let channel = if session.is_permanent(name).await? {
                    "permanent"
                } else {
                    "transient"
                };
                (format!("{place}, {channel}"), "set")
            } else if name == flash && seen.flashed {
                ("cookie".to_owned(), "shown, then emptied")
            } else {
                (declared(whitelisted), "not set")
            }
        } else {
            (declared(whitelisted), "not read by this page")
        };
        html += &format!(
            "<tr><td><code>{}</code></td><td>{holds}</td><td>{lives}</td><td>{now}</td></tr>",
            escape(name)
        );
    }
    Ok(html)
}

fn declared(whitelisted: bool) -> String {
    if whitelisted { "cookie" } else { "backend" }.to_owned()
}
