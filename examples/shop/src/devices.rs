//! "Your devices", and logging out of them: every session of the signed-in
//! user, as the owner index lists them (`Gimlet::sessions_of`), ended from
//! any one of them (`Session::logout_everywhere`,
//! `Session::logout_other_devices`).

use gimlet_core::{Error, OwnedSession, Session};

use crate::html::{button_form, escape};
use crate::pages::{Outcome, Plain, USER};
use crate::when;

/// Every session of `user`, this one marked `current`.
///
/// # Errors
///
/// The backend's error (one call, to the owner index).
pub async fn list(session: &Session, user: &str) -> Result<Vec<OwnedSession>, Error> {
    session.gimlet().sessions_of(user, Some(session)).await
}

/// The "your devices" card for `user`'s `sessions`, with its two buttons.
pub fn card(user: &str, sessions: &[OwnedSession], csrf: &str) -> String {
    let now = when::now();
    let mut html = format!(
        "<section class=card id=devices><h2>Your devices</h2>\
         <p class=muted>Every session signed in as <b>{}</b>: {} in all.</p>\
         <div class=scroll><table><tr><th>Session</th><th>Cookie</th><th>Signed in</th>\
         <th>Last active</th><th>Ends</th></tr>",
        escape(user),
        sessions.len()
    );
    for listed in sessions {
        html += &row(listed, now);
    }
    html += "</table></div><div class=actions>";
    if sessions.iter().any(|s| !s.current) {
        html += &button_form("/logout-others", csrf, "Log out other devices", "quiet");
    }
    html += &button_form("/logout-everywhere", csrf, "Log out everywhere", "danger");
    html += "</div></section>";
    html
}

/// One session's row. "Last active" is as fine as the record's renewals:
/// a record renews when written, or once half its lifetime is gone.
fn row(listed: &OwnedSession, now: u64) -> String {
    let badge = if listed.current {
        "<span class=badge>this browser</span>"
    } else {
        ""
    };
    let kind = if listed.permanent {
        "permanent"
    } else {
        "transient"
    };
    format!(
        "<tr class=device><td><code>{}</code>{badge}</td><td>{kind}</td>\
         <td>{}</td><td>{}</td><td>{}</td></tr>",
        escape(&listed.name),
        when::time(listed.created, now),
        when::time(listed.last_seen, now),
        when::time(listed.expires_at, now)
    )
}

/// `POST /logout-everywhere`: ends every session of the signed-in user,
/// this one included.
///
/// # Errors
///
/// The session's and the backend's errors.
pub async fn logout_everywhere(session: &Session, form: &Plain) -> Result<Outcome, Error> {
    end_sessions(session, form, true).await
}

/// `POST /logout-others`: ends every session of the signed-in user but
/// this one.
///
/// # Errors
///
/// The session's and the backend's errors.
pub async fn logout_others(session: &Session, form: &Plain) -> Result<Outcome, Error> {
    end_sessions(session, form, false).await
}

async fn end_sessions(session: &Session, form: &Plain, this_one: bool) -> Result<Outcome, Error> {
    if !session.verify_csrf(&form.csrf).await? {
        return Ok(crate::pages::expired_form());
    }
    let Some(user) = session.get(USER).await? else {
        return Ok(Outcome::Redirect("/"));
    };
    // This session counts among the ended when it goes too.
    let ended = if this_one {
        session.logout_everywhere(&user).await? + 1
    } else {
        session.logout_other_devices(&user).await?
    };
    let plural = if ended == 1 { "session" } else { "sessions" };
    let note = if this_one {
        format!("Logged out everywhere: {ended} {plural} ended.")
    } else {
        format!("Logged out {ended} other {plural}.")
    };
    // After a logout, this write starts a new, anonymous session.
    session.flash(note).await?;
    Ok(Outcome::Redirect("/"))
}
