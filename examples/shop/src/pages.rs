//! The shop's pages and actions, framework-agnostic.

use gimlet_core::{Error, Key, Session};
use serde::Deserialize;

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
#[derive(Debug, Deserialize, rocket::FromForm)]
pub struct Login {
    /// Who logs in (no password: this is a demo of sessions, not of auth).
    pub name: String,
    /// The CSRF token.
    pub csrf: String,
}

/// The add-to-cart form.
#[derive(Debug, Deserialize, rocket::FromForm)]
pub struct AddToCart {
    /// The product.
    pub item: String,
    /// The CSRF token.
    pub csrf: String,
}

/// A form that carries only the CSRF token.
#[derive(Debug, Deserialize, rocket::FromForm)]
pub struct Plain {
    /// The CSRF token.
    pub csrf: String,
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `GET /`: who you are, your cart, and the forms.
///
/// # Errors
///
/// The session's errors (a backend that is down).
pub async fn home(session: &Session) -> Result<Outcome, Error> {
    let csrf = session.csrf_token().await?;
    let user = session.get(USER).await?;
    let notes = session.pop_flash("").await?;
    let mut html = String::from("<!doctype html><title>Gimlet shop</title><h1>Gimlet shop</h1>");
    for note in notes {
        html += &format!("<p><em>{}</em></p>", escape(&note));
    }
    match &user {
        Some(user) => {
            html += &format!(
                "<p>Signed in as <b>{}</b>.</p><form method=post action=/logout>\
                 <input type=hidden name=csrf value={csrf}><button>Log out</button></form>",
                escape(user)
            );
        }
        None => {
            html += &format!(
                "<form method=post action=/login><input name=name placeholder=name>\
                 <input type=hidden name=csrf value={csrf}><button>Log in</button></form>"
            );
        }
    }
    // Only a visitor with a cart makes the server-side read.
    if session.get(CART_ID).await?.is_some() {
        let items = session.get(CART_ITEMS).await?.unwrap_or_default();
        html += &format!(
            "<h2>Cart</h2><ul>{}</ul>",
            items
                .iter()
                .map(|i| format!("<li>{}", escape(i)))
                .collect::<String>()
        );
    }
    html += "<h2>Products</h2>";
    for product in PRODUCTS {
        html += &format!(
            "<form method=post action=/cart><input type=hidden name=item value={product}>\
             <input type=hidden name=csrf value={csrf}><button>Add {product}</button></form>"
        );
    }
    Ok(Outcome::Page(html))
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
    // New ids at login: an id fixed before it is worth nothing after it.
    session.cycle_id().await?;
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
        let cart_id = session.id()?;
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
