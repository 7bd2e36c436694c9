//! The `custom_key_stores` family: one `CustomKeyStoreRecord` per custom
//! key store, keyed by its id, authenticated like every record. The
//! `kmsuser` password inside is sealed by the core; the store neither can
//! nor tries to open it.
//!
//! Stores are few (AWS allows a handful per account), so listing walks the
//! whole family and the core filters by account.

use std::ops::ControlFlow;

use super::{decode_json, Batch, Store, StoreError, CF_CUSTOM_KEY_STORES};
use crate::model::CustomKeyStoreRecord;

const WHAT: &str = "custom key store";

impl Store {
    /// The record of custom key store `id`, if it exists.
    pub fn get_custom_key_store(
        &self,
        id: &str,
    ) -> Result<Option<CustomKeyStoreRecord>, StoreError> {
        let rec: Option<CustomKeyStoreRecord> =
            self.get_json(CF_CUSTOM_KEY_STORES, id.as_bytes(), WHAT)?;
        match rec {
            // A record claiming another id was written to the wrong place.
            Some(r) if r.id != id => Err(StoreError::Corrupt { what: WHAT }),
            other => Ok(other),
        }
    }

    /// Every custom key store record, in id order.
    pub fn list_custom_key_stores(&self) -> Result<Vec<CustomKeyStoreRecord>, StoreError> {
        self.scan(CF_CUSTOM_KEY_STORES, b"", None, usize::MAX, |k, v| {
            let rec: CustomKeyStoreRecord = decode_json(v, WHAT)?;
            if rec.id.as_bytes() != k {
                return Err(StoreError::Corrupt { what: WHAT });
            }
            Ok(ControlFlow::Continue(rec))
        })
    }
}

impl Batch<'_> {
    /// Writes a custom key store record (new or updated).
    pub fn put_custom_key_store(&mut self, rec: &CustomKeyStoreRecord) -> Result<(), StoreError> {
        self.put_json(CF_CUSTOM_KEY_STORES, rec.id.as_bytes(), rec, WHAT)
    }

    /// Removes custom key store `id`'s record.
    pub fn delete_custom_key_store(&mut self, id: &str) {
        self.wb
            .delete_cf(self.store.cf(CF_CUSTOM_KEY_STORES), id.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::open_temp;
    use super::*;
    use crate::model::{ConnectionErrorCode, SealedBlob};

    fn record(id: &str, account: &str) -> CustomKeyStoreRecord {
        CustomKeyStoreRecord {
            id: id.into(),
            account: account.into(),
            name: format!("name-{id}"),
            cluster_id: format!("cluster-{id}"),
            trust_anchor_pem: "-----BEGIN CERTIFICATE-----".into(),
            sealed_password: SealedBlob::new(vec![9; 40]),
            created_ms: 5,
            wants_connected: true,
            connection_error_code: Some(ConnectionErrorCode::NetworkErrors),
            key_count: 2,
        }
    }

    #[test]
    fn records_round_trip_list_in_id_order_and_delete() {
        let (_dir, store) = open_temp();
        let a = record("cks-00000000000000002", "111122223333");
        let b = record("cks-00000000000000001", "444455556666");
        let mut batch = store.batch();
        batch.put_custom_key_store(&a).expect("put");
        batch.put_custom_key_store(&b).expect("put");
        batch.commit().expect("commit");
        assert_eq!(
            store.get_custom_key_store(&a.id).expect("get"),
            Some(a.clone())
        );
        assert_eq!(
            store.list_custom_key_stores().expect("list"),
            vec![b.clone(), a.clone()]
        );
        let mut batch = store.batch();
        batch.delete_custom_key_store(&a.id);
        batch.commit().expect("commit");
        assert!(store.get_custom_key_store(&a.id).expect("get").is_none());
        assert_eq!(store.list_custom_key_stores().expect("list"), vec![b]);
    }

    /// A record copied under another store's id is refused (its tag binds
    /// it to its own RocksDB key, and the id inside must match too).
    #[test]
    fn a_record_under_another_id_is_refused() {
        let (_dir, store) = open_temp();
        let a = record("cks-00000000000000003", "111122223333");
        let mut batch = store.batch();
        batch
            .put_json(CF_CUSTOM_KEY_STORES, b"cks-00000000000000004", &a, WHAT)
            .expect("put");
        batch.commit().expect("commit");
        assert!(store.get_custom_key_store("cks-00000000000000004").is_err());
        assert!(store.list_custom_key_stores().is_err());
    }
}
