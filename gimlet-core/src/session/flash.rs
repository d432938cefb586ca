//! Flash messages: one-shot notes for the next page, in named queues.

use crate::{Error, Session};

/// The key prefix of flash queues, as in the original Gimlet.
pub const FLASH_KEY_PREFIX: &str = "_f_";

fn queue_key(queue: &str) -> String {
    format!("{FLASH_KEY_PREFIX}{queue}")
}

impl Session {
    /// Adds `message` to the default flash queue.
    ///
    /// A queue is an ordinary key (`_f_` followed by the queue's name), so
    /// it goes where the configuration places that key; put `_f_` on the
    /// clientside whitelist to keep flashes in the cookie.
    ///
    /// # Errors
    ///
    /// As [`Session::update`].
    ///
    /// # Example
    ///
    /// ```
    /// # use gimlet_core::Gimlet;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), gimlet_core::Error> {
    /// # let gimlet = Gimlet::builder().secret("0123456789abcdef0123456789abcdef").build().unwrap();
    /// # let session = gimlet.open_from_headers([]);
    /// session.flash("Saved.").await?;
    /// assert_eq!(session.peek_flash("").await?, ["Saved."]);
    /// assert_eq!(session.pop_flash("").await?, ["Saved."]);
    /// assert!(session.pop_flash("").await?.is_empty());
    /// # Ok(()) }
    /// ```
    pub async fn flash(&self, message: impl Into<String>) -> Result<(), Error> {
        self.flash_to("", message, true).await
    }

    /// Adds `message` to `queue`. With `allow_duplicate` false, a message
    /// already queued is not added again.
    ///
    /// # Errors
    ///
    /// As [`Session::update`].
    pub async fn flash_to(
        &self,
        queue: &str,
        message: impl Into<String>,
        allow_duplicate: bool,
    ) -> Result<(), Error> {
        let message = message.into();
        self.update(&queue_key(queue), move |list: &mut Option<Vec<String>>| {
            let list = list.get_or_insert_with(Vec::new);
            if allow_duplicate || !list.contains(&message) {
                list.push(message.clone());
            }
        })
        .await
    }

    /// The messages in `queue`, which stay queued.
    ///
    /// # Errors
    ///
    /// As [`Session::get`].
    pub async fn peek_flash(&self, queue: &str) -> Result<Vec<String>, Error> {
        Ok(self.get(&queue_key(queue)).await?.unwrap_or_default())
    }

    /// The messages in `queue`, which is emptied.
    ///
    /// # Errors
    ///
    /// As [`Session::get`] and [`Session::remove`].
    pub async fn pop_flash(&self, queue: &str) -> Result<Vec<String>, Error> {
        let key = queue_key(queue);
        let messages: Vec<String> = self.get(&key).await?.unwrap_or_default();
        if !messages.is_empty() {
            self.remove(&key).await?;
        }
        Ok(messages)
    }
}
