//! Envelope encryption through the gRPC API: GenerateDataKey then Decrypt,
//! and the AWS errors for every way a Decrypt can go wrong.

use kmsd::proto::kms::v1 as pb;
use tonic::Code;

use crate::harness::*;

#[tokio::test]
async fn generate_data_key_then_decrypt_round_trips() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let key_id = create_key(&mut c, "envelope").await;
    let context = ctx(&[("purpose", "backup"), ("team", "db")]);

    let dk = c
        .generate_data_key(pb::GenerateDataKeyRequest {
            key_id: key_id.clone(),
            encryption_context: context.clone(),
            key_spec: pb::DataKeySpec::Aes256 as i32,
            ..Default::default()
        })
        .await
        .expect("generate data key")
        .into_inner();
    assert_eq!(dk.plaintext.len(), 32);
    assert!(dk
        .key_id
        .starts_with("arn:aws:kms:us-east-1:111122223333:key/"));
    assert!(dk.key_id.ends_with(&key_id));
    assert_eq!(dk.key_material_id.len(), 64);

    let out = c
        .decrypt(pb::DecryptRequest {
            ciphertext_blob: dk.ciphertext_blob.clone(),
            encryption_context: context,
            ..Default::default()
        })
        .await
        .expect("decrypt")
        .into_inner();
    assert_eq!(out.plaintext, dk.plaintext);
    assert_eq!(out.key_id, dk.key_id);
    assert_eq!(out.key_material_id, dk.key_material_id);
}

#[tokio::test]
async fn decrypt_failures_give_the_aws_errors() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let key_id = create_key(&mut c, "errors").await;
    let other_key = create_key(&mut c, "other").await;
    let context = ctx(&[("purpose", "backup")]);
    let blob = c
        .encrypt(pb::EncryptRequest {
            key_id: key_id.clone(),
            plaintext: b"secret".to_vec(),
            encryption_context: context.clone(),
            ..Default::default()
        })
        .await
        .expect("encrypt")
        .into_inner()
        .ciphertext_blob;
    let decrypt = |blob: Vec<u8>, ec, key: Option<String>| pb::DecryptRequest {
        ciphertext_blob: blob,
        encryption_context: ec,
        key_id: key,
        ..Default::default()
    };

    // Context mismatch.
    let e = c
        .decrypt(decrypt(blob.clone(), ctx(&[("purpose", "other")]), None))
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::InvalidArgument, "InvalidCiphertextException");
    let e = c
        .decrypt(decrypt(blob.clone(), ctx(&[]), None))
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::InvalidArgument, "InvalidCiphertextException");

    // Tampered blob: every byte position.
    for i in [0usize, 1, 5, 20, 25, 40, blob.len() - 1] {
        let mut t = blob.clone();
        t[i] ^= 0x01;
        let e = c
            .decrypt(decrypt(t, context.clone(), None))
            .await
            .unwrap_err();
        assert!(
            matches!(e.code(), Code::InvalidArgument | Code::NotFound),
            "byte {i}: {e:?}"
        );
        if e.code() == Code::InvalidArgument {
            assert_aws_error(&e, Code::InvalidArgument, "InvalidCiphertextException");
        }
    }

    // Wrong KeyId.
    let e = c
        .decrypt(decrypt(blob.clone(), context.clone(), Some(other_key)))
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::InvalidArgument, "IncorrectKeyException");

    // Right KeyId works.
    let ok = c
        .decrypt(decrypt(blob.clone(), context.clone(), Some(key_id.clone())))
        .await
        .expect("decrypt with key id");
    assert_eq!(ok.into_inner().plaintext, b"secret");

    // Disabled key.
    c.disable_key(pb::DisableKeyRequest {
        key_id: key_id.clone(),
    })
    .await
    .expect("disable");
    let e = c
        .decrypt(decrypt(blob.clone(), context.clone(), None))
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::FailedPrecondition, "DisabledException");
    c.enable_key(pb::EnableKeyRequest {
        key_id: key_id.clone(),
    })
    .await
    .expect("enable");

    // Pending deletion.
    c.schedule_key_deletion(pb::ScheduleKeyDeletionRequest {
        key_id: key_id.clone(),
        pending_window_in_days: Some(7),
    })
    .await
    .expect("schedule deletion");
    let e = c.decrypt(decrypt(blob, context, None)).await.unwrap_err();
    assert_aws_error(&e, Code::FailedPrecondition, "KMSInvalidStateException");
}
