//! actix-session's formats (0.11).
//!
//! - With a server-side store, the cookie carries the session key (64
//!   random alphanumerics as it makes them; up to 4,064 bytes as it
//!   accepts them), and `RedisSessionStore` keeps the state under that key.
//! - With `CookieSessionStore`, the cookie carries the state itself.
//! - The state is JSON: an object of key → the JSON text of the value
//!   (`serde_json::to_string` of what the handler inserted).

use std::collections::BTreeMap;

use super::Entries;

/// The longest session key actix-session accepts.
const MAX_KEY_LEN: usize = 4064;

/// Whether `text` can be a session key actix-session made.
pub(crate) fn is_session_key(text: &str) -> bool {
    !text.is_empty() && text.len() <= MAX_KEY_LEN && text.bytes().all(|b| b.is_ascii_graphic())
}

/// The entries of a session state.
pub(crate) fn decode(json: &[u8]) -> Result<Entries, &'static str> {
    let state: BTreeMap<String, String> =
        serde_json::from_slice(json).map_err(|_| "not an actix-session state")?;
    state
        .into_iter()
        .map(|(key, text)| {
            let value = serde_json::from_str(&text).map_err(|_| "a value that is not JSON")?;
            Ok((key, value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_are_json_of_json_texts() {
        let entries = decode(br#"{"user":"\"ana\"","n":"3"}"#).unwrap();
        assert_eq!(
            entries,
            vec![
                ("n".to_owned(), serde_json::json!(3)),
                ("user".to_owned(), serde_json::json!("ana")),
            ]
        );
        assert!(decode(br#"{"user":"ana"}"#).is_err());
        assert!(decode(b"[]").is_err());
    }

    #[test]
    fn session_keys() {
        assert!(is_session_key("abcDEF123"));
        assert!(!is_session_key(""));
        assert!(!is_session_key("a b"));
        assert!(!is_session_key(&"a".repeat(4065)));
    }
}
