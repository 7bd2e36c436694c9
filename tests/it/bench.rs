//! kms-bench against kmsd: the load generator's tests that need a real
//! kmsd (in-process, real mutual TLS) or kmsd's dev certificates, and the
//! checks that what kms-bench restates of kmsd (principal parsing, the
//! ciphertext blob size, the policy size limit) and the policies it makes
//! agree with kmsd.
//!
//! They live here, not in kms-bench, because kms-bench must not depend on
//! kmsd (which links RocksDB); kmsd depends on kms-bench for its tests and
//! benches only.

// Everything here is test code (helpers included), so clippy's
// allow-unwrap-in-tests applies to all of it.
#![cfg(test)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use clap::Parser as _;
use kms_bench::args::BenchArgs;
use kms_bench::{read_baseline_tls, run, run_from, BenchError, Ui};
use kms_proto::client::{ConnectOptions, KmsClient, ResolvedConnection};
use kms_proto::kms::v1 as pb;

fn parse(argv: &[&str]) -> BenchArgs {
    BenchArgs::try_parse_from(std::iter::once("kms-bench").chain(argv.iter().copied())).unwrap()
}

/// What kms-bench restates of kmsd agrees with kmsd.
mod agreement {
    use kms_bench::authz::{principal_from_der, Principal as BenchPrincipal};
    use kmsd::model::Principal;

    #[test]
    fn limits_and_sizes_match_kmsd() {
        assert_eq!(
            kms_bench::fixtures::MAX_POLICY_BYTES,
            kmsd::authz::MAX_POLICY_BYTES
        );
        assert_eq!(
            kms_bench::baseline::MIN_BLOB_LEN,
            kmsd::ciphertext::MIN_BLOB_LEN
        );
    }

    #[test]
    fn principal_arns_parse_alike() {
        for arn in [
            "arn:aws:iam::111122223333:root",
            "arn:aws:iam::111122223333:user/alice",
            "arn:aws:iam::111122223333:role/kms-bench-filler-7",
            "arn:aws:iam::111122223333:group/g",
            "arn:aws-cn:iam::111122223333:user/a",
            "arn:aws:sts::111122223333:assumed-role/r/s",
            "arn:aws:sts::111122223333:assumed-role/",
            "arn:aws:iam::111122223333:user/",
            "arn:aws:iam::111122223333:other/x",
            "arn:aws:iam::11112222333:root",
            "arn:aws:iam::11112222333a:root",
            "arn:aws:iam:us-east-1:111122223333:root",
            "arn:aws:kms::111122223333:key/x",
            "arn:gcp:iam::111122223333:root",
            "arn:aws:iam::111122223333:user/a b",
            "arn:aws:iam::111122223333:user/a\n",
            "arn:aws:iam::111122223333",
            "",
            "alice",
            // docs/security.md, item 1: names, paths, sessions, partitions.
            "arn:aws:iam::111122223333:user/x:111122223333:root",
            "arn:aws:iam::111122223333:user/div/team/alice",
            "arn:aws:iam::111122223333:user//alice",
            "arn:aws:iam::111122223333:role/team/app",
            "arn:aws:sts::111122223333:assumed-role/app/s",
            "arn:aws:sts::111122223333:assumed-role/app/s1",
            "arn:aws:sts::111122223333:assumed-role/app/s1/x",
            "arn:awsfake:iam::111122223333:root",
        ] {
            let kmsd = Principal::parse(arn);
            let bench = BenchPrincipal::parse(arn);
            assert_eq!(
                kmsd.as_ref().map(|p| (p.arn(), p.account())),
                bench.as_ref().map(|p| (p.arn(), p.account())),
                "{arn:?}"
            );
        }
    }

    #[test]
    fn certificates_name_the_same_principal() {
        let dir = tempfile::tempdir().unwrap();
        let pki = kmsd::pki::ensure_dev_pki(dir.path()).unwrap();
        let out = dir.path().join("other");
        kmsd::pki::issue_client(dir.path(), "arn:aws:iam::444455556666:role/r", &out).unwrap();
        for pem_path in [pki.client_cert.clone(), out.join("client.pem")] {
            let pem = std::fs::read(&pem_path).unwrap();
            let (_, pem) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
            let kmsd = kmsd::service::identity::principal_from_cert(&pem.contents).unwrap();
            let bench = principal_from_der(&pem.contents).unwrap();
            assert_eq!((kmsd.arn(), kmsd.account()), (bench.arn(), bench.account()));
        }
        assert!(principal_from_der(b"not DER").is_err());
    }
}

/// The command line's checks that read kmsd's dev certificates.
mod flags {
    use super::*;

    #[test]
    fn baseline_tls_comes_from_the_data_dir_or_flags() {
        let resolved = ResolvedConnection {
            endpoint: "https://127.0.0.1:1".into(),
            ca_cert: "/nonexistent/ca.pem".into(),
            client_cert: "/nonexistent/client.pem".into(),
            client_key: "/nonexistent/client.key".into(),
        };
        let args = parse(&[
            "--baseline",
            "--ca-cert",
            "/a",
            "--client-cert",
            "/b",
            "--client-key",
            "/c",
        ]);
        // Without a data dir (and KMS_DATA_DIR unset) there is nothing to use.
        if args.data_dir.is_none() {
            assert!(matches!(
                read_baseline_tls(&args, &resolved),
                Err(BenchError::BaselineTlsMissing)
            ));
        }
        let dir = tempfile::tempdir().unwrap();
        let pki = kmsd::pki::ensure_dev_pki(dir.path()).unwrap();
        let d = dir.path().to_str().unwrap();
        let args = parse(&["--baseline", "--data-dir", d]);
        let resolved = args.connect_options().resolve().unwrap();
        let tls = read_baseline_tls(&args, &resolved).unwrap();
        assert_eq!(tls.cert, std::fs::read(&pki.server_cert).unwrap());
        assert_eq!(tls.client_ca, std::fs::read(&pki.ca_cert).unwrap());
        let missing = parse(&[
            "--baseline",
            "--data-dir",
            d,
            "--baseline-cert",
            "/nonexistent/s.pem",
            "--baseline-key",
            "/nonexistent/s.key",
        ]);
        let e = read_baseline_tls(&missing, &resolved).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/s.pem"), "{e}");
    }

    #[test]
    fn authorization_flags_are_usage_errors_before_anything_runs() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        // Nothing listens and no TLS files exist: a usage error must come
        // first.
        let args = parse(&[
            "--endpoint-url",
            "https://127.0.0.1:1",
            "--grants",
            "50000",
            "--grantee-cert",
            "/nonexistent/g.pem",
            "--grantee-key",
            "/nonexistent/g.key",
        ]);
        let e = rt.block_on(run(&args, &Ui::quiet())).unwrap_err();
        assert!(matches!(e, BenchError::Usage(_)), "{e}");
        // An unreadable grantee certificate is refused before connecting.
        let dir = tempfile::tempdir().unwrap();
        kmsd::pki::ensure_dev_pki(dir.path()).unwrap();
        let d = dir.path().to_str().unwrap();
        let args = parse(&[
            "--data-dir",
            d,
            "--endpoint-url",
            "https://127.0.0.1:1",
            "--grantee-cert",
            "/nonexistent/g.pem",
            "--grantee-key",
            "/nonexistent/g.key",
        ]);
        let e = rt.block_on(run(&args, &Ui::quiet())).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/g.pem"), "{e}");
        // A key is no certificate.
        let key = dir.path().join("certs/client.key");
        let key = key.to_str().unwrap();
        let args = parse(&[
            "--data-dir",
            d,
            "--endpoint-url",
            "https://127.0.0.1:1",
            "--grantee-cert",
            key,
            "--grantee-key",
            key,
        ]);
        let e = rt.block_on(run(&args, &Ui::quiet())).unwrap_err();
        assert!(matches!(e, BenchError::Certificate { .. }), "{e}");
    }
}

/// The baseline server over real mutual TLS with kmsd's dev certificates.
mod baseline {
    use kms_bench::baseline::{BaselineServer, BaselineTls, NoopKms};

    use super::*;

    fn metadata() -> pb::KeyMetadata {
        pb::KeyMetadata {
            key_id: "1234abcd-12ab-34cd-56ef-1234567890ab".into(),
            arn: "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
                .into(),
            ..Default::default()
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn serves_over_mutual_tls_and_stops() {
        let dir = tempfile::tempdir().unwrap();
        let pki = kmsd::pki::ensure_dev_pki(dir.path()).unwrap();
        let read = |p: &std::path::Path| std::fs::read(p).unwrap();
        let tls = BaselineTls {
            cert: read(&pki.server_cert),
            key: read(&pki.server_key),
            client_ca: read(&pki.ca_cert),
        };
        let server = BaselineServer::start(NoopKms::new(metadata()), &tls, true).unwrap();
        assert!(server.endpoint().starts_with("https://127.0.0.1:"));
        let opts = kms_proto::client::ConnectOptions {
            endpoint_url: Some(server.endpoint()),
            ..kms_proto::client::ConnectOptions::from_data_dir(dir.path())
        };
        let mut c = kms_proto::client::connect(&opts).await.unwrap();
        let r = c
            .generate_data_key(pb::GenerateDataKeyRequest {
                key_id: "alias/x".into(),
                key_spec: pb::DataKeySpec::Aes256 as i32,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!((r.ciphertext_blob.len(), r.plaintext.len()), (114, 32));
        let e = c
            .list_keys(pb::ListKeysRequest::default())
            .await
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::Unimplemented);
        server.stop().await;
        // A dropped (not stopped) server must not panic inside a runtime.
        drop(BaselineServer::start(NoopKms::new(metadata()), &tls, false).unwrap());
    }
}

/// Principals read from kmsd's dev certificates.
mod authz {
    use kms_bench::authz::{filler_principal, principal_from_pem};
    use kmsd::model::Principal;

    #[test]
    fn principals_come_from_the_certificate_san() {
        let dir = tempfile::tempdir().unwrap();
        let pki = kmsd::pki::ensure_dev_pki(dir.path()).unwrap();
        let pem = std::fs::read(&pki.client_cert).unwrap();
        let p = principal_from_pem(&pem).unwrap();
        assert_eq!(p.arn(), kmsd::pki::DEV_PRINCIPAL);
        let out = dir.path().join("grantee");
        let grantee = "arn:aws:iam::111122223333:user/kms-bench-grantee";
        kmsd::pki::issue_client(dir.path(), grantee, &out).unwrap();
        let p = principal_from_pem(&std::fs::read(out.join("client.pem")).unwrap()).unwrap();
        assert_eq!((p.arn(), p.account()), (grantee, "111122223333"));
        assert!(principal_from_pem(b"not pem").is_err());
        let key = std::fs::read(out.join("client.key")).unwrap();
        assert!(principal_from_pem(&key).is_err());
        assert_eq!(
            filler_principal("111122223333", 7),
            "arn:aws:iam::111122223333:role/kms-bench-filler-7"
        );
        assert!(Principal::parse(&filler_principal("111122223333", 49_999)).is_some());
    }
}

/// kms-bench's policies and contexts in kmsd's policy engine and core.
mod fixtures {
    use kms_bench::fixtures::*;
    use kmsd::authz::{Policy, PolicyKind};
    use kmsd::kms::{default_key_policy, KmsConfig};

    use super::*;

    const ACCOUNT: &str = "111122223333";
    const ROOT: &str = "arn:aws:iam::111122223333:root";
    const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    #[test]
    fn contexts_have_the_asked_size_and_fit_kmsd_limits() {
        assert!(encryption_context(0).is_empty());
        let c = encryption_context(kms_bench::args::MAX_CONTEXT_PAIRS);
        assert_eq!(c.len(), kms_bench::args::MAX_CONTEXT_PAIRS);
        assert!(kmsd::ciphertext::CanonicalContext::new(&c).is_ok());
    }

    #[test]
    fn the_large_policy_is_32kb_valid_and_allows_the_root_only_by_default() {
        let text = large_key_policy(ACCOUNT);
        assert!(text.len() <= MAX_POLICY_BYTES, "{}", text.len());
        assert!(text.len() > MAX_POLICY_BYTES - 1024, "{}", text.len());
        let p = Policy::parse_as(&text, PolicyKind::Resource).unwrap();
        assert!(p.statements_len() > 40, "{}", p.statements_len());
        let small = Policy::parse(&default_key_policy(ACCOUNT)).unwrap();
        for pairs in [0, 4] {
            let ec = encryption_context(pairs);
            let ctx = kmsd::testing::data_plane_request_context(
                ROOT,
                ACCOUNT,
                "kms:GenerateDataKey",
                KEY,
                &ec,
            );
            let big = p.evaluate(&ctx);
            assert!(!big.explicit_deny, "{big:?}");
            assert_eq!(big, small.evaluate(&ctx));
        }
        // The Deny statements are live: a context that meets one applies it.
        let mut ec = HashMap::new();
        ec.insert("App6".to_owned(), "blocked".to_owned());
        let mut ctx =
            kmsd::testing::data_plane_request_context(ROOT, ACCOUNT, "kms:Decrypt", KEY, &ec);
        ctx.set("aws:sourceip", "10.6.1.2");
        assert!(p.evaluate(&ctx).explicit_deny);
    }

    #[test]
    fn smaller_policies_respect_the_size() {
        let text = key_policy_of_size(ACCOUNT, 4096);
        assert!(text.len() <= 4096 && text.len() > 3000, "{}", text.len());
        assert!(Policy::parse(&text).is_ok());
        // Too small for any filler: just the default statement.
        assert!(Policy::parse(&key_policy_of_size(ACCOUNT, 10)).is_ok());
    }

    #[test]
    fn an_extra_principal_is_named_everywhere_but_allowed_by_nothing_new() {
        const GRANTEE: &str = "arn:aws:iam::111122223333:user/kms-bench-grantee";
        const OTHER: &str = "arn:aws:iam::444455556666:role/elsewhere";
        for size in [8000, MAX_POLICY_BYTES, 100_000] {
            let text = key_policy_of_size_for(ACCOUNT, size, &[GRANTEE, OTHER]);
            assert!(text.len() <= size.min(MAX_POLICY_BYTES), "{}", text.len());
            let p = Policy::parse_as(&text, PolicyKind::Resource).unwrap();
            assert!(p.statements_len() > 5, "{}", p.statements_len());
            // Every filler statement names both.
            assert_eq!(
                text.matches(GRANTEE).count(),
                p.statements_len() - 1,
                "{text}"
            );
            let small = Policy::parse(&default_key_policy(ACCOUNT)).unwrap();
            for principal in [GRANTEE, OTHER] {
                for action in ["kms:GenerateDataKey", "kms:Decrypt", "kms:DescribeKey"] {
                    for pairs in [0, 4] {
                        let ec = encryption_context(pairs);
                        let account = &principal[13..25];
                        let ctx = kmsd::testing::data_plane_request_context(
                            principal, account, action, KEY, &ec,
                        );
                        let big = p.evaluate(&ctx);
                        assert!(!big.explicit_deny && !big.allow_principal, "{big:?}");
                        assert_eq!(big, small.evaluate(&ctx), "{principal} {action}");
                    }
                }
            }
        }
        // Without extras it is the policy key_policy_of_size always made.
        assert_eq!(
            key_policy_of_size_for(ACCOUNT, 4096, &[]),
            key_policy_of_size(ACCOUNT, 4096)
        );
        assert!(!key_policy_of_size(ACCOUNT, 4096).contains("kms-bench-grantee"));
    }

    #[tokio::test]
    async fn a_dev_core_opens_and_serves_the_local_root() {
        let dir = tempfile::tempdir().unwrap();
        let server = kmsd::testing::open_dev_server(dir.path(), KmsConfig::default()).unwrap();
        let caller = kmsd::testing::local_caller(kmsd::pki::DEV_PRINCIPAL).unwrap();
        let key = server
            .kms()
            .create_key(&caller, Default::default())
            .await
            .unwrap();
        let out = server
            .kms()
            .generate_data_key(
                &caller,
                kmsd::api::GenerateDataKeyRequest {
                    key_id: key.id.to_string(),
                    encryption_context: encryption_context(2),
                    key_spec: Some(kmsd::model::DataKeySpec::Aes256),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(out.ciphertext_blob.len(), 114);
        assert!(kmsd::testing::local_caller("alice").is_none());
    }
}

/// End to end against a real kmsd (in-process, real mutual TLS).
mod live {
    use super::*;
    use kmsd::kms::KmsConfig;
    use kmsd::pki::DEV_PRINCIPAL;
    use std::net::SocketAddr;
    use tokio::sync::oneshot;

    const GRANTEE: &str = "arn:aws:iam::111122223333:user/kms-bench-grantee";

    struct Live {
        dir: tempfile::TempDir,
        addr: SocketAddr,
        /// A key the dev root made before serving.
        key: String,
        stop: Option<oneshot::Sender<()>>,
        task: tokio::task::JoinHandle<()>,
    }

    impl Live {
        /// Opens a dev kmsd, creates a key, and serves it on a
        /// loopback port after `delay`.
        async fn start(delay: Duration) -> Self {
            let dir = tempfile::tempdir().unwrap();
            let server = kmsd::testing::open_dev_server(dir.path(), KmsConfig::default()).unwrap();
            let root = kmsd::testing::local_caller(DEV_PRINCIPAL).unwrap();
            let key = server
                .kms()
                .create_key(&root, Default::default())
                .await
                .unwrap()
                .id
                .to_string();
            // Bound now (so the port is ours) but listened on only
            // after `delay`: until then connections are refused.
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
            let addr = socket.local_addr().unwrap();
            let (tx, rx) = oneshot::channel::<()>();
            let pending = if delay.is_zero() {
                Ok(socket.listen(1024).unwrap())
            } else {
                Err(socket)
            };
            let task = tokio::spawn(async move {
                let listener = match pending {
                    Ok(listener) => listener,
                    Err(socket) => {
                        tokio::time::sleep(delay).await;
                        socket.listen(1024).unwrap()
                    }
                };
                server
                    .serve(listener, async {
                        let _ = rx.await;
                    })
                    .await
                    .unwrap();
            });
            Self {
                dir,
                addr,
                key,
                stop: Some(tx),
                task,
            }
        }

        fn data_dir(&self) -> String {
            self.dir.path().to_str().unwrap().to_owned()
        }

        fn endpoint(&self) -> String {
            format!("https://{}", self.addr)
        }

        /// `--data-dir DIR --endpoint-url URL` and `extra`.
        fn args(&self, extra: &[&str]) -> BenchArgs {
            let (d, e) = (self.data_dir(), self.endpoint());
            let mut argv = vec!["--data-dir", &d, "--endpoint-url", &e];
            argv.extend_from_slice(extra);
            parse(&argv)
        }

        /// (cert, key) paths of a client certificate for `principal`.
        fn cert_of(&self, principal: &str) -> (String, String) {
            let out = self.dir.path().join("grantee");
            if !out.join("client.pem").exists() {
                kmsd::pki::issue_client(self.dir.path(), principal, &out).unwrap();
            }
            let p = |f: &str| out.join(f).to_str().unwrap().to_owned();
            (p("client.pem"), p("client.key"))
        }

        async fn client(&self) -> KmsClient {
            let opts = ConnectOptions {
                endpoint_url: Some(self.endpoint()),
                ..ConnectOptions::from_data_dir(self.dir.path())
            };
            kms_proto::client::connect(&opts).await.unwrap()
        }

        async fn grantee_client(&self) -> KmsClient {
            let (cert, key) = self.cert_of(GRANTEE);
            let opts = ConnectOptions {
                endpoint_url: Some(self.endpoint()),
                ca_cert: Some(self.dir.path().join("certs/ca.pem")),
                client_cert: Some(cert.into()),
                client_key: Some(key.into()),
                data_dir: None,
            };
            kms_proto::client::connect(&opts).await.unwrap()
        }

        async fn stop(mut self) {
            if let Some(tx) = self.stop.take() {
                let _ = tx.send(());
            }
            self.task.await.unwrap();
        }
    }

    async fn grants_of(c: &mut KmsClient, key_id: &str) -> Vec<pb::GrantListEntry> {
        c.list_grants(pb::ListGrantsRequest {
            key_id: key_id.into(),
            limit: Some(1000),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .grants
    }

    async fn policy_of(c: &mut KmsClient, key_id: &str) -> String {
        c.get_key_policy(pb::GetKeyPolicyRequest {
            key_id: key_id.into(),
            policy_name: None,
        })
        .await
        .unwrap()
        .into_inner()
        .policy
    }

    async fn gdk(c: &mut KmsClient, key_id: &str) -> Result<(), tonic::Status> {
        c.generate_data_key(pb::GenerateDataKeyRequest {
            key_id: key_id.into(),
            key_spec: pb::DataKeySpec::Aes256 as i32,
            ..Default::default()
        })
        .await
        .map(drop)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_grantee_behind_a_big_policy_and_many_grants_is_the_caller() {
        let live = Live::start(Duration::ZERO).await;
        let (cert, key) = live.cert_of(GRANTEE);
        let args = live.args(&[
            "--grantee-cert",
            &cert,
            "--grantee-key",
            &key,
            "--grants",
            "20",
            "--key-policy-bytes",
            "8000",
            "--keys",
            "2",
            "--pool-size",
            "8",
            "--requests",
            "70",
            "--warmup",
            "0s",
            "--concurrency",
            "4",
            "--connections",
            "2",
            "--keep-keys",
            "--operation",
            "GenerateDataKey,GenerateDataKeyWithoutPlaintext,Encrypt,Decrypt,ReEncrypt,\
                 DescribeKey",
        ]);
        let report = run(&args, &Ui::quiet()).await.unwrap();
        assert_eq!((report.ok, report.errors), (70, 0), "{}", report.to_text());
        assert_eq!(report.caller, "grantee");
        assert_eq!(report.grants, 20);
        assert_eq!(report.ready_ms, None);
        assert!(
            (7000..=8000).contains(&report.key_policy_bytes),
            "{}",
            report.key_policy_bytes
        );
        let v: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(v["caller"], "grantee");
        assert_eq!(v["grants"], 20);
        assert!(v.get("ready_ms").is_none());

        let mut root = live.client().await;
        let keys: Vec<_> = root
            .list_keys(pb::ListKeysRequest::default())
            .await
            .unwrap()
            .into_inner()
            .keys
            .into_iter()
            .filter(|k| k.key_id != live.key)
            .collect();
        assert_eq!(keys.len(), 2);
        for k in &keys {
            let grants = grants_of(&mut root, &k.key_id).await;
            assert_eq!(grants.len(), 21);
            let own: Vec<_> = grants
                .iter()
                .filter(|g| g.grantee_principal == GRANTEE)
                .collect();
            assert_eq!(own.len(), 1);
            assert_eq!(own[0].operations.len(), 7, "{:?}", own[0].operations);
            let fillers = grants
                .iter()
                .filter(|g| g.grantee_principal.contains(":role/kms-bench-filler-"))
                .count();
            assert_eq!(fillers, 20);
            let policy = policy_of(&mut root, &k.key_id).await;
            assert_eq!(policy.len(), report.key_policy_bytes);
            assert!(policy.contains(GRANTEE));
        }
        // The measured calls really are the grantee's: GenerateRandom,
        // which no grant can allow, is denied to it (not to the root).
        let args = live.args(&[
            "--grantee-cert",
            &cert,
            "--grantee-key",
            &key,
            "--key-id",
            &live.key,
            "--requests",
            "5",
            "--warmup",
            "0s",
            "--operation",
            "GenerateRandom",
        ]);
        let report = run(&args, &Ui::quiet()).await.unwrap();
        assert_eq!(report.errors_by_code.get("PermissionDenied"), Some(&5));
        let args = live.args(&[
            "--key-id",
            &live.key,
            "--requests",
            "5",
            "--warmup",
            "0s",
            "--operation",
            "GenerateRandom",
        ]);
        let report = run(&args, &Ui::quiet()).await.unwrap();
        assert_eq!((report.ok, report.caller), (5, "main"));
        // The grantee is allowed by its grant alone: without it, the
        // same call is denied.
        let mut grantee = live.grantee_client().await;
        let key_id = &keys[0].key_id;
        gdk(&mut grantee, key_id).await.unwrap();
        let own = grants_of(&mut root, key_id)
            .await
            .into_iter()
            .find(|g| g.grantee_principal == GRANTEE)
            .unwrap();
        root.revoke_grant(pb::RevokeGrantRequest {
            key_id: key_id.clone(),
            grant_id: own.grant_id,
        })
        .await
        .unwrap();
        let denied = gdk(&mut grantee, key_id).await.unwrap_err();
        assert_eq!(denied.code(), tonic::Code::PermissionDenied, "{denied:?}");
        live.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn given_keys_get_their_grants_revoked_and_policy_back() {
        let live = Live::start(Duration::ZERO).await;
        let mut root = live.client().await;
        let key_id = live.key.clone();
        let before = policy_of(&mut root, &key_id).await;
        let (cert, key) = live.cert_of(GRANTEE);
        let args = live.args(&[
            "--key-id",
            &key_id,
            "--grantee-cert",
            &cert,
            "--grantee-key",
            &key,
            "--grants",
            "5",
            "--key-policy-bytes",
            "4000",
            "--requests",
            "20",
            "--warmup",
            "0s",
            "--operation",
            "Decrypt,DescribeKey",
        ]);
        let report = run(&args, &Ui::quiet()).await.unwrap();
        assert_eq!((report.ok, report.errors), (20, 0), "{}", report.to_text());
        assert!(report.key_policy_bytes > 3000 && report.key_policy_bytes <= 4000);
        assert!(grants_of(&mut root, &key_id).await.is_empty());
        assert_eq!(policy_of(&mut root, &key_id).await, before);
        // Not scheduled for deletion.
        let meta = root
            .describe_key(pb::DescribeKeyRequest {
                key_id: key_id.clone(),
                grant_tokens: Vec::new(),
            })
            .await
            .unwrap()
            .into_inner()
            .key_metadata
            .unwrap();
        assert!(meta.enabled);
        live.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn wait_ready_measures_a_late_start_and_gives_up_in_time() {
        // kmsd starts serving 400 ms from now; its key already exists.
        let live = Live::start(Duration::from_millis(400)).await;
        let started = Instant::now();
        let args = live.args(&[
            "--key-id",
            &live.key,
            "--wait-ready",
            "10s",
            "--requests",
            "1",
            "--warmup",
            "0s",
            "--json",
        ]);
        let report = run_from(&args, &Ui::quiet(), started).await.unwrap();
        let ready = report.ready_ms.unwrap();
        assert!((300.0..10_000.0).contains(&ready), "{ready}");
        assert_eq!((report.ok, report.errors, report.caller), (1, 0, "main"));
        let v: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        assert!(v["ready_ms"].as_f64().unwrap() >= 300.0, "{v}");

        // A key it cannot use: gives up after the duration, saying why.
        let started = Instant::now();
        let args = live.args(&[
            "--key-id",
            "alias/kms-bench-missing",
            "--wait-ready",
            "300ms",
            "--requests",
            "1",
        ]);
        let e = run_from(&args, &Ui::quiet(), started).await.unwrap_err();
        let waited = started.elapsed();
        let BenchError::NotReady { attempts, last, .. } = &e else {
            panic!("{e}")
        };
        assert!(*attempts > 1, "{e}");
        assert!(last.contains("NotFound"), "{e}");
        assert!(e.to_string().contains("within 300ms"), "{e}");
        assert!(
            waited >= Duration::from_millis(300) && waited < Duration::from_secs(5),
            "{waited:?}"
        );
        live.stop().await;
    }

    /// Runs kms-bench as `extra` asks on fresh keys (`--keys 2`) against
    /// `live`, with the baseline, and returns the report.
    async fn asym_run(live: &Live, extra: &[&str]) -> kms_bench::report::Report {
        let mut argv = vec![
            "--keys",
            "2",
            "--requests",
            "24",
            "--warmup",
            "0s",
            "--concurrency",
            "4",
            "--rounds",
            "2",
            "--pool-size",
            "4",
            "--baseline",
        ];
        argv.extend_from_slice(extra);
        let args = live.args(&argv);
        run(&args, &Ui::quiet())
            .await
            .unwrap_or_else(|e| panic!("{extra:?}: {e}"))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn asymmetric_and_mac_operations_run_against_kmsd_and_the_baseline() {
        let live = Live::start(Duration::ZERO).await;
        // (flags, the algorithm the report names)
        for (extra, algorithm) in [
            (
                &[
                    "--operation",
                    "Sign,Verify,GetPublicKey",
                    "--key-spec",
                    "ECC_NIST_P256",
                ][..],
                Some("ECDSA_SHA_256"),
            ),
            (
                &[
                    "--operation",
                    "Sign=2,Verify",
                    "--key-spec",
                    "RSA_2048",
                    "--signing-algorithm",
                    "RSASSA_PSS_SHA_256",
                ][..],
                Some("RSASSA_PSS_SHA_256"),
            ),
            (
                &[
                    "--operation",
                    "GenerateMac,VerifyMac",
                    "--key-spec",
                    "HMAC_256",
                ][..],
                Some("HMAC_SHA_256"),
            ),
            (
                &[
                    "--operation",
                    "GenerateDataKeyPair,GenerateDataKeyPairWithoutPlaintext",
                    "--key-pair-spec",
                    "ECC_NIST_P384",
                    "--context-pairs",
                    "2",
                ][..],
                Some("ECC_NIST_P384"),
            ),
            (
                &["--operation", "Encrypt,Decrypt", "--key-spec", "RSA_2048"][..],
                Some("RSAES_OAEP_SHA_256"),
            ),
        ] {
            let report = asym_run(&live, extra).await;
            // Every call succeeded against kmsd and against the baseline.
            assert_eq!(
                (report.ok, report.errors),
                (24, 0),
                "{extra:?}\n{}",
                report.to_text()
            );
            assert_eq!(
                (report.baseline_requests, report.baseline_errors),
                (Some(24), Some(0)),
                "{extra:?}\n{}",
                report.to_text()
            );
            assert_eq!(report.algorithm.as_deref(), algorithm, "{extra:?}");
            // The two keys were created in set-up, and timed.
            assert_eq!(report.create_key_count, Some(2), "{extra:?}");
            assert!(report.create_key_max_ms.is_some());
            assert_eq!(report.raw_primitive, None);
            let v: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
            assert_eq!(v["create_key_count"], 2);
        }

        // The keys kms-bench created have the asked spec and usage (and
        // are scheduled for deletion: it was not --keep-keys).
        let mut root = live.client().await;
        let keys = root
            .list_keys(pb::ListKeysRequest {
                limit: Some(1000),
                marker: None,
            })
            .await
            .unwrap()
            .into_inner()
            .keys;
        let mut specs = Vec::new();
        for k in keys.iter().filter(|k| k.key_id != live.key) {
            let m = root
                .describe_key(pb::DescribeKeyRequest {
                    key_id: k.key_id.clone(),
                    grant_tokens: Vec::new(),
                })
                .await
                .unwrap()
                .into_inner()
                .key_metadata
                .unwrap();
            assert_eq!(m.key_state, pb::KeyState::PendingDeletion as i32);
            specs.push((m.key_spec, m.key_usage));
        }
        specs.sort_unstable();
        let want = |spec: pb::KeySpec, usage: pb::KeyUsageType| (spec as i32, usage as i32);
        let mut expected = vec![
            want(pb::KeySpec::EccNistP256, pb::KeyUsageType::SignVerify),
            want(pb::KeySpec::EccNistP256, pb::KeyUsageType::SignVerify),
            want(pb::KeySpec::Rsa2048, pb::KeyUsageType::SignVerify),
            want(pb::KeySpec::Rsa2048, pb::KeyUsageType::SignVerify),
            want(pb::KeySpec::Hmac256, pb::KeyUsageType::GenerateVerifyMac),
            want(pb::KeySpec::Hmac256, pb::KeyUsageType::GenerateVerifyMac),
            want(
                pb::KeySpec::SymmetricDefault,
                pb::KeyUsageType::EncryptDecrypt,
            ),
            want(
                pb::KeySpec::SymmetricDefault,
                pb::KeyUsageType::EncryptDecrypt,
            ),
            want(pb::KeySpec::Rsa2048, pb::KeyUsageType::EncryptDecrypt),
            want(pb::KeySpec::Rsa2048, pb::KeyUsageType::EncryptDecrypt),
        ];
        expected.sort_unstable();
        assert_eq!(specs, expected);
        live.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn raw_crypto_reports_the_ceiling_beside_kmsd() {
        let live = Live::start(Duration::ZERO).await;
        for extra in [
            &["--operation", "Sign", "--key-spec", "ECC_NIST_P256"][..],
            &["--operation", "Verify", "--key-spec", "ECC_NIST_P256"][..],
            &["--operation", "GenerateMac", "--key-spec", "HMAC_256"][..],
            &["--operation", "Sign", "--key-spec", "RSA_2048"][..],
        ] {
            let mut argv = extra.to_vec();
            argv.extend_from_slice(&["--raw-crypto", "--raw-threads", "2"]);
            let report = asym_run(&live, &argv).await;
            assert_eq!((report.ok, report.errors), (24, 0), "{}", report.to_text());
            // The raw run did the same number of operations, none failed.
            assert_eq!(report.raw_threads, Some(2));
            assert_eq!(report.raw_errors, Some(0));
            let raw = report.raw_throughput_rps.unwrap();
            let base = report.baseline_throughput_rps.unwrap();
            assert!(raw > 0.0 && base > 0.0, "{}", report.to_text());
            // The ceiling is 1/(1/baseline + 1/raw) of the figures beside
            // it (to the report's rounding), and the ratio is against it.
            let ceiling = report.ceiling_rps.unwrap();
            let expect = 1.0 / (1.0 / base + 1.0 / raw);
            assert!(
                (ceiling - expect).abs() <= 0.1 + expect * 1e-3,
                "{ceiling} vs {expect}"
            );
            let ratio = report.ceiling_ratio.unwrap();
            assert!(
                (ratio - report.throughput_rps / ceiling).abs() < 1e-3,
                "{ratio}"
            );
            let text = report.to_text();
            assert!(text.contains("ceiling 1/(1/baseline + 1/raw)"), "{text}");
        }
        // Operations it cannot measure raw are refused before any key is made.
        let args = live.args(&["--operation", "GenerateDataKey", "--raw-crypto"]);
        let e = run(&args, &Ui::quiet()).await.unwrap_err();
        assert!(matches!(e, BenchError::Usage(_)), "{e}");
        let args = live.args(&["--operation", "Sign", "--key-spec", "AES_256"]);
        let e = run(&args, &Ui::quiet()).await.unwrap_err();
        assert!(e.to_string().contains("--key-spec"), "{e}");
        live.stop().await;
    }
}
