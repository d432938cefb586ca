//! The routes of the realistic workload, the same on every session layer:
//!
//! - `/establish/{n}`: logs user `n` in (its id, clientside with Gimlet)
//!   and gives it a cart of three items (server-side);
//! - `/user`: reads the user id only;
//! - `/cart`: reads the user id and the cart;
//! - `/cart/add/{item}`: adds an item to the cart.

/// The cart every session starts with.
const CART: [&str; 3] = ["gin", "lime", "tonic"];

/// A session layer's error, answered as a 503 with its text.
#[derive(Debug)]
pub(crate) struct Failed(String);

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl axum::response::IntoResponse for Failed {
    fn into_response(self) -> axum::response::Response {
        (axum::http::StatusCode::SERVICE_UNAVAILABLE, self.0).into_response()
    }
}

impl actix_web::ResponseError for Failed {
    fn status_code(&self) -> actix_web::http::StatusCode {
        actix_web::http::StatusCode::SERVICE_UNAVAILABLE
    }
}

/// A handler's answer.
type Reply = Result<String, Failed>;

fn failed(e: impl std::fmt::Display) -> Failed {
    Failed(e.to_string())
}

/// The cart with `item` added.
fn added(cart: Option<Vec<String>>, item: String) -> Vec<String> {
    let mut cart = cart.unwrap_or_default();
    cart.push(item);
    cart
}

fn starting_cart() -> Vec<String> {
    CART.map(str::to_owned).to_vec()
}

/// The cart handlers' work on a Gimlet session, whatever the framework.
mod on_gimlet {
    use super::{Reply, added, failed, starting_cart};
    use gimlet_core::Session;

    pub(super) async fn establish(session: &Session, n: u64) -> Reply {
        session.insert("user_id", &n).await.map_err(failed)?;
        let cart = starting_cart();
        session.insert("cart", &cart).await.map_err(failed)?;
        Ok("ok".into())
    }

    pub(super) async fn user(session: &Session) -> Reply {
        let id: Option<u64> = session.get("user_id").await.map_err(failed)?;
        Ok(id.unwrap_or_default().to_string())
    }

    pub(super) async fn cart(session: &Session) -> Reply {
        let id: Option<u64> = session.get("user_id").await.map_err(failed)?;
        let cart: Option<Vec<String>> = session.get("cart").await.map_err(failed)?;
        Ok(format!(
            "{}: {}",
            id.unwrap_or_default(),
            cart.unwrap_or_default().len()
        ))
    }

    pub(super) async fn add(session: &Session, item: String) -> Reply {
        let cart = session.get("cart").await.map_err(failed)?;
        let cart = added(cart, item);
        session.insert("cart", &cart).await.map_err(failed)?;
        Ok(cart.len().to_string())
    }
}

/// The cart routes on axum with gimlet-axum (the layer is added by the
/// caller).
pub(crate) fn gimlet_axum() -> axum::Router {
    use axum::extract::Path;
    use axum::routing::get;
    use gimlet_axum::Session;

    async fn establish(session: Session, Path(n): Path<u64>) -> Reply {
        on_gimlet::establish(&session, n).await
    }
    async fn user(session: Session) -> Reply {
        on_gimlet::user(&session).await
    }
    async fn cart(session: Session) -> Reply {
        on_gimlet::cart(&session).await
    }
    async fn add(session: Session, Path(item): Path<String>) -> Reply {
        on_gimlet::add(&session, item).await
    }

    axum::Router::new()
        .route("/establish/{n}", get(establish))
        .route("/user", get(user))
        .route("/cart", get(cart))
        .route("/cart/add/{item}", get(add))
}

/// The cart routes on axum with tower-sessions.
pub(crate) fn tower_sessions_axum() -> axum::Router {
    use axum::extract::Path;
    use axum::routing::get;
    use tower_sessions::Session;

    async fn establish(session: Session, Path(n): Path<u64>) -> Reply {
        session.insert("user_id", n).await.map_err(failed)?;
        session
            .insert("cart", starting_cart())
            .await
            .map_err(failed)?;
        Ok("ok".into())
    }
    async fn user(session: Session) -> Reply {
        let id: Option<u64> = session.get("user_id").await.map_err(failed)?;
        Ok(id.unwrap_or_default().to_string())
    }
    async fn cart(session: Session) -> Reply {
        let id: Option<u64> = session.get("user_id").await.map_err(failed)?;
        let cart: Option<Vec<String>> = session.get("cart").await.map_err(failed)?;
        Ok(format!(
            "{}: {}",
            id.unwrap_or_default(),
            cart.unwrap_or_default().len()
        ))
    }
    async fn add(session: Session, Path(item): Path<String>) -> Reply {
        let cart = session.get("cart").await.map_err(failed)?;
        let cart = added(cart, item);
        let len = cart.len();
        session.insert("cart", cart).await.map_err(failed)?;
        Ok(len.to_string())
    }

    axum::Router::new()
        .route("/establish/{n}", get(establish))
        .route("/user", get(user))
        .route("/cart", get(cart))
        .route("/cart/add/{item}", get(add))
}

/// The cart routes on actix-web with gimlet-actix.
pub(crate) fn gimlet_actix(config: &mut actix_web::web::ServiceConfig) {
    use actix_web::web;
    use gimlet_actix::Session;

    async fn establish(session: Session, n: web::Path<u64>) -> Reply {
        on_gimlet::establish(&session, *n).await
    }
    async fn user(session: Session) -> Reply {
        on_gimlet::user(&session).await
    }
    async fn cart(session: Session) -> Reply {
        on_gimlet::cart(&session).await
    }
    async fn add(session: Session, item: web::Path<String>) -> Reply {
        on_gimlet::add(&session, item.into_inner()).await
    }

    config
        .route("/establish/{n}", web::get().to(establish))
        .route("/user", web::get().to(user))
        .route("/cart", web::get().to(cart))
        .route("/cart/add/{item}", web::get().to(add));
}

/// The cart routes on actix-web with actix-session.
pub(crate) fn actix_session(config: &mut actix_web::web::ServiceConfig) {
    use actix_session::Session;
    use actix_web::web;

    async fn establish(session: Session, n: web::Path<u64>) -> Reply {
        session.insert("user_id", *n).map_err(failed)?;
        session.insert("cart", starting_cart()).map_err(failed)?;
        Ok("ok".into())
    }
    async fn user(session: Session) -> Reply {
        let id: Option<u64> = session.get("user_id").map_err(failed)?;
        Ok(id.unwrap_or_default().to_string())
    }
    async fn cart(session: Session) -> Reply {
        let id: Option<u64> = session.get("user_id").map_err(failed)?;
        let cart: Option<Vec<String>> = session.get("cart").map_err(failed)?;
        Ok(format!(
            "{}: {}",
            id.unwrap_or_default(),
            cart.unwrap_or_default().len()
        ))
    }
    async fn add(session: Session, item: web::Path<String>) -> Reply {
        let cart = session.get("cart").map_err(failed)?;
        let cart = added(cart, item.into_inner());
        let len = cart.len();
        session.insert("cart", cart).map_err(failed)?;
        Ok(len.to_string())
    }

    config
        .route("/establish/{n}", web::get().to(establish))
        .route("/user", web::get().to(user))
        .route("/cart", web::get().to(cart))
        .route("/cart/add/{item}", web::get().to(add));
}
