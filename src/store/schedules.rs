//! The time-ordered job queues: `deletions`, `rotation_schedule`,
//! `import_params_expiry` and `material_expiry`, each keyed by due time
//! then key id, so the earliest entry comes first.

use std::ops::ControlFlow;

use super::{
    Batch, Store, StoreError, CF_DELETIONS, CF_IMPORT_PARAMS_EXPIRY, CF_MATERIAL_EXPIRY,
    CF_ROTATION_SCHEDULE,
};
use crate::model::KeyId;

/// The time-ordered job queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// Keys whose deletion window ends.
    Deletion,
    /// Keys due for automatic rotation.
    Rotation,
    /// Keys whose import parameters (wrapping key pair, token) expire.
    /// An entry whose key's stored parameters no longer expire at its due
    /// time (replaced, or used) is stale and dropped when it fires.
    ImportParamsExpiry,
    /// Keys with imported material whose ValidTo falls then. One entry per
    /// key and time, not per material version: when it fires, every
    /// imported material of the key whose expiry has passed is deleted, so
    /// two materials expiring together need no second entry, and an entry
    /// left behind by a re-import with another ValidTo finds nothing due.
    MaterialExpiry,
}

impl Schedule {
    /// Every schedule, in the order a job pass processes them.
    pub const ALL: [Schedule; 4] = [
        Schedule::Deletion,
        Schedule::Rotation,
        Schedule::ImportParamsExpiry,
        Schedule::MaterialExpiry,
    ];
}

impl Schedule {
    pub(super) fn cf(self) -> &'static str {
        match self {
            Schedule::Deletion => CF_DELETIONS,
            Schedule::Rotation => CF_ROTATION_SCHEDULE,
            Schedule::ImportParamsExpiry => CF_IMPORT_PARAMS_EXPIRY,
            Schedule::MaterialExpiry => CF_MATERIAL_EXPIRY,
        }
    }
}

impl Store {
    /// Keys due in `which` at or before `now_ms`, earliest first.
    pub fn due(
        &self,
        which: Schedule,
        now_ms: i64,
        limit: usize,
    ) -> Result<Vec<(i64, KeyId)>, StoreError> {
        self.scan(which.cf(), &[], None, limit, |k, _| {
            let (due, id) = decode_schedule_key(k)?;
            Ok(if due > now_ms {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue((due, id))
            })
        })
    }

    /// The earliest due time in `which`, if any.
    pub fn next_due(&self, which: Schedule) -> Result<Option<i64>, StoreError> {
        let first = self.scan(which.cf(), &[], None, 1, |k, _| {
            decode_schedule_key(k).map(|(due, _)| ControlFlow::Continue(due))
        })?;
        Ok(first.first().copied())
    }
}

impl Batch<'_> {
    /// Adds key `id` to schedule `which` at `due_ms`.
    pub fn schedule(&mut self, which: Schedule, due_ms: i64, id: &KeyId) {
        self.put(which.cf(), &schedule_key(due_ms, id), b"");
    }

    /// Removes key `id`'s entry at `due_ms` from schedule `which`.
    pub fn unschedule(&mut self, which: Schedule, due_ms: i64, id: &KeyId) {
        self.wb
            .delete_cf(self.store.cf(which.cf()), schedule_key(due_ms, id));
    }
}

pub(super) fn schedule_key(due_ms: i64, id: &KeyId) -> [u8; 25] {
    let mut k = [0u8; 25];
    // Times are non-negative; the cast keeps big-endian order.
    k[..8].copy_from_slice(&(due_ms.max(0) as u64).to_be_bytes());
    k[8..].copy_from_slice(&id.storage_key());
    k
}

fn decode_schedule_key(k: &[u8]) -> Result<(i64, KeyId), StoreError> {
    let corrupt = StoreError::Corrupt {
        what: "job schedule",
    };
    if k.len() != 25 {
        return Err(corrupt);
    }
    let mut due = [0u8; 8];
    due.copy_from_slice(&k[..8]);
    let id = KeyId::from_storage_key(&k[8..]).ok_or(corrupt)?;
    Ok((
        i64::try_from(u64::from_be_bytes(due)).unwrap_or(i64::MAX),
        id,
    ))
}

#[cfg(test)]
mod tests {
    use super::super::tests::open_temp;
    use super::*;

    #[test]
    fn deletion_schedule_is_ordered_by_due_time() {
        let (_dir, store) = open_temp();
        let (a, b) = (KeyId::new_random(), KeyId::new_random());
        let mut batch = store.batch();
        batch.schedule(Schedule::Deletion, 2_000, &a);
        batch.schedule(Schedule::Deletion, 1_000, &b);
        batch.commit().expect("commit");
        assert_eq!(
            store.next_due(Schedule::Deletion).expect("next"),
            Some(1_000)
        );
        assert_eq!(
            store.due(Schedule::Deletion, 1_500, 10).expect("due"),
            vec![(1_000, b)]
        );
        assert_eq!(
            store.due(Schedule::Deletion, 5_000, 10).expect("due").len(),
            2
        );
        assert_eq!(
            store.due(Schedule::Deletion, 5_000, 1).expect("due").len(),
            1
        );
    }

    #[test]
    fn schedules_are_separate_and_unschedule_removes() {
        let (_dir, store) = open_temp();
        let a = KeyId::new_random();
        let mut batch = store.batch();
        batch.schedule(Schedule::Rotation, 10, &a);
        batch.commit().expect("commit");
        assert_eq!(store.next_due(Schedule::Deletion).expect("next"), None);
        assert_eq!(store.next_due(Schedule::Rotation).expect("next"), Some(10));
        let mut batch = store.batch();
        batch.unschedule(Schedule::Rotation, 10, &a);
        batch.commit().expect("commit");
        assert_eq!(store.next_due(Schedule::Rotation).expect("next"), None);
    }
}
