//! The `rotations` family: the history of completed rotations of a key.

use serde::{Deserialize, Serialize};

use super::{version_key, Batch, Store, StoreError, CF_ROTATIONS};
use crate::model::KeyId;

/// One completed rotation of a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationEntry {
    /// The material version the rotation created.
    pub version: u32,
    /// When, Unix ms.
    pub rotation_ms: i64,
    /// Automatic or on demand.
    pub rotation_type: crate::model::RotationType,
}

impl Store {
    /// Rotations of key `id` with version greater than `after_version`, in
    /// version order, at most `limit`.
    pub fn list_rotations(
        &self,
        id: &KeyId,
        after_version: u32,
        limit: usize,
    ) -> Result<Vec<RotationEntry>, StoreError> {
        self.list_versions(CF_ROTATIONS, id, after_version, limit, "rotation")
    }
}

impl Batch<'_> {
    /// Records a completed rotation.
    pub fn put_rotation(&mut self, id: &KeyId, e: &RotationEntry) -> Result<(), StoreError> {
        self.put_json(CF_ROTATIONS, version_key(id, e.version), e, "rotation")
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::open_temp;
    use super::*;
    use crate::model::RotationType;

    #[test]
    fn rotations_list_in_version_order_per_key() {
        let (_dir, store) = open_temp();
        let (a, b) = (KeyId::new_random(), KeyId::new_random());
        let entry = |version| RotationEntry {
            version,
            rotation_ms: i64::from(version) * 10,
            rotation_type: RotationType::OnDemand,
        };
        let mut batch = store.batch();
        for v in [3, 2, 4] {
            batch.put_rotation(&a, &entry(v)).expect("put");
        }
        batch.put_rotation(&b, &entry(2)).expect("put");
        batch.commit().expect("commit");
        let versions = |after, limit| {
            store
                .list_rotations(&a, after, limit)
                .expect("list")
                .into_iter()
                .map(|e| e.version)
                .collect::<Vec<_>>()
        };
        assert_eq!(versions(0, 10), vec![2, 3, 4]);
        assert_eq!(versions(2, 1), vec![3]);
        assert!(versions(4, 10).is_empty());
        assert_eq!(store.list_rotations(&a, 0, 10).expect("list")[0], entry(2));
    }
}
