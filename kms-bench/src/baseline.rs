//! The `--baseline` server: an in-process, no-op implementation of the
//! same `KeyManagementService` trait, served by tonic with the same TLS
//! set-up as kmsd (its own rustls acceptor: server certificate, client
//! certificates required and checked against a CA, HTTP/2 by ALPN) and the
//! same stream wrapper ([`YieldBeforeWrite`], which batches responses
//! into fewer writes under load), on `127.0.0.1:0`.
//!
//! It answers the operations kms-bench drives with responses of the sizes
//! kmsd's would have — computed from the request with kmsd's blob format
//! ([`MIN_BLOB_LEN`] + plaintext), carrying the real key's ARN,
//! a 64-character key material id and, for DescribeKey, the real key's
//! metadata — and `Unimplemented` for everything else. Measuring it with
//! the same client settings gives the cost of gRPC, HTTP/2, TLS and the
//! client itself, which the service's figures can be compared with.
//!
//! Its accepted connections get `TCP_NODELAY`, as kmsd's do, unless
//! `tcp_nodelay` is false. A server fed by its own accept loop does not
//! get tonic's socket options and keeps Nagle's algorithm on; with many
//! concurrent streams on one HTTP/2 connection that can add the peer's
//! delayed-ACK timeout (~40 ms on Linux) to calls, which a baseline
//! without Nagle makes visible in the ratio.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_rustls::rustls;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Server;
use tonic::{Request, Response, Status};

use super::specs;
use kms_proto::kms::v1 as pb;
use kms_proto::kms::v1::key_management_service_server::{
    KeyManagementService, KeyManagementServiceServer,
};
use kms_proto::transport::{server_tls_config, YieldBeforeWrite};

/// The length of a kmsd ciphertext blob around an empty plaintext (kmsd's
/// `ciphertext::MIN_BLOB_LEN`: the format-2 header with its 32-byte salt,
/// nonce and tag). kms-bench does not
/// depend on kmsd, so it is restated here; kmsd's `tests/it/bench.rs`
/// checks the two agree.
pub const MIN_BLOB_LEN: usize = 82;

/// The key material id the baseline reports: as long as kmsd's (64 hex
/// digits of a SHA-256).
const MATERIAL_ID: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What the no-op service answers with.
#[derive(Debug, Clone)]
pub struct NoopKms {
    key_arn: String,
    metadata: pb::KeyMetadata,
}

impl NoopKms {
    /// A service whose responses name `metadata`'s key (its ARN; the whole
    /// metadata for DescribeKey).
    pub fn new(metadata: pb::KeyMetadata) -> Self {
        Self {
            key_arn: metadata.arn.clone(),
            metadata,
        }
    }

    fn data_key_len(number_of_bytes: Option<i32>, key_spec: i32) -> usize {
        match number_of_bytes {
            Some(n) => usize::try_from(n).unwrap_or(0).min(1024),
            None if key_spec == pb::DataKeySpec::Aes128 as i32 => 16,
            None => 32,
        }
    }

    fn blob(plaintext_len: usize) -> Vec<u8> {
        vec![0u8; MIN_BLOB_LEN + plaintext_len]
    }

    fn symmetric() -> i32 {
        pb::EncryptionAlgorithmSpec::SymmetricDefault as i32
    }

    fn generate_data_key(&self, r: pb::GenerateDataKeyRequest) -> pb::GenerateDataKeyResponse {
        let n = Self::data_key_len(r.number_of_bytes, r.key_spec);
        pb::GenerateDataKeyResponse {
            ciphertext_blob: Self::blob(n),
            plaintext: vec![0u8; n],
            key_id: self.key_arn.clone(),
            key_material_id: MATERIAL_ID.to_owned(),
        }
    }

    fn generate_data_key_without_plaintext(
        &self,
        r: pb::GenerateDataKeyWithoutPlaintextRequest,
    ) -> pb::GenerateDataKeyWithoutPlaintextResponse {
        let n = Self::data_key_len(r.number_of_bytes, r.key_spec);
        pb::GenerateDataKeyWithoutPlaintextResponse {
            ciphertext_blob: Self::blob(n),
            key_id: self.key_arn.clone(),
            key_material_id: MATERIAL_ID.to_owned(),
        }
    }

    /// The RSA modulus length when the request asks for RSA encryption
    /// (an RSA ciphertext is that long and carries no key material id).
    fn rsa(&self, encryption_algorithm: i32) -> Option<usize> {
        if encryption_algorithm == 0 || encryption_algorithm == Self::symmetric() {
            return None;
        }
        specs::rsa_modulus_len(self.metadata.key_spec)
    }

    fn encrypt(&self, r: pb::EncryptRequest) -> pb::EncryptResponse {
        match self.rsa(r.encryption_algorithm) {
            Some(n) => pb::EncryptResponse {
                ciphertext_blob: vec![0u8; n],
                key_id: self.key_arn.clone(),
                encryption_algorithm: r.encryption_algorithm,
                key_material_id: String::new(),
            },
            None => pb::EncryptResponse {
                ciphertext_blob: Self::blob(r.plaintext.len()),
                key_id: self.key_arn.clone(),
                encryption_algorithm: Self::symmetric(),
                key_material_id: MATERIAL_ID.to_owned(),
            },
        }
    }

    fn decrypt(&self, r: pb::DecryptRequest) -> pb::DecryptResponse {
        match self.rsa(r.encryption_algorithm) {
            // kms-bench's RSA ciphertexts hold data-key-sized plaintexts.
            Some(_) => pb::DecryptResponse {
                key_id: self.key_arn.clone(),
                plaintext: vec![0u8; 32],
                encryption_algorithm: r.encryption_algorithm,
                key_material_id: String::new(),
            },
            None => pb::DecryptResponse {
                key_id: self.key_arn.clone(),
                plaintext: vec![0u8; r.ciphertext_blob.len().saturating_sub(MIN_BLOB_LEN)],
                encryption_algorithm: Self::symmetric(),
                key_material_id: MATERIAL_ID.to_owned(),
            },
        }
    }

    fn re_encrypt(&self, r: pb::ReEncryptRequest) -> pb::ReEncryptResponse {
        pb::ReEncryptResponse {
            ciphertext_blob: vec![0u8; r.ciphertext_blob.len()],
            source_key_id: self.key_arn.clone(),
            key_id: self.key_arn.clone(),
            source_encryption_algorithm: Self::symmetric(),
            destination_encryption_algorithm: Self::symmetric(),
            source_key_material_id: MATERIAL_ID.to_owned(),
            destination_key_material_id: MATERIAL_ID.to_owned(),
        }
    }

    fn generate_random(&self, r: pb::GenerateRandomRequest) -> pb::GenerateRandomResponse {
        pb::GenerateRandomResponse {
            plaintext: vec![0u8; Self::data_key_len(r.number_of_bytes, 0)],
        }
    }

    fn describe_key(&self, _r: pb::DescribeKeyRequest) -> pb::DescribeKeyResponse {
        pb::DescribeKeyResponse {
            key_metadata: Some(self.metadata.clone()),
        }
    }

    fn get_public_key(&self, _r: pb::GetPublicKeyRequest) -> pb::GetPublicKeyResponse {
        let m = &self.metadata;
        pb::GetPublicKeyResponse {
            key_id: self.key_arn.clone(),
            public_key: vec![0u8; specs::public_key_len(m.key_spec)],
            customer_master_key_spec: m.customer_master_key_spec,
            key_spec: m.key_spec,
            key_usage: m.key_usage,
            encryption_algorithms: m.encryption_algorithms.clone(),
            signing_algorithms: m.signing_algorithms.clone(),
            key_agreement_algorithms: m.key_agreement_algorithms.clone(),
            key_encapsulation_algorithms: m.key_encapsulation_algorithms.clone(),
        }
    }

    fn sign(&self, r: pb::SignRequest) -> pb::SignResponse {
        pb::SignResponse {
            key_id: self.key_arn.clone(),
            signature: vec![0u8; specs::signature_len(self.metadata.key_spec)],
            signing_algorithm: r.signing_algorithm,
        }
    }

    fn verify(&self, r: pb::VerifyRequest) -> pb::VerifyResponse {
        pb::VerifyResponse {
            key_id: self.key_arn.clone(),
            signature_valid: true,
            signing_algorithm: r.signing_algorithm,
        }
    }

    fn generate_mac(&self, r: pb::GenerateMacRequest) -> pb::GenerateMacResponse {
        pb::GenerateMacResponse {
            mac: vec![0u8; specs::mac_len(r.mac_algorithm)],
            mac_algorithm: r.mac_algorithm,
            key_id: self.key_arn.clone(),
        }
    }

    fn verify_mac(&self, r: pb::VerifyMacRequest) -> pb::VerifyMacResponse {
        pb::VerifyMacResponse {
            key_id: self.key_arn.clone(),
            mac_valid: true,
            mac_algorithm: r.mac_algorithm,
        }
    }

    fn generate_data_key_pair(
        &self,
        r: pb::GenerateDataKeyPairRequest,
    ) -> pb::GenerateDataKeyPairResponse {
        let (private, public) = specs::data_key_pair_lens(r.key_pair_spec);
        pb::GenerateDataKeyPairResponse {
            private_key_ciphertext_blob: Self::blob(private),
            private_key_plaintext: vec![0u8; private],
            public_key: vec![0u8; public],
            key_id: self.key_arn.clone(),
            key_pair_spec: r.key_pair_spec,
            key_material_id: MATERIAL_ID.to_owned(),
        }
    }

    fn generate_data_key_pair_without_plaintext(
        &self,
        r: pb::GenerateDataKeyPairWithoutPlaintextRequest,
    ) -> pb::GenerateDataKeyPairWithoutPlaintextResponse {
        let (private, public) = specs::data_key_pair_lens(r.key_pair_spec);
        pb::GenerateDataKeyPairWithoutPlaintextResponse {
            private_key_ciphertext_blob: Self::blob(private),
            public_key: vec![0u8; public],
            key_id: self.key_arn.clone(),
            key_pair_spec: r.key_pair_spec,
            key_material_id: MATERIAL_ID.to_owned(),
        }
    }
}

/// Implements the trait in one `#[tonic::async_trait]` block (the attribute
/// must see every method, so the macro writes the whole impl): the listed
/// operations call `NoopKms`'s method of the same name, every other one is
/// `Unimplemented`.
macro_rules! noop_service {
    (
        answered { $($a:ident($areq:ident) -> $aresp:ident;)* }
        unimplemented { $($u:ident($ureq:ident) -> $uresp:ident;)* }
    ) => {
        #[tonic::async_trait]
        impl KeyManagementService for NoopKms {
            $(
                async fn $a(
                    &self,
                    request: Request<pb::$areq>,
                ) -> Result<Response<pb::$aresp>, Status> {
                    Ok(Response::new(NoopKms::$a(self, request.into_inner())))
                }
            )*
            $(
                async fn $u(
                    &self,
                    _request: Request<pb::$ureq>,
                ) -> Result<Response<pb::$uresp>, Status> {
                    Err(Status::unimplemented(concat!(
                        "the kms-bench baseline does not implement ",
                        stringify!($u)
                    )))
                }
            )*
        }
    };
}

noop_service! {
    answered {
        generate_data_key(GenerateDataKeyRequest) -> GenerateDataKeyResponse;
        generate_data_key_without_plaintext(GenerateDataKeyWithoutPlaintextRequest)
            -> GenerateDataKeyWithoutPlaintextResponse;
        encrypt(EncryptRequest) -> EncryptResponse;
        decrypt(DecryptRequest) -> DecryptResponse;
        re_encrypt(ReEncryptRequest) -> ReEncryptResponse;
        generate_random(GenerateRandomRequest) -> GenerateRandomResponse;
        describe_key(DescribeKeyRequest) -> DescribeKeyResponse;
        get_public_key(GetPublicKeyRequest) -> GetPublicKeyResponse;
        sign(SignRequest) -> SignResponse;
        verify(VerifyRequest) -> VerifyResponse;
        generate_data_key_pair(GenerateDataKeyPairRequest) -> GenerateDataKeyPairResponse;
        generate_data_key_pair_without_plaintext(GenerateDataKeyPairWithoutPlaintextRequest)
            -> GenerateDataKeyPairWithoutPlaintextResponse;
        generate_mac(GenerateMacRequest) -> GenerateMacResponse;
        verify_mac(VerifyMacRequest) -> VerifyMacResponse;
    }
    unimplemented {
        derive_shared_secret(DeriveSharedSecretRequest) -> DeriveSharedSecretResponse;
        encapsulate(EncapsulateRequest) -> EncapsulateResponse;
        decapsulate(DecapsulateRequest) -> DecapsulateResponse;
        get_parameters_for_import(GetParametersForImportRequest) -> GetParametersForImportResponse;
        import_key_material(ImportKeyMaterialRequest) -> ImportKeyMaterialResponse;
        delete_imported_key_material(DeleteImportedKeyMaterialRequest)
            -> DeleteImportedKeyMaterialResponse;
        create_custom_key_store(CreateCustomKeyStoreRequest) -> CreateCustomKeyStoreResponse;
        describe_custom_key_stores(DescribeCustomKeyStoresRequest)
            -> DescribeCustomKeyStoresResponse;
        update_custom_key_store(UpdateCustomKeyStoreRequest) -> UpdateCustomKeyStoreResponse;
        connect_custom_key_store(ConnectCustomKeyStoreRequest) -> ConnectCustomKeyStoreResponse;
        disconnect_custom_key_store(DisconnectCustomKeyStoreRequest)
            -> DisconnectCustomKeyStoreResponse;
        delete_custom_key_store(DeleteCustomKeyStoreRequest) -> DeleteCustomKeyStoreResponse;
        replicate_key(ReplicateKeyRequest) -> ReplicateKeyResponse;
        update_primary_region(UpdatePrimaryRegionRequest) -> UpdatePrimaryRegionResponse;
        create_key(CreateKeyRequest) -> CreateKeyResponse;
        list_keys(ListKeysRequest) -> ListKeysResponse;
        update_key_description(UpdateKeyDescriptionRequest) -> UpdateKeyDescriptionResponse;
        enable_key(EnableKeyRequest) -> EnableKeyResponse;
        disable_key(DisableKeyRequest) -> DisableKeyResponse;
        schedule_key_deletion(ScheduleKeyDeletionRequest) -> ScheduleKeyDeletionResponse;
        cancel_key_deletion(CancelKeyDeletionRequest) -> CancelKeyDeletionResponse;
        create_alias(CreateAliasRequest) -> CreateAliasResponse;
        update_alias(UpdateAliasRequest) -> UpdateAliasResponse;
        delete_alias(DeleteAliasRequest) -> DeleteAliasResponse;
        list_aliases(ListAliasesRequest) -> ListAliasesResponse;
        tag_resource(TagResourceRequest) -> TagResourceResponse;
        untag_resource(UntagResourceRequest) -> UntagResourceResponse;
        list_resource_tags(ListResourceTagsRequest) -> ListResourceTagsResponse;
        put_key_policy(PutKeyPolicyRequest) -> PutKeyPolicyResponse;
        get_key_policy(GetKeyPolicyRequest) -> GetKeyPolicyResponse;
        list_key_policies(ListKeyPoliciesRequest) -> ListKeyPoliciesResponse;
        create_grant(CreateGrantRequest) -> CreateGrantResponse;
        list_grants(ListGrantsRequest) -> ListGrantsResponse;
        list_retirable_grants(ListRetirableGrantsRequest) -> ListRetirableGrantsResponse;
        retire_grant(RetireGrantRequest) -> RetireGrantResponse;
        revoke_grant(RevokeGrantRequest) -> RevokeGrantResponse;
        enable_key_rotation(EnableKeyRotationRequest) -> EnableKeyRotationResponse;
        disable_key_rotation(DisableKeyRotationRequest) -> DisableKeyRotationResponse;
        get_key_rotation_status(GetKeyRotationStatusRequest) -> GetKeyRotationStatusResponse;
        rotate_key_on_demand(RotateKeyOnDemandRequest) -> RotateKeyOnDemandResponse;
        list_key_rotations(ListKeyRotationsRequest) -> ListKeyRotationsResponse;
    }
}

/// PEM text of the baseline server's TLS material.
#[derive(Clone)]
pub struct BaselineTls {
    /// Server certificate chain.
    pub cert: Vec<u8>,
    /// Server private key.
    pub key: Vec<u8>,
    /// CA whose client certificates are accepted.
    pub client_ca: Vec<u8>,
}

impl std::fmt::Debug for BaselineTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BaselineTls([REDACTED])")
    }
}

/// A running baseline server. It runs on its own tokio runtime (its own
/// worker threads), as kmsd runs in its own process, so the load
/// generator's workers and the server's do not share a scheduler.
pub struct BaselineServer {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<Result<(), tonic::transport::Error>>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl BaselineServer {
    /// Starts serving `service` on `127.0.0.1:0` with `tls`, setting
    /// `TCP_NODELAY` on accepted connections if `tcp_nodelay`. May be
    /// called from inside another runtime.
    pub fn start(
        service: NoopKms,
        tls: &BaselineTls,
        tcp_nodelay: bool,
    ) -> Result<Self, BaselineError> {
        let acceptor = TlsAcceptor::from(tls_config(tls)?);
        let router = Server::builder().add_service(KeyManagementServiceServer::new(service));
        let listener =
            std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(BaselineError::Bind)?;
        listener
            .set_nonblocking(true)
            .map_err(BaselineError::Bind)?;
        let addr = listener.local_addr().map_err(BaselineError::Bind)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("kms-bench-baseline")
            .build()
            .map_err(BaselineError::Runtime)?;
        let (tx, rx) = oneshot::channel::<()>();
        let handle = runtime.spawn(async move {
            // Must run inside the runtime that will drive the socket.
            let listener = match TcpListener::from_std(listener) {
                Ok(l) => l,
                Err(e) => {
                    tracing::error!(error = %e, "baseline server: cannot register the listener");
                    return Ok(());
                }
            };
            let (streams, incoming) = mpsc::channel(16);
            tokio::spawn(accept_loop(listener, acceptor, tcp_nodelay, streams));
            router
                .serve_with_incoming_shutdown(ReceiverStream::new(incoming), async {
                    let _ = rx.await;
                })
                .await
        });
        Ok(Self {
            addr,
            shutdown: Some(tx),
            handle: Some(handle),
            runtime: Some(runtime),
        })
    }

    /// `https://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// Stops accepting, waits (up to 5 s) for the server to finish, and
    /// shuts its runtime down.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(mut h) = self.handle.take() {
            if tokio::time::timeout(std::time::Duration::from_secs(5), &mut h)
                .await
                .is_err()
            {
                h.abort();
            }
        }
        // Drop shuts the runtime down without blocking.
    }
}

impl Drop for BaselineServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        // Dropping a runtime blocks, which panics inside another runtime;
        // this does not.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// kmsd's TLS set-up (`kms_proto::transport::server_tls_config`, no CRL).
fn tls_config(tls: &BaselineTls) -> Result<Arc<rustls::ServerConfig>, BaselineError> {
    server_tls_config(&tls.cert, &tls.key, &tls.client_ca, Vec::new()).map_err(BaselineError::Tls)
}

/// A connection as the baseline serves it: kmsd's stream wrapper over TLS.
type BaselineStream = YieldBeforeWrite<TlsStream<TcpStream>>;

/// Accepts connections, runs their TLS handshakes and hands the streams to
/// tonic, as kmsd's accept loop does (without its limits). Ends when tonic
/// drops the receiving side.
async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    tcp_nodelay: bool,
    out: mpsc::Sender<std::io::Result<BaselineStream>>,
) {
    loop {
        let tcp = tokio::select! {
            a = listener.accept() => match a {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    tracing::warn!(error = %e, "baseline server: accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = out.closed() => return,
        };
        let _ = tcp.set_nodelay(tcp_nodelay);
        let acceptor = acceptor.clone();
        let out = out.clone();
        tokio::spawn(async move {
            match acceptor.accept(tcp).await {
                Ok(stream) => {
                    let _ = out.send(Ok(YieldBeforeWrite::new(stream))).await;
                }
                Err(e) => tracing::info!(error = %e, "baseline server: TLS handshake failed"),
            }
        });
    }
}

/// Why the baseline server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BaselineError {
    /// Binding 127.0.0.1:0 failed.
    #[error("baseline server: cannot listen on 127.0.0.1: {0}")]
    Bind(std::io::Error),
    /// The TLS material is unusable.
    #[error("baseline server: invalid TLS configuration: {0}")]
    Tls(String),
    /// Its runtime could not start.
    #[error("baseline server: cannot start its runtime: {0}")]
    Runtime(std::io::Error),
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message as _;

    fn metadata() -> pb::KeyMetadata {
        pb::KeyMetadata {
            key_id: "1234abcd-12ab-34cd-56ef-1234567890ab".into(),
            arn: "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
                .into(),
            ..Default::default()
        }
    }

    #[test]
    fn responses_have_kmsd_sizes() {
        let s = NoopKms::new(metadata());
        let r = s.generate_data_key(pb::GenerateDataKeyRequest {
            key_spec: pb::DataKeySpec::Aes256 as i32,
            ..Default::default()
        });
        // 54-byte header (with the salt) + 12-byte nonce + 32-byte key +
        // 16-byte tag.
        assert_eq!(r.ciphertext_blob.len(), 114);
        assert_eq!(r.plaintext.len(), 32);
        assert_eq!(r.key_material_id.len(), 64);
        assert_eq!(r.key_id, metadata().arn);
        let r = s.generate_data_key_without_plaintext(pb::GenerateDataKeyWithoutPlaintextRequest {
            key_spec: pb::DataKeySpec::Aes128 as i32,
            ..Default::default()
        });
        assert_eq!(r.ciphertext_blob.len(), 98);
        let r = s.decrypt(pb::DecryptRequest {
            ciphertext_blob: vec![1; 114],
            ..Default::default()
        });
        assert_eq!(r.plaintext.len(), 32);
        let r = s.encrypt(pb::EncryptRequest {
            plaintext: vec![1; 100],
            ..Default::default()
        });
        assert_eq!(r.ciphertext_blob.len(), 182);
        let r = s.re_encrypt(pb::ReEncryptRequest {
            ciphertext_blob: vec![1; 114],
            ..Default::default()
        });
        assert_eq!(r.ciphertext_blob.len(), 114);
        assert_eq!(
            s.generate_random(pb::GenerateRandomRequest {
                number_of_bytes: Some(16),
                ..Default::default()
            })
            .plaintext
            .len(),
            16
        );
        let d = s.describe_key(pb::DescribeKeyRequest::default());
        assert_eq!(
            d.key_metadata.map(|m| m.encoded_len()),
            Some(metadata().encoded_len())
        );
    }

    #[test]
    fn asymmetric_and_mac_responses_have_kmsd_sizes() {
        let rsa = NoopKms::new(pb::KeyMetadata {
            key_spec: pb::KeySpec::Rsa2048 as i32,
            signing_algorithms: vec![pb::SigningAlgorithmSpec::RsassaPssSha256 as i32],
            ..metadata()
        });
        let sig = rsa.sign(pb::SignRequest {
            signing_algorithm: pb::SigningAlgorithmSpec::RsassaPssSha256 as i32,
            ..Default::default()
        });
        assert_eq!(sig.signature.len(), 256);
        assert_eq!(
            sig.signing_algorithm,
            pb::SigningAlgorithmSpec::RsassaPssSha256 as i32
        );
        let pk = rsa.get_public_key(pb::GetPublicKeyRequest::default());
        assert_eq!(pk.public_key.len(), 294);
        assert_eq!(pk.signing_algorithms.len(), 1);
        let oaep = pb::EncryptionAlgorithmSpec::RsaesOaepSha256 as i32;
        let e = rsa.encrypt(pb::EncryptRequest {
            plaintext: vec![1; 32],
            encryption_algorithm: oaep,
            ..Default::default()
        });
        assert_eq!(e.ciphertext_blob.len(), 256);
        let d = rsa.decrypt(pb::DecryptRequest {
            ciphertext_blob: e.ciphertext_blob,
            encryption_algorithm: oaep,
            ..Default::default()
        });
        assert_eq!(d.plaintext.len(), 32);
        let ec = NoopKms::new(pb::KeyMetadata {
            key_spec: pb::KeySpec::EccNistP256 as i32,
            ..metadata()
        });
        assert_eq!(ec.sign(pb::SignRequest::default()).signature.len(), 72);
        assert!(ec.verify(pb::VerifyRequest::default()).signature_valid);
        let mac = ec.generate_mac(pb::GenerateMacRequest {
            mac_algorithm: pb::MacAlgorithmSpec::HmacSha512 as i32,
            ..Default::default()
        });
        assert_eq!(mac.mac.len(), 64);
        let pair = ec.generate_data_key_pair(pb::GenerateDataKeyPairRequest {
            key_pair_spec: pb::DataKeyPairSpec::EccNistP256 as i32,
            ..Default::default()
        });
        assert_eq!(pair.private_key_plaintext.len(), 138);
        assert_eq!(pair.private_key_ciphertext_blob.len(), MIN_BLOB_LEN + 138);
        assert_eq!(pair.public_key.len(), 91);
    }

    #[tokio::test]
    async fn other_operations_are_unimplemented() {
        let s = NoopKms::new(metadata());
        let e = KeyManagementService::create_key(&s, Request::new(Default::default()))
            .await
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::Unimplemented);
        assert!(e.message().contains("create_key"), "{}", e.message());
        let ok = KeyManagementService::generate_data_key(&s, Request::new(Default::default()))
            .await
            .unwrap();
        assert_eq!(ok.into_inner().plaintext.len(), 32);
    }
}
