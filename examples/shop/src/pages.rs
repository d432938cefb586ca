//! The shop's pages and actions, framework-agnostic.

use gimlet_core::{Error, Key, Placement, Session, SessionId};
use serde::Deserialize;

use crate::devices;
use crate::footer::{self, Ledger, Seen};
use crate::html::{button_form, document, escape};

/// Who is logged in: in the cookie, so the home page needs no backend. In
/// the permanent cookie with "remember me" (it survives a browser
/// restart), in the transient one without (it goes when the browser
/// closes): the login decides, per call.
pub const USER: Key<String> = Key::new("user_id").clientside();
/// Which cart is yours: in the permanent cookie, so that a cart survives a
/// browser restart, logged in or not.
pub const CART_ID: Key<String> = Key::new("cart_id").clientside().permanent();
/// What is in the cart: in the backend, loaded only when shown or changed,
/// with the permanent channel.
pub const CART_ITEMS: Key<Vec<String>> = Key::new("cart_items").permanent();

/// What a page or an action answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// An HTML page.
    Page(String),
    /// `303 See Other` to this location, after a form post.
    Redirect(&'static str),
    /// `403` with this page: the form's CSRF token did not match (the
    /// session it was made for ended, or the page is too old).
    Forbidden(String),
}

/// The products on sale.
pub const PRODUCTS: [&str; 4] = ["gin", "lime", "syrup", "ice"];

/// The login form.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "rocket", derive(rocket::FromForm))]
pub struct Login {
    /// Who logs in (no password: this is a demo of sessions, not of auth).
    pub name: String,
    /// The "remember me" box: sent (as `1`) only when ticked.
    #[serde(default)]
    pub remember: Option<String>,
    /// The CSRF token.
    pub csrf: String,
}

/// The add-to-cart form.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "rocket", derive(rocket::FromForm))]
pub struct AddToCart {
    /// The product.
    pub item: String,
    /// The CSRF token.
    pub csrf: String,
}

/// A form that carries only the CSRF token.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "rocket", derive(rocket::FromForm))]
pub struct Plain {
    /// The CSRF token.
    pub csrf: String,
}

/// `GET /`: who you are, the products, your cart and devices, and the
/// session diagnostics footer.
///
/// The page is one view of the session: the reads that may go to the
/// store come first, and who is signed in is read after them, so that a
/// session found ended halfway (its record gone, or missing from its
/// user's devices) shows as signed out everywhere on the page.
///
/// # Errors
///
/// The session's errors (a backend that is down).
pub async fn home(session: &Session) -> Result<Outcome, Error> {
    let mut ledger = Ledger::default();
    // All three live in the cookie: no backend call (but the check that the
    // session was not ended, once every `revalidate_after`).
    let mut csrf = session.csrf_token().await?;
    let signed_in = session.get(USER).await?;
    let mut notes = session.pop_flash("").await?;
    ledger.step(
        session,
        "user, CSRF token, messages",
        "for the check that this session was not ended",
    );
    // Only a visitor with a cart makes the server-side read.
    let cart_read = session.get(CART_ID).await?.is_some();
    let mut items = None;
    if cart_read {
        items = Some(session.get(CART_ITEMS).await?.unwrap_or_default());
        ledger.step(session, "cart contents", "to load the cart's contents");
    }
    let mut listed = None;
    if let Some(user) = &signed_in {
        listed = Some(devices::list(session, user).await?);
        ledger.step(session, "your devices", "to list your devices");
    }
    // Read again after the store had its say: a session found ended has
    // lost its user.
    let mut user = session.get(USER).await?;
    let unlisted = listed
        .as_ref()
        .is_some_and(|sessions| !sessions.iter().any(|s| s.current));
    if user.is_some() && unlisted {
        // Ended from another device, and not yet heard of here: end it.
        session.logout().await?;
        user = None;
        items = None;
        csrf = session.csrf_token().await?;
    }
    if signed_in.is_some() && user.is_none() {
        notes.push("You were signed out: your session ended on another device.".into());
    }
    let mut main = String::new();
    for note in &notes {
        main += &format!("<p class=note>{}</p>", escape(note));
    }
    let who = match &user {
        Some(user) => format!(
            "<div class=who><span>Signed in as <b>{}</b></span>{}</div>",
            escape(user),
            button_form("/logout", &csrf, "Log out", "quiet")
        ),
        None => {
            main += &sign_in(&csrf);
            String::new()
        }
    };
    main += &products(&csrf);
    if let Some(items) = &items {
        main += &format!(
            "<section class=card><h2>Cart</h2><ul class=cart>{}</ul></section>",
            items
                .iter()
                .map(|i| format!("<li>{}", escape(i)))
                .collect::<String>()
        );
    }
    if let (Some(user), Some(sessions)) = (&user, &listed) {
        main += &devices::card(user, sessions, &csrf);
    }
    let seen = Seen {
        cart_read,
        flashed: !notes.is_empty(),
    };
    let footer = footer::render(session, &ledger, seen).await?;
    Ok(Outcome::Page(document(&who, &main, &footer)))
}

/// The sign-in card: a name, and "remember me".
fn sign_in(csrf: &str) -> String {
    format!(
        "<section class=card><h2>Sign in</h2><form method=post action=/login class=login>\
         <input name=name placeholder=\"your name\" autocomplete=username>\
         <label><input type=checkbox name=remember value=1> Remember me</label>\
         <input type=hidden name=csrf value={csrf}><button>Log in</button></form>\
         <p class=muted>No password: this shop demonstrates sessions, not \
         authentication. Remember me keeps you signed in after the browser \
         closes (for 30 days of inactivity at most); without it, closing the \
         browser signs you out.</p></section>"
    )
}

/// The page a form gets when its CSRF token does not match: the session
/// it was made for has ended (a logout here or on another device, or its
/// lifetime ran out), and the way back.
pub fn expired_form() -> Outcome {
    let main = "<section class=card><h2>This form has expired</h2>\
        <p>It was made for a session that has ended: you were signed out, here or on \
        another device, or the page was open for a long time. Nothing was changed.</p>\
        <p><a class=button href=/>Back to the shop</a></p></section>";
    Outcome::Forbidden(document("", main, ""))
}

fn products(csrf: &str) -> String {
    let mut html = String::from("<section class=card><h2>Products</h2><div class=products>");
    for product in PRODUCTS {
        html += &format!(
            "<div class=product><b>{product}</b><form method=post action=/cart>\
             <input type=hidden name=item value={product}>\
             <input type=hidden name=csrf value={csrf}><button>Add {product}</button>\
             </form></div>"
        );
    }
    html + "</div></section>"
}

/// `POST /login`.
///
/// # Errors
///
/// The session's errors.
pub async fn login(session: &Session, form: &Login) -> Result<Outcome, Error> {
    if !session.verify_csrf(&form.csrf).await? {
        return Ok(expired_form());
    }
    let name = form.name.trim();
    if name.is_empty() {
        session.flash("Tell us your name.").await?;
        return Ok(Outcome::Redirect("/"));
    }
    // New ids (an id fixed before the login is worth nothing after it),
    // and the session is now the user's: "log out everywhere" can end it.
    session.login(name).await?;
    // "Remember me": the user in the permanent cookie, which outlives the
    // browser; otherwise in the transient one, which goes when it closes.
    let remember = form.remember.is_some();
    let place = Placement::new().permanent(remember);
    session.insert_with(USER, &name.to_owned(), place).await?;
    session.flash(format!("Welcome, {name}.")).await?;
    Ok(Outcome::Redirect("/"))
}

/// `POST /cart`.
///
/// # Errors
///
/// The session's errors.
pub async fn add_to_cart(session: &Session, form: &AddToCart) -> Result<Outcome, Error> {
    if !session.verify_csrf(&form.csrf).await? {
        return Ok(expired_form());
    }
    if !PRODUCTS.contains(&form.item.as_str()) {
        session.flash("We do not sell that.").await?;
        return Ok(Outcome::Redirect("/"));
    }
    if session.get(CART_ID).await?.is_none() {
        // A random name, not `session.id()`: that is the permanent
        // channel's id, and reading it would give the browser a permanent
        // cookie it does not need (listed as a second "device").
        let cart_id = SessionId::generate()?.to_string();
        session.insert(CART_ID, &cart_id[..12].to_owned()).await?;
    }
    // Read, append, and write back at the end of the request.
    let item = form.item.clone();
    session
        .update(CART_ITEMS, move |items: &mut Option<Vec<String>>| {
            items.get_or_insert_with(Vec::new).push(item.clone());
        })
        .await?;
    Ok(Outcome::Redirect("/"))
}

/// `POST /logout`.
///
/// # Errors
///
/// The session's errors.
pub async fn logout(session: &Session, form: &Plain) -> Result<Outcome, Error> {
    if !session.verify_csrf(&form.csrf).await? {
        return Ok(expired_form());
    }
    session.logout().await?;
    session.flash("Goodbye.").await?;
    Ok(Outcome::Redirect("/"))
}
