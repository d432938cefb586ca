//! A configured set of key names, asked on every lookup: a sorted list,
//! searched without hashing (a handful of short names compare faster than
//! SipHash runs over one).

use std::collections::BTreeSet;
use std::fmt;

/// Key names fixed at configuration.
#[derive(Clone, Default)]
pub(crate) struct KeySet {
    sorted: Box<[Box<str>]>,
}

impl KeySet {
    /// Whether `key` is in the set.
    pub(crate) fn contains(&self, key: &str) -> bool {
        self.sorted
            .binary_search_by(|name| (**name).cmp(key))
            .is_ok()
    }
}

impl From<&BTreeSet<String>> for KeySet {
    fn from(names: &BTreeSet<String>) -> Self {
        // A `BTreeSet` iterates in order: the list is sorted already.
        KeySet {
            sorted: names.iter().map(|name| name.as_str().into()).collect(),
        }
    }
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.sorted.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_exactly_the_names_it_was_given() {
        let names: BTreeSet<String> = ["user_id", "cart", "a", "zz"].map(String::from).into();
        let set = KeySet::from(&names);
        for name in &names {
            assert!(set.contains(name), "{name}");
        }
        for other in ["", "b", "user", "user_id2", "z", "zzz", "cart_"] {
            assert!(!set.contains(other), "{other}");
        }
        assert!(!KeySet::default().contains("user_id"));
    }
}
