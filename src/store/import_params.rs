//! The `import_params` family: the import parameters GetParametersForImport
//! made for a key (at most one set per key, keyed by key id), authenticated
//! like every record. The wrapping private key inside is sealed by the
//! backend; the store neither can nor tries to open it.

use super::{Batch, Store, StoreError, CF_IMPORT_PARAMS};
use crate::model::{ImportParameters, KeyId};

impl Store {
    /// The import parameters of key `id`, if it has any.
    pub fn get_import_params(&self, id: &KeyId) -> Result<Option<ImportParameters>, StoreError> {
        let rec: Option<ImportParameters> =
            self.get_json(CF_IMPORT_PARAMS, id.storage_key(), "import parameters")?;
        match rec {
            // The key names the key; a record claiming another one was
            // written to the wrong place.
            Some(p) if p.key_id != *id => Err(StoreError::Corrupt {
                what: "import parameters",
            }),
            other => Ok(other),
        }
    }
}

impl Batch<'_> {
    /// Writes `p` as the import parameters of key `p.key_id`, replacing
    /// (and so superseding) any earlier set.
    pub fn put_import_params(&mut self, p: &ImportParameters) -> Result<(), StoreError> {
        self.put_json(
            CF_IMPORT_PARAMS,
            p.key_id.storage_key(),
            p,
            "import parameters",
        )
    }

    /// Removes the import parameters of key `id` (used, expired, or the
    /// key deleted).
    pub fn delete_import_params(&mut self, id: &KeyId) {
        self.wb
            .delete_cf(self.store.cf(CF_IMPORT_PARAMS), id.storage_key());
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::open_temp;
    use super::*;
    use crate::model::{KeyRecord, KeyState, SealedBlob, WrappingAlgorithm, WrappingKeySpec};

    fn params(id: &KeyId, params_id: &str) -> ImportParameters {
        ImportParameters {
            key_id: *id,
            account: "111122223333".into(),
            params_id: params_id.into(),
            wrapping_algorithm: WrappingAlgorithm::RsaesOaepSha256,
            wrapping_key_spec: WrappingKeySpec::Rsa2048,
            created_ms: 10,
            expires_ms: 20,
            sealed_private_key: SealedBlob::new(vec![1, 2, 3]),
        }
    }

    #[test]
    fn import_params_are_replaced_deleted_and_go_with_their_key() {
        let (_dir, store) = open_temp();
        let key = KeyRecord::for_tests("111122223333", KeyState::PendingImport);
        let other = KeyId::new_random();
        assert!(store.get_import_params(&key.id).expect("get").is_none());
        let mut b = store.batch();
        b.put_key(&key).expect("key");
        b.put_import_params(&params(&key.id, "aa")).expect("put");
        b.put_import_params(&params(&other, "bb")).expect("put");
        b.commit().expect("commit");
        assert_eq!(
            store.get_import_params(&key.id).expect("get"),
            Some(params(&key.id, "aa"))
        );
        // A newer set replaces the older one.
        let mut b = store.batch();
        b.put_import_params(&params(&key.id, "cc")).expect("put");
        b.commit().expect("commit");
        assert_eq!(
            store
                .get_import_params(&key.id)
                .expect("get")
                .map(|p| p.params_id),
            Some("cc".to_owned())
        );
        let mut b = store.batch();
        b.delete_import_params(&other);
        b.commit().expect("commit");
        assert!(store.get_import_params(&other).expect("get").is_none());
        // Deleting the key removes its parameters.
        let mut b = store.batch();
        b.delete_key(&key, &[]);
        b.commit().expect("commit");
        assert!(store.get_import_params(&key.id).expect("get").is_none());
    }

    #[test]
    fn params_stored_under_another_key_are_corrupt() {
        let (_dir, store) = open_temp();
        let (a, b_id) = (KeyId::new_random(), KeyId::new_random());
        let mut b = store.batch();
        b.put_json(CF_IMPORT_PARAMS, a.storage_key(), &params(&b_id, "x"), "p")
            .expect("put");
        b.commit().expect("commit");
        assert!(matches!(
            store.get_import_params(&a),
            Err(StoreError::Corrupt { .. })
        ));
    }
}
