//! Envelope encryption through every door: GenerateDataKey then Decrypt,
//! and the AWS errors for every way a Decrypt can go wrong.

use crate::door::{assert_exception, per_door, Decrypt, DoorKind, Encrypt, GenerateDataKey};
use crate::harness::*;

per_door!(
    generate_data_key_then_decrypt_round_trips,
    decrypt_failures_give_the_aws_errors,
);

async fn generate_data_key_then_decrypt_round_trips(door: DoorKind) {
    let server = TestServer::start().await;
    let mut d = server.door(door, ROOT_A).await;
    let key_id = d.new_key("envelope").await;
    let context = ctx(&[("purpose", "backup"), ("team", "db")]);

    let dk = d
        .generate_data_key(GenerateDataKey {
            key_id: key_id.clone(),
            encryption_context: context.clone(),
            key_spec: Some("AES_256".into()),
            ..Default::default()
        })
        .await
        .expect("generate data key");
    assert_eq!(dk.plaintext.len(), 32);
    assert!(dk
        .key_id
        .starts_with("arn:aws:kms:us-east-1:111122223333:key/"));
    assert!(dk.key_id.ends_with(&key_id));
    assert_eq!(dk.key_material_id.len(), 64);

    let out = d
        .decrypt(Decrypt {
            ciphertext_blob: dk.ciphertext_blob.clone(),
            encryption_context: context,
            ..Default::default()
        })
        .await
        .expect("decrypt");
    assert_eq!(out.plaintext, dk.plaintext);
    assert_eq!(out.key_id, dk.key_id);
    assert_eq!(out.key_material_id, dk.key_material_id);
    assert_eq!(out.encryption_algorithm, "SYMMETRIC_DEFAULT");
}

async fn decrypt_failures_give_the_aws_errors(door: DoorKind) {
    let server = TestServer::start().await;
    let mut d = server.door(door, ROOT_A).await;
    let key_id = d.new_key("errors").await;
    let other_key = d.new_key("other").await;
    let context = ctx(&[("purpose", "backup")]);
    let blob = d
        .encrypt(Encrypt {
            key_id: key_id.clone(),
            plaintext: b"secret".to_vec(),
            encryption_context: context.clone(),
        })
        .await
        .expect("encrypt")
        .ciphertext_blob;
    let decrypt = |blob: Vec<u8>, ec, key: Option<String>| Decrypt {
        ciphertext_blob: blob,
        encryption_context: ec,
        key_id: key,
    };

    // Context mismatch.
    let r = d
        .decrypt(decrypt(blob.clone(), ctx(&[("purpose", "other")]), None))
        .await;
    assert_exception(r, "InvalidCiphertextException");
    let r = d.decrypt(decrypt(blob.clone(), ctx(&[]), None)).await;
    assert_exception(r, "InvalidCiphertextException");

    // Tampered blob: every byte position.
    for i in [0usize, 1, 5, 20, 25, 40, blob.len() - 1] {
        let mut t = blob.clone();
        t[i] ^= 0x01;
        let e = d
            .decrypt(decrypt(t, context.clone(), None))
            .await
            .expect_err("a tampered blob decrypted");
        assert!(
            matches!(
                e.exception.as_str(),
                // A flipped key-id byte names a key that does not exist:
                // denied like a forbidden one (docs/security.md, item 7).
                "InvalidCiphertextException" | "AccessDeniedException"
            ),
            "byte {i}: {e:?}"
        );
    }

    // Wrong KeyId.
    let r = d
        .decrypt(decrypt(blob.clone(), context.clone(), Some(other_key)))
        .await;
    assert_exception(r, "IncorrectKeyException");

    // Right KeyId works.
    let ok = d
        .decrypt(decrypt(blob.clone(), context.clone(), Some(key_id.clone())))
        .await
        .expect("decrypt with key id");
    assert_eq!(ok.plaintext, b"secret");

    // Disabled key.
    d.disable_key(&key_id).await.expect("disable");
    let r = d
        .decrypt(decrypt(blob.clone(), context.clone(), None))
        .await;
    assert_exception(r, "DisabledException");
    d.enable_key(&key_id).await.expect("enable");

    // Pending deletion.
    d.schedule_key_deletion(&key_id, Some(7))
        .await
        .expect("schedule deletion");
    let r = d.decrypt(decrypt(blob, context, None)).await;
    assert_exception(r, "KMSInvalidStateException");
}
