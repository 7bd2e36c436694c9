//! This Region's replication key pair (X25519): made on first use, its
//! private half stored only sealed by the backend (`seal_secret`, label
//! [`REGION_KEY_LABEL`]) in the `replication` family, loaded once per
//! process and held in memory in a zeroizing type.

use std::sync::Arc;

use crate::backend::{REGION_KEY_ID, REGION_KEY_LABEL};
use crate::crypto::hpke::RegionSecretKey;
use crate::error::{KmsError, KmsResult};
use crate::kms::Inner;
use crate::store::RegionKeyRecord;

impl Inner {
    /// This Region's replication key, loaded or (the first time) made and
    /// stored (blocking pool only).
    pub(crate) fn region_secret(&self) -> KmsResult<Arc<RegionSecretKey>> {
        if let Some(k) = self.repl.region_key.get() {
            return Ok(Arc::clone(k));
        }
        // One loader at a time, so two first uses cannot make two keys.
        let _init = self
            .repl
            .region_key_init
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(k) = self.repl.region_key.get() {
            return Ok(Arc::clone(k));
        }
        let key = match self.store.get_region_key().map_err(KmsError::internal)? {
            Some(rec) => {
                let bytes = self
                    .backend
                    .open_secret(REGION_KEY_LABEL, &REGION_KEY_ID, &rec.sealed)
                    .map_err(|e| {
                        KmsError::internal(format!("the replication Region key does not open: {e}"))
                    })?;
                RegionSecretKey::from_bytes(bytes.expose_secret()).map_err(KmsError::internal)?
            }
            None => {
                let key = RegionSecretKey::generate().map_err(KmsError::internal)?;
                let private = key.to_material().map_err(KmsError::internal)?;
                let sealed = self
                    .backend
                    .seal_secret(REGION_KEY_LABEL, &REGION_KEY_ID, private.expose_secret())
                    .map_err(KmsError::internal)?;
                let mut b = self.store.batch();
                b.put_region_key(&RegionKeyRecord {
                    sealed,
                    created_ms: self.now_ms(),
                })
                .map_err(KmsError::internal)?;
                b.commit().map_err(KmsError::internal)?;
                tracing::info!(region = %self.region, "made this Region's replication key");
                key
            }
        };
        let key = Arc::new(key);
        // Under `region_key_init`, so nobody else set it meanwhile.
        let _ = self.repl.region_key.set(Arc::clone(&key));
        Ok(key)
    }
}

impl Inner {
    /// EXTERNAL multi-Region keys: the per-key KeyMaterialId secret
    /// (docs/multi-region.md, "Import"), the same in every Region of the
    /// key: made by the primary at CreateKey, sent sealed in every `Sync`,
    /// stored sealed by the backend. `None` when none is stored.
    pub(crate) fn mrk_material_id_secret(
        &self,
        id: &crate::model::KeyId,
    ) -> KmsResult<Option<crate::secret::KeyMaterial>> {
        let Some(sealed) = self
            .store
            .get_material_id_key(id)
            .map_err(KmsError::internal)?
        else {
            return Ok(None);
        };
        self.backend
            .open_secret(crate::backend::MATERIAL_ID_SECRET_LABEL, id, &sealed)
            .map(Some)
            .map_err(KmsError::internal)
    }

    /// Stores `secret` as key `id`'s KeyMaterialId secret, sealed, in `b`.
    pub(crate) fn put_mrk_material_id_secret(
        &self,
        b: &mut crate::store::Batch<'_>,
        id: &crate::model::KeyId,
        secret: &crate::secret::KeyMaterial,
    ) -> KmsResult<()> {
        let sealed = self
            .backend
            .seal_secret(
                crate::backend::MATERIAL_ID_SECRET_LABEL,
                id,
                secret.expose_secret(),
            )
            .map_err(KmsError::internal)?;
        b.put_material_id_key(id, &sealed)
            .map_err(KmsError::internal)
    }
}
