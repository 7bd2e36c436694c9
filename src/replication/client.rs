//! [`PeerTransport`] over tonic: one lazily dialed channel per peer,
//! through kmsd's own TLS connector (`tls.rs`), which presents this
//! Region's peer certificate and accepts only the dialled Region's. A
//! peer's AWS-style error status comes back as the same [`KmsError`]
//! (`PeerError::Refused`); anything else (no connection, a timeout, a
//! status that is not an AWS exception) is `PeerError::Unreachable`, which
//! the delivery tasks retry.

use std::collections::BTreeMap;
use std::time::Duration;

use tonic::transport::{Channel, Endpoint};

use super::tls::{client_config, parse_peer_url, Connector};
use super::{convert, ReplicationConfig};
use crate::error::KmsError;
use crate::kms::replication::{AccessCheck, Envelope, PeerError, PeerFuture, PeerTransport};
use crate::proto::replication::v1 as pb;
use crate::proto::replication::v1::replication_client::ReplicationClient;

/// How long a Deliver may take (the receiver applies and syncs a batch).
pub const DELIVER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a CheckAccess or GetRegionKey may take.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(5);
/// HTTP/2 keepalive, so a dead peer connection is noticed between calls.
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(30);
const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(10);

/// The peers of one kmsd.
pub struct PeerClient {
    own_region: String,
    peers: BTreeMap<String, ReplicationClient<Channel>>,
}

impl PeerClient {
    /// A client per configured peer; nothing is dialled until the first
    /// call. Must run inside a tokio runtime (the channels spawn their
    /// workers).
    pub fn new(config: &ReplicationConfig, own_region: &str) -> Result<Self, String> {
        let mut peers = BTreeMap::new();
        for (region, url) in &config.peers {
            let addr = parse_peer_url(url).map_err(|e| format!("--peer {region}: {e}"))?;
            let tls = client_config(&config.tls, region)?;
            // The scheme is `http` because the connector, not tonic, runs
            // TLS (and checks the Region).
            let endpoint = Endpoint::from_shared(format!("http://{}", addr.addr))
                .map_err(|e| format!("--peer {region}: {e}"))?
                .http2_keep_alive_interval(KEEP_ALIVE_INTERVAL)
                .keep_alive_timeout(KEEP_ALIVE_TIMEOUT);
            let channel = endpoint.connect_with_connector_lazy(Connector::new(tls, addr));
            peers.insert(region.clone(), ReplicationClient::new(channel));
        }
        Ok(Self {
            own_region: own_region.to_owned(),
            peers,
        })
    }

    fn client(&self, region: &str) -> Result<ReplicationClient<Channel>, PeerError> {
        self.peers
            .get(region)
            .cloned()
            .ok_or_else(|| PeerError::UnknownRegion(region.to_owned()))
    }
}

/// A request with a deadline the server sees too (`grpc-timeout`).
fn request<T>(message: T, timeout: Duration) -> tonic::Request<T> {
    let mut r = tonic::Request::new(message);
    r.set_timeout(timeout);
    r
}

/// Runs `call` within `timeout`; a status becomes a [`PeerError`].
async fn within<T>(
    region: &str,
    timeout: Duration,
    call: impl std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
) -> Result<T, PeerError> {
    match tokio::time::timeout(timeout, call).await {
        Ok(Ok(r)) => Ok(r.into_inner()),
        Ok(Err(status)) => Err(peer_error(region, &status)),
        Err(_) => Err(PeerError::Unreachable {
            region: region.to_owned(),
            detail: format!("no answer within {timeout:?}"),
        }),
    }
}

/// A peer's status: its AWS exception if the message is
/// `"<ExceptionName>: <message>"` with a name kmsd knows (the peer refused),
/// else a transport failure.
pub fn peer_error(region: &str, status: &tonic::Status) -> PeerError {
    if let Some(e) = status
        .message()
        .split_once(": ")
        .and_then(|(name, msg)| KmsError::from_exception_name(name, msg.to_owned()))
    {
        return PeerError::Refused(e);
    }
    PeerError::Unreachable {
        region: region.to_owned(),
        detail: format!("{:?}: {}", status.code(), status.message()),
    }
}

impl PeerTransport for PeerClient {
    fn regions(&self) -> Vec<String> {
        self.peers.keys().cloned().collect()
    }

    fn region_key<'a>(&'a self, region: &'a str) -> PeerFuture<'a, [u8; 32]> {
        Box::pin(async move {
            let mut client = self.client(region)?;
            let req = pb::GetRegionKeyRequest {
                from_region: self.own_region.clone(),
            };
            let resp = within(
                region,
                CHECK_TIMEOUT,
                client.get_region_key(request(req, CHECK_TIMEOUT)),
            )
            .await?;
            if resp.region != region {
                return Err(PeerError::Refused(KmsError::Internal(format!(
                    "The {region} Region answered GetRegionKey as {:?}",
                    resp.region
                ))));
            }
            <[u8; 32]>::try_from(resp.public_key.as_slice()).map_err(|_| {
                PeerError::Refused(KmsError::Internal(format!(
                    "The {region} Region's replication public key is not 32 bytes"
                )))
            })
        })
    }

    fn check_access<'a>(&'a self, region: &'a str, check: &'a AccessCheck) -> PeerFuture<'a, ()> {
        Box::pin(async move {
            let mut client = self.client(region)?;
            let req = convert::access_check_to_pb(&self.own_region, check);
            within(
                region,
                CHECK_TIMEOUT,
                client.check_access(request(req, CHECK_TIMEOUT)),
            )
            .await?;
            Ok(())
        })
    }

    fn deliver<'a>(&'a self, region: &'a str, entries: Vec<Envelope>) -> PeerFuture<'a, u64> {
        Box::pin(async move {
            let mut client = self.client(region)?;
            let req = pb::DeliverRequest {
                from_region: self.own_region.clone(),
                entries: entries.iter().map(convert::envelope_to_pb).collect(),
            };
            let resp = within(
                region,
                DELIVER_TIMEOUT,
                client.deliver(request(req, DELIVER_TIMEOUT)),
            )
            .await?;
            Ok(resp.applied_through)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_become_peer_errors() {
        let s = tonic::Status::permission_denied("AccessDeniedException: no");
        match peer_error("us-west-2", &s) {
            PeerError::Refused(KmsError::AccessDenied(m)) => assert_eq!(m, "no"),
            other => panic!("{other:?}"),
        }
        let s = tonic::Status::unavailable("tcp connect error: Connection refused");
        assert!(matches!(
            peer_error("us-west-2", &s),
            PeerError::Unreachable { .. }
        ));
        let s = tonic::Status::unimplemented("");
        assert!(matches!(
            peer_error("us-west-2", &s),
            PeerError::Unreachable { .. }
        ));
    }
}
