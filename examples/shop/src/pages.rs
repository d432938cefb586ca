//! The shop's pages and actions, framework-agnostic.

use gimlet_core::{Error, Key, Session, SessionId};
use serde::Deserialize;

use crate::devices;
use crate::footer::{self, Ledger, Seen};
use crate::html::{button_form, document, escape};

/// Who is logged in: in the cookie, so the home page needs no backend.
pub const USER: Key<String> = Key::new("user_id").clientside();
/// Which cart is yours: in the cookie too.
pub const CART_ID: Key<String> = Key::new("cart_id").clientside();
/// What is in the cart: in the backend, loaded only when shown or changed.
pub const CART_ITEMS: Key<Vec<String>> = Key::new("cart_items");

/// What a page or an action answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// An HTML page.
    Page(String),
    /// `303 See Other` to this location, after a form post.
    Redirect(&'static str),
    /// `403`: the form's CSRF token did not match.
    Forbidden,
}

/// The products on sale.
pub const PRODUCTS: [&str; 4] = ["gin", "lime", "syrup", "ice"];

/// The login form.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "rocket", derive(rocket::FromForm))]
pub struct Login {
    /// Who logs in (no password: this is a demo of sessions, not of auth).
    pub name: String,
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
/// # Errors
///
/// The session's errors (a backend that is down).
pub async fn home(session: &Session) -> Result<Outcome, Error> {
    let mut ledger = Ledger::default();
    // All three live in the cookie: no backend call (but the check that the
    // session was not ended, once every `revalidate_after`).
    let csrf = session.csrf_token().await?;
    let user = session.get(USER).await?;
    let notes = session.pop_flash("").await?;
    ledger.step(
        session,
        "user, CSRF token, messages",
        "for the check that this session was not ended",
    );
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
            main += &format!(
                "<section class=card><h2>Sign in</h2><form method=post action=/login>\
                 <input name=name placeholder=\"your name\" autocomplete=username>\
                 <input type=hidden name=csrf value={csrf}><button>Log in</button></form>\
                 <p class=muted>No password: this shop demonstrates sessions, not \
                 authentication.</p></section>"
            );
            String::new()
        }
    };
    main += &products(&csrf);
    // Only a visitor with a cart makes the server-side read.
    let cart_read = session.get(CART_ID).await?.is_some();
    if cart_read {
        let items = session.get(CART_ITEMS).await?.unwrap_or_default();
        ledger.step(session, "cart contents", "to load the cart's contents");
        main += &format!(
            "<section class=card><h2>Cart</h2><ul class=cart>{}</ul></section>",
            items
                .iter()
                .map(|i| format!("<li>{}", escape(i)))
                .collect::<String>()
        );
    }
    if let Some(user) = &user {
        main += &devices::card(session, user, &csrf).await?;
        ledger.step(session, "your devices", "to list your devices");
    }
    let seen = Seen {
        cart_read,
        flashed: !notes.is_empty(),
    };
    let footer = footer::render(session, &ledger, seen).await?;
    Ok(Outcome::Page(document(&who, &main, &footer)))
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
        return Ok(Outcome::Forbidden);
    }
    let name = form.name.trim();
    if name.is_empty() {
        session.flash("Tell us your name.").await?;
        return Ok(Outcome::Redirect("/"));
    }
    // The session is now the user's: "log out everywhere" can end it. Like
    // `cycle_id`, it moves the session under new ids, so an id fixed
    // before the login is worth nothing after it.
    session.set_owner(name).await?;
    session.insert(USER, &name.to_owned()).await?;
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
        return Ok(Outcome::Forbidden);
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
    session
        .update(CART_ITEMS, |items: &mut Option<Vec<String>>| {
            items.get_or_insert_with(Vec::new).push(form.item.clone());
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
        return Ok(Outcome::Forbidden);
    }
    session.invalidate()?;
    session.flash("Goodbye.").await?;
    Ok(Outcome::Redirect("/"))
}
