//! The conformance app: one set of routes (docs/testing.md), served by
//! axum, actix-web and Rocket through their Gimlet adapters.
//!
//! The routes' logic is written once, in [`routes`]; each framework's glue in
//! [`apps`] only forwards the path and the query to it. The three binaries
//! (`conformance-axum`, `conformance-actix`, `conformance-rocket`) read
//! their settings from the environment ([`settings`]).

pub mod apps;
pub mod routes;
pub mod settings;
