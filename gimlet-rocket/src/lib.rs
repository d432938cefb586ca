#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

use std::io::Cursor;

use gimlet_core::Gimlet;
use gimlet_core::adapter::ResponseHeaders;
use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::{ContentType, Status};
use rocket::request::{FromRequest, Outcome};
use rocket::response::{self, Responder};
use rocket::{Data, Request, Response};

gimlet_core::adapter_types!(
    MissingFairing,
    "gimlet: no session here; attach gimlet_rocket::SessionFairing"
);

/// Opens and commits a session around every request.
#[derive(Debug, Clone)]
pub struct SessionFairing {
    gimlet: Gimlet,
}

impl SessionFairing {
    /// A fairing for sessions configured by `gimlet`.
    pub fn new(gimlet: Gimlet) -> Self {
        SessionFairing {
            gimlet: gimlet.serving("rocket"),
        }
    }
}

/// The request-local slot the session lives in.
struct Slot(Option<gimlet_core::Session>);

#[rocket::async_trait]
impl Fairing for SessionFairing {
    fn info(&self) -> Info {
        Info {
            name: "Gimlet sessions",
            kind: Kind::Request | Kind::Response,
        }
    }

    async fn on_request(&self, req: &mut Request<'_>, _: &mut Data<'_>) {
        let cookies = req.headers().get("Cookie").map(str::as_bytes);
        let headers = req.headers();
        let session = self
            .gimlet
            .open_request(cookies, |name| headers.get_one(name).map(str::as_bytes));
        req.local_cache(|| Slot(Some(session)));
    }

    async fn on_response<'r>(&self, req: &'r Request<'_>, res: &mut Response<'r>) {
        let Slot(Some(session)) = req.local_cache(|| Slot(None)) else {
            return;
        };
        if let Err(failure) = self.gimlet.finish(session, &mut Head(res)).await {
            // A fresh response: none of the handler's headers survive.
            *res = text(failure.reply());
        }
    }
}

/// The handler's response, as the core reads and edits it.
struct Head<'a, 'r>(&'a mut Response<'r>);

impl ResponseHeaders for Head<'_, '_> {
    fn status(&self) -> u16 {
        self.0.status().code
    }

    fn values(&self, name: &'static str) -> impl Iterator<Item = &str> {
        self.0.headers().get(name)
    }

    fn remove(&mut self, name: &'static str) {
        self.0.remove_header(name);
    }

    fn append(&mut self, name: &'static str, value: String) {
        self.0.adjoin_raw_header(name, value);
    }
}

/// A short text response with `status`.
fn text<'r>((status, body): (u16, &'static str)) -> Response<'r> {
    Response::build()
        .status(Status::new(status))
        .header(ContentType::Plain)
        .sized_body(body.len(), Cursor::new(body))
        .finalize()
}

/// Without [`SessionFairing`] attached, the guard fails with a 500 and logs
/// why.
#[rocket::async_trait]
impl<'r> FromRequest<'r> for Session {
    type Error = MissingFairing;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        match req.local_cache(|| Slot(None)) {
            Slot(Some(session)) => Outcome::Success(Session(session.clone())),
            Slot(None) => {
                let (status, _) = MissingFairing.reply();
                Outcome::Error((Status::new(status), MissingFairing))
            }
        }
    }
}

impl<'r> Responder<'r, 'static> for Error {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        Ok(text(self.reply()))
    }
}
