//! The `aliases` family (by account and name) and its `key_aliases`
//! reverse index (the aliases of a key, for deletion). The index key is
//! key id (17) + account + 0 + alias name: the account is part of it, so
//! entries of two accounts for one key id and alias name are two entries,
//! and removing one leaves the other.

use std::ops::ControlFlow;

use serde::{Deserialize, Serialize};

use super::{concat, decode_json, Batch, Store, StoreError, CF_ALIASES, CF_KEY_ALIASES};
use crate::model::{AliasName, KeyId};

/// What an alias points at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AliasRecord {
    /// Target key id.
    pub target: String,
    /// Creation time, Unix ms.
    pub created_ms: i64,
    /// Last update, Unix ms.
    pub updated_ms: i64,
}

impl AliasRecord {
    /// The target key id, parsed.
    pub fn target_id(&self) -> Result<KeyId, StoreError> {
        self.target
            .parse()
            .map_err(|()| StoreError::Corrupt { what: "alias" })
    }
}

impl Store {
    /// The alias `alias` of `account`.
    pub fn get_alias(
        &self,
        account: &str,
        alias: &AliasName,
    ) -> Result<Option<AliasRecord>, StoreError> {
        self.get_json(CF_ALIASES, alias_key(account, alias), "alias")
    }

    /// Aliases of `account` in name order, after `after`, at most `limit`.
    pub fn list_aliases(
        &self,
        account: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(AliasName, AliasRecord)>, StoreError> {
        self.scan(
            CF_ALIASES,
            account.as_bytes(),
            after.map(str::as_bytes),
            limit,
            |suffix, v| {
                let name = alias_name(suffix, "alias")?;
                Ok(ControlFlow::Continue((name, decode_json(v, "alias")?)))
            },
        )
    }

    /// Names of the aliases of `account` that point at key `id`.
    pub fn aliases_of_key(&self, account: &str, id: &KeyId) -> Result<Vec<AliasName>, StoreError> {
        self.scan(
            CF_KEY_ALIASES,
            &key_alias_prefix(id, account),
            None,
            usize::MAX,
            |suffix, _| alias_name(suffix, "key alias index").map(ControlFlow::Continue),
        )
    }
}

impl Batch<'_> {
    /// Creates or repoints alias `alias` of `account`.
    pub fn put_alias(
        &mut self,
        account: &str,
        alias: &AliasName,
        rec: &AliasRecord,
        previous_target: Option<&KeyId>,
    ) -> Result<(), StoreError> {
        let target = rec.target_id()?;
        if let Some(prev) = previous_target {
            self.wb.delete_cf(
                self.store.cf(CF_KEY_ALIASES),
                key_alias_key(prev, account, alias),
            );
        }
        self.put_json(CF_ALIASES, alias_key(account, alias), rec, "alias")?;
        self.put(CF_KEY_ALIASES, &key_alias_key(&target, account, alias), b"");
        Ok(())
    }

    /// Removes alias `alias` of `account`, which points at `target`.
    pub fn delete_alias(&mut self, account: &str, alias: &AliasName, target: &KeyId) {
        self.wb
            .delete_cf(self.store.cf(CF_ALIASES), alias_key(account, alias));
        self.wb.delete_cf(
            self.store.cf(CF_KEY_ALIASES),
            key_alias_key(target, account, alias),
        );
    }
}

fn alias_name(bytes: &[u8], what: &'static str) -> Result<AliasName, StoreError> {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| AliasName::parse(s).ok())
        .ok_or(StoreError::Corrupt { what })
}

fn alias_key(account: &str, alias: &AliasName) -> Vec<u8> {
    concat(account.as_bytes(), alias.as_str().as_bytes())
}

/// Key id + account + 0: the prefix of one account's aliases of a key.
fn key_alias_prefix(id: &KeyId, account: &str) -> Vec<u8> {
    let mut k = concat(&id.storage_key(), account.as_bytes());
    k.push(0);
    k
}

fn key_alias_key(id: &KeyId, account: &str, alias: &AliasName) -> Vec<u8> {
    concat(&key_alias_prefix(id, account), alias.as_str().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::super::tests::open_temp;
    use super::*;

    const A: &str = "111122223333";
    const B: &str = "444455556666";

    fn rec(target: &KeyId, ms: i64) -> AliasRecord {
        AliasRecord {
            target: target.to_string(),
            created_ms: ms,
            updated_ms: ms,
        }
    }

    #[test]
    fn aliases_and_their_reverse_index_round_trip() {
        let (_dir, store) = open_temp();
        let (k1, k2, k3) = (
            KeyId::new_random(),
            KeyId::new_random(),
            KeyId::new_random(),
        );
        let name = |s: &str| AliasName::parse(s).expect("alias name");
        let mut b = store.batch();
        b.put_alias("111122223333", &name("alias/b"), &rec(&k1, 1), None)
            .expect("put");
        b.put_alias("111122223333", &name("alias/a"), &rec(&k1, 2), None)
            .expect("put");
        b.put_alias("444455556666", &name("alias/a"), &rec(&k3, 3), None)
            .expect("put");
        b.commit().expect("commit");

        assert_eq!(
            store
                .get_alias("111122223333", &name("alias/a"))
                .expect("get"),
            Some(rec(&k1, 2))
        );
        let listed = store.list_aliases("111122223333", None, 10).expect("list");
        let names: Vec<&str> = listed.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["alias/a", "alias/b"]);
        let rest = store
            .list_aliases("111122223333", Some("alias/a"), 10)
            .expect("list");
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].0.as_str(), "alias/b");
        assert_eq!(store.aliases_of_key(A, &k1).expect("of key").len(), 2);

        // Repoint alias/a to k2, then delete alias/b.
        let mut b = store.batch();
        b.put_alias("111122223333", &name("alias/a"), &rec(&k2, 4), Some(&k1))
            .expect("put");
        b.delete_alias("111122223333", &name("alias/b"), &k1);
        b.commit().expect("commit");
        assert!(store.aliases_of_key(A, &k1).expect("of key").is_empty());
        let of_k2 = store.aliases_of_key(A, &k2).expect("of key");
        assert_eq!(of_k2.len(), 1);
        assert_eq!(of_k2[0].as_str(), "alias/a");
        assert_eq!(store.aliases_of_key(B, &k3).expect("of key").len(), 1);
        assert!(store
            .get_alias("111122223333", &name("alias/b"))
            .expect("get")
            .is_none());
    }

    /// Item 4 of issue 11: two accounts' aliases of the same name on one
    /// key id are two index entries; removing one leaves the other.
    #[test]
    fn item_04_key_alias_index_keeps_accounts_apart() {
        let (_dir, store) = open_temp();
        let k = KeyId::new_random();
        let name = AliasName::parse("alias/shared").expect("alias name");
        let mut b = store.batch();
        b.put_alias(A, &name, &rec(&k, 1), None).expect("put");
        b.put_alias(B, &name, &rec(&k, 2), None).expect("put");
        b.commit().expect("commit");
        assert_eq!(store.aliases_of_key(A, &k).expect("of key").len(), 1);
        assert_eq!(store.aliases_of_key(B, &k).expect("of key").len(), 1);
        // An account whose id is a prefix of another's sees only its own.
        assert!(store
            .aliases_of_key("11112222333", &k)
            .expect("of key")
            .is_empty());
        let mut b = store.batch();
        b.delete_alias(A, &name, &k);
        b.commit().expect("commit");
        assert!(store.aliases_of_key(A, &k).expect("of key").is_empty());
        assert_eq!(store.aliases_of_key(B, &k).expect("of key").len(), 1);
    }
}
