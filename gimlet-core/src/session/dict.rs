//! The rest of the dict API: defaults, taking a value out, set-default,
//! several keys at once, every entry. Each is built on `get` and `insert`, and keeps
//! their I/O rules: a read of a clientside key costs nothing, the first
//! read of a server-side key loads (one round trip for the whole session),
//! a write costs nothing until the commit.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::key::{KeyName, KeyOf};
use crate::{Error, Session};

impl Session {
    /// The value of `key`, or `default` if it is not set. Reads as
    /// [`Session::get`] does.
    ///
    /// # Errors
    ///
    /// As [`Session::get`]: a stored value of another type is an error,
    /// not the default.
    pub async fn get_or<T: DeserializeOwned>(
        &self,
        key: impl KeyOf<T>,
        default: T,
    ) -> Result<T, Error> {
        Ok(self.get(key).await?.unwrap_or(default))
    }

    /// Removes `key` and answers the value it had (Python's `pop`). Unlike
    /// [`Session::remove`], it reads first, so a server-side key costs the
    /// session's load if it is not loaded yet.
    ///
    /// # Errors
    ///
    /// As [`Session::get`] (then nothing is removed), and as
    /// [`Session::remove`].
    ///
    /// # Example
    ///
    /// ```
    /// # use gimlet_core::Gimlet;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), gimlet_core::Error> {
    /// # let gimlet = Gimlet::builder().secret("0123456789abcdef0123456789abcdef").build().unwrap();
    /// let session = gimlet.open_from_headers([]);
    /// session.insert("next", "/cart").await?;
    /// assert_eq!(session.take::<String>("next").await?.as_deref(), Some("/cart"));
    /// assert_eq!(session.take::<String>("next").await?, None);
    /// # Ok(()) }
    /// ```
    pub async fn take<T: DeserializeOwned>(&self, key: impl KeyOf<T>) -> Result<Option<T>, Error> {
        let (name, placement) = (key.key_name(), key.key_placement());
        let value = self.get_from::<T>(name, placement).await?;
        if value.is_some() {
            self.remove(name).await?;
        }
        Ok(value)
    }

    /// The value of `key`; if it is not set, sets it to what `f` makes, and
    /// answers that (Python's `setdefault`). Reads as [`Session::get`]
    /// does; `f` runs only when the key is not set.
    ///
    /// # Errors
    ///
    /// As [`Session::get`] (a stored value of another type is an error,
    /// and nothing is set) and [`Session::insert_with`].
    pub async fn get_or_insert_with<T: Serialize + DeserializeOwned>(
        &self,
        key: impl KeyOf<T>,
        f: impl FnOnce() -> T,
    ) -> Result<T, Error> {
        let (name, placement) = (key.key_name(), key.key_placement());
        if let Some(value) = self.get_from::<T>(name, placement).await? {
            return Ok(value);
        }
        let value = f();
        self.insert_with(name, &value, placement).await?;
        Ok(value)
    }

    /// Sets every pair, each where [`Session::insert`] would (Python's
    /// `update`). No I/O until the commit, which writes them with the
    /// request's other changes.
    ///
    /// # Errors
    ///
    /// The first pair that [`Session::insert`] refuses; the pairs before it
    /// are set, the ones after it are not.
    pub async fn extend<K: KeyName, V: Serialize>(
        &self,
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<(), Error> {
        for (key, value) in pairs {
            self.insert_with(key.key_name(), &value, key.key_placement())
                .await?;
        }
        Ok(())
    }

    /// Every key with its value, sorted by key, each value decoded as a `T`
    /// (Python's `items`). Loads the server data if it is not loaded yet:
    /// one round trip, as [`Session::keys`]. For values of several types,
    /// decode into a dynamic type such as `serde_json::Value`.
    ///
    /// # Errors
    ///
    /// The load's backend error, and [`Error::Decode`] for the first value
    /// that is not a `T`.
    pub async fn entries<T: DeserializeOwned>(&self) -> Result<Vec<(String, T)>, Error> {
        let keys = self.keys().await?;
        let mut entries = Vec::with_capacity(keys.len());
        for key in keys {
            if let Some(value) = self.get::<T>(key.as_str()).await? {
                entries.push((key, value));
            }
        }
        Ok(entries)
    }

    /// Every value, in the order of their sorted keys (Python's `values`).
    ///
    /// # Errors
    ///
    /// As [`Session::entries`].
    pub async fn values<T: DeserializeOwned>(&self) -> Result<Vec<T>, Error> {
        let entries = self.entries::<T>().await?;
        Ok(entries.into_iter().map(|(_, value)| value).collect())
    }

    /// When the session (its permanent channel) was created, as a
    /// [`SystemTime`]: [`Session::created_at`]'s seconds.
    ///
    /// # Errors
    ///
    /// As [`Session::created_at`].
    pub fn created_time(&self) -> Result<SystemTime, Error> {
        Ok(UNIX_EPOCH + Duration::from_secs(self.created_at()?))
    }
}
