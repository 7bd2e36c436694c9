//! Custom key stores (AWS_CLOUDHSM): CreateCustomKeyStore,
//! DescribeCustomKeyStores, UpdateCustomKeyStore, ConnectCustomKeyStore,
//! DisconnectCustomKeyStore, DeleteCustomKeyStore, and the registry of
//! stores the rest of the core consults (a key's effective state,
//! the backend holding its material).
//!
//! The HSM protocol itself is `backend::hsm`'s: this module only keeps the
//! stores' records and connection states and asks that backend to connect.
//!
//! State: the record (`model::CustomKeyStoreRecord`) is in RocksDB; the
//! live ConnectionState is in memory, one [`StoreLink`] per store, created
//! for every store at start (`Kms::resume_custom_key_stores`) or at first
//! use. A store whose record says `wants_connected` reconnects at start,
//! so a connected store survives a restart.
//!
//! Locking: every write of a store record holds the registry's `writes`
//! mutex (so name and cluster uniqueness, and the connection-state checks
//! of Update/Delete, are decided and committed atomically) and the owning
//! account's lock (`locks.rs`), which is also what CreateKey and the
//! deletion job hold when they change the record's key count. Order:
//! `writes` before the account lock; CreateKey and deletion never take
//! `writes`, so there is no cycle.
//!
//! AWS's rules, as its API reference states them (CustomKeyStoreInvalidStateException):
//! Connect is refused when DISCONNECTING or FAILED (a FAILED store is
//! disconnected first) and is a no-op when CONNECTED or CONNECTING;
//! Disconnect is refused when DISCONNECTING or DISCONNECTED; Update may
//! rename a CONNECTED or DISCONNECTED store, but changes the password or
//! cluster of a DISCONNECTED one only; Delete needs DISCONNECTED and no
//! keys (CustomKeyStoreHasCMKsException, PendingDeletion keys included).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::watch;

use super::request::{
    CreateCustomKeyStoreRequest, CustomKeyStoreIdRequest, DescribeCustomKeyStoresRequest,
    UpdateCustomKeyStoreRequest,
};
use super::{validate, AuthzInput, Caller, Inner, Kms, LockName, Resource};
use crate::backend::hsm::{ConnectFailure, HsmKeyStore, HsmStoreConfig, TrustAnchorError};
use crate::error::{KmsError, KmsResult};
use crate::model::custom_key_store::{is_store_id, STORE_ID_HEX_DIGITS, STORE_ID_PREFIX};
use crate::model::{
    ConnectionErrorCode, ConnectionState, CustomKeyStoreRecord, CustomKeyStoreType, KeyRecord,
    KeyState, Operation, SealedBlob,
};
use crate::secret::{KeyMaterial, Password};

pub(super) use crate::model::custom_key_store::PASSWORD_KEY_LABEL;

/// One custom key store as DescribeCustomKeyStores shows it.
#[derive(Debug, Clone)]
pub struct CustomKeyStoreEntry {
    /// CustomKeyStoreId.
    pub custom_key_store_id: String,
    /// CustomKeyStoreName.
    pub custom_key_store_name: String,
    /// CloudHsmClusterId.
    pub cloud_hsm_cluster_id: String,
    /// TrustAnchorCertificate (PEM).
    pub trust_anchor_certificate: String,
    /// ConnectionState, as AWS spells it (`CONNECTED`, ...).
    pub connection_state: &'static str,
    /// ConnectionErrorCode, as AWS spells it, when there is one.
    pub connection_error_code: Option<&'static str>,
    /// CreationDate, Unix ms.
    pub creation_date_ms: i64,
    /// CustomKeyStoreType (`AWS_CLOUDHSM`).
    pub custom_key_store_type: &'static str,
}

/// A store's live connection state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Live {
    /// ConnectionState.
    pub state: ConnectionState,
    /// Why the last attempt failed (shown while FAILED).
    pub error: Option<ConnectionErrorCode>,
    /// Bumped by every Connect and Disconnect, so a background connection
    /// attempt that finishes after a later Disconnect (or Connect) knows
    /// its result is stale.
    generation: u64,
}

/// One store's link: its HSM backend and live state.
pub(crate) struct StoreLink {
    /// The owning account (a store is invisible to every other).
    account: String,
    /// The HSM backend of the store's keys.
    pub(crate) hsm: Arc<HsmKeyStore>,
    /// The cluster id (UpdateCustomKeyStore can change it).
    cluster_id: Mutex<String>,
    /// The live state; a watch so tests and tools can wait for a change.
    live: watch::Sender<Live>,
}

impl StoreLink {
    fn new(rec: &CustomKeyStoreRecord) -> Arc<Self> {
        Arc::new(Self {
            account: rec.account.clone(),
            hsm: HsmKeyStore::new(&rec.id),
            cluster_id: Mutex::new(rec.cluster_id.clone()),
            live: watch::Sender::new(Live {
                state: ConnectionState::Disconnected,
                error: None,
                generation: 0,
            }),
        })
    }

    /// Starts a transition to `state` (CONNECTING or DISCONNECTING): no
    /// error, a new generation, which it returns. The attempt that ends the
    /// transition publishes its outcome only if the generation is still
    /// its own.
    fn begin(&self, state: ConnectionState) -> u64 {
        let mut generation = 0;
        self.live.send_modify(|l| {
            l.state = state;
            l.error = None;
            l.generation += 1;
            generation = l.generation;
        });
        generation
    }

    /// Sets the live state as a connection would (tests of what the rest
    /// of the core does with a CONNECTED store, without an HSM cluster).
    #[cfg(test)]
    pub(crate) fn force_state(&self, state: ConnectionState) {
        self.live.send_modify(|l| {
            l.state = state;
            l.generation += 1;
        });
    }

    /// Waits until the state is neither CONNECTING nor DISCONNECTING.
    pub(crate) async fn settled(&self) -> Live {
        let mut rx = self.live.subscribe();
        let settled = rx
            .wait_for(|l| {
                !matches!(
                    l.state,
                    ConnectionState::Connecting | ConnectionState::Disconnecting
                )
            })
            .await
            .map(|l| *l);
        settled.unwrap_or_else(|_| self.live())
    }

    /// The owning account.
    pub(crate) fn account(&self) -> &str {
        &self.account
    }

    pub(crate) fn live(&self) -> Live {
        *self.live.borrow()
    }

    pub(crate) fn cluster_id(&self) -> String {
        self.cluster_id
            .lock()
            .map(|c| c.clone())
            .unwrap_or_default()
    }

    fn set_cluster_id(&self, id: &str) {
        if let Ok(mut c) = self.cluster_id.lock() {
            id.clone_into(&mut c);
        }
    }
}

/// Every store's link, and what their writes share.
pub(crate) struct Registry {
    links: RwLock<HashMap<String, Arc<StoreLink>>>,
    /// Serializes writes of store records (see the module doc).
    writes: Mutex<()>,
    /// Seals `kmsuser` passwords (derived from the root key).
    password_key: KeyMaterial,
}

impl Registry {
    pub(crate) fn new(password_key: KeyMaterial) -> Self {
        Self {
            links: RwLock::new(HashMap::new()),
            writes: Mutex::new(()),
            password_key,
        }
    }

    fn get(&self, id: &str) -> Option<Arc<StoreLink>> {
        self.links.read().ok()?.get(id).cloned()
    }

    /// The link of `rec`, made if there is none yet (inside the runtime:
    /// the HSM backend keeps its handle).
    fn get_or_insert(&self, rec: &CustomKeyStoreRecord) -> Arc<StoreLink> {
        if let Some(l) = self.get(&rec.id) {
            return l;
        }
        let mut links = match self.links.write() {
            Ok(l) => l,
            Err(p) => p.into_inner(),
        };
        Arc::clone(
            links
                .entry(rec.id.clone())
                .or_insert_with(|| StoreLink::new(rec)),
        )
    }

    fn remove(&self, id: &str) {
        if let Ok(mut links) = self.links.write() {
            links.remove(id);
        }
    }

    fn lock_writes(&self) -> std::sync::MutexGuard<'_, ()> {
        // The guarded data is `()`: a panic elsewhere leaves nothing
        // inconsistent behind it.
        match self.writes.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Seals `password` for store `id`.
    fn seal_password(&self, id: &str, password: &Password) -> KmsResult<SealedBlob> {
        crate::crypto::seal(
            self.password_key.expose_secret(),
            id.as_bytes(),
            password.expose_secret().as_bytes(),
        )
        .map(SealedBlob::new)
        .map_err(KmsError::internal)
    }

    /// Opens the sealed password of `rec`.
    fn open_password(&self, rec: &CustomKeyStoreRecord) -> KmsResult<Password> {
        let plain = crate::crypto::open(
            self.password_key.expose_secret(),
            rec.id.as_bytes(),
            rec.sealed_password.as_bytes(),
        )
        .map_err(|_| {
            KmsError::internal(format!(
                "the key store password of {} does not open",
                rec.id
            ))
        })?;
        let text = std::str::from_utf8(plain.expose_secret())
            .map_err(|_| KmsError::internal("a key store password is not UTF-8"))?;
        Ok(Password::new(text.to_owned()))
    }
}

fn not_found(id: &str) -> KmsError {
    KmsError::CustomKeyStoreNotFound(format!(
        "Custom key store {} does not exist",
        crate::model::ids::printable(id)
    ))
}

fn not_found_name(name: &str) -> KmsError {
    KmsError::CustomKeyStoreNotFound(format!(
        "No custom key store is named {}",
        crate::model::ids::printable(name)
    ))
}

fn invalid_state(id: &str, state: ConnectionState, what: &str) -> KmsError {
    KmsError::CustomKeyStoreInvalidState(format!("Custom key store {id} is {state}: {what}"))
}

/// Checks a CustomKeyStoreId field: 1–64 characters (ValidationException);
/// anything not of the `cks-` + 17 hex digits form names no store.
fn check_store_id(id: &str) -> KmsResult<()> {
    validate::length("customKeyStoreId", id.chars().count(), 1, 64)?;
    if is_store_id(id) {
        Ok(())
    } else {
        Err(not_found(id))
    }
}

fn check_name(field: &str, name: &str) -> KmsResult<()> {
    validate::length(field, name.chars().count(), 1, 256)
}

fn check_cluster_id(id: &str) -> KmsResult<()> {
    validate::length("cloudHsmClusterId", id.chars().count(), 19, 24)
}

fn check_password(p: &Password) -> KmsResult<()> {
    validate::length("keyStorePassword", p.expose_secret().chars().count(), 7, 32)
}

/// A fresh store id: `cks-` + 17 random lowercase hex digits.
fn new_store_id() -> KmsResult<String> {
    let mut bytes = [0u8; 9];
    crate::crypto::fill_random(&mut bytes).map_err(KmsError::internal)?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("{STORE_ID_PREFIX}{}", &hex[..STORE_ID_HEX_DIGITS]))
}

fn error_code(f: ConnectFailure) -> ConnectionErrorCode {
    match f {
        ConnectFailure::InvalidCredentials => ConnectionErrorCode::InvalidCredentials,
        ConnectFailure::ClusterNotFound => ConnectionErrorCode::ClusterNotFound,
        ConnectFailure::InsufficientHsms => ConnectionErrorCode::InsufficientCloudHsmHsms,
        ConnectFailure::NetworkErrors => ConnectionErrorCode::NetworkErrors,
        ConnectFailure::UserLockedOut => ConnectionErrorCode::UserLockedOut,
        _ => ConnectionErrorCode::InternalError,
    }
}

impl Inner {
    /// The link of store `id` if the store exists (loaded from the store
    /// on first use after a restart).
    pub(super) async fn cks_link(self: &Arc<Self>, id: &str) -> KmsResult<Option<Arc<StoreLink>>> {
        if let Some(l) = self.cks.get(id) {
            return Ok(Some(l));
        }
        let owned = id.to_owned();
        let rec = self
            .blocking(move |inner| {
                inner
                    .store
                    .get_custom_key_store(&owned)
                    .map_err(KmsError::internal)
            })
            .await?;
        Ok(rec.map(|r| self.cks.get_or_insert(&r)))
    }

    /// Checks store id `id`'s shape, authorizes `op` for `caller`, and
    /// returns the link of that store of the caller's account (the
    /// prologue of Connect, Disconnect and Delete).
    async fn authorized_link(
        self: &Arc<Self>,
        caller: &Caller,
        id: &str,
        op: Operation,
    ) -> KmsResult<Arc<StoreLink>> {
        check_store_id(id)?;
        self.authorize_store_op(caller, op).await?;
        self.own_link(caller, id).await
    }

    /// The link of store `id` of the caller's account: any other store, or
    /// none, is CustomKeyStoreNotFoundException.
    async fn own_link(self: &Arc<Self>, caller: &Caller, id: &str) -> KmsResult<Arc<StoreLink>> {
        match self.cks_link(id).await? {
            Some(l) if l.account == caller.principal.account() => Ok(l),
            _ => Err(not_found(id)),
        }
    }

    /// The link of an existing store, in memory (no load): for the
    /// blocking-pool paths, which run after `resolve` made sure of it.
    pub(super) fn cks_link_loaded(&self, id: &str) -> Option<Arc<StoreLink>> {
        self.cks.get(id)
    }

    /// A key as the API sees it: a key in a custom key store that is not
    /// CONNECTED is Unavailable (unless pending deletion), and carries its
    /// store's cluster id. Other keys are returned as they are.
    pub(super) async fn effective_key(
        self: &Arc<Self>,
        rec: Arc<KeyRecord>,
        op: Operation,
    ) -> KmsResult<Arc<KeyRecord>> {
        let Some(store_id) = rec.custom_key_store_id.as_deref() else {
            return Ok(rec);
        };
        let link = self.cks_link(store_id).await?;
        let connected = link
            .as_ref()
            .is_some_and(|l| l.live().state == ConnectionState::Connected);
        let unavailable = !connected && matches!(rec.state, KeyState::Enabled | KeyState::Disabled);
        // The data path of a connected store's key takes the record as it
        // is; only what reports the key (or must see it Unavailable) pays
        // for a copy.
        if !unavailable && !reports_metadata(op) {
            return Ok(rec);
        }
        let mut view = (*rec).clone();
        view.cloud_hsm_cluster_id = link.map(|l| l.cluster_id());
        if unavailable {
            view.state = KeyState::Unavailable;
        }
        Ok(Arc::new(view))
    }

    /// Starts connecting `link` in the background (the state is already
    /// CONNECTING with `generation`).
    fn spawn_connect(self: &Arc<Self>, id: String, link: Arc<StoreLink>, generation: u64) {
        let inner = Arc::clone(self);
        tokio::spawn(async move {
            let result = inner.connect_once(&id, &link).await;
            let current =
                |l: &Live| l.generation == generation && l.state == ConnectionState::Connecting;
            if current(&link.live()) {
                match result {
                    Ok(()) => {
                        tracing::info!(custom_key_store_id = %id, "custom key store connected")
                    }
                    Err(code) => tracing::warn!(
                        custom_key_store_id = %id,
                        error_code = %code,
                        "custom key store connection failed"
                    ),
                }
                // Recorded before the state is published, so whoever sees
                // the new state also finds it in the record.
                let error = result.err();
                let persisted = inner
                    .blocking({
                        let id = id.clone();
                        move |inner| {
                            inner.update_store_record(&id, |rec| {
                                rec.connection_error_code = error;
                                Ok(())
                            })
                        }
                    })
                    .await;
                if let Err(e) = persisted {
                    tracing::warn!(custom_key_store_id = %id, error = %e, "could not record the connection result");
                }
            }
            // The core's handle goes before the state is published: a
            // caller that saw the state and drops the core finds no task
            // keeping it alive.
            drop(inner);
            let mut stale = false;
            link.live.send_modify(|l| {
                if !current(l) {
                    stale = true;
                    return;
                }
                match result {
                    Ok(()) => {
                        l.state = ConnectionState::Connected;
                        l.error = None;
                    }
                    Err(code) => {
                        l.state = ConnectionState::Failed;
                        l.error = Some(code);
                    }
                }
            });
            // A Disconnect (or a newer Connect) came meanwhile: this
            // attempt's connection, if any, must not stay up.
            if stale
                && result.is_ok()
                && matches!(
                    link.live().state,
                    ConnectionState::Disconnected | ConnectionState::Disconnecting
                )
            {
                link.hsm.disconnect().await;
            }
        });
    }

    /// One connection attempt of store `id`.
    async fn connect_once(
        self: &Arc<Self>,
        id: &str,
        link: &Arc<StoreLink>,
    ) -> Result<(), ConnectionErrorCode> {
        let owned = id.to_owned();
        let loaded = self
            .blocking(move |inner| {
                let rec = inner
                    .store
                    .get_custom_key_store(&owned)
                    .map_err(KmsError::internal)?
                    .ok_or_else(|| not_found(&owned))?;
                let password = inner.cks.open_password(&rec)?;
                Ok((rec, password))
            })
            .await;
        let Ok((rec, password)) = loaded else {
            return Err(ConnectionErrorCode::InternalError);
        };
        let Some(nodes) = self.hsm_clusters.nodes(&rec.cluster_id) else {
            return Err(ConnectionErrorCode::ClusterNotFound);
        };
        let config = HsmStoreConfig {
            cluster_id: rec.cluster_id.clone(),
            nodes: nodes.to_vec(),
            trust_anchor_pem: rec.trust_anchor_pem,
            password,
        };
        link.hsm.connect(config).await.map_err(error_code)
    }

    /// Writer (blocking pool): re-reads store `id`'s record under the
    /// registry's write mutex and its account's lock, applies `change`,
    /// commits. The caller holds neither.
    fn update_store_record<T>(
        &self,
        id: &str,
        change: impl FnOnce(&mut CustomKeyStoreRecord) -> KmsResult<T>,
    ) -> KmsResult<T> {
        let _g = self.cks.lock_writes();
        self.update_store_record_locked(id, change)
    }

    /// As `update_store_record`, with the registry's write mutex held.
    fn update_store_record_locked<T>(
        &self,
        id: &str,
        change: impl FnOnce(&mut CustomKeyStoreRecord) -> KmsResult<T>,
    ) -> KmsResult<T> {
        let account = self
            .store
            .get_custom_key_store(id)
            .map_err(KmsError::internal)?
            .ok_or_else(|| not_found(id))?
            .account;
        let _w = self.lock(&[LockName::Account(&account)]);
        let mut rec = self
            .store
            .get_custom_key_store(id)
            .map_err(KmsError::internal)?
            .ok_or_else(|| not_found(id))?;
        let out = change(&mut rec)?;
        let mut b = self.store.batch();
        b.put_custom_key_store(&rec).map_err(KmsError::internal)?;
        b.commit().map_err(KmsError::internal)?;
        Ok(out)
    }

    /// Writer (blocking pool, with the account's lock held): adds `delta`
    /// keys to store `id`'s count in batch `b`. CreateKey and the deletion
    /// job call it in the batch of the key they create or delete.
    pub(super) fn count_store_keys(
        &self,
        id: &str,
        delta: i64,
        b: &mut crate::store::Batch<'_>,
    ) -> KmsResult<()> {
        let mut rec = self
            .store
            .get_custom_key_store(id)
            .map_err(KmsError::internal)?
            .ok_or_else(|| not_found(id))?;
        rec.key_count = if delta >= 0 {
            rec.key_count.saturating_add(delta.unsigned_abs())
        } else {
            rec.key_count.saturating_sub(delta.unsigned_abs())
        };
        b.put_custom_key_store(&rec).map_err(KmsError::internal)
    }

    /// A store record's other stores' clash with a name or cluster:
    /// CustomKeyStoreNameInUseException / CloudHsmClusterInUseException.
    fn check_unique(
        &self,
        account: &str,
        except_id: Option<&str>,
        name: Option<&str>,
        cluster_id: Option<&str>,
    ) -> KmsResult<()> {
        let all = self
            .store
            .list_custom_key_stores()
            .map_err(KmsError::internal)?;
        for other in all.iter().filter(|r| Some(r.id.as_str()) != except_id) {
            if let Some(n) = name {
                if other.account == account && other.name == n {
                    return Err(KmsError::CustomKeyStoreNameInUse(format!(
                        "A custom key store named {} already exists in this account",
                        crate::model::ids::printable(n)
                    )));
                }
            }
            if let Some(c) = cluster_id {
                if other.cluster_id == c {
                    return Err(KmsError::CloudHsmClusterInUse(format!(
                        "Cluster {} is already associated with a custom key store",
                        crate::model::ids::printable(c)
                    )));
                }
            }
        }
        Ok(())
    }

    /// The node addresses of a cluster kmsd knows (CloudHsmClusterNotFoundException).
    fn cluster_nodes(&self, cluster_id: &str) -> KmsResult<Vec<String>> {
        self.hsm_clusters
            .nodes(cluster_id)
            .map(<[String]>::to_vec)
            .ok_or_else(|| {
                KmsError::CloudHsmClusterNotFound(format!(
                    "No HSM cluster with id {} is known to this kmsd (--hsm-cluster)",
                    crate::model::ids::printable(cluster_id)
                ))
            })
    }

    async fn authorize_store_op(self: &Arc<Self>, caller: &Caller, op: Operation) -> KmsResult<()> {
        self.authorize(caller, op, Resource::None, &AuthzInput::default())
            .await
    }
}

/// Whether UpdateCustomKeyStore may run in `state`: a rename while
/// CONNECTED or DISCONNECTED, anything else while DISCONNECTED only.
fn update_allowed(only_name: bool, state: ConnectionState) -> bool {
    state == ConnectionState::Disconnected || (only_name && state == ConnectionState::Connected)
}

fn update_refused(id: &str, only_name: bool, state: ConnectionState) -> KmsError {
    invalid_state(
        id,
        state,
        if only_name {
            "it can be renamed only while CONNECTED or DISCONNECTED"
        } else {
            "its password and cluster can be changed only while DISCONNECTED"
        },
    )
}

/// Operations that report a key's metadata (and so its cluster id).
fn reports_metadata(op: Operation) -> bool {
    matches!(
        op,
        Operation::DescribeKey
            | Operation::ScheduleKeyDeletion
            | Operation::CancelKeyDeletion
            | Operation::CreateKey
    )
}

fn entry_of(rec: &CustomKeyStoreRecord, live: Option<Live>) -> CustomKeyStoreEntry {
    let live = live.unwrap_or(Live {
        state: ConnectionState::Disconnected,
        error: None,
        generation: 0,
    });
    CustomKeyStoreEntry {
        custom_key_store_id: rec.id.clone(),
        custom_key_store_name: rec.name.clone(),
        cloud_hsm_cluster_id: rec.cluster_id.clone(),
        trust_anchor_certificate: rec.trust_anchor_pem.clone(),
        connection_state: live.state.as_aws_str(),
        // AWS shows the error code only while the store is FAILED.
        connection_error_code: match live.state {
            ConnectionState::Failed => live.error.map(ConnectionErrorCode::as_aws_str),
            _ => None,
        },
        creation_date_ms: rec.created_ms,
        custom_key_store_type: CustomKeyStoreType::AwsCloudHsm.as_aws_str(),
    }
}

impl Kms {
    /// Makes every store's link and starts reconnecting the stores that
    /// were connected (or connecting) when kmsd last stopped. The server
    /// calls it once when it starts serving.
    pub async fn resume_custom_key_stores(&self) -> KmsResult<()> {
        let records = self
            .inner
            .blocking(|inner| {
                inner
                    .store
                    .list_custom_key_stores()
                    .map_err(KmsError::internal)
            })
            .await?;
        for rec in records {
            let link = self.inner.cks.get_or_insert(&rec);
            if !rec.wants_connected {
                continue;
            }
            let mut generation = None;
            link.live.send_modify(|l| {
                if l.state == ConnectionState::Disconnected {
                    l.state = ConnectionState::Connecting;
                    l.error = None;
                    l.generation += 1;
                    generation = Some(l.generation);
                }
            });
            if let Some(g) = generation {
                tracing::info!(custom_key_store_id = %rec.id, "reconnecting custom key store");
                self.inner.spawn_connect(rec.id.clone(), link, g);
            }
        }
        Ok(())
    }

    /// Waits until store `id`'s connection state is neither CONNECTING nor
    /// DISCONNECTING and returns it with its error code (`None` for no such
    /// store). An event to wait for, not a poll: for tests and tools (the
    /// API's answer is DescribeCustomKeyStores). No authorization: not an
    /// API operation.
    pub async fn custom_key_store_settled(
        &self,
        id: &str,
    ) -> KmsResult<Option<(ConnectionState, Option<ConnectionErrorCode>)>> {
        let Some(link) = self.inner.cks_link(id).await? else {
            return Ok(None);
        };
        let live = link.settled().await;
        Ok(Some((live.state, live.error)))
    }

    /// CreateCustomKeyStore: the new store's id.
    pub async fn create_custom_key_store(
        &self,
        caller: &Caller,
        req: CreateCustomKeyStoreRequest,
    ) -> KmsResult<String> {
        match req.custom_key_store_type.as_deref() {
            None | Some("AWS_CLOUDHSM") => {}
            Some("EXTERNAL_KEY_STORE") => {
                return Err(KmsError::UnsupportedOperation(
                    "External key stores (EXTERNAL_KEY_STORE) are not supported by kmsd".into(),
                ))
            }
            Some(other) => {
                return Err(validate::validation(
                    "customKeyStoreType",
                    &format!(
                        "Member must satisfy enum value set: [AWS_CLOUDHSM, EXTERNAL_KEY_STORE] (got {})",
                        crate::model::ids::printable(other)
                    ),
                ))
            }
        }
        check_name("customKeyStoreName", &req.custom_key_store_name)?;
        let required = |field: &str| {
            validate::validation(
                field,
                "Member must not be null for a custom key store of type AWS_CLOUDHSM",
            )
        };
        let cluster_id = req
            .cloud_hsm_cluster_id
            .ok_or_else(|| required("cloudHsmClusterId"))?;
        check_cluster_id(&cluster_id)?;
        let anchor = req
            .trust_anchor_certificate
            .ok_or_else(|| required("trustAnchorCertificate"))?;
        validate::length("trustAnchorCertificate", anchor.chars().count(), 1, 5000)?;
        let password = req
            .key_store_password
            .ok_or_else(|| required("keyStorePassword"))?;
        check_password(&password)?;
        let inner = &self.inner;
        inner
            .authorize_store_op(caller, Operation::CreateCustomKeyStore)
            .await?;
        let account = caller.principal.account().to_owned();
        let name = req.custom_key_store_name;
        // Cheap refusals before the network round trip (and again, under
        // the lock, at commit).
        {
            let (account, name, cluster_id) = (account.clone(), name.clone(), cluster_id.clone());
            inner
                .blocking(move |inner| {
                    inner.check_unique(&account, None, Some(&name), Some(&cluster_id))
                })
                .await?;
        }
        let nodes = inner.cluster_nodes(&cluster_id)?;
        HsmKeyStore::check_trust_anchor(&nodes, &anchor)
            .await
            .map_err(|e| match e {
                TrustAnchorError::Malformed => validate::validation(
                    "trustAnchorCertificate",
                    "Member must be one PEM-encoded X.509 CA certificate",
                ),
                TrustAnchorError::Incorrect => KmsError::IncorrectTrustAnchor(format!(
                    "The HSMs of cluster {cluster_id} do not present certificates issued by the trust anchor certificate"
                )),
                _ => KmsError::CloudHsmClusterNotActive(format!(
                    "No HSM of cluster {cluster_id} answered"
                )),
            })?;
        let now = inner.now_ms();
        let rec = inner
            .blocking(move |inner| {
                let _g = inner.cks.lock_writes();
                let _w = inner.lock(&[LockName::Account(&account)]);
                inner.check_unique(&account, None, Some(&name), Some(&cluster_id))?;
                let id = new_store_id()?;
                let rec = CustomKeyStoreRecord {
                    sealed_password: inner.cks.seal_password(&id, &password)?,
                    id,
                    account,
                    name,
                    cluster_id,
                    trust_anchor_pem: anchor,
                    created_ms: now,
                    wants_connected: false,
                    connection_error_code: None,
                    key_count: 0,
                };
                let mut b = inner.store.batch();
                b.put_custom_key_store(&rec).map_err(KmsError::internal)?;
                b.commit().map_err(KmsError::internal)?;
                Ok(rec)
            })
            .await?;
        inner.cks.get_or_insert(&rec);
        Ok(rec.id)
    }

    /// DescribeCustomKeyStores: one page of stores and the next marker.
    pub async fn describe_custom_key_stores(
        &self,
        caller: &Caller,
        req: DescribeCustomKeyStoresRequest,
    ) -> KmsResult<(Vec<CustomKeyStoreEntry>, Option<String>)> {
        if req.custom_key_store_id.is_some() && req.custom_key_store_name.is_some() {
            return Err(KmsError::Validation(
                "Specify either CustomKeyStoreId or CustomKeyStoreName, not both".into(),
            ));
        }
        if let Some(id) = &req.custom_key_store_id {
            validate::length("customKeyStoreId", id.chars().count(), 1, 64)?;
        }
        if let Some(name) = &req.custom_key_store_name {
            check_name("customKeyStoreName", name)?;
        }
        let limit = validate::limit(req.page.limit)?;
        let after = validate::marker(req.page.marker.as_deref())?.map(str::to_owned);
        if let Some(m) = &after {
            if !is_store_id(m) {
                return Err(KmsError::InvalidMarker(
                    "The marker is not one that DescribeCustomKeyStores returned".into(),
                ));
            }
        }
        self.inner
            .authorize_store_op(caller, Operation::DescribeCustomKeyStores)
            .await?;
        let account = caller.principal.account().to_owned();
        let mine: Vec<CustomKeyStoreRecord> = self
            .inner
            .blocking(move |inner| {
                Ok(inner
                    .store
                    .list_custom_key_stores()
                    .map_err(KmsError::internal)?
                    .into_iter()
                    .filter(|r| r.account == account)
                    .collect())
            })
            .await?;
        let live = |r: &CustomKeyStoreRecord| self.inner.cks.get(&r.id).map(|l| l.live());
        if let Some(id) = &req.custom_key_store_id {
            let rec = mine
                .iter()
                .find(|r| &r.id == id)
                .ok_or_else(|| not_found(id))?;
            return Ok((vec![entry_of(rec, live(rec))], None));
        }
        if let Some(name) = &req.custom_key_store_name {
            let rec = mine
                .iter()
                .find(|r| &r.name == name)
                .ok_or_else(|| not_found_name(name))?;
            return Ok((vec![entry_of(rec, live(rec))], None));
        }
        // Id order (the family's order): stable across calls and restarts.
        let mut page: Vec<&CustomKeyStoreRecord> = mine
            .iter()
            .filter(|r| after.as_ref().is_none_or(|a| r.id.as_str() > a.as_str()))
            .take(limit + 1)
            .collect();
        let next = if page.len() > limit {
            page.truncate(limit);
            page.last().map(|r| r.id.clone())
        } else {
            None
        };
        Ok((
            page.into_iter().map(|r| entry_of(r, live(r))).collect(),
            next,
        ))
    }

    /// UpdateCustomKeyStore.
    pub async fn update_custom_key_store(
        &self,
        caller: &Caller,
        req: UpdateCustomKeyStoreRequest,
    ) -> KmsResult<()> {
        let id = req.custom_key_store_id;
        check_store_id(&id)?;
        if let Some(n) = &req.new_custom_key_store_name {
            check_name("newCustomKeyStoreName", n)?;
        }
        if let Some(p) = &req.key_store_password {
            check_password(p)?;
        }
        if let Some(c) = &req.cloud_hsm_cluster_id {
            check_cluster_id(c)?;
        }
        if req.new_custom_key_store_name.is_none()
            && req.key_store_password.is_none()
            && req.cloud_hsm_cluster_id.is_none()
        {
            return Err(KmsError::Validation(
                "UpdateCustomKeyStore needs NewCustomKeyStoreName, KeyStorePassword or CloudHsmClusterId".into(),
            ));
        }
        let inner = &self.inner;
        inner
            .authorize_store_op(caller, Operation::UpdateCustomKeyStore)
            .await?;
        let link = inner.own_link(caller, &id).await?;
        let only_name = req.key_store_password.is_none() && req.cloud_hsm_cluster_id.is_none();
        let state = link.live().state;
        if !update_allowed(only_name, state) {
            return Err(update_refused(&id, only_name, state));
        }
        // A new cluster must be known and related: its HSMs present
        // certificates issued by the store's trust anchor.
        let new_cluster = match req.cloud_hsm_cluster_id {
            Some(c) if c != link.cluster_id() => {
                let nodes = inner.cluster_nodes(&c)?;
                let owned = id.clone();
                let anchor = inner
                    .blocking(move |inner| {
                        Ok(inner
                            .store
                            .get_custom_key_store(&owned)
                            .map_err(KmsError::internal)?
                            .ok_or_else(|| not_found(&owned))?
                            .trust_anchor_pem)
                    })
                    .await?;
                HsmKeyStore::check_trust_anchor(&nodes, &anchor)
                    .await
                    .map_err(|e| match e {
                        TrustAnchorError::Unreachable => KmsError::CloudHsmClusterNotActive(
                            format!("No HSM of cluster {c} answered"),
                        ),
                        _ => KmsError::CloudHsmClusterNotRelated(format!(
                            "Cluster {c} is not related to the custom key store's cluster: its HSMs do not present certificates issued by the store's trust anchor"
                        )),
                    })?;
                Some(c)
            }
            _ => None,
        };
        let name = req.new_custom_key_store_name;
        let password = req.key_store_password;
        let new_cluster2 = new_cluster.clone();
        let link2 = Arc::clone(&link);
        inner
            .blocking(move |inner| {
                let _g = inner.cks.lock_writes();
                // Under the write mutex, which Connect and Disconnect hold
                // to change the state: this answer stays true to the commit.
                let state = link2.live().state;
                if !update_allowed(only_name, state) {
                    return Err(update_refused(&id, only_name, state));
                }
                let rec = inner
                    .store
                    .get_custom_key_store(&id)
                    .map_err(KmsError::internal)?
                    .ok_or_else(|| not_found(&id))?;
                inner.check_unique(
                    &rec.account,
                    Some(&id),
                    name.as_deref().filter(|n| *n != rec.name),
                    new_cluster2.as_deref(),
                )?;
                let sealed = match &password {
                    Some(p) => Some(inner.cks.seal_password(&id, p)?),
                    None => None,
                };
                inner.update_store_record_locked(&id, move |rec| {
                    if let Some(n) = name {
                        rec.name = n;
                    }
                    if let Some(c) = new_cluster2 {
                        rec.cluster_id = c;
                    }
                    if let Some(s) = sealed {
                        rec.sealed_password = s;
                    }
                    Ok(())
                })
            })
            .await?;
        if let Some(c) = new_cluster {
            link.set_cluster_id(&c);
        }
        Ok(())
    }

    /// ConnectCustomKeyStore: answers at once with the store CONNECTING;
    /// the connection is made in the background (CONNECTED or FAILED).
    pub async fn connect_custom_key_store(
        &self,
        caller: &Caller,
        req: CustomKeyStoreIdRequest,
    ) -> KmsResult<()> {
        let id = req.custom_key_store_id;
        let inner = &self.inner;
        let link = inner
            .authorized_link(caller, &id, Operation::ConnectCustomKeyStore)
            .await?;
        let link2 = Arc::clone(&link);
        let id2 = id.clone();
        let generation = inner
            .blocking(move |inner| {
                let _g = inner.cks.lock_writes();
                let live = link2.live();
                match live.state {
                    ConnectionState::Connected | ConnectionState::Connecting => return Ok(None),
                    ConnectionState::Disconnected => {}
                    state => {
                        return Err(invalid_state(
                            &id2,
                            state,
                            "disconnect it (DisconnectCustomKeyStore) before connecting it again",
                        ))
                    }
                }
                inner.update_store_record_locked(&id2, |rec| {
                    rec.wants_connected = true;
                    Ok(())
                })?;
                Ok(Some(link2.begin(ConnectionState::Connecting)))
            })
            .await?;
        if let Some(g) = generation {
            inner.spawn_connect(id, link, g);
        }
        Ok(())
    }

    /// DisconnectCustomKeyStore.
    pub async fn disconnect_custom_key_store(
        &self,
        caller: &Caller,
        req: CustomKeyStoreIdRequest,
    ) -> KmsResult<()> {
        let id = req.custom_key_store_id;
        let inner = &self.inner;
        let link = inner
            .authorized_link(caller, &id, Operation::DisconnectCustomKeyStore)
            .await?;
        let link2 = Arc::clone(&link);
        let id2 = id.clone();
        let generation = inner
            .blocking(move |inner| {
                let _g = inner.cks.lock_writes();
                let state = link2.live().state;
                if matches!(
                    state,
                    ConnectionState::Disconnected | ConnectionState::Disconnecting
                ) {
                    return Err(invalid_state(&id2, state, "it is not connected"));
                }
                inner.update_store_record_locked(&id2, |rec| {
                    rec.wants_connected = false;
                    rec.connection_error_code = None;
                    Ok(())
                })?;
                Ok(link2.begin(ConnectionState::Disconnecting))
            })
            .await?;
        link.hsm.disconnect().await;
        link.live.send_modify(|l| {
            if l.generation == generation {
                l.state = ConnectionState::Disconnected;
            }
        });
        tracing::info!(custom_key_store_id = %id, "custom key store disconnected");
        Ok(())
    }

    /// DeleteCustomKeyStore.
    pub async fn delete_custom_key_store(
        &self,
        caller: &Caller,
        req: CustomKeyStoreIdRequest,
    ) -> KmsResult<()> {
        let id = req.custom_key_store_id;
        let inner = &self.inner;
        let link = inner
            .authorized_link(caller, &id, Operation::DeleteCustomKeyStore)
            .await?;
        inner
            .blocking(move |inner| {
                let _g = inner.cks.lock_writes();
                let state = link.live().state;
                if state != ConnectionState::Disconnected {
                    return Err(invalid_state(
                        &id,
                        state,
                        "only a DISCONNECTED custom key store can be deleted",
                    ));
                }
                let _w = inner.lock(&[LockName::Account(&link.account)]);
                let rec = inner
                    .store
                    .get_custom_key_store(&id)
                    .map_err(KmsError::internal)?
                    .ok_or_else(|| not_found(&id))?;
                if rec.key_count > 0 {
                    return Err(KmsError::CustomKeyStoreHasCmks(format!(
                        "Custom key store {id} still holds {} KMS keys (keys pending deletion count until they are deleted)",
                        rec.key_count
                    )));
                }
                let mut b = inner.store.batch();
                b.delete_custom_key_store(&id);
                b.commit().map_err(KmsError::internal)?;
                inner.cks.remove(&id);
                Ok(())
            })
            .await
    }
}

#[cfg(test)]
mod tests;
