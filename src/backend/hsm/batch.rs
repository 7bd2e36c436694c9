//! Coalescing of concurrent Encrypt/Decrypt calls into `Batch` calls.
//!
//! Every HSM-side AEAD step is a network round trip whose fixed cost (HTTP/2
//! framing, TLS records, a tonic call on both sides) dwarfs the AES-GCM
//! itself. Under load many data-key calls wait for the HSM at once, so a
//! dispatcher task takes every operation queued when it wakes (up to
//! [`MAX_OPS`]) and sends them as one `Batch` call through the pool, which
//! gives the batch the pool's failover: a transport failure retries the
//! whole batch on another node (Encrypt and Decrypt are free of side
//! effects, so a repeat is harmless). At most [`IN_FLIGHT`] batches are
//! outstanding; while they are, new operations queue and form the next
//! batch. A lone operation waits for nothing: it is a batch of one.

use std::sync::{Arc, Weak};

use kms_proto::hsm::v1::{BatchOp, BatchRequest, BatchResult};
use tokio::sync::{mpsc, oneshot, Semaphore};

use super::pool::{CallError, Pool, CALL_TIMEOUT};

/// Most operations in one batch (hsm-sim accepts 1024).
const MAX_OPS: usize = 256;
/// Most batches outstanding at once.
const IN_FLIGHT: usize = 4;
/// Operations that may wait for a batch; beyond, callers wait to enqueue.
const QUEUE: usize = 8192;

/// One queued operation and where its result goes.
struct Queued {
    op: BatchOp,
    reply: oneshot::Sender<Result<BatchResult, CallError>>,
}

/// The queue into a pool's dispatcher task.
pub(super) struct Batcher {
    tx: mpsc::Sender<Queued>,
}

impl Batcher {
    /// A batcher for `pool`, its dispatcher spawned on `runtime`. The task
    /// ends when the batcher (with its pool) is dropped.
    pub(super) fn start(pool: Weak<Pool>, runtime: &tokio::runtime::Handle) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        runtime.spawn(dispatch(pool, rx));
        Self { tx }
    }

    /// Performs `op` as part of a batch: its own result, or the batch's
    /// failure (no live node, or a whole-call answer such as a refused
    /// session).
    pub(super) async fn call(&self, op: BatchOp) -> Result<BatchResult, CallError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Queued { op, reply })
            .await
            .map_err(|_| CallError::Unavailable)?;
        rx.await.unwrap_or(Err(CallError::Unavailable))
    }
}

/// The dispatcher: forms batches from the queue and sends them.
async fn dispatch(pool: Weak<Pool>, mut rx: mpsc::Receiver<Queued>) {
    let permits = Arc::new(Semaphore::new(IN_FLIGHT));
    loop {
        // Wait for a batch slot first, so operations that arrive meanwhile
        // join the next batch instead of each becoming one.
        let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
            return;
        };
        let Some(first) = rx.recv().await else { return };
        let mut batch = vec![first];
        while batch.len() < MAX_OPS {
            match rx.try_recv() {
                Ok(q) => batch.push(q),
                Err(_) => break,
            }
        }
        let Some(pool) = pool.upgrade() else { return };
        tokio::spawn(async move {
            send(&pool, batch).await;
            drop(permit);
        });
    }
}

/// Sends one batch and hands each operation its result.
async fn send(pool: &Arc<Pool>, batch: Vec<Queued>) {
    let (ops, replies): (Vec<BatchOp>, Vec<_>) = batch.into_iter().map(|q| (q.op, q.reply)).unzip();
    let n = ops.len();
    let outcome = pool
        .call(
            CALL_TIMEOUT,
            |session| BatchRequest {
                session,
                ops: ops.clone(),
            },
            |mut client, request| async move { client.batch(request).await },
        )
        .await;
    match outcome {
        Ok(response) if response.results.len() == n => {
            for (reply, result) in replies.into_iter().zip(response.results) {
                let _ = reply.send(Ok(result));
            }
        }
        Ok(response) => {
            tracing::warn!(
                sent = n,
                answered = response.results.len(),
                "an HSM node answered a batch with the wrong number of results"
            );
            for reply in replies {
                let _ = reply.send(Err(CallError::Status(tonic::Status::internal(
                    "malformed batch answer",
                ))));
            }
        }
        Err(e) => {
            for reply in replies {
                let _ = reply.send(Err(e.clone()));
            }
        }
    }
}
