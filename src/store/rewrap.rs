//! The store's part of `kmsd rewrap` (moving a stopped data directory to a
//! new root key): the in-progress marker in `meta`, and the walk that
//! re-authenticates every record under the new record key.
//!
//! Crash safety: the walk is idempotent. A record whose tag already
//! verifies under the new key is skipped; any other must verify under the
//! old key and is rewritten (its value changed by the caller's `reseal`
//! where the value itself holds something sealed under the root key, i.e.
//! material), batch by synced batch. An interrupted rewrap is simply run
//! again; while the marker is set, kmsd refuses to open the directory
//! (`backend::root::check_root_key`).

use rocksdb::IteratorMode;

use super::{tagged, verify_record, Store, StoreError, ALL_CFS, CF_META};
use crate::secret::KeyMaterial;

/// Meta name of the rewrap marker: the new root key's check value while a
/// rewrap to it is under way.
const REWRAP_TARGET: &str = "rewrap_target";

/// Records rewritten per synced batch.
const BATCH: usize = 1_000;

/// What one run of [`Store::rewrap_records`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RewrapProgress {
    /// Records rewritten under the new key in this run.
    pub rewritten: u64,
    /// Records that already verified under the new key (an earlier,
    /// interrupted run rewrote them).
    pub skipped: u64,
    /// Whether every record now verifies under the new key.
    pub done: bool,
}

impl Store {
    /// Whether a rewrap was begun and not finished.
    pub(crate) fn rewrap_in_progress(&self) -> Result<bool, StoreError> {
        Ok(self.get_meta(REWRAP_TARGET)?.is_some())
    }

    /// The check value of the root key an unfinished rewrap moves to.
    pub(crate) fn rewrap_target(&self) -> Result<Option<Vec<u8>>, StoreError> {
        self.get_meta(REWRAP_TARGET)
    }

    /// Marks a rewrap to the root key whose check value is `new_check` as
    /// begun (synced).
    pub(crate) fn begin_rewrap(&self, new_check: &[u8]) -> Result<(), StoreError> {
        let mut b = self.batch();
        b.put_meta(REWRAP_TARGET, new_check);
        b.commit()
    }

    /// Ends a rewrap in one synced batch: the root check value becomes
    /// `new_check` (under meta name `check_name`) and the marker goes.
    pub(crate) fn finish_rewrap(
        &self,
        check_name: &str,
        new_check: &[u8],
    ) -> Result<(), StoreError> {
        let mut b = self.batch();
        b.put_meta(check_name, new_check);
        b.wb.delete_cf(self.cf(CF_META), REWRAP_TARGET);
        b.commit()
    }

    /// Re-authenticates every record (all families but `meta`) from `old`
    /// to `new`, the record keys of the old and new root key. `reseal` is
    /// given each record's family, key and verified value and returns the
    /// value to store (the same bytes for everything but material). Stops
    /// after rewriting `limit` records when given (a test's interruption),
    /// reporting `done: false`. A record that verifies under neither key is
    /// `Tampered`: a rewrap never vouches for a record it cannot verify.
    pub(crate) fn rewrap_records<E: From<StoreError>>(
        &self,
        old: &KeyMaterial,
        new: &KeyMaterial,
        mut reseal: impl FnMut(&'static str, &[u8], &[u8]) -> Result<Vec<u8>, E>,
        limit: Option<u64>,
    ) -> Result<RewrapProgress, E> {
        let mut progress = RewrapProgress::default();
        for cf in ALL_CFS {
            if cf == CF_META {
                continue;
            }
            let mut b = self.batch();
            let mut pending = 0;
            for item in self.db.iterator_cf(self.cf(cf), IteratorMode::Start) {
                let (k, v) = item.map_err(StoreError::from)?;
                if verify_record(new, cf, &k, &v).is_ok() {
                    progress.skipped += 1;
                    continue;
                }
                if limit.is_some_and(|l| progress.rewritten >= l) {
                    b.commit()?;
                    return Ok(progress);
                }
                let value = verify_record(old, cf, &k, &v)?;
                let value = reseal(cf, &k, value)?;
                b.wb.put_cf(self.cf(cf), &k, tagged(new, cf, &k, &value));
                progress.rewritten += 1;
                pending += 1;
                if pending == BATCH {
                    std::mem::replace(&mut b, self.batch()).commit()?;
                    pending = 0;
                }
            }
            b.commit()?;
        }
        progress.done = true;
        Ok(progress)
    }
}
