//! The `quotas` family: per-account (and per-principal, per-grantee)
//! counters behind the quota limits (issue 11 item 14), so that checking a
//! limit reads one value instead of counting by a scan.
//!
//! A counter is changed only in the same batch as the change it counts
//! (a key created or deleted, an alias, a grant, an identity policy), by a
//! writer holding the lock of what the counter counts (`kms/locks.rs`), so
//! it survives restarts and never drifts. A data directory written before
//! the counters existed has them rebuilt once, by one scan at open
//! ([`Store::ensure_counters`]).
//!
//! | key                                  | counts                         |
//! |--------------------------------------|--------------------------------|
//! | `k` + account                        | the account's keys             |
//! | `a` + account                        | the account's aliases          |
//! | `g` + key id (17) + grantee          | grants on a key for a grantee  |
//! | `p` + principal ARN                  | the principal's identity policies |
//!
//! Values are u64, big-endian; a counter at zero is deleted.

use std::collections::HashMap;

use rocksdb::IteratorMode;

use super::{
    Batch, Store, StoreError, CF_ACCOUNT_KEYS, CF_ALIASES, CF_GRANTS_BY_GRANTEE,
    CF_IDENTITY_POLICIES, CF_QUOTAS,
};
use crate::model::KeyId;

/// Marks a data directory whose counters are complete.
const COUNTERS_MARK: &str = "quota_counters";

/// One counter of the `quotas` family.
#[derive(Debug, Clone, Copy)]
pub enum Counter<'a> {
    /// Keys of an account (deleted keys leave; pending deletion still counts, as in AWS).
    Keys(&'a str),
    /// Aliases of an account.
    Aliases(&'a str),
    /// Grants on a key whose grantee is a principal.
    GranteeGrants(&'a KeyId, &'a str),
    /// Identity policies of a principal.
    IdentityPolicies(&'a str),
}

impl Counter<'_> {
    fn key(&self) -> Vec<u8> {
        let (kind, parts): (u8, [&[u8]; 2]) = match self {
            Counter::Keys(a) => (b'k', [a.as_bytes(), b""]),
            Counter::Aliases(a) => (b'a', [a.as_bytes(), b""]),
            Counter::GranteeGrants(id, g) => (b'g', [&id.storage_key()[..], g.as_bytes()]),
            Counter::IdentityPolicies(p) => (b'p', [p.as_bytes(), b""]),
        };
        let mut k = Vec::with_capacity(1 + parts[0].len() + parts[1].len());
        k.push(kind);
        k.extend_from_slice(parts[0]);
        k.extend_from_slice(parts[1]);
        k
    }
}

impl Store {
    /// The value of a counter (0 if never counted).
    pub fn count(&self, c: Counter<'_>) -> Result<u64, StoreError> {
        // Authenticated like every record (a forged counter could lock an
        // account out of creating keys).
        match self.get_verified(CF_QUOTAS, &c.key())? {
            None => Ok(0),
            Some(v) => <[u8; 8]>::try_from(&v[..])
                .map(u64::from_be_bytes)
                .map_err(|_| StoreError::Corrupt {
                    what: "quota counter",
                }),
        }
    }

    /// Rebuilds every counter by one scan of what they count, unless this
    /// data directory's counters are already complete (called at open).
    pub(super) fn ensure_counters(&self) -> Result<(), StoreError> {
        if self.get_meta(COUNTERS_MARK)?.is_some() {
            return Ok(());
        }
        let mut counts: HashMap<Vec<u8>, u64> = HashMap::new();
        let mut tally = |kind: u8, part: &[u8]| {
            let mut k = Vec::with_capacity(1 + part.len());
            k.push(kind);
            k.extend_from_slice(part);
            *counts.entry(k).or_insert(0) += 1;
        };
        // account + key id (17)
        for item in self
            .db
            .iterator_cf(self.cf(CF_ACCOUNT_KEYS), IteratorMode::Start)
        {
            let (k, _) = item?;
            tally(b'k', &k[..k.len().saturating_sub(17)]);
        }
        // account (12 digits) + alias name
        for item in self
            .db
            .iterator_cf(self.cf(CF_ALIASES), IteratorMode::Start)
        {
            let (k, _) = item?;
            tally(b'a', &k[..k.len().min(12)]);
        }
        // key id (17) + grantee + 0 + grant id (32)
        for item in self
            .db
            .iterator_cf(self.cf(CF_GRANTS_BY_GRANTEE), IteratorMode::Start)
        {
            let (k, _) = item?;
            tally(b'g', &k[..k.len().saturating_sub(33)]);
        }
        // principal + 0 + policy name
        for item in self
            .db
            .iterator_cf(self.cf(CF_IDENTITY_POLICIES), IteratorMode::Start)
        {
            let (k, _) = item?;
            let end = k.iter().position(|b| *b == 0).unwrap_or(k.len());
            tally(b'p', &k[..end]);
        }
        let mut b = self.batch();
        let cf = self.cf(CF_QUOTAS);
        b.wb.delete_range_cf(cf, [0u8].as_slice(), [0xFFu8].as_slice());
        for (k, n) in counts {
            b.put(CF_QUOTAS, &k, &n.to_be_bytes());
        }
        b.put_meta(COUNTERS_MARK, b"1");
        b.commit()
    }
}

impl Batch<'_> {
    /// Sets a counter to `n` (the writer read it and holds its lock).
    pub fn set_count(&mut self, c: Counter<'_>, n: u64) {
        if n == 0 {
            self.wb.delete_cf(self.store.cf(CF_QUOTAS), c.key());
        } else {
            self.put(CF_QUOTAS, &c.key(), &n.to_be_bytes());
        }
    }

    /// Deletes the grant counters of key `id` (the key is being deleted
    /// with all its grants).
    pub fn delete_grant_counts(&mut self, id: &KeyId) {
        let mut from = vec![b'g'];
        from.extend_from_slice(&id.storage_key());
        let mut to = from.clone();
        // Grantees are UTF-8, which never holds the byte 0xFF.
        to.push(0xFF);
        self.wb.delete_range_cf(self.store.cf(CF_QUOTAS), from, to);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The store at `path` with a record key (counters are authenticated
    /// records like any other).
    fn keyed(path: &std::path::Path) -> Store {
        let store = Store::open(path).expect("open");
        store
            .set_record_key(crate::secret::KeyMaterial::from_slice(&[3; 32]).expect("32 bytes"))
            .expect("record key");
        store
    }

    #[test]
    fn item_14_counters_round_trip_and_are_rebuilt_for_an_old_data_dir() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (k1, k2) = (KeyId::new_random(), KeyId::new_random());
        {
            let store = keyed(dir.path());
            assert_eq!(
                store.count(Counter::Keys("111122223333")).expect("count"),
                0
            );
            let mut b = store.batch();
            b.set_count(Counter::Keys("111122223333"), 3);
            b.set_count(Counter::GranteeGrants(&k1, "arn:aws:iam::1:user/a"), 2);
            b.set_count(Counter::GranteeGrants(&k2, "arn:aws:iam::1:user/a"), 5);
            b.put_identity_policy("arn:aws:iam::111122223333:user/a", "p1", "{}");
            b.put_identity_policy("arn:aws:iam::111122223333:user/a", "p2", "{}");
            b.commit().expect("commit");
            assert_eq!(
                store.count(Counter::Keys("111122223333")).expect("count"),
                3
            );
            let mut b = store.batch();
            b.delete_grant_counts(&k1);
            b.set_count(Counter::Keys("111122223333"), 0);
            b.commit().expect("commit");
            assert_eq!(
                store
                    .count(Counter::GranteeGrants(&k1, "arn:aws:iam::1:user/a"))
                    .expect("c"),
                0
            );
            assert_eq!(
                store
                    .count(Counter::GranteeGrants(&k2, "arn:aws:iam::1:user/a"))
                    .expect("c"),
                5
            );
            assert_eq!(
                store.count(Counter::Keys("111122223333")).expect("count"),
                0
            );
            // As a data directory written before the counters existed.
            let mut b = store.batch();
            b.wb.delete_cf(store.cf(super::super::CF_META), COUNTERS_MARK);
            b.commit().expect("commit");
        }
        // Reopened: the counters are rebuilt once the record key is set.
        let store = keyed(dir.path());
        // Rebuilt from what exists: two identity policies, no grants (the
        // hand-set grant counter had nothing behind it).
        let p = Counter::IdentityPolicies("arn:aws:iam::111122223333:user/a");
        assert_eq!(store.count(p).expect("count"), 2);
        assert_eq!(
            store
                .count(Counter::GranteeGrants(&k2, "arn:aws:iam::1:user/a"))
                .expect("c"),
            0
        );
    }
}
