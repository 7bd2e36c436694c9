//! The `material` family: one `MaterialVersion` record per version of a
//! key's material, kept as the backend made it (the store cannot open the
//! sealed material inside and does not try).

use super::{version_key, Batch, Store, StoreError, CF_MATERIAL};
use crate::model::{KeyId, MaterialVersion};

impl Store {
    /// The record of version `version` of key `id`'s material.
    pub fn get_material(
        &self,
        id: &KeyId,
        version: u32,
    ) -> Result<Option<MaterialVersion>, StoreError> {
        let rec: Option<MaterialVersion> =
            self.get_json(CF_MATERIAL, version_key(id, version), "material")?;
        match rec {
            // The key names the version; a record claiming another one was
            // written to the wrong place.
            Some(r) if r.version != version => Err(StoreError::Corrupt { what: "material" }),
            other => Ok(other),
        }
    }

    /// The material records of key `id` with version greater than
    /// `after_version`, in version order, at most `limit`.
    pub fn list_materials(
        &self,
        id: &KeyId,
        after_version: u32,
        limit: usize,
    ) -> Result<Vec<MaterialVersion>, StoreError> {
        self.list_versions(CF_MATERIAL, id, after_version, limit, "material")
    }
}

impl Batch<'_> {
    /// Writes `m` as version `m.version` of key `id`'s material (new, or an
    /// update of its state).
    pub fn put_material(&mut self, id: &KeyId, m: &MaterialVersion) -> Result<(), StoreError> {
        self.put_json(CF_MATERIAL, version_key(id, m.version), m, "material")
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::open_temp;
    use super::*;
    use crate::model::{
        KeyRecord, KeySpec, KeyState, MaterialLocation, MaterialOrigin, MaterialState, SealedBlob,
    };

    fn record(id: &KeyId, version: u32) -> MaterialVersion {
        MaterialVersion::new_current(
            id,
            version,
            KeySpec::SymmetricDefault,
            MaterialOrigin::Generated,
            7,
            MaterialLocation::Local {
                sealed: SealedBlob::new(vec![version as u8; 60]),
            },
        )
    }

    #[test]
    fn material_records_round_trip_unchanged() {
        let (_dir, store) = open_temp();
        let key = KeyRecord::for_tests("111122223333", KeyState::Enabled);
        let other = KeyId::new_random();
        let mut b = store.batch();
        b.put_key(&key).expect("key");
        for v in 1..=3 {
            b.put_material(&key.id, &record(&key.id, v)).expect("put");
        }
        b.put_material(&other, &record(&other, 1)).expect("put");
        b.commit().expect("commit");

        for v in 1..=3 {
            assert_eq!(
                store.get_material(&key.id, v).expect("get"),
                Some(record(&key.id, v))
            );
        }
        assert!(store.get_material(&key.id, 4).expect("get").is_none());
        let versions = |after, limit| {
            store
                .list_materials(&key.id, after, limit)
                .expect("list")
                .into_iter()
                .map(|m| m.version)
                .collect::<Vec<_>>()
        };
        assert_eq!(versions(0, 10), vec![1, 2, 3]);
        assert_eq!(versions(1, 1), vec![2]);
        assert!(versions(3, 10).is_empty());

        // An update (rotation marks the old version non-current).
        let mut old = record(&key.id, 1);
        old.state = MaterialState::NonCurrent;
        let mut b = store.batch();
        b.put_material(&key.id, &old).expect("put");
        b.commit().expect("commit");
        assert_eq!(store.get_material(&key.id, 1).expect("get"), Some(old));

        // Deleting the key removes every version, and only its own.
        let mut b = store.batch();
        b.delete_key(&key, &[]);
        b.commit().expect("commit");
        assert!(store
            .list_materials(&key.id, 0, 10)
            .expect("list")
            .is_empty());
        assert!(store.get_material(&other, 1).expect("get").is_some());
    }

    #[test]
    fn a_record_under_another_version_is_corrupt() {
        let (_dir, store) = open_temp();
        let id = KeyId::new_random();
        let mut b = store.batch();
        b.put_json(
            CF_MATERIAL,
            version_key(&id, 2),
            &record(&id, 1),
            "material",
        )
        .expect("put");
        b.put(CF_MATERIAL, &version_key(&id, 3), b"not json");
        b.commit().expect("commit");
        for v in [2, 3] {
            assert!(matches!(
                store.get_material(&id, v),
                Err(StoreError::Corrupt { what: "material" })
            ));
        }
    }
}
