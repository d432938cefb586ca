//! Key names: the length limit, and typed keys (a key's name with the type
//! of its value, and where it lives).

use std::fmt;
use std::marker::PhantomData;

use crate::Placement;

/// The longest key, in bytes.
pub const MAX_KEY_LEN: usize = 128;

/// A session key whose value is a `T`: the compiler checks what is stored
/// and read under it.
///
/// It may carry its place, which every call with it then uses (reads look
/// only there); [`GimletBuilder::key`](crate::GimletBuilder::key) puts a
/// clientside or permanent key on the matching whitelist, so the whitelists
/// can be built from the keys an application declares. Strings keep
/// working wherever a `Key` does.
///
/// ```
/// use gimlet_core::{Gimlet, Key};
///
/// const USER_ID: Key<u64> = Key::new("user_id").clientside();
/// const CART: Key<Vec<String>> = Key::new("cart");
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), gimlet_core::Error> {
/// let gimlet = Gimlet::builder()
///     .secret("0123456789abcdef0123456789abcdef")
///     .key(USER_ID)
///     .build()
///     .unwrap();
/// let session = gimlet.open_from_headers([]);
/// session.insert(USER_ID, &42).await?;
/// let id: Option<u64> = session.get(USER_ID).await?;
/// assert_eq!(id, Some(42));
/// assert!(session.is_clientside(USER_ID).await?);
/// // session.insert(USER_ID, "42") does not compile: a `Key<u64>` holds u64s.
/// session.insert(CART, &vec!["gin".to_owned()]).await?;
/// # Ok(()) }
/// ```
pub struct Key<T: ?Sized> {
    name: &'static str,
    placement: Placement,
    value: PhantomData<fn() -> T>,
}

impl<T: ?Sized> Key<T> {
    /// The key `name`, placed by the configuration.
    pub const fn new(name: &'static str) -> Self {
        Key {
            name,
            placement: Placement::new(),
            value: PhantomData,
        }
    }

    /// The key lives in the cookie.
    #[must_use]
    pub const fn clientside(mut self) -> Self {
        self.placement = self.placement.clientside(true);
        self
    }

    /// The key lives in the backend.
    #[must_use]
    pub const fn server_side(mut self) -> Self {
        self.placement = self.placement.clientside(false);
        self
    }

    /// The key lives in the permanent channel.
    #[must_use]
    pub const fn permanent(mut self) -> Self {
        self.placement = self.placement.permanent(true);
        self
    }

    /// The key's name.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// Where the key lives, as far as it says.
    pub const fn placement(&self) -> Placement {
        self.placement
    }
}

impl<T: ?Sized> Clone for Key<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: ?Sized> Copy for Key<T> {}

impl<T: ?Sized> fmt::Debug for Key<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("name", &self.name)
            .field("type", &std::any::type_name::<T>())
            .field("placement", &self.placement)
            .finish()
    }
}

/// What names a key in a session call: a string (`&str`, `&String` …), or
/// a [`Key`], which adds its place.
pub trait KeyName {
    /// The key's name.
    fn key_name(&self) -> &str;

    /// Where the key lives, as far as the key says.
    fn key_placement(&self) -> Placement {
        Placement::new()
    }
}

/// A key whose value is a `T`: any string, or a [`Key<T>`].
pub trait KeyOf<T: ?Sized>: KeyName {}

impl<S: AsRef<str> + ?Sized> KeyName for &S {
    fn key_name(&self) -> &str {
        (**self).as_ref()
    }
}

impl<S: AsRef<str> + ?Sized, T: ?Sized> KeyOf<T> for &S {}

impl<T: ?Sized> KeyName for Key<T> {
    fn key_name(&self) -> &str {
        self.name
    }

    fn key_placement(&self) -> Placement {
        self.placement
    }
}

impl<T: ?Sized> KeyOf<T> for Key<T> {}
