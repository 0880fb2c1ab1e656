//! A map kept as one sorted vector: for the few entries a session holds of each kind (its
//! PDRs, FARs, QERs, URRs, chosen F-TEIDs, slots). A `BTreeMap` allocates a node of eleven
//! entries for the first one (a URR's measurement state: 1.7 KB for one URR), and a session
//! keeps about ten of them; this holds exactly its entries, in key order, found by binary
//! search.

use std::borrow::Borrow;

/// A map of `K` to `V` in one vector sorted by key (the subset of `BTreeMap`'s interface the
/// session state uses; iteration is in key order, as a `BTreeMap`'s).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VecMap<K, V>(Vec<(K, V)>);

impl<K, V> Default for VecMap<K, V> {
    fn default() -> Self {
        VecMap(Vec::new())
    }
}

impl<K: Ord, V> VecMap<K, V> {
    /// An empty map.
    pub const fn new() -> Self {
        VecMap(Vec::new())
    }

    fn find<Q: Ord + ?Sized>(&self, k: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
    {
        self.0.binary_search_by(|(e, _)| e.borrow().cmp(k))
    }

    /// The value of `k`.
    pub fn get<Q: Ord + ?Sized>(&self, k: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.find(k).ok().map(|i| &self.0[i].1)
    }

    /// The value of `k`, to change.
    pub fn get_mut<Q: Ord + ?Sized>(&mut self, k: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
    {
        self.find(k).ok().map(|i| &mut self.0[i].1)
    }

    /// Whether `k` has a value.
    pub fn contains_key<Q: Ord + ?Sized>(&self, k: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.find(k).is_ok()
    }

    /// Sets `k` to `v`; the value it had.
    pub fn insert(&mut self, k: K, v: V) -> Option<V> {
        match self.find(&k) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, v)),
            Err(i) => {
                self.0.insert(i, (k, v));
                None
            }
        }
    }

    /// Removes `k`; the value it had.
    pub fn remove<Q: Ord + ?Sized>(&mut self, k: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        self.find(k).ok().map(|i| self.0.remove(i).1)
    }

    /// Keeps the entries `f` says yes to.
    pub fn retain(&mut self, mut f: impl FnMut(&K, &mut V) -> bool) {
        self.0.retain_mut(|(k, v)| f(k, v));
    }

    /// The value of `k`, inserted by `f` when it has none.
    pub fn get_or_insert_with(&mut self, k: K, f: impl FnOnce() -> V) -> &mut V {
        let i = match self.find(&k) {
            Ok(i) => i,
            Err(i) => {
                self.0.insert(i, (k, f()));
                i
            }
        };
        &mut self.0[i].1
    }
}

impl<K, V> VecMap<K, V> {
    /// Entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it has no entry.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Entries in key order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&K, &V)> + ExactSizeIterator {
        self.0.iter().map(|(k, v)| (k, v))
    }

    /// Entries in key order, values to change.
    pub fn iter_mut(
        &mut self,
    ) -> impl DoubleEndedIterator<Item = (&K, &mut V)> + ExactSizeIterator {
        self.0.iter_mut().map(|(k, v)| (&*k, v))
    }

    /// Keys in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &K> + ExactSizeIterator {
        self.0.iter().map(|(k, _)| k)
    }

    /// Values in key order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &V> + ExactSizeIterator {
        self.0.iter().map(|(_, v)| v)
    }

    /// Values in key order, to change.
    pub fn values_mut(&mut self) -> impl DoubleEndedIterator<Item = &mut V> + ExactSizeIterator {
        self.0.iter_mut().map(|(_, v)| v)
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        self.0.clear();
    }
}

impl<K: Ord, V> std::ops::Index<&K> for VecMap<K, V> {
    type Output = V;
    /// The value of `k`; panics when it has none (as `BTreeMap`'s index does).
    fn index(&self, k: &K) -> &V {
        self.get(k).expect("no entry for the key")
    }
}

impl<K: Ord, V> FromIterator<(K, V)> for VecMap<K, V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(it: I) -> Self {
        let mut v: Vec<(K, V)> = it.into_iter().collect();
        // Stable: of equal keys the last one stays, as BTreeMap::from_iter keeps it.
        v.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out: Vec<(K, V)> = Vec::with_capacity(v.len());
        for e in v {
            match out.last_mut() {
                Some(last) if last.0 == e.0 => *last = e,
                _ => out.push(e),
            }
        }
        VecMap(out)
    }
}

impl<K: Ord, V> Extend<(K, V)> for VecMap<K, V> {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, it: I) {
        for (k, v) in it {
            self.insert(k, v);
        }
    }
}

impl<K, V> IntoIterator for VecMap<K, V> {
    type Item = (K, V);
    type IntoIter = std::vec::IntoIter<(K, V)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a, K, V> IntoIterator for &'a VecMap<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = std::iter::Map<std::slice::Iter<'a, (K, V)>, fn(&'a (K, V)) -> (&'a K, &'a V)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

/// A set of `T` in one sorted vector (see [`VecMap`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VecSet<T: Ord>(VecMap<T, ()>);

impl<T: Ord> VecSet<T> {
    /// An empty set.
    pub const fn new() -> Self {
        VecSet(VecMap::new())
    }
    /// Adds `t`; whether it was new.
    pub fn insert(&mut self, t: T) -> bool {
        self.0.insert(t, ()).is_none()
    }
    /// Removes `t`; whether it was there.
    pub fn remove(&mut self, t: &T) -> bool {
        self.0.remove(t).is_some()
    }
    /// Keeps the members `f` says yes to.
    pub fn retain(&mut self, mut f: impl FnMut(&T) -> bool) {
        self.0.retain(|t, ()| f(t));
    }
    /// Whether `t` is in it.
    pub fn contains(&self, t: &T) -> bool {
        self.0.contains_key(t)
    }
    /// Members in order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + ExactSizeIterator {
        self.0.keys()
    }
    /// Members.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// Whether it has no member.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<T: Ord> FromIterator<T> for VecSet<T> {
    fn from_iter<I: IntoIterator<Item = T>>(it: I) -> Self {
        VecSet(it.into_iter().map(|t| (t, ())).collect())
    }
}

impl<T: Ord> Extend<T> for VecSet<T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, it: I) {
        for t in it {
            self.insert(t);
        }
    }
}

impl<T: Ord> IntoIterator for VecSet<T> {
    type Item = T;
    type IntoIter = std::iter::Map<std::vec::IntoIter<(T, ())>, fn((T, ())) -> T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter().map(|(t, ())| t)
    }
}

impl<'a, T: Ord> IntoIterator for &'a VecSet<T> {
    type Item = &'a T;
    type IntoIter = std::iter::Map<std::slice::Iter<'a, (T, ())>, fn(&'a (T, ())) -> &'a T>;
    fn into_iter(self) -> Self::IntoIter {
        (self.0).0.iter().map(|(t, ())| t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn it_agrees_with_a_btreemap_over_any_sequence_of_changes() {
        // A fixed pseudo-random sequence of inserts and removals over a small key range.
        let mut x: u32 = 0x2545_f491;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        let mut v: VecMap<u8, u32> = VecMap::new();
        let mut b: BTreeMap<u8, u32> = BTreeMap::new();
        for step in 0..5000u32 {
            let k = (next() % 24) as u8;
            match next() % 4 {
                0 => assert_eq!(v.remove(&k), b.remove(&k), "step {step}"),
                1 => {
                    v.retain(|k, _| k % 5 != 0);
                    b.retain(|k, _| k % 5 != 0);
                }
                _ => assert_eq!(v.insert(k, step), b.insert(k, step), "step {step}"),
            }
            assert_eq!(v.get(&k), b.get(&k));
            assert!(v.iter().eq(b.iter()), "step {step}");
        }
        let from: VecMap<u8, u32> = [(3, 1), (1, 2), (3, 3)].into_iter().collect();
        let from_b: BTreeMap<u8, u32> = [(3, 1), (1, 2), (3, 3)].into_iter().collect();
        assert!(
            from.iter().eq(from_b.iter()),
            "the last of equal keys stays"
        );
    }
}
