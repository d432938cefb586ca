//! The owner index as the core sees it: where an owned session's ids are
//! generated, what a store without the index gets, what the cookie and the
//! logs show of an owner, and what the status counts.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use common::{browser, cookie_only};
use gimlet_core::async_trait;
use gimlet_core::backend::{Backend, BackendError, Batch, Owner, Record};
use gimlet_core::cookie::CookieCodec;
use gimlet_core::{Activity, Error, Gimlet, MemoryBackend, Secret, SessionId};

#[tokio::test]
async fn an_owned_session_s_ids_are_in_its_owner_s_group() {
    let mut b = browser(|g| g);
    let s = b.open();
    s.insert("cart", &["gin"]).await.unwrap();
    b.commit(&s).await;
    let s = b.open();
    s.set_owner("ada").await.unwrap();
    let id: SessionId = s.id().unwrap().parse().unwrap();
    let owner = |name| b.gimlet.owner(name);
    assert_eq!(id.group(), owner("ada").group());
    assert_ne!(owner("ada").group(), owner("bob").group());
    assert_eq!(s.status().activity, Activity::Renewed);
    b.commit(&s).await;
    assert_eq!(b.gimlet.sessions_of("ada", None).await.unwrap().len(), 2);
}

/// Fixation through `clear()`: a copy of the cookies taken after a logout
/// that only cleared the session must not read what the next login writes.
#[tokio::test]
async fn a_second_login_as_the_same_owner_moves_the_session_under_new_ids() {
    let mut b = browser(|g| g);
    let s = b.open();
    s.set_owner("ada").await.unwrap();
    b.commit(&s).await;
    let s = b.open();
    s.clear().unwrap();
    b.commit(&s).await;
    let copy = b.header();
    let s = b.open();
    s.set_owner("ada").await.unwrap();
    s.insert("secret", &"after the login").await.unwrap();
    b.commit(&s).await;
    let s = b.gimlet.open_from_headers([copy.as_str()]);
    assert_eq!(s.get::<String>("secret").await.unwrap(), None);
}

#[test]
fn an_owner_shows_as_hex_and_hides_in_debug() {
    let owner = Owner::from_bytes([0xad; 16]);
    let hex = owner.to_string();
    assert_eq!(hex, hex::encode(owner.as_bytes()));
    assert_eq!(hex.len(), 32);
    assert_eq!(Owner::from_bytes(*owner.as_bytes()), owner);
    assert_eq!(owner.group(), [owner.as_bytes()[0], owner.as_bytes()[1]]);
    assert_eq!(format!("{owner:?}"), "Owner(<redacted>)");
}

/// A store of the application's own that keeps no owner index.
#[derive(Debug)]
struct NoIndex(MemoryBackend);

#[async_trait]
impl Backend for NoIndex {
    async fn load(&self, ids: &[SessionId]) -> Result<Vec<Option<Record>>, BackendError> {
        self.0.load(ids).await
    }

    async fn commit(&self, batch: &Batch) -> Result<(), BackendError> {
        self.0.commit(batch).await
    }
}

#[tokio::test]
async fn without_an_index_owners_are_a_usage_error() {
    let without_backend = cookie_only(|g| g);
    let with_a_custom_store = Gimlet::builder()
        .secret(common::SECRET)
        .shared_backend(Arc::new(NoIndex(MemoryBackend::new())))
        .build()
        .unwrap();
    for gimlet in [without_backend, with_a_custom_store] {
        let session = gimlet.open_from_headers([]);
        let refused = session.set_owner("ada").await.unwrap_err();
        assert!(matches!(refused, Error::NoOwnerIndex), "{refused:?}");
        assert_eq!(refused.status_code(), 400);
        let listed = gimlet.sessions_of("ada", None).await.unwrap_err();
        assert!(matches!(listed, Error::NoOwnerIndex), "{listed:?}");
        let ended = gimlet.end_sessions_of("ada", None).await.unwrap_err();
        assert!(matches!(ended, Error::NoOwnerIndex), "{ended:?}");
    }
}

#[tokio::test]
async fn the_cookie_carries_a_digest_never_the_owner() {
    let mut b = browser(|g| g.clientside_keys(["user_id"]));
    let s = b.open();
    s.set_owner("ada-the-owner").await.unwrap();
    s.insert("user_id", &1).await.unwrap();
    b.commit(&s).await;
    let (name, value) = b.jar.iter().next().unwrap();
    let codec = CookieCodec::new(&[Secret::new(common::SECRET)], &[], false).unwrap();
    let payload = codec.decode(name, value).unwrap().to_payload();
    let owner = b.gimlet.owner("ada-the-owner");
    assert_eq!(payload.owner, Some(owner));
    // The signed cookie's bytes hold the payload in the clear: the digest
    // is there, the name nowhere.
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(value)
        .unwrap();
    let holds = |needle: &[u8]| raw.windows(needle.len()).any(|w| w == needle);
    assert!(holds(owner.as_bytes()));
    assert!(!holds(b"ada-the-owner"));
}

/// The digest is keyed by the secret: anyone holding a cookie cannot
/// confirm a guessed user name by hashing it (as with the plain SHA-256
/// the digest once was), and two applications with different secrets
/// digest one name differently.
#[tokio::test]
async fn the_owner_digest_cannot_be_computed_without_the_secret() {
    let b = browser(|g| g);
    let other = browser(|g| g.secret("another secret, thirty-two bytes long"));
    let owner = b.gimlet.owner("ada@example.com");
    assert_ne!(owner, other.gimlet.owner("ada@example.com"));
    let mut unkeyed = ring::digest::Context::new(&ring::digest::SHA256);
    unkeyed.update(b"gimlet owner\0ada@example.com");
    assert_ne!(owner.as_bytes()[..], unkeyed.finish().as_ref()[..16]);
}

/// After a secret rotation (the old secret kept as a previous one), the
/// sessions that logged in before it are still listed and ended.
#[tokio::test]
async fn log_out_everywhere_reaches_sessions_from_before_a_rotation() {
    let backend = Arc::new(MemoryBackend::new());
    let old = "the secret before the rotation, 32+ bytes";
    let new = "the secret after the rotation, 32+ bytes!";
    let before = Gimlet::builder()
        .secret(old)
        .shared_backend(backend.clone())
        .build()
        .unwrap();
    let after = Gimlet::builder()
        .secret(new)
        .previous_secrets([old])
        .shared_backend(backend.clone())
        .build()
        .unwrap();
    for gimlet in [&before, &after] {
        let s = gimlet.open_from_headers([]);
        s.set_owner("ada").await.unwrap();
        gimlet.commit(&s).await.unwrap();
    }
    assert_eq!(after.sessions_of("ada", None).await.unwrap().len(), 2);
    assert_eq!(after.end_sessions_of("ada", None).await.unwrap(), 2);
    assert!(after.sessions_of("ada", None).await.unwrap().is_empty());
}
