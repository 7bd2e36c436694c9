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
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tonic::transport::server::Connected;

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
