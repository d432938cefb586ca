//! The CSRF token: a random value kept in the session, compared in
//! constant time.

use ring::rand::{SecureRandom, SystemRandom};

use crate::{Error, Session};

/// The key the CSRF token is kept under, as in the original Gimlet.
pub const CSRF_KEY: &str = "_csrft_";

fn random_token() -> Result<String, Error> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| Error::Random)?;
    Ok(hex::encode(bytes))
}

impl Session {
    /// The session's CSRF token, created on first use: 64 hex characters
    /// (256 random bits).
    ///
    /// # Errors
    ///
    /// As [`Session::get`] and [`Session::insert`].
    ///
    /// # Example
    ///
    /// ```
    /// # use gimlet_core::Gimlet;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), gimlet_core::Error> {
    /// # let gimlet = Gimlet::builder().secret("0123456789abcdef0123456789abcdef").build().unwrap();
    /// # let session = gimlet.open_from_headers([]);
    /// let token = session.csrf_token().await?;
    /// assert!(session.verify_csrf(&token).await?);
    /// assert!(!session.verify_csrf("forged").await?);
    /// # Ok(()) }
    /// ```
    pub async fn csrf_token(&self) -> Result<String, Error> {
        match self.get::<String>(CSRF_KEY).await {
            Ok(Some(token)) => Ok(token),
            // A value of another type under the key is replaced.
            Ok(None) | Err(Error::Decode { .. }) => self.new_csrf_token().await,
            Err(e) => Err(e),
        }
    }

    /// Replaces the CSRF token with a new one, and returns it.
    ///
    /// # Errors
    ///
    /// As [`Session::insert`], and [`Error::Random`].
    pub async fn new_csrf_token(&self) -> Result<String, Error> {
        let token = random_token()?;
        self.insert(CSRF_KEY, &token).await?;
        Ok(token)
    }

    /// Replaces the token where it lives, if the session has one: after
    /// [`Session::cycle_id`], a token planted before a login is worthless.
    pub(crate) async fn renew_csrf_token(&self) -> Result<(), Error> {
        let token = random_token()?;
        let renewed = self
            .update(CSRF_KEY, move |old: &mut Option<String>| {
                if old.is_some() {
                    *old = Some(token.clone());
                }
            })
            .await;
        match renewed {
            Err(Error::Decode { .. }) => self.remove(CSRF_KEY).await,
            other => other,
        }
    }

    /// Whether `token` is the session's CSRF token, compared in constant
    /// time. A session without a token verifies nothing.
    ///
    /// # Errors
    ///
    /// As [`Session::get`].
    pub async fn verify_csrf(&self, token: &str) -> Result<bool, Error> {
        let expected = match self.get::<String>(CSRF_KEY).await {
            Ok(Some(expected)) => expected,
            Ok(None) | Err(Error::Decode { .. }) => return Ok(false),
            Err(e) => return Err(e),
        };
        let codec = &self.engine().codec;
        Ok(codec.secure_eq(expected.as_bytes(), token.as_bytes()))
    }
}
