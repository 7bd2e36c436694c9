//! A connected store's link to its cluster: one HTTP/2 channel per node
//! (multiplexed, kept alive) with that node's `kmsuser` session, calls
//! spread round-robin over the live nodes, failover, re-login, and a task
//! per node that re-dials it while it is down.
//!
//! Node states ([`Slot`]): `Live` (channel and session), `Dead` (a
//! transport failure; the node's task re-dials it every
//! [`REDIAL_INTERVAL`]), `Refused` (its login was refused or it reports
//! another cluster: never retried, because every failed login counts
//! towards hsm-sim's lockout), `Closed` (disconnected). A call's failure is
//! pinned to the `Live` state it used by an epoch number, so a late failure
//! never kills a node that has been re-dialled meanwhile.

use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use kms_proto::hsm::v1::hsm_client::HsmClient;
use kms_proto::hsm::v1::{
    ClusterStatusRequest, ClusterStatusResponse, LoginRequest, LogoutRequest,
};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::rustls;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};
use zeroize::Zeroize;

use super::batch::Batcher;
use super::tls::{self, Connector, DialError};
use super::{ConnectFailure, HsmStoreConfig, KMS_USER};
use crate::secret::Password;

/// How long one call to a node may take before the node counts as dead
/// and the call moves to the next node.
pub(super) const CALL_TIMEOUT: Duration = Duration::from_secs(2);
/// The same for calls that wait for the cluster's other nodes (GenerateKey
/// waits for a peer to hold the new key, hsm-sim's REPLICATE_TIMEOUT being
/// 3 s; DestroyKey tells the peers): a node waiting on a dead peer is slow,
/// not dead, and must get to answer "insufficient HSMs".
pub(super) const CLUSTER_CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a dead node is re-dialled.
pub(super) const REDIAL_INTERVAL: Duration = Duration::from_millis(300);
/// How long `connect` waits for a cluster to report two active HSMs (a
/// node that has just started may not have reached its peers yet).
const ACTIVE_WAIT: Duration = Duration::from_secs(3);
/// HTTP/2 keep-alive: a node that silently vanished (no RST, e.g. a
/// network partition) is noticed within interval + timeout.
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(10);
const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(5);

type Client = HsmClient<Channel>;
/// What a generated client method answers.
type Reply<T> = Result<tonic::Response<T>, Status>;

/// A `kmsuser` session token: wiped on drop, no `Debug`, no `Clone`.
pub(super) struct Session(Vec<u8>);

impl Session {
    /// A copy for one request (the request message owns its bytes).
    fn for_request(&self) -> Vec<u8> {
        self.0.clone()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// A node in use.
#[derive(Clone)]
struct Live {
    client: Client,
    session: Arc<Session>,
    epoch: u64,
}

enum Slot {
    Live(Live),
    Dead,
    Refused,
    Closed,
}

struct Node {
    addr: String,
    slot: Mutex<Slot>,
    /// Serialises re-logins on this node: many calls see the same expired
    /// session at once, one logs in again.
    login: tokio::sync::Mutex<()>,
    /// Serialises re-dials of this node (the re-dial task's and a call's,
    /// `revive_now`), holding when the last one failed: a flood of calls
    /// finding every node dead re-dials each node at most once per
    /// [`REDIAL_INTERVAL`], not once per call.
    redial: tokio::sync::Mutex<Option<tokio::time::Instant>>,
}

impl Node {
    fn lock(&self) -> std::sync::MutexGuard<'_, Slot> {
        // A panic while holding this lock cannot leave the slot half
        // written (each write is one assignment).
        self.slot.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn live(&self) -> Option<Live> {
        match &*self.lock() {
            Slot::Live(l) => Some(l.clone()),
            _ => None,
        }
    }

    fn is_dead(&self) -> bool {
        matches!(*self.lock(), Slot::Dead)
    }
}

/// How a failed call is handled.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Class {
    /// The node died, refused the connection, timed out or the stream
    /// broke: try the next node.
    Transport,
    /// The session is unknown to the node (it restarted): log in again.
    Session,
    /// The node does not hold the key: another may (a node catching up).
    NotFound,
    /// Fewer than two HSMs can hold a new key.
    InsufficientHsms,
    /// The node's answer (e.g. INVALID_ARGUMENT: decryption failed).
    Answer,
}

/// Classifies a failed call. A status the node sent has no source error; a
/// status tonic made from a local transport failure has one (whatever
/// code it maps the failure to).
pub(super) fn classify(status: &Status) -> Class {
    match status.code() {
        Code::Unavailable if status.message().starts_with("insufficient HSMs") => {
            Class::InsufficientHsms
        }
        _ if std::error::Error::source(status).is_some() => Class::Transport,
        Code::Unavailable | Code::Unknown | Code::Cancelled | Code::DeadlineExceeded => {
            Class::Transport
        }
        Code::Unauthenticated => Class::Session,
        Code::NotFound => Class::NotFound,
        _ => Class::Answer,
    }
}

/// A login's failure.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum LoginError {
    /// Wrong password.
    Refused,
    /// `kmsuser` is locked.
    Locked,
    /// The node could not be reached.
    Transport,
    /// Any other answer.
    Other,
}

pub(super) fn login_error(status: &Status) -> LoginError {
    match (classify(status), status.code()) {
        (Class::Transport, _) => LoginError::Transport,
        (_, Code::Unauthenticated) => LoginError::Refused,
        (_, Code::PermissionDenied) if status.message().starts_with("user locked") => {
            LoginError::Locked
        }
        _ => LoginError::Other,
    }
}

async fn login(client: &Client, password: &Password) -> Result<Session, LoginError> {
    let request = LoginRequest {
        username: KMS_USER.to_owned(),
        password: password.expose_secret().to_owned(),
    };
    let mut client = client.clone();
    match tokio::time::timeout(CALL_TIMEOUT, client.login(request)).await {
        Ok(Ok(r)) => Ok(Session(r.into_inner().session)),
        Ok(Err(s)) => Err(login_error(&s)),
        Err(_) => Err(LoginError::Transport),
    }
}

async fn cluster_status(client: &Client) -> Option<ClusterStatusResponse> {
    let mut client = client.clone();
    match tokio::time::timeout(CALL_TIMEOUT, client.cluster_status(ClusterStatusRequest {})).await {
        Ok(Ok(r)) => Some(r.into_inner()),
        _ => None,
    }
}

fn active_count(status: &ClusterStatusResponse) -> usize {
    status.nodes.iter().filter(|n| n.active).count()
}

/// Dials `addr` and wraps the stream in a channel (no request sent yet).
async fn open_client(config: &Arc<rustls::ClientConfig>, addr: &str) -> Result<Client, DialError> {
    let stream = tls::dial(config, addr).await?;
    // The scheme is `http` because the connector, not tonic, runs TLS.
    let endpoint = Endpoint::from_shared(format!("http://{addr}"))
        .map_err(|_| DialError::Network(addr.to_owned()))?
        .http2_keep_alive_interval(KEEP_ALIVE_INTERVAL)
        .keep_alive_timeout(KEEP_ALIVE_TIMEOUT)
        .keep_alive_while_idle(true);
    let channel =
        endpoint.connect_with_connector_lazy(Connector::new(Arc::clone(config), addr, stream));
    Ok(HsmClient::new(channel))
}

/// What dialling a node at connect found.
enum Probe {
    Reachable(Box<(Client, ClusterStatusResponse)>),
    Certificate,
    Network,
}

async fn probe(config: Arc<rustls::ClientConfig>, addr: String) -> Probe {
    match open_client(&config, &addr).await {
        Ok(client) => match cluster_status(&client).await {
            Some(status) => Probe::Reachable(Box::new((client, status))),
            None => Probe::Network,
        },
        Err(DialError::Certificate(_)) => Probe::Certificate,
        Err(DialError::Network(_)) => Probe::Network,
    }
}

/// Why a call through the pool failed.
#[derive(Debug, Clone)]
pub(super) enum CallError {
    /// No live node could answer.
    Unavailable,
    /// A node's answer (never a transport failure).
    Status(Status),
}

/// A connected store's nodes (see the module doc).
pub(super) struct Pool {
    store_id: Arc<str>,
    cluster_id: String,
    tls: Arc<rustls::ClientConfig>,
    password: Password,
    nodes: Vec<Node>,
    next: AtomicUsize,
    epochs: AtomicU64,
    shutdown: watch::Sender<bool>,
    /// Coalesces concurrent Encrypt/Decrypt calls (`batch.rs`).
    batcher: Batcher,
}

impl Pool {
    /// Connects to the cluster of `config` (see the module doc of
    /// `backend::hsm`) and starts the re-dial tasks on `runtime`.
    pub(super) async fn connect(
        store_id: &str,
        config: HsmStoreConfig,
        runtime: &tokio::runtime::Handle,
    ) -> Result<Arc<Pool>, ConnectFailure> {
        if config.nodes.is_empty() {
            return Err(ConnectFailure::ClusterNotFound);
        }
        // The anchor was checked at CreateCustomKeyStore.
        let tls = tls::client_config(&config.trust_anchor_pem)
            .map_err(|_| ConnectFailure::InternalError)?;
        let mut probes = JoinSet::new();
        for (i, addr) in config.nodes.iter().enumerate() {
            let (tls, addr) = (Arc::clone(&tls), addr.clone());
            probes.spawn(async move { (i, probe(tls, addr).await) });
        }
        let mut found: Vec<Option<Probe>> = config.nodes.iter().map(|_| None).collect();
        while let Some(joined) = probes.join_next().await {
            let (i, p) = joined.map_err(|_| ConnectFailure::InternalError)?;
            if let Some(slot) = found.get_mut(i) {
                *slot = Some(p);
            }
        }
        let mut clients: Vec<Option<Client>> = Vec::with_capacity(found.len());
        let mut statuses = Vec::new();
        let mut slots: Vec<Slot> = Vec::with_capacity(found.len());
        let mut any_reachable = false;
        for (addr, p) in config.nodes.iter().zip(found) {
            match p {
                Some(Probe::Reachable(reached)) => {
                    let (client, status) = *reached;
                    any_reachable = true;
                    if status.cluster_id == config.cluster_id {
                        statuses.push(status);
                        clients.push(Some(client));
                        slots.push(Slot::Dead);
                    } else {
                        tracing::warn!(store = store_id, node = %addr, "HSM node reports another cluster id; not used");
                        clients.push(None);
                        slots.push(Slot::Refused);
                    }
                }
                Some(Probe::Certificate) => {
                    tracing::warn!(store = store_id, node = %addr, "HSM node's certificate does not chain to the trust anchor; not used");
                    clients.push(None);
                    slots.push(Slot::Dead);
                }
                _ => {
                    clients.push(None);
                    slots.push(Slot::Dead);
                }
            }
        }
        if !any_reachable {
            return Err(ConnectFailure::NetworkErrors);
        }
        if statuses.is_empty() {
            return Err(ConnectFailure::ClusterNotFound);
        }
        if statuses.iter().map(active_count).max().unwrap_or(0) < 2
            && !wait_for_two_active(&clients).await
        {
            return Err(ConnectFailure::InsufficientHsms);
        }
        // Log in on the first usable node alone, and stop at its refusal:
        // a wrong password costs one failed login per connect, not one per
        // node.
        let epochs = AtomicU64::new(0);
        let mut logged_in = false;
        for (client, slot) in clients.iter().zip(slots.iter_mut()) {
            let Some(client) = client else { continue };
            match login(client, &config.password).await {
                Ok(session) => {
                    logged_in = true;
                    *slot = Slot::Live(Live {
                        client: client.clone(),
                        session: Arc::new(session),
                        epoch: epochs.fetch_add(1, Ordering::Relaxed),
                    });
                }
                Err(LoginError::Transport) => *slot = Slot::Dead,
                Err(e) if logged_in => {
                    // The cluster took the password elsewhere: this node
                    // disagrees (lockout, drift); leave it out.
                    tracing::warn!(
                        store = store_id,
                        "an HSM node refused kmsuser's login ({e:?}); not used"
                    );
                    *slot = Slot::Refused;
                }
                Err(LoginError::Refused) => return Err(ConnectFailure::InvalidCredentials),
                Err(LoginError::Locked) => return Err(ConnectFailure::UserLockedOut),
                Err(LoginError::Other) => return Err(ConnectFailure::InternalError),
            }
        }
        if !logged_in {
            return Err(ConnectFailure::NetworkErrors);
        }
        let (shutdown, _) = watch::channel(false);
        let pool = Arc::new_cyclic(|weak| Pool {
            batcher: Batcher::start(weak.clone(), runtime),
            store_id: store_id.into(),
            cluster_id: config.cluster_id,
            tls,
            password: config.password,
            nodes: config
                .nodes
                .into_iter()
                .zip(slots)
                .map(|(addr, slot)| Node {
                    addr,
                    slot: Mutex::new(slot),
                    login: tokio::sync::Mutex::new(()),
                    redial: tokio::sync::Mutex::new(None),
                })
                .collect(),
            next: AtomicUsize::new(0),
            epochs,
            shutdown,
        });
        for i in 0..pool.nodes.len() {
            runtime.spawn(redial(Arc::downgrade(&pool), i, pool.shutdown.subscribe()));
        }
        Ok(pool)
    }

    /// Calls a node: `make` builds the request around a session token,
    /// `send` sends it, and a node that has not answered within `timeout`
    /// counts as dead. Round-robin over the live nodes; a transport
    /// failure marks the node dead and moves on, an expired session logs
    /// in again and retries once on that node, a key the node does not
    /// know is asked of the others. When no live node answers, the dead
    /// ones are re-dialled at once and the call tried again.
    pub(super) async fn call<Req, Resp, Fut>(
        self: &Arc<Self>,
        timeout: Duration,
        make: impl Fn(Vec<u8>) -> Req,
        send: impl Fn(Client, Req) -> Fut,
    ) -> Result<Resp, CallError>
    where
        Fut: Future<Output = Reply<Resp>>,
    {
        match self.call_live(timeout, &make, &send).await {
            Err(CallError::Unavailable) => {}
            done => return done,
        }
        // No live node answered. A node may have come back since its
        // re-dial task last looked (it re-dials every REDIAL_INTERVAL, and
        // a login takes a while): re-dial the dead ones now, once, rather
        // than fail a call a running node could serve.
        let mut revived = JoinSet::new();
        for i in 0..self.nodes.len() {
            if self.nodes[i].is_dead() {
                revived.spawn(self.revive_now(i));
            }
        }
        if revived.is_empty() {
            return Err(CallError::Unavailable);
        }
        while revived.join_next().await.is_some() {}
        self.call_live(timeout, &make, &send).await
    }

    /// One round of `call` over the nodes live now.
    async fn call_live<Req, Resp, Fut>(
        &self,
        timeout: Duration,
        make: &impl Fn(Vec<u8>) -> Req,
        send: &impl Fn(Client, Req) -> Fut,
    ) -> Result<Resp, CallError>
    where
        Fut: Future<Output = Reply<Resp>>,
    {
        let n = self.nodes.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let mut not_found = None;
        for k in 0..n {
            let i = (start.wrapping_add(k)) % n;
            let node = &self.nodes[i];
            let mut logged_in_again = false;
            while let Some(Live {
                client,
                session,
                epoch,
            }) = node.live()
            {
                let request = make(session.for_request());
                drop(session);
                let status = match tokio::time::timeout(timeout, send(client, request)).await {
                    Ok(Ok(response)) => return Ok(response.into_inner()),
                    Ok(Err(status)) => status,
                    Err(_) => {
                        self.mark_dead(i, epoch, "call timed out");
                        break;
                    }
                };
                match classify(&status) {
                    Class::Transport => {
                        self.mark_dead(i, epoch, status.message());
                        break;
                    }
                    Class::Session if !logged_in_again => {
                        logged_in_again = true;
                        self.login_again(i, epoch).await;
                    }
                    Class::Session => break,
                    Class::NotFound => {
                        not_found = Some(status);
                        break;
                    }
                    Class::InsufficientHsms | Class::Answer => {
                        return Err(CallError::Status(status))
                    }
                }
            }
        }
        Err(not_found.map_or(CallError::Unavailable, CallError::Status))
    }

    /// Marks node `i` dead if it is still in the `Live` state of `epoch`.
    fn mark_dead(&self, i: usize, epoch: u64, why: &str) {
        let node = &self.nodes[i];
        let mut slot = node.lock();
        if matches!(&*slot, Slot::Live(l) if l.epoch == epoch) {
            *slot = Slot::Dead;
            drop(slot);
            tracing::warn!(store = %self.store_id, node = %node.addr, reason = why, "HSM node unreachable; calls go to the other nodes until it returns");
        }
    }

    /// Logs in again on node `i`, whose session of `epoch` was refused.
    async fn login_again(&self, i: usize, epoch: u64) {
        let node = &self.nodes[i];
        let _one_at_a_time = node.login.lock().await;
        let client = match &*node.lock() {
            Slot::Live(l) if l.epoch == epoch => l.client.clone(),
            // Someone else logged in again (or the node died) meanwhile.
            _ => return,
        };
        let outcome = login(&client, &self.password).await;
        let mut slot = node.lock();
        if !matches!(&*slot, Slot::Live(l) if l.epoch == epoch) {
            return;
        }
        match outcome {
            Ok(session) => {
                *slot = Slot::Live(Live {
                    client,
                    session: Arc::new(session),
                    epoch: self.epochs.fetch_add(1, Ordering::Relaxed),
                });
                drop(slot);
                tracing::info!(store = %self.store_id, node = %node.addr, "logged in again on an HSM node (session expired)");
            }
            Err(LoginError::Transport) => *slot = Slot::Dead,
            Err(e) => {
                *slot = Slot::Refused;
                drop(slot);
                tracing::warn!(store = %self.store_id, node = %node.addr, "an HSM node refused kmsuser's login again ({e:?}); not used until the store reconnects");
            }
        }
    }

    /// Re-dials dead node `i` unless another re-dial of it is under way
    /// (then waits for that one) or one failed less than
    /// [`REDIAL_INTERVAL`] ago.
    fn revive_now(self: &Arc<Self>, i: usize) -> impl Future<Output = ()> + Send + 'static {
        let pool = Arc::clone(self);
        async move {
            let node = &pool.nodes[i];
            let mut last_failed = node.redial.lock().await;
            if !node.is_dead() {
                return;
            }
            if last_failed.is_some_and(|t| t.elapsed() < REDIAL_INTERVAL) {
                return;
            }
            pool.revive(i).await;
            *last_failed = node.is_dead().then(tokio::time::Instant::now);
        }
    }

    /// Re-dials dead node `i`: TLS, the cluster id, a login.
    async fn revive(&self, i: usize) {
        let node = &self.nodes[i];
        let Ok(client) = open_client(&self.tls, &node.addr).await else {
            return;
        };
        match cluster_status(&client).await {
            Some(s) if s.cluster_id == self.cluster_id => {}
            Some(_) => {
                {
                    let mut slot = node.lock();
                    if !matches!(*slot, Slot::Dead) {
                        return;
                    }
                    *slot = Slot::Refused;
                }
                tracing::warn!(store = %self.store_id, node = %node.addr, "HSM node reports another cluster id; not used");
                return;
            }
            None => return,
        }
        let outcome = login(&client, &self.password).await;
        let outcome = {
            let mut slot = node.lock();
            if !matches!(*slot, Slot::Dead) {
                // Disconnected meanwhile: the session is ended below.
                Err(outcome)
            } else {
                match outcome {
                    Ok(session) => {
                        *slot = Slot::Live(Live {
                            client: client.clone(),
                            session: Arc::new(session),
                            epoch: self.epochs.fetch_add(1, Ordering::Relaxed),
                        });
                        Ok(None)
                    }
                    Err(LoginError::Transport) => Ok(None),
                    Err(e) => {
                        *slot = Slot::Refused;
                        Ok(Some(e))
                    }
                }
            }
        };
        match outcome {
            Ok(None) => {
                if node.live().is_some() {
                    tracing::info!(store = %self.store_id, node = %node.addr, "HSM node is back in use");
                }
            }
            Ok(Some(e)) => {
                tracing::warn!(store = %self.store_id, node = %node.addr, "an HSM node refused kmsuser's login ({e:?}); not used until the store reconnects");
            }
            Err(Ok(session)) => logout(&client, &session).await,
            Err(Err(_)) => {}
        }
    }

    /// Stops the re-dial tasks, ends every session, drops the channels.
    pub(super) async fn close(&self) {
        let _ = self.shutdown.send(true);
        let mut ends = JoinSet::new();
        for node in &self.nodes {
            let was = std::mem::replace(&mut *node.lock(), Slot::Closed);
            if let Slot::Live(live) = was {
                ends.spawn(async move { logout(&live.client, &live.session).await });
            }
        }
        while ends.join_next().await.is_some() {}
    }

    /// Performs one Encrypt/Decrypt as part of a batch (`batch.rs`).
    pub(super) async fn batched(
        &self,
        op: kms_proto::hsm::v1::BatchOp,
    ) -> Result<kms_proto::hsm::v1::BatchResult, CallError> {
        self.batcher.call(op).await
    }

    /// The number of nodes in use (tests, logs).
    pub(super) fn live_nodes(&self) -> usize {
        self.nodes.iter().filter(|n| n.live().is_some()).count()
    }
}

/// Ends `session` on a node; best effort (the node may be gone).
async fn logout(client: &Client, session: &Session) {
    let mut client = client.clone();
    let request = LogoutRequest {
        session: session.for_request(),
    };
    let _ = tokio::time::timeout(CALL_TIMEOUT, client.logout(request)).await;
}

/// Whether, within [`ACTIVE_WAIT`], one of `clients` reports two active
/// HSMs (a node that has just started may not have reached its peers).
async fn wait_for_two_active(clients: &[Option<Client>]) -> bool {
    let deadline = tokio::time::Instant::now() + ACTIVE_WAIT;
    loop {
        for client in clients.iter().flatten() {
            if cluster_status(client)
                .await
                .is_some_and(|s| active_count(&s) >= 2)
            {
                return true;
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Node `i`'s re-dial task: every [`REDIAL_INTERVAL`], if the node is
/// dead, dial it and log in. Ends at disconnect (or when the pool is
/// dropped).
async fn redial(pool: Weak<Pool>, i: usize, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            // A change (to true) or the sender gone: either way, stop.
            _ = shutdown.changed() => return,
            () = tokio::time::sleep(REDIAL_INTERVAL) => {}
        }
        let Some(pool) = pool.upgrade() else { return };
        if *shutdown.borrow() {
            return;
        }
        if pool.nodes[i].is_dead() {
            pool.revive_now(i).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified() {
        assert_eq!(
            classify(&Status::unavailable("insufficient HSMs: 1 of 2 reachable")),
            Class::InsufficientHsms
        );
        assert_eq!(
            classify(&Status::unavailable("connection refused")),
            Class::Transport
        );
        assert_eq!(classify(&Status::unknown("h2 error")), Class::Transport);
        assert_eq!(classify(&Status::cancelled("timeout")), Class::Transport);
        assert_eq!(
            classify(&Status::deadline_exceeded("slow")),
            Class::Transport
        );
        assert_eq!(
            classify(&Status::unauthenticated("unknown session")),
            Class::Session
        );
        assert_eq!(classify(&Status::not_found("no such key")), Class::NotFound);
        assert_eq!(
            classify(&Status::invalid_argument("decrypt failed")),
            Class::Answer
        );
        assert_eq!(
            classify(&Status::permission_denied("user locked")),
            Class::Answer
        );
        // An INTERNAL status tonic made from a broken stream carries its
        // cause: transport, whatever the code.
        let broken = Status::from_error(Box::new(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "reset",
        )));
        assert_eq!(classify(&broken), Class::Transport);
        let mut internal = Status::internal("h2 protocol error");
        assert_eq!(classify(&internal), Class::Answer);
        internal.set_source(Arc::new(std::io::Error::other("stream reset")));
        assert_eq!(classify(&internal), Class::Transport);
    }

    #[test]
    fn login_failures_are_told_apart() {
        assert_eq!(
            login_error(&Status::unauthenticated("wrong password")),
            LoginError::Refused
        );
        assert_eq!(
            login_error(&Status::permission_denied("user locked after 5 failures")),
            LoginError::Locked
        );
        assert_eq!(
            login_error(&Status::permission_denied("not a node certificate")),
            LoginError::Other
        );
        assert_eq!(
            login_error(&Status::unavailable("connection refused")),
            LoginError::Transport
        );
        assert_eq!(
            login_error(&Status::invalid_argument("bad username")),
            LoginError::Other
        );
    }
}
