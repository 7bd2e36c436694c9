//! Durability across restarts: everything a client was told succeeded is
//! still there after kmsd stops and starts again on the same data dir —
//! ciphertexts decrypt to the same plaintext, key metadata (description,
//! state, tags, aliases) is unchanged, a disabled key stays disabled — and a
//! kmsd given a different root key refuses the data dir instead of serving
//! (or panicking).

use std::collections::HashMap;
use std::sync::Arc;

use kmsd::backend::BackendError;
use kmsd::clock::ManualClock;
use kmsd::kms::KmsConfig;
use kmsd::proto::kms::v1 as pb;
use kmsd::secret::RootKey;
use kmsd::server::{KmsServer, ServerConfig, ServerError};
use tonic::Code;

use crate::harness::*;

/// A ciphertext made before the restart, with what it must decrypt to.
struct Sealed {
    what: &'static str,
    blob: Vec<u8>,
    context: HashMap<String, String>,
    plaintext: Vec<u8>,
    key_arn: String,
}

#[tokio::test]
async fn keys_metadata_and_ciphertexts_survive_a_restart() {
    let server = TestServer::start().await;
    let mut c = server.client().await;

    // Four keys: plain, aliased, tagged, and one that will be disabled.
    let plain = create_key(&mut c, "plain key").await;
    let aliased = create_key(&mut c, "aliased key").await;
    c.create_alias(pb::CreateAliasRequest {
        alias_name: "alias/restart/app".into(),
        target_key_id: aliased.clone(),
    })
    .await
    .expect("create alias");
    let tagged = c
        .create_key(pb::CreateKeyRequest {
            description: "tagged key".into(),
            tags: tags(&[("team", "storage"), ("env", "prod")]),
            ..Default::default()
        })
        .await
        .expect("create tagged key")
        .into_inner()
        .key_metadata
        .expect("metadata")
        .key_id;
    c.tag_resource(pb::TagResourceRequest {
        key_id: tagged.clone(),
        tags: tags(&[("owner", "alice")]),
    })
    .await
    .expect("tag");
    let disabled = create_key(&mut c, "disabled key").await;

    // Ciphertexts: Encrypt and GenerateDataKey, with and without context,
    // through the id, the ARN and the alias.
    let ec = ctx(&[("tenant", "acme"), ("purpose", "restart-test")]);
    let none = ctx(&[]);
    let mut sealed = Vec::new();
    for (what, key, context) in [
        ("encrypt, no context", plain.clone(), none.clone()),
        ("encrypt, context", plain.clone(), ec.clone()),
        (
            "encrypt via alias",
            "alias/restart/app".to_string(),
            ec.clone(),
        ),
        (
            "encrypt via ARN",
            key_arn_of(ACCOUNT_A, &tagged),
            none.clone(),
        ),
        (
            "encrypt under the later-disabled key",
            disabled.clone(),
            ec.clone(),
        ),
    ] {
        let plaintext = format!("plaintext for {what}").into_bytes();
        let out = c
            .encrypt(pb::EncryptRequest {
                key_id: key,
                plaintext: plaintext.clone(),
                encryption_context: context.clone(),
                ..Default::default()
            })
            .await
            .expect("encrypt")
            .into_inner();
        sealed.push(Sealed {
            what,
            blob: out.ciphertext_blob,
            context,
            plaintext,
            key_arn: out.key_id,
        });
    }
    for (what, key, context) in [
        ("data key, no context", plain.clone(), none.clone()),
        ("data key, context", aliased.clone(), ec.clone()),
        (
            "data key via alias",
            "alias/restart/app".to_string(),
            none.clone(),
        ),
    ] {
        let dk = c
            .generate_data_key(pb::GenerateDataKeyRequest {
                key_id: key,
                encryption_context: context.clone(),
                key_spec: pb::DataKeySpec::Aes256 as i32,
                ..Default::default()
            })
            .await
            .expect("generate data key")
            .into_inner();
        sealed.push(Sealed {
            what,
            blob: dk.ciphertext_blob,
            context,
            plaintext: dk.plaintext,
            key_arn: dk.key_id,
        });
    }
    c.disable_key(pb::DisableKeyRequest {
        key_id: disabled.clone(),
    })
    .await
    .expect("disable");

    let before = account_snapshot(&mut c).await;
    assert_eq!(before.keys.len(), 4);
    assert_eq!(before.aliases.len(), 1);
    drop(c);

    let server = server.restart().await;
    let mut c = server.client().await;

    // Metadata, tags and aliases are exactly as they were.
    let after = account_snapshot(&mut c).await;
    assert_eq!(after, before);
    let m = &after.metadata[&disabled];
    assert_eq!(m.key_state, pb::KeyState::Disabled as i32);
    assert!(!m.enabled);
    assert_eq!(after.metadata[&tagged].description, "tagged key");
    assert_eq!(
        after.tags[&tagged],
        vec![
            ("env".to_string(), "prod".to_string()),
            ("owner".to_string(), "alice".to_string()),
            ("team".to_string(), "storage".to_string()),
        ]
    );
    assert_eq!(after.aliases[0].alias_name, "alias/restart/app");
    assert_eq!(after.aliases[0].target_key_id, aliased);
    assert_eq!(describe(&mut c, "alias/restart/app").await.key_id, aliased);

    // Every ciphertext of an enabled key decrypts to the same plaintext.
    for s in sealed.iter().filter(|s| !s.key_arn.ends_with(&disabled)) {
        let out = try_decrypt(&mut c, &s.blob, &s.context)
            .await
            .unwrap_or_else(|e| panic!("{}: {e:?}", s.what));
        assert_eq!(out.plaintext, s.plaintext, "{}", s.what);
        assert_eq!(out.key_id, s.key_arn, "{}", s.what);
    }

    // The disabled key is still disabled: its ciphertext is refused until
    // it is enabled again, and then decrypts.
    let s = sealed
        .iter()
        .find(|s| s.key_arn.ends_with(&disabled))
        .expect("disabled key's ciphertext");
    let e = try_decrypt(&mut c, &s.blob, &s.context).await.unwrap_err();
    assert_aws_error(&e, Code::FailedPrecondition, "DisabledException");
    c.enable_key(pb::EnableKeyRequest {
        key_id: disabled.clone(),
    })
    .await
    .expect("enable");
    assert_eq!(decrypt(&mut c, &s.blob, &s.context).await, s.plaintext);

    // The restarted server also seals new data.
    let blob = encrypt(&mut c, "alias/restart/app", b"after restart", &ec).await;
    assert_eq!(decrypt(&mut c, &blob, &ec).await, b"after restart");
}

#[tokio::test]
async fn a_different_root_key_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start_in(tmp.path()).await;
    let mut c = server.client().await;
    let key = create_key(&mut c, "root key check").await;
    let blob = encrypt(&mut c, &key, b"sealed under the real root", &ctx(&[])).await;
    drop(c);
    server.stop().await;

    // Same data dir, same certificates, another root key.
    let wrong = RootKey::from_slice(&[0x5a; 32]).expect("32 bytes");
    let config =
        ServerConfig::dev(tmp.path(), KmsConfig::default(), Some(wrong)).expect("dev config");
    let result = KmsServer::open(config, Arc::new(ManualClock::starting_now()));
    let err = match result {
        Ok(_) => panic!("a server with the wrong root key opened the data dir"),
        Err(e) => e,
    };
    assert!(
        matches!(err, ServerError::Backend(BackendError::WrongRootKey)),
        "{err:?}"
    );
    assert!(err.to_string().contains("root key"), "{err}");

    // The refused attempt changed nothing: with the right key (from
    // root.key) the data dir opens and the old ciphertext decrypts.
    let server = TestServer::start_in(tmp.path()).await;
    let mut c = server.client().await;
    assert_eq!(
        decrypt(&mut c, &blob, &ctx(&[])).await,
        b"sealed under the real root"
    );
    drop(c);
    server.stop().await;
}

#[tokio::test]
async fn the_real_daemon_keeps_keys_across_sigterm_and_restart() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let certs = tmp.path().join("certs");
    let daemon = DaemonProcess::start(tmp.path());
    let mut c = connect(
        daemon.addr(),
        &certs.join("ca.pem"),
        &certs.join("client.pem"),
        &certs.join("client.key"),
    )
    .await;
    let key = create_key(&mut c, "daemon key").await;
    let ec = ctx(&[("k", "v")]);
    let blob = encrypt(&mut c, &key, b"daemon plaintext", &ec).await;
    drop(c);
    let status = terminate(daemon).await;
    assert!(status.success(), "kmsd exited with {status}");

    let daemon = DaemonProcess::start(tmp.path());
    let mut c = connect(
        daemon.addr(),
        &certs.join("ca.pem"),
        &certs.join("client.pem"),
        &certs.join("client.key"),
    )
    .await;
    assert_eq!(describe(&mut c, &key).await.description, "daemon key");
    assert_eq!(decrypt(&mut c, &blob, &ec).await, b"daemon plaintext");
    drop(c);
    let status = terminate(daemon).await;
    assert!(status.success(), "kmsd exited with {status}");
}

/// SIGTERM and wait, off the runtime thread: kmsd's graceful shutdown
/// needs this process's (dropped) client connection to answer its GOAWAY,
/// which only happens while the runtime keeps running.
async fn terminate(daemon: DaemonProcess) -> std::process::ExitStatus {
    tokio::task::spawn_blocking(move || daemon.terminate())
        .await
        .expect("terminate")
}
