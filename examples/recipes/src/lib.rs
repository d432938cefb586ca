//! Recipes: what every app does with its sessions, each written once here
//! as the session calls it takes, and served by a small app on each
//! framework ([`on_axum`], [`on_actix`], [`on_rocket`]) whose routes are the glue.
//! `tests/recipes.rs` drives the three apps over real HTTP.
//!
//! | recipe | here | on each framework |
//! |---|---|---|
//! | login with "remember me" | [`log_in`] | `POST /login` |
//! | logout, log out everywhere | [`log_out`], [`log_out_everywhere`] | `POST /logout`, `POST /logout-everywhere` |
//! | a current-user extractor, a guard for protected routes | [`current_user`] | `CurrentUser`; `GET /me`, `GET /account` |
//! | flash after a redirect | [`log_in`], [`page`] | the `303` after `POST /login`, then `GET /` |
//! | CSRF in a form | [`page`], [`form_is_ours`] | every `POST` |
//! | data that survives a browser restart | [`CART`], [`add_to_cart`] | `POST /cart`, `GET /cart` |

use gimlet_core::{Error, Gimlet, Key, MemoryBackend, Placement, Session};
use serde::Deserialize;

pub mod on_actix;
pub mod on_axum;
pub mod on_rocket;

/// Who is signed in: in the cookie, so reading it costs no round trip. A
/// login puts it in the permanent cookie or the transient one ([`log_in`]).
pub const USER: Key<String> = Key::new("user").clientside();

/// A cart: in the store, with the permanent cookie, so it survives a
/// browser restart (the transient cookie goes when the browser closes).
pub const CART: Key<Vec<String>> = Key::new("cart").permanent();

/// The Gimlet of the recipes: memory as the store, cookies without
/// `Secure` since the tests speak plain HTTP to 127.0.0.1 (an app behind
/// TLS keeps the default), and the two keys declared.
///
/// # Errors
///
/// None with this configuration; the builder's, in general.
pub fn gimlet() -> Result<Gimlet, gimlet_core::ConfigError> {
    Gimlet::builder()
        .secret("the recipes' secret: never in production!")
        .secure(false)
        .backend(MemoryBackend::new())
        .key(USER)
        .key(CART)
        .build()
}

/// The login form: a name, a "remember me" box (sent only when ticked),
/// and the CSRF token.
#[derive(Debug, Deserialize, ::rocket::FromForm)]
pub struct Login {
    /// Who logs in (check their password before [`log_in`]).
    pub name: String,
    /// `Some` when the box was ticked.
    #[serde(default)]
    pub remember: Option<String>,
    /// The form's CSRF token.
    pub csrf: String,
}

/// A form that carries only its CSRF token.
#[derive(Debug, Deserialize, ::rocket::FromForm)]
pub struct Plain {
    /// The form's CSRF token.
    pub csrf: String,
}

/// The add-to-cart form.
#[derive(Debug, Deserialize, ::rocket::FromForm)]
pub struct AddToCart {
    /// What to add.
    pub item: String,
    /// The form's CSRF token.
    pub csrf: String,
}

/// **Login with "remember me".** New ids and the user's index entry
/// (`login`), then who they are, in the permanent cookie if they asked to
/// be remembered (it outlives the browser) or in the transient one (it
/// goes when the browser closes); and a **flash** for the page the
/// redirect leads to.
///
/// # Errors
///
/// The store's.
pub async fn log_in(session: &Session, form: &Login) -> Result<(), Error> {
    session.login(&form.name).await?;
    let remember = Placement::new().permanent(form.remember.is_some());
    session.insert_with(USER, &form.name, remember).await?;
    session.flash(format!("Welcome, {}.", form.name)).await
}

/// **Logout**: this browser's session ends, and every copy of its cookies
/// stops working; the flash goes to the fresh session that follows.
///
/// # Errors
///
/// The store's.
pub async fn log_out(session: &Session) -> Result<(), Error> {
    session.logout().await?;
    session.flash("Goodbye.").await
}

/// **Log out everywhere**: every session of the signed-in user ends, this
/// one included; how many others did.
///
/// # Errors
///
/// The store's.
pub async fn log_out_everywhere(session: &Session) -> Result<u64, Error> {
    let Some(user) = current_user(session).await? else {
        return Ok(0);
    };
    let others = session.logout_everywhere(&user).await?;
    session.flash("Signed out everywhere.").await?;
    Ok(others)
}

/// **The current user**, what each framework's `CurrentUser` extractor
/// reads: from the cookie, no round trip (but the check that the session
/// was not ended, once every `revalidate_after`).
///
/// # Errors
///
/// The store's, for that check.
pub async fn current_user(session: &Session) -> Result<Option<String>, Error> {
    session.get(USER).await
}

/// **CSRF in a form**: whether a posted form's token is this session's.
/// A form that fails it should get a page that says the form expired, with
/// the way back, not a bare error.
///
/// # Errors
///
/// The store's.
pub async fn form_is_ours(session: &Session, token: &str) -> Result<bool, Error> {
    session.verify_csrf(token).await
}

/// **Data that survives a browser restart**: added to [`CART`], which
/// lives with the permanent cookie.
///
/// # Errors
///
/// The store's.
pub async fn add_to_cart(session: &Session, item: &str) -> Result<(), Error> {
    let item = item.to_owned();
    session
        .update(CART, move |cart: &mut Option<Vec<String>>| {
            cart.get_or_insert_with(Vec::new).push(item.clone());
        })
        .await
}

/// The cart, one item a line.
///
/// # Errors
///
/// The store's.
pub async fn cart(session: &Session) -> Result<String, Error> {
    Ok(session.get(CART).await?.unwrap_or_default().join("\n"))
}

/// The home page, as text: the **flash** messages (shown once, after the
/// redirect that follows a form), who is signed in, and the session's
/// **CSRF token** for the forms.
///
/// # Errors
///
/// The store's.
pub async fn page(session: &Session) -> Result<String, Error> {
    let mut page = String::new();
    for note in session.pop_flash("").await? {
        page += &format!("flash: {note}\n");
    }
    match current_user(session).await? {
        Some(user) => page += &format!("signed in as {user}\n"),
        None => page += "signed out\n",
    }
    page += &format!("csrf: {}\n", session.csrf_token().await?);
    Ok(page)
}

/// What a form whose token is not the session's gets: `403`, and the way
/// back.
pub const EXPIRED_FORM: &str =
    "This form has expired: your session ended. Go back to / and try again.";

/// What a protected route answers without a signed-in user: `401`.
pub const SIGN_IN_FIRST: &str = "Sign in first.";
