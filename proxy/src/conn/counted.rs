//! A cap on how many of something one key holds at once: the mechanism behind each partner's
//! share of the requests in flight ([`super::shares`]) and each source's handshakes in progress
//! ([`super::handshakes`]). A place is taken under a key and given back when its [`Place`] is
//! dropped, however the thing it stands for ended.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

/// How many places each key holds, and how many it may.
#[derive(Debug)]
pub struct Counted<K> {
    limit: usize,
    /// Whether a key's entry goes when its last place does (keys that come and go, such as
    /// addresses), or stays (keys a policy names, reused by every request).
    forget_at_zero: bool,
    held: Mutex<HashMap<K, usize>>,
}

/// One place held under a key; dropping it gives the place back.
#[derive(Debug)]
pub struct Place<K: Hash + Eq> {
    counted: Arc<Counted<K>>,
    key: K,
}

impl<K: Hash + Eq> Counted<K> {
    fn held(&self) -> std::sync::MutexGuard<'_, HashMap<K, usize>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<K: Hash + Eq + Clone> Counted<K> {
    /// At most `limit` places per key (at least 1: the configuration refuses 0, and a key is
    /// given its entry before it is counted).
    pub fn new(limit: usize, forget_at_zero: bool) -> Arc<Self> {
        Arc::new(Self {
            limit,
            forget_at_zero,
            held: Mutex::new(HashMap::new()),
        })
    }

    /// A place under `key` (`own` makes the key when it has no entry yet), or `Err` with how
    /// many it holds when that is the limit.
    pub fn take<Q>(self: &Arc<Self>, key: &Q, own: impl FnOnce(&Q) -> K) -> Result<Place<K>, usize>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut held = self.held();
        let key = match held.get_key_value(key) {
            Some((k, _)) => k.clone(),
            None => own(key),
        };
        let n = held.entry(key.clone()).or_default();
        if *n >= self.limit {
            return Err(*n);
        }
        *n += 1;
        Ok(Place {
            counted: self.clone(),
            key,
        })
    }

    /// Places held under `key` now.
    pub fn count<Q>(&self, key: &Q) -> usize
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.held().get(key).copied().unwrap_or(0)
    }

    #[cfg(test)]
    pub(super) fn has_entry<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.held().contains_key(key)
    }
}

impl<K: Hash + Eq> Drop for Place<K> {
    fn drop(&mut self) {
        let mut held = self.counted.held();
        if let Some(n) = held.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 && self.counted.forget_at_zero {
                held.remove(&self.key);
            }
        }
    }
}
