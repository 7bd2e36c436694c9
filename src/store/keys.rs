//! The `keys` family (key records) and its `account_keys` index
//! (ListKeys), and the removal of a whole key.

use std::ops::ControlFlow;

use super::{concat, Batch, Store, StoreError, CF_ACCOUNT_KEYS, CF_KEYS, CF_KEY_POLICIES};
use super::{CF_IMPORT_PARAMS, CF_MATERIAL, CF_ROTATIONS, CF_ROTATION_SCHEDULE};
use crate::model::{AliasName, KeyId, KeyRecord};

impl Store {
    /// The record of key `id`, if it exists.
    pub fn get_key(&self, id: &KeyId) -> Result<Option<KeyRecord>, StoreError> {
        self.get_json(CF_KEYS, id.storage_key(), "key")
    }

    /// Ids of the keys of `account`, in id order, after `after`, at most `limit`.
    pub fn list_account_keys(
        &self,
        account: &str,
        after: Option<&KeyId>,
        limit: usize,
    ) -> Result<Vec<KeyId>, StoreError> {
        let after = after.map(KeyId::storage_key);
        self.scan(
            CF_ACCOUNT_KEYS,
            account.as_bytes(),
            after.as_ref().map(|a| &a[..]),
            limit,
            |suffix, _| {
                KeyId::from_storage_key(suffix)
                    .map(ControlFlow::Continue)
                    .ok_or(StoreError::Corrupt {
                        what: "account key index",
                    })
            },
        )
    }
}

impl Batch<'_> {
    /// Writes a key record (new or updated); indexes it under its account.
    pub fn put_key(&mut self, rec: &KeyRecord) -> Result<(), StoreError> {
        self.put_json(CF_KEYS, rec.id.storage_key(), rec, "key")?;
        self.put(CF_ACCOUNT_KEYS, &account_key(&rec.account, &rec.id), b"");
        Ok(())
    }

    /// Removes every trace of key `rec`: record, index, all material
    /// versions, rotation history, key policy, import parameters and its
    /// aliases. (Expiry schedule entries left behind find no key and are
    /// dropped when they fire.) (The
    /// deletion-schedule entry is removed by the caller, which knows its due
    /// time; grants by the core, which knows their grantees.)
    pub fn delete_key(&mut self, rec: &KeyRecord, aliases: &[AliasName]) {
        let s = self.store;
        self.wb.delete_cf(s.cf(CF_KEYS), rec.id.storage_key());
        self.wb
            .delete_cf(s.cf(CF_ACCOUNT_KEYS), account_key(&rec.account, &rec.id));
        self.delete_versions(CF_MATERIAL, &rec.id);
        for a in aliases {
            self.delete_alias(&rec.account, a, &rec.id);
        }
        self.wb
            .delete_cf(s.cf(CF_KEY_POLICIES), rec.id.storage_key());
        self.delete_versions(CF_ROTATIONS, &rec.id);
        self.wb
            .delete_cf(s.cf(CF_IMPORT_PARAMS), rec.id.storage_key());
        if let Some(due) = rec.rotation.next_ms {
            self.wb.delete_cf(
                s.cf(CF_ROTATION_SCHEDULE),
                super::schedules::schedule_key(due, &rec.id),
            );
        }
    }
}

fn account_key(account: &str, id: &KeyId) -> Vec<u8> {
    concat(account.as_bytes(), &id.storage_key())
}

#[cfg(test)]
mod tests {
    use super::super::tests::open_temp;
    use super::*;
    use crate::model::KeyState;

    #[test]
    fn keys_and_the_account_index_round_trip() {
        let (_dir, store) = open_temp();
        let mut recs: Vec<KeyRecord> = (0..3)
            .map(|_| KeyRecord::for_tests("111122223333", KeyState::Enabled))
            .collect();
        let other = KeyRecord::for_tests("444455556666", KeyState::Enabled);
        let mut b = store.batch();
        for r in recs.iter().chain([&other]) {
            b.put_key(r).expect("put");
        }
        b.commit().expect("commit");
        recs.sort_by_key(|r| r.id.storage_key());
        for r in &recs {
            assert_eq!(store.get_key(&r.id).expect("get").as_ref(), Some(r));
        }
        let ids: Vec<KeyId> = recs.iter().map(|r| r.id).collect();
        assert_eq!(
            store
                .list_account_keys("111122223333", None, 10)
                .expect("list"),
            ids
        );
        assert_eq!(
            store
                .list_account_keys("111122223333", Some(&ids[0]), 1)
                .expect("list"),
            vec![ids[1]]
        );
        assert_eq!(
            store
                .list_account_keys("444455556666", None, 10)
                .expect("list"),
            vec![other.id]
        );
        assert!(store
            .list_account_keys("777788889999", None, 10)
            .expect("list")
            .is_empty());

        let mut b = store.batch();
        b.delete_key(&recs[0], &[]);
        b.commit().expect("commit");
        assert!(store.get_key(&recs[0].id).expect("get").is_none());
        assert_eq!(
            store
                .list_account_keys("111122223333", None, 10)
                .expect("list"),
            ids[1..].to_vec()
        );
    }
}
