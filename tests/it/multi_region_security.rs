//! Who may speak on the replication listener, and what travels over it
//! (docs/multi-region.md, "Topology and identity", "Wire protection of
//! material").
//!
//! Test 7: the replication RPCs refuse a client (IAM principal)
//! certificate, even one from the peer CA itself, a certificate of another
//! CA, and a genuine peer that claims to speak for another Region; a peer
//! certificate is refused on the main (KMS API) listener.

use std::path::{Path, PathBuf};

use kms_proto::client::ConnectOptions;
use kms_proto::replication::v1 as rpb;
use kms_proto::replication::v1::replication_client::ReplicationClient;
use kmsd::proto::kms::v1 as pb;
use tonic::transport::Channel;
use tonic::Code;

use super::harness::{connect_channel, ALICE_A};
use super::mr_cluster::{try_describe, MrCluster, REGIONS};

const A: usize = 0;
const B: usize = 1;
const C: usize = 2;

/// A replication client of `addr` trusting `ca`, presenting `cert`/`key`;
/// the connection error (e.g. a refused handshake) if it cannot connect.
pub async fn replication_client(
    addr: std::net::SocketAddr,
    ca: &Path,
    cert: &Path,
    key: &Path,
) -> Result<ReplicationClient<Channel>, String> {
    let opts = ConnectOptions {
        endpoint_url: Some(format!("https://{addr}")),
        ca_cert: Some(ca.to_owned()),
        client_cert: Some(cert.to_owned()),
        client_key: Some(key.to_owned()),
        data_dir: None,
    };
    kms_proto::client::connect_channel(&opts)
        .await
        .map(ReplicationClient::new)
        .map_err(|e| e.to_string())
}

/// A Sync that, if applied, would create a replica of `key_id` in the
/// receiving Region.
fn forged_sync(key_id: &str, primary: &str, replica: &str) -> rpb::Envelope {
    rpb::Envelope {
        seq: 1,
        message: Some(rpb::envelope::Message::Sync(rpb::SyncKey {
            key_id: key_id.into(),
            account: super::harness::ACCOUNT_A.into(),
            version: 1_000_000,
            primary_region: primary.into(),
            replica_regions: vec![replica.into()],
            key_spec: "SYMMETRIC_DEFAULT".into(),
            key_usage: "ENCRYPT_DECRYPT".into(),
            origin: "AWS_KMS".into(),
            creation_date_ms: 1_700_000_000_000,
            current_version: 0,
            rotation: Some(rpb::RotationSettings::default()),
            materials: Vec::new(),
            create: Some(rpb::ReplicaCreate {
                policy: None,
                description: "forged".into(),
                tags: Vec::new(),
                bypass_policy_lockout_safety_check: false,
                principal: super::harness::ROOT_A.into(),
            }),
            primary_enabled: true,
            material_id_key: None,
        })),
    }
}

/// Every replication RPC as `from_region` through `c`: each answer.
async fn call_all(
    c: &mut ReplicationClient<Channel>,
    from_region: &str,
    key_id: &str,
    to_region: &str,
) -> Vec<(&'static str, Result<(), tonic::Status>)> {
    let get = c
        .get_region_key(rpb::GetRegionKeyRequest {
            from_region: from_region.into(),
        })
        .await
        .map(|_| ());
    let check = c
        .check_access(rpb::CheckAccessRequest {
            from_region: from_region.into(),
            principal: super::harness::ROOT_A.into(),
            action: "kms:CreateKey".into(),
            key_id: key_id.into(),
            tags: Vec::new(),
            policy: None,
            bypass_policy_lockout_safety_check: false,
        })
        .await
        .map(|_| ());
    let deliver = c
        .deliver(rpb::DeliverRequest {
            from_region: from_region.into(),
            entries: vec![forged_sync(key_id, from_region, to_region)],
        })
        .await
        .map(|_| ());
    vec![
        ("GetRegionKey", get),
        ("CheckAccess", check),
        ("Deliver", deliver),
    ]
}

/// Asserts every answer is a refusal of the caller's identity.
#[track_caller]
fn assert_refused(who: &str, answers: &[(&'static str, Result<(), tonic::Status>)]) {
    for (rpc, r) in answers {
        match r {
            Ok(()) => panic!("{who}: {rpc} was served"),
            Err(s) => assert!(
                matches!(s.code(), Code::PermissionDenied | Code::Unauthenticated),
                "{who}: {rpc} refused with an unexpected status: {s:?}"
            ),
        }
    }
}

/// A fresh `mrk-` id.
fn mrk_id() -> String {
    format!("mrk-{}", uuid::Uuid::new_v4().simple())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mr_replication_rpcs_refuse_clients_and_impostor_peers() {
    // B serves; the callers are made up from the certificates (A starts
    // later, for its main listener).
    let mut cl = MrCluster::init(3);
    cl.start_region(B);
    let b_addr = cl.repl_addrs[B];
    let peer_ca = cl.peer_ca();
    let peer = |i: usize| -> (PathBuf, PathBuf) {
        let d = cl.peer_dir(i);
        (d.join("peer.pem"), d.join("peer.key"))
    };

    // The genuine peer C speaking for itself is served: the listener and
    // this client set-up work, so the refusals below are about identity.
    let (c_cert, c_key) = peer(C);
    let mut as_c = replication_client(b_addr, &peer_ca, &c_cert, &c_key)
        .await
        .expect("peer C connects");
    let k = as_c
        .get_region_key(rpb::GetRegionKeyRequest {
            from_region: REGIONS[C].into(),
        })
        .await
        .expect("GetRegionKey from C as C")
        .into_inner();
    assert_eq!(k.region, REGIONS[B]);
    assert_eq!(k.public_key.len(), 32);

    // C's certificate speaking for A, and for B itself: refused.
    let forged = mrk_id();
    for claimed in [REGIONS[A], REGIONS[B]] {
        let answers = call_all(&mut as_c, claimed, &forged, REGIONS[B]).await;
        assert_refused(&format!("peer C claiming {claimed}"), &answers);
    }

    // An IAM principal's certificate from the peer CA itself (the first
    // Region's dev client certificate, and one issued for alice): refused
    // (at the handshake or per call).
    let a_certs = cl.dir(A).join("certs");
    let alice = cl.client_cert_dir(A, ALICE_A);
    for (who, cert, key) in [
        (
            "A's dev client (root)",
            a_certs.join("client.pem"),
            a_certs.join("client.key"),
        ),
        ("alice", alice.join("client.pem"), alice.join("client.key")),
    ] {
        match replication_client(b_addr, &peer_ca, &cert, &key).await {
            Err(e) => eprintln!("{who}: refused at the handshake: {e}"),
            Ok(mut c) => {
                for from in [REGIONS[A], REGIONS[C]] {
                    let answers = call_all(&mut c, from, &forged, REGIONS[B]).await;
                    assert_refused(&format!("{who} as {from}"), &answers);
                }
            }
        }
    }

    // B's own client certificate (B's dev CA, not the peer CA): refused.
    let b_certs = cl.dir(B).join("certs");
    if let Ok(mut c) = replication_client(
        b_addr,
        &peer_ca,
        &b_certs.join("client.pem"),
        &b_certs.join("client.key"),
    )
    .await
    {
        let r = c
            .get_region_key(rpb::GetRegionKeyRequest {
                from_region: REGIONS[A].into(),
            })
            .await;
        assert!(r.is_err(), "a certificate of another CA was served: {r:?}");
    }

    // None of the forged Syncs created anything in B.
    let mut kb = cl.client(B).await;
    let e = try_describe(&mut kb, &forged)
        .await
        .expect_err("forged replica");
    assert_eq!(e.code(), Code::NotFound, "{e:?}");

    // A peer certificate on the main listener (the KMS API) is refused,
    // even where the main listener's client CA is the peer CA (Region A:
    // its dev CA issued every peer certificate): its identity is a Region,
    // not an IAM principal.
    cl.start_region(A);
    let opts = ConnectOptions {
        endpoint_url: Some(format!("https://{}", cl.main_addrs[A])),
        ca_cert: Some(a_certs.join("ca.pem")),
        client_cert: Some(c_cert.clone()),
        client_key: Some(c_key.clone()),
        data_dir: None,
    };
    if let Ok(ch) = kms_proto::client::connect_channel(&opts).await {
        let mut kc = pb::key_management_service_client::KeyManagementServiceClient::new(ch);
        let r = kc
            .list_keys(pb::ListKeysRequest {
                limit: None,
                marker: None,
            })
            .await;
        let e = r.expect_err("a peer certificate was served on the main listener");
        assert!(
            matches!(e.code(), Code::PermissionDenied | Code::Unauthenticated),
            "{e:?}"
        );
    }
    // (And the KMS API is not on the replication listener.)
    let ch = connect_channel(b_addr, &peer_ca, &c_cert, &c_key).await;
    let mut kc = pb::key_management_service_client::KeyManagementServiceClient::new(ch);
    let r = kc
        .list_keys(pb::ListKeysRequest {
            limit: None,
            marker: None,
        })
        .await;
    assert!(
        r.is_err(),
        "the KMS API answered on the replication listener"
    );
}
