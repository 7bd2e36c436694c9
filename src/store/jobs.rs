//! The background jobs' own records, kept in the `meta` family: the clock
//! reading of the last completed pass, a hold placed when the clock jumped
//! forward, and the quarantine of schedule entries that failed (so that a
//! bad entry at the head of a queue no longer blocks every later one).
//!
//! Also the tolerant read of a schedule (`due_entries`): an entry whose
//! key cannot be decoded is returned as such, for quarantine, instead of
//! failing the whole read; the head of a schedule as stored, for status
//! reports (`schedule_head`); and the way back from the quarantine
//! (`Batch::requeue`).

use std::ops::ControlFlow;

use rocksdb::IteratorMode;

use super::{verify_record, Batch, Store, StoreError, CF_META};
use crate::model::KeyId;
use crate::store::Schedule;

const LAST_PASS: &str = "jobs/last-pass-ms";
const CLOCK_HOLD: &str = "jobs/clock-hold";
const QUARANTINE: &[u8] = b"jobs/quarantine/";

/// One due schedule entry as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueEntry {
    /// The raw schedule key (what quarantine removes).
    pub raw: Vec<u8>,
    /// Due time and key, or `None` if the key does not decode.
    pub decoded: Option<(i64, KeyId)>,
}

/// A quarantined schedule entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QuarantineEntry {
    /// `deletion`, `rotation`, `import-params-expiry` or `material-expiry`.
    pub schedule: String,
    /// The raw schedule key, hex.
    pub entry: String,
    /// When it was due (Unix ms), if the entry decodes.
    pub due_ms: Option<i64>,
    /// The key, if the entry decodes.
    pub key_id: Option<String>,
    /// Why it was quarantined.
    pub reason: String,
    /// When (Unix ms).
    pub at_ms: i64,
}

/// A hold on the jobs because the clock moved forward too far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ClockHold {
    /// The clock reading of the last completed pass before the jump.
    pub last_pass_ms: i64,
    /// The reading that was found too far ahead of it.
    pub seen_ms: i64,
}

/// A schedule entry as stored, not authenticated (see
/// [`Store::schedule_head`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ScheduledEntry {
    /// The raw schedule key, hex.
    pub entry: String,
    /// When it is due (Unix ms), if the key has the stored shape.
    pub due_ms: Option<i64>,
    /// The key, if the entry decodes.
    pub key_id: Option<String>,
}

fn schedule_name(which: Schedule) -> &'static str {
    match which {
        Schedule::Deletion => "deletion",
        Schedule::Rotation => "rotation",
        Schedule::ImportParamsExpiry => "import-params-expiry",
        Schedule::MaterialExpiry => "material-expiry",
    }
}

fn schedule_named(name: &str) -> Option<Schedule> {
    match name {
        "deletion" => Some(Schedule::Deletion),
        "rotation" => Some(Schedule::Rotation),
        "import-params-expiry" => Some(Schedule::ImportParamsExpiry),
        "material-expiry" => Some(Schedule::MaterialExpiry),
        _ => None,
    }
}

/// Due time and key of a raw schedule key, if it has the stored shape
/// (due ms (8, BE) + key id (17)).
fn decode_schedule_key(raw: &[u8]) -> Option<(i64, KeyId)> {
    let (due, id) = raw.split_first_chunk::<8>()?;
    let id = KeyId::from_storage_key(id)?;
    Some((i64::try_from(u64::from_be_bytes(*due)).ok()?, id))
}

fn quarantine_key(which: Schedule, raw: &[u8]) -> Vec<u8> {
    let mut k = QUARANTINE.to_vec();
    k.extend_from_slice(schedule_name(which).as_bytes());
    k.push(b'/');
    k.extend_from_slice(raw);
    k
}

fn get_json<T: serde::de::DeserializeOwned>(
    store: &Store,
    name: &str,
    what: &'static str,
) -> Result<Option<T>, StoreError> {
    match store.get_meta(name)? {
        None => Ok(None),
        Some(v) => serde_json::from_slice(&v)
            .map(Some)
            .map_err(|_| StoreError::Corrupt { what }),
    }
}

impl Store {
    /// Entries of `which` due at or before `now_ms`, earliest first, at
    /// most `limit`. An undecodable key is due (from its first 8 bytes if
    /// it has them, else at once) and returned undecoded.
    pub fn due_entries(
        &self,
        which: Schedule,
        now_ms: i64,
        limit: usize,
    ) -> Result<Vec<DueEntry>, StoreError> {
        // Not `scan`: an entry that fails authentication must not fail the
        // whole queue (it would block every later job), but be handed out
        // undecoded, to be quarantined like any entry that cannot be used.
        let cf = which.cf();
        let rk = self.record_key()?;
        let mut out = Vec::new();
        for item in self.db.iterator_cf(self.cf(cf), IteratorMode::Start) {
            if out.len() >= limit {
                break;
            }
            let (k, v) = item?;
            let authentic = verify_record(rk, cf, &k, &v).is_ok();
            let due = k
                .get(..8)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(|b| i64::try_from(u64::from_be_bytes(b)).unwrap_or(i64::MAX))
                .unwrap_or(i64::MIN);
            if due > now_ms {
                break;
            }
            let decoded = (authentic && k.len() == 25)
                .then(|| KeyId::from_storage_key(&k[8..]))
                .flatten()
                .map(|id| (due, id));
            out.push(DueEntry {
                raw: k.to_vec(),
                decoded,
            });
        }
        Ok(out)
    }

    /// The clock reading of the last completed job pass, if any.
    pub fn last_job_pass_ms(&self) -> Result<Option<i64>, StoreError> {
        get_json(self, LAST_PASS, "last job pass")
    }

    /// The clock-jump hold, if one is in force.
    pub fn clock_hold(&self) -> Result<Option<ClockHold>, StoreError> {
        get_json(self, CLOCK_HOLD, "clock hold")
    }

    /// The first `limit` entries of schedule `which`, earliest first, as
    /// stored and not authenticated: for `kmsd jobs status`, which runs
    /// without the root key. The jobs themselves read through
    /// `due_entries`, which verifies every entry.
    pub fn schedule_head(
        &self,
        which: Schedule,
        limit: usize,
    ) -> Result<Vec<ScheduledEntry>, StoreError> {
        let mut out = Vec::new();
        for item in self
            .db
            .iterator_cf(self.cf(which.cf()), IteratorMode::Start)
            .take(limit)
        {
            let (k, _) = item?;
            let decoded = decode_schedule_key(&k);
            out.push(ScheduledEntry {
                entry: hex::encode(&k),
                due_ms: decoded.as_ref().map(|(d, _)| *d),
                key_id: decoded.map(|(_, id)| id.to_string()),
            });
        }
        Ok(out)
    }

    /// Every quarantined schedule entry.
    pub fn quarantined(&self) -> Result<Vec<QuarantineEntry>, StoreError> {
        self.scan(CF_META, QUARANTINE, None, usize::MAX, |_, v| {
            serde_json::from_slice(v)
                .map(ControlFlow::Continue)
                .map_err(|_| StoreError::Corrupt {
                    what: "quarantine entry",
                })
        })
    }
}

impl Batch<'_> {
    /// Records the clock reading of a completed pass.
    pub fn put_last_job_pass(&mut self, now_ms: i64) {
        self.put_meta(LAST_PASS, now_ms.to_string().as_bytes());
    }

    /// Places (or replaces) the clock-jump hold.
    pub fn put_clock_hold(&mut self, hold: &ClockHold) {
        let v = serde_json::to_vec(hold).unwrap_or_default();
        self.put_meta(CLOCK_HOLD, &v);
    }

    /// Lifts the clock-jump hold.
    pub fn clear_clock_hold(&mut self) {
        self.wb.delete_cf(self.store.cf(CF_META), CLOCK_HOLD);
    }

    /// Moves `entry` out of schedule `which` into the quarantine.
    pub fn quarantine(&mut self, which: Schedule, entry: &DueEntry, reason: &str, at_ms: i64) {
        self.wb.delete_cf(self.store.cf(which.cf()), &entry.raw);
        let q = QuarantineEntry {
            schedule: schedule_name(which).to_owned(),
            entry: hex::encode(&entry.raw),
            due_ms: entry.decoded.as_ref().map(|(d, _)| *d),
            key_id: entry.decoded.as_ref().map(|(_, id)| id.to_string()),
            reason: reason.to_owned(),
            at_ms,
        };
        let k = quarantine_key(which, &entry.raw);
        let v = serde_json::to_vec(&q).unwrap_or_default();
        self.wb.put_cf(self.store.cf(CF_META), k, v);
    }

    /// Moves quarantined entry `q` back to its schedule, authenticated
    /// anew, if its raw key decodes as a due time and a key id; returns
    /// whether it did (an entry that does not decode would only fail
    /// again, and stays). Re-authenticating an entry gives it no power of
    /// its own: the jobs act only when the key's own authenticated record
    /// agrees (pending deletion at that time, rotation due then), and drop
    /// the entry otherwise. Needs the record key (a store opened with the
    /// root key).
    pub fn requeue(&mut self, q: &QuarantineEntry) -> bool {
        let Some(which) = schedule_named(&q.schedule) else {
            return false;
        };
        let Ok(raw) = hex::decode(&q.entry) else {
            return false;
        };
        if decode_schedule_key(&raw).is_none() {
            return false;
        }
        self.wb
            .delete_cf(self.store.cf(CF_META), quarantine_key(which, &raw));
        self.put(which.cf(), &raw, b"");
        true
    }

    /// Test support: puts a raw (possibly undecodable) key into a schedule.
    #[cfg(test)]
    pub(crate) fn put_raw_schedule_key(&mut self, which: Schedule, raw: &[u8]) {
        self.wb.put_cf(self.store.cf(which.cf()), raw, b"");
    }
}
