//! The `meta` family: the schema version of the data directory, and small
//! named values other layers keep there (the root key's check value,
//! written by `backend::root`).

use super::{Batch, Store, StoreError, CF_META};

/// The schema this kmsd writes. 3: every value but `meta`'s carries its
/// record tag, subkeys are HKDF-derived per purpose, the alias and grant
/// name indexes have account / grant id in their keys (2: material values
/// are `MaterialVersion` records; 1 kept bare sealed blobs).
const SCHEMA_VERSION: &str = "3";
const SCHEMA: &str = "schema";

impl Store {
    /// Records the schema of a new data directory; refuses one of another
    /// schema.
    pub(super) fn check_schema(&self) -> Result<(), StoreError> {
        match self.get_meta(SCHEMA)? {
            Some(found) if found == SCHEMA_VERSION.as_bytes() => Ok(()),
            Some(found) => Err(StoreError::Schema {
                found: String::from_utf8_lossy(&found).into_owned(),
                expected: SCHEMA_VERSION,
            }),
            None => {
                let mut b = self.batch();
                b.put_meta(SCHEMA, SCHEMA_VERSION.as_bytes());
                b.commit()
            }
        }
    }

    /// The meta value `name`.
    pub fn get_meta(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.db.get_cf(self.cf(CF_META), name)?)
    }
}

impl Batch<'_> {
    /// Sets the meta value `name`.
    pub fn put_meta(&mut self, name: &str, value: &[u8]) {
        self.wb.put_cf(self.store.cf(CF_META), name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_values_round_trip_and_the_schema_is_checked() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let store = Store::open(dir.path()).expect("open");
            assert_eq!(
                store.get_meta(SCHEMA).expect("meta").as_deref(),
                Some(SCHEMA_VERSION.as_bytes())
            );
            assert!(store.get_meta("x").expect("meta").is_none());
            let mut b = store.batch();
            b.put_meta("x", b"1");
            b.commit().expect("commit");
            assert_eq!(
                store.get_meta("x").expect("meta").as_deref(),
                Some(&b"1"[..])
            );
            // A data directory of the old layout.
            let mut b = store.batch();
            b.put_meta(SCHEMA, b"1");
            b.commit().expect("commit");
        }
        match Store::open(dir.path()) {
            Err(e @ StoreError::Schema { .. }) => {
                assert!(e.to_string().contains("schema 1"), "{e}")
            }
            Err(e) => panic!("unexpected error {e}"),
            Ok(_) => panic!("opened a schema 1 store"),
        }
    }
}
