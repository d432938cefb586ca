//! The conformance app on Rocket.
//!
//! Run with: `cargo run --release -p gimlet-conformance --bin conformance-rocket`

#![allow(clippy::print_stdout)]

use gimlet_conformance::{apps, settings};
use rocket::fairing::AdHoc;

#[rocket::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    settings::init_logging();
    let settings = settings::from_env()?;
    let backend = settings::backend(&settings.backend).await?;
    let import = settings.import().await?;
    let gimlet = settings::gimlet(settings.config, backend, import)?;
    // Take traffic once every ending the store logged has been heard.
    gimlet.feed_caught_up(settings::FEED_WAIT).await;
    let addr = settings.addr;
    let _ = apps::rocket_app(gimlet, addr)
        .attach(AdHoc::on_liftoff("announce", move |rocket| {
            Box::pin(async move {
                let config = rocket.config();
                println!("listening on {}:{}", config.address, config.port);
            })
        }))
        .launch()
        .await?;
    Ok(())
}
