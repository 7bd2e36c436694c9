//! The `grants` family and its three indexes: by grantee (authorization),
//! by retiring principal (ListRetirableGrants) and by name (idempotent
//! CreateGrant).
//!
//! The name index's key is key id (17) + name + 0 + grant id (32), value
//! empty: several grants of a key may share a name (as in AWS), an
//! idempotent retry looks among them for one with identical parameters, and
//! deleting a grant removes exactly its own entry.

use std::ops::ControlFlow;

use super::{concat, decode_json, identity_prefix, Batch, Store, StoreError};
use super::{CF_GRANTS, CF_GRANTS_BY_GRANTEE, CF_GRANTS_BY_RETIRING, CF_GRANT_NAMES};
use crate::model::{GrantRecord, KeyId};

impl Store {
    /// Grant `grant_id` (32 raw bytes) of key `id`.
    pub fn get_grant(
        &self,
        id: &KeyId,
        grant_id: &[u8; 32],
    ) -> Result<Option<GrantRecord>, StoreError> {
        self.get_json(CF_GRANTS, grant_key(id, grant_id), "grant")
    }

    /// Grants of key `id` in grant-id order, after `after`, at most `limit`.
    pub fn list_grants(
        &self,
        id: &KeyId,
        after: Option<&[u8; 32]>,
        limit: usize,
    ) -> Result<Vec<GrantRecord>, StoreError> {
        self.scan(
            CF_GRANTS,
            &id.storage_key(),
            after.map(|g| &g[..]),
            limit,
            |_, v| decode_json(v, "grant").map(ControlFlow::Continue),
        )
    }

    /// Grants of key `id` whose grantee is `grantee` (the authorization
    /// index: cost grows with this grantee's grants on the key only).
    pub fn grants_for_grantee(
        &self,
        id: &KeyId,
        grantee: &str,
    ) -> Result<Vec<GrantRecord>, StoreError> {
        let ids = self.scan(
            CF_GRANTS_BY_GRANTEE,
            &grantee_prefix(id, grantee),
            None,
            usize::MAX,
            |suffix, _| {
                <[u8; 32]>::try_from(suffix)
                    .map(ControlFlow::Continue)
                    .map_err(|_| StoreError::Corrupt {
                        what: "grantee index",
                    })
            },
        )?;
        let mut out = Vec::with_capacity(ids.len());
        for g in ids {
            if let Some(rec) = self.get_grant(id, &g)? {
                out.push(rec);
            }
        }
        Ok(out)
    }

    /// (key id, grant id) of the grants whose retiring principal is
    /// `principal`, after `after` (an index key suffix), at most `limit`.
    pub fn retirable_grants(
        &self,
        principal: &str,
        after: Option<(&KeyId, &[u8; 32])>,
        limit: usize,
    ) -> Result<Vec<(KeyId, [u8; 32])>, StoreError> {
        let after = after.map(|(k, g)| grant_key(k, g));
        self.scan(
            CF_GRANTS_BY_RETIRING,
            &identity_prefix(principal),
            after.as_ref().map(|a| &a[..]),
            limit,
            |rest, _| {
                let corrupt = || StoreError::Corrupt {
                    what: "retiring index",
                };
                if rest.len() != 49 {
                    return Err(corrupt());
                }
                let key = KeyId::from_storage_key(&rest[..17]).ok_or_else(corrupt)?;
                let g: [u8; 32] = rest[17..].try_into().map_err(|_| corrupt())?;
                Ok(ControlFlow::Continue((key, g)))
            },
        )
    }

    /// The ids of key `id`'s grants named `name`, in grant-id order.
    pub fn grants_by_name(&self, id: &KeyId, name: &str) -> Result<Vec<[u8; 32]>, StoreError> {
        self.scan(
            CF_GRANT_NAMES,
            &name_prefix(id, name),
            None,
            usize::MAX,
            |suffix, _| {
                <[u8; 32]>::try_from(suffix)
                    .map(ControlFlow::Continue)
                    .map_err(|_| StoreError::Corrupt { what: "grant name" })
            },
        )
    }
}

impl Batch<'_> {
    /// Writes a new grant and its indexes.
    pub fn put_grant(
        &mut self,
        id: &KeyId,
        grant_id: &[u8; 32],
        g: &GrantRecord,
    ) -> Result<(), StoreError> {
        self.put_json(CF_GRANTS, grant_key(id, grant_id), g, "grant")?;
        self.put(CF_GRANTS_BY_GRANTEE, &grantee_key(id, grant_id, g), b"");
        if let Some(rk) = retiring_key(id, grant_id, g) {
            self.put(CF_GRANTS_BY_RETIRING, &rk, b"");
        }
        if let Some(name) = &g.name {
            self.put(CF_GRANT_NAMES, &name_key(id, name, grant_id), b"");
        }
        Ok(())
    }

    /// Removes a grant and its indexes.
    pub fn delete_grant(&mut self, id: &KeyId, grant_id: &[u8; 32], g: &GrantRecord) {
        let s = self.store;
        self.wb.delete_cf(s.cf(CF_GRANTS), grant_key(id, grant_id));
        self.wb
            .delete_cf(s.cf(CF_GRANTS_BY_GRANTEE), grantee_key(id, grant_id, g));
        if let Some(rk) = retiring_key(id, grant_id, g) {
            self.wb.delete_cf(s.cf(CF_GRANTS_BY_RETIRING), rk);
        }
        if let Some(name) = &g.name {
            self.wb
                .delete_cf(s.cf(CF_GRANT_NAMES), name_key(id, name, grant_id));
        }
    }
}

fn grant_key(id: &KeyId, grant_id: &[u8; 32]) -> [u8; 49] {
    let mut k = [0u8; 49];
    k[..17].copy_from_slice(&id.storage_key());
    k[17..].copy_from_slice(grant_id);
    k
}

fn grantee_prefix(id: &KeyId, grantee: &str) -> Vec<u8> {
    let mut k = concat(&id.storage_key(), grantee.as_bytes());
    k.push(0);
    k
}

fn grantee_key(id: &KeyId, grant_id: &[u8; 32], g: &GrantRecord) -> Vec<u8> {
    concat(&grantee_prefix(id, &g.grantee_principal), grant_id)
}

fn retiring_key(id: &KeyId, grant_id: &[u8; 32], g: &GrantRecord) -> Option<Vec<u8>> {
    let r = g.retiring_principal.as_deref()?;
    Some(concat(&identity_prefix(r), &grant_key(id, grant_id)))
}

/// Key id + name + 0: the prefix of a key's grants of one name.
fn name_prefix(id: &KeyId, name: &str) -> Vec<u8> {
    let mut k = concat(&id.storage_key(), name.as_bytes());
    k.push(0);
    k
}

fn name_key(id: &KeyId, name: &str, grant_id: &[u8; 32]) -> Vec<u8> {
    concat(&name_prefix(id, name), grant_id)
}

#[cfg(test)]
mod tests {
    use super::super::tests::open_temp;
    use super::*;
    use crate::model::GrantOperation;

    fn grant(
        n: u8,
        grantee: &str,
        retiring: Option<&str>,
        name: Option<&str>,
    ) -> ([u8; 32], GrantRecord) {
        let id = [n; 32];
        let rec = GrantRecord {
            grant_id: hex::encode(id),
            key_id: "arn".into(),
            name: name.map(Into::into),
            created_ms: i64::from(n),
            grantee_principal: grantee.into(),
            retiring_principal: retiring.map(Into::into),
            issuing_account: "arn:aws:iam::111122223333:root".into(),
            operations: vec![GrantOperation::Decrypt],
            constraints: Default::default(),
        };
        (id, rec)
    }

    #[test]
    fn grants_and_their_indexes_round_trip() {
        let (_dir, store) = open_temp();
        let key = KeyId::new_random();
        let alice = "arn:aws:iam::111122223333:user/alice";
        let bob = "arn:aws:iam::111122223333:user/bob";
        let (g1, r1) = grant(1, alice, Some(bob), Some("n1"));
        let (g2, r2) = grant(2, alice, None, None);
        let (g3, r3) = grant(3, bob, Some(bob), None);
        let mut b = store.batch();
        for (g, r) in [(&g1, &r1), (&g2, &r2), (&g3, &r3)] {
            b.put_grant(&key, g, r).expect("put");
        }
        b.commit().expect("commit");

        assert_eq!(store.get_grant(&key, &g2).expect("get"), Some(r2.clone()));
        assert_eq!(
            store.list_grants(&key, None, 10).expect("list"),
            vec![r1.clone(), r2.clone(), r3.clone()]
        );
        assert_eq!(
            store.list_grants(&key, Some(&g1), 1).expect("list"),
            vec![r2.clone()]
        );
        assert!(store
            .list_grants(&KeyId::new_random(), None, 10)
            .expect("list")
            .is_empty());
        assert_eq!(
            store.grants_for_grantee(&key, alice).expect("grantee"),
            vec![r1.clone(), r2.clone()]
        );
        assert_eq!(
            store.retirable_grants(bob, None, 10).expect("retirable"),
            vec![(key, g1), (key, g3)]
        );
        assert_eq!(
            store
                .retirable_grants(bob, Some((&key, &g1)), 10)
                .expect("retirable"),
            vec![(key, g3)]
        );
        assert_eq!(store.grants_by_name(&key, "n1").expect("name"), vec![g1]);

        let mut b = store.batch();
        b.delete_grant(&key, &g1, &r1);
        b.commit().expect("commit");
        assert!(store.get_grant(&key, &g1).expect("get").is_none());
        assert_eq!(
            store.grants_for_grantee(&key, alice).expect("grantee"),
            vec![r2]
        );
        assert_eq!(
            store.retirable_grants(bob, None, 10).expect("retirable"),
            vec![(key, g3)]
        );
        assert!(store.grants_by_name(&key, "n1").expect("name").is_empty());
    }

    /// Item 17 of issue 11: two grants of one name are two index entries;
    /// deleting one leaves the other's. A name that is a prefix of another
    /// does not see the other's grants.
    #[test]
    fn item_17_grant_name_index_holds_each_grant_of_a_name() {
        let (_dir, store) = open_temp();
        let key = KeyId::new_random();
        let alice = "arn:aws:iam::111122223333:user/alice";
        let (g1, r1) = grant(1, alice, None, Some("n"));
        let (g2, r2) = grant(2, alice, None, Some("n"));
        let (g3, r3) = grant(3, alice, None, Some("n2"));
        let mut b = store.batch();
        for (g, r) in [(&g1, &r1), (&g2, &r2), (&g3, &r3)] {
            b.put_grant(&key, g, r).expect("put");
        }
        b.commit().expect("commit");
        assert_eq!(store.grants_by_name(&key, "n").expect("name"), vec![g1, g2]);
        let mut b = store.batch();
        b.delete_grant(&key, &g1, &r1);
        b.commit().expect("commit");
        assert_eq!(store.grants_by_name(&key, "n").expect("name"), vec![g2]);
        assert_eq!(store.grants_by_name(&key, "n2").expect("name"), vec![g3]);
    }
}
