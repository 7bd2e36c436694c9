//! Server-side transport pieces shared by kmsd and kms-bench's no-op
//! baseline server, so that the baseline measures the very transport kmsd
//! serves with.
//!
//! [`YieldBeforeWrite`] wraps a server connection's stream (the TLS stream
//! HTTP/2 writes to). Without it, under load, each response tends to leave
//! in its own TLS record and `writev`: when a request's handler finishes,
//! it wakes the connection's task, tokio runs that task next on the same
//! worker (its "LIFO slot"), and the task writes and flushes the one
//! response before the handlers queued behind it run. With crypto in the
//! handlers (a 20–60 µs ECDSA signature or verification) that meant about
//! 0.65 `writev`s per response in kmsd, and the client woke as often.
//!
//! The wrapper makes the first write of each batch yield the connection's
//! task once: it wakes its own task and answers `Pending`. A task that
//! wakes itself while being polled goes to the back of its worker's run
//! queue, so the handlers already queued on that worker finish first and
//! their responses join the same write. There is no timer: the delay is at
//! most one pass over the worker's queue, and with nothing else queued the
//! task runs again at once. The flag clears when the batch ends with a
//! flush (HTTP/2 flushes after every batch of frames it writes).

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{
    CertificateDer, CertificateRevocationListDer, PrivateKeyDer,
};
use tonic::transport::server::Connected;

/// kmsd's server TLS set-up, shared with kms-bench's baseline server: the
/// server identity (`cert`, `key`: PEM), client certificates required and
/// verified against `client_ca` (PEM; the only trust anchors) and, when
/// `crls` is not empty, not revoked by them (only the client's own
/// certificate is checked; a certificate whose issuer has no CRL is
/// refused), HTTP/2 by ALPN. `Err` says which part is unusable.
pub fn server_tls_config(
    cert: &[u8],
    key: &[u8],
    client_ca: &[u8],
    crls: Vec<CertificateRevocationListDer<'static>>,
) -> Result<Arc<rustls::ServerConfig>, String> {
    let bad = |what: &str, e: &dyn std::fmt::Display| format!("{what}: {e}");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs = CertificateDer::pem_slice_iter(cert)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad("server certificate", &e))?;
    let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| bad("server private key", &e))?;
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_slice_iter(client_ca) {
        let ca = ca.map_err(|e| bad("client CA", &e))?;
        roots.add(ca).map_err(|e| bad("client CA", &e))?;
    }
    let mut verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    );
    if !crls.is_empty() {
        verifier = verifier.with_crls(crls).only_check_end_entity_revocation();
    }
    let verifier = verifier.build().map_err(|e| bad("client verifier", &e))?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad("protocol versions", &e))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| bad("server certificate", &e))?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}

/// A stream whose writes yield the task once per batch (see the module
/// documentation). Reads, flushes and shutdown pass straight through.
#[derive(Debug)]
pub struct YieldBeforeWrite<S> {
    inner: S,
    /// The current batch has yielded; cleared by the flush that ends it.
    yielded: bool,
}

impl<S> YieldBeforeWrite<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            yielded: false,
        }
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// True (after waking the task) when this write must yield first.
    fn must_yield(&mut self, cx: &mut Context<'_>) -> bool {
        if self.yielded {
            return false;
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        true
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for YieldBeforeWrite<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for YieldBeforeWrite<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.must_yield(cx) {
            return Poll::Pending;
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.must_yield(cx) {
            return Poll::Pending;
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.yielded = false;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl<S: Connected> Connected for YieldBeforeWrite<S> {
    // The wrapped stream's: kmsd reads the client certificate from it.
    type ConnectInfo = S::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.inner.connect_info()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    struct CountingWaker(AtomicUsize);

    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[tokio::test]
    async fn first_write_of_a_batch_yields_once_and_wakes_the_task() {
        let (a, mut b) = tokio::io::duplex(1024);
        let mut w = YieldBeforeWrite::new(a);
        let counter = Arc::new(CountingWaker(AtomicUsize::new(0)));
        let waker = std::task::Waker::from(Arc::clone(&counter));
        let mut cx = Context::from_waker(&waker);

        // Batch 1: the first write yields and wakes; the next ones pass.
        assert!(Pin::new(&mut w).poll_write(&mut cx, b"ab").is_pending());
        assert_eq!(counter.0.load(Ordering::SeqCst), 1);
        assert!(matches!(
            Pin::new(&mut w).poll_write(&mut cx, b"ab"),
            Poll::Ready(Ok(2))
        ));
        assert!(matches!(
            Pin::new(&mut w).poll_write_vectored(&mut cx, &[IoSlice::new(b"cd")]),
            Poll::Ready(Ok(2))
        ));
        assert!(Pin::new(&mut w).poll_flush(&mut cx).is_ready());
        assert_eq!(counter.0.load(Ordering::SeqCst), 1);

        // Batch 2 (after the flush): yields again, vectored too.
        assert!(Pin::new(&mut w)
            .poll_write_vectored(&mut cx, &[IoSlice::new(b"ef")])
            .is_pending());
        assert_eq!(counter.0.load(Ordering::SeqCst), 2);
        assert!(matches!(
            Pin::new(&mut w).poll_write(&mut cx, b"ef"),
            Poll::Ready(Ok(2))
        ));

        // Only the bytes of writes that returned Ready went through.
        let mut got = [0u8; 6];
        b.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"abcdef");
    }

    #[test]
    fn server_tls_config_names_the_unusable_part() {
        let c = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let (cert, key) = (c.cert.pem(), c.signing_key.serialize_pem());
        let config =
            server_tls_config(cert.as_bytes(), key.as_bytes(), cert.as_bytes(), Vec::new())
                .unwrap();
        assert_eq!(config.alpn_protocols, vec![b"h2".to_vec()]);
        let err = |cert: &str, key: &str, ca: &str| {
            server_tls_config(cert.as_bytes(), key.as_bytes(), ca.as_bytes(), Vec::new())
                .unwrap_err()
        };
        assert!(err(&cert, "junk", &cert).starts_with("server private key"));
        assert!(err("", &key, &cert).starts_with("server certificate"));
        // No client CA: nobody could connect, so it is refused.
        assert!(err(&cert, &key, "").starts_with("client verifier"));
    }

    #[tokio::test]
    async fn a_flush_with_nothing_written_does_not_yield() {
        let (a, _b) = tokio::io::duplex(64);
        let mut w = YieldBeforeWrite::new(a);
        let counter = Arc::new(CountingWaker(AtomicUsize::new(0)));
        let waker = std::task::Waker::from(Arc::clone(&counter));
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut w).poll_flush(&mut cx).is_ready());
        assert_eq!(counter.0.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn data_round_trips_through_async_io() {
        let (a, b) = tokio::io::duplex(16);
        let mut w = YieldBeforeWrite::new(a);
        let mut r = YieldBeforeWrite::new(b);
        let payload: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        let sent = payload.clone();
        let writer = tokio::spawn(async move {
            for chunk in sent.chunks(333) {
                w.write_all(chunk).await.unwrap();
                w.flush().await.unwrap();
            }
            w.shutdown().await.unwrap();
        });
        let mut got = Vec::new();
        r.read_to_end(&mut got).await.unwrap();
        writer.await.unwrap();
        assert_eq!(got, payload);
    }
}
