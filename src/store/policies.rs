//! The `key_policies` family (one policy text per key) and the
//! `identity_policies` family (named policies per principal).

use std::ops::ControlFlow;

use super::{identity_prefix, Batch, Store, StoreError, CF_IDENTITY_POLICIES, CF_KEY_POLICIES};
use crate::model::KeyId;

impl Store {
    /// The key policy text of key `id`.
    pub fn get_key_policy(&self, id: &KeyId) -> Result<Option<String>, StoreError> {
        self.get_text(CF_KEY_POLICIES, id.storage_key(), "key policy")
    }

    /// The identity policies of `principal`, in name order, after `after`.
    pub fn list_identity_policies(
        &self,
        principal: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let corrupt = || StoreError::Corrupt {
            what: "identity policy",
        };
        self.scan(
            CF_IDENTITY_POLICIES,
            &identity_prefix(principal),
            after.map(str::as_bytes),
            limit,
            |name, text| {
                let name = String::from_utf8(name.to_vec()).map_err(|_| corrupt())?;
                let text = String::from_utf8(text.to_vec()).map_err(|_| corrupt())?;
                Ok(ControlFlow::Continue((name, text)))
            },
        )
    }

    /// One identity policy of `principal`.
    pub fn get_identity_policy(
        &self,
        principal: &str,
        name: &str,
    ) -> Result<Option<String>, StoreError> {
        self.get_text(
            CF_IDENTITY_POLICIES,
            identity_policy_key(principal, name),
            "identity policy",
        )
    }
}

impl Batch<'_> {
    /// Sets key `id`'s policy text.
    pub fn put_key_policy(&mut self, id: &KeyId, text: &str) {
        self.put(CF_KEY_POLICIES, &id.storage_key(), text.as_bytes());
    }

    /// Sets (or replaces) identity policy `name` of `principal`.
    pub fn put_identity_policy(&mut self, principal: &str, name: &str, text: &str) {
        self.put(
            CF_IDENTITY_POLICIES,
            &identity_policy_key(principal, name),
            text.as_bytes(),
        );
    }

    /// Removes identity policy `name` of `principal`.
    pub fn delete_identity_policy(&mut self, principal: &str, name: &str) {
        self.wb.delete_cf(
            self.store.cf(CF_IDENTITY_POLICIES),
            identity_policy_key(principal, name),
        );
    }
}

fn identity_policy_key(principal: &str, name: &str) -> Vec<u8> {
    let mut k = identity_prefix(principal);
    k.extend_from_slice(name.as_bytes());
    k
}

#[cfg(test)]
mod tests {
    use super::super::tests::open_temp;
    use super::*;

    #[test]
    fn key_and_identity_policies_round_trip() {
        let (_dir, store) = open_temp();
        let id = KeyId::new_random();
        let alice = "arn:aws:iam::111122223333:user/alice";
        // A principal whose ARN is a prefix of alice's must not see hers.
        let al = "arn:aws:iam::111122223333:user/al";
        let mut b = store.batch();
        b.put_key_policy(&id, "{\"k\":1}");
        b.put_identity_policy(alice, "p2", "two");
        b.put_identity_policy(alice, "p1", "one");
        b.put_identity_policy(al, "p0", "zero");
        b.commit().expect("commit");

        assert_eq!(
            store.get_key_policy(&id).expect("get").as_deref(),
            Some("{\"k\":1}")
        );
        assert!(store
            .get_key_policy(&KeyId::new_random())
            .expect("get")
            .is_none());
        assert_eq!(
            store.list_identity_policies(alice, None, 10).expect("list"),
            vec![("p1".into(), "one".into()), ("p2".into(), "two".into())]
        );
        assert_eq!(
            store
                .list_identity_policies(alice, Some("p1"), 10)
                .expect("list"),
            vec![("p2".to_string(), "two".to_string())]
        );
        assert_eq!(
            store
                .list_identity_policies(al, None, 10)
                .expect("list")
                .len(),
            1
        );
        assert_eq!(
            store
                .get_identity_policy(alice, "p2")
                .expect("get")
                .as_deref(),
            Some("two")
        );

        let mut b = store.batch();
        b.delete_identity_policy(alice, "p2");
        b.commit().expect("commit");
        assert!(store
            .get_identity_policy(alice, "p2")
            .expect("get")
            .is_none());
        assert_eq!(
            store
                .list_identity_policies(alice, None, 10)
                .expect("list")
                .len(),
            1
        );
    }
}
