//! The conformance app on actix-web.
//!
//! Run with: `cargo run --release -p gimlet-conformance --bin conformance-actix`

#![allow(clippy::print_stdout)]

use gimlet_conformance::{apps, settings};

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    settings::init_logging();
    let settings = settings::from_env()?;
    let backend = settings::backend(&settings.backend).await?;
    let import = settings.import().await?;
    let gimlet = settings::gimlet(settings.config, backend, import)?;
    // Take traffic once every ending the store logged has been heard.
    gimlet.feed_caught_up(settings::FEED_WAIT).await;
    let listener = std::net::TcpListener::bind(settings.addr)?;
    println!("listening on {}", listener.local_addr()?);
    apps::actix_server(gimlet, listener)?.await?;
    Ok(())
}
