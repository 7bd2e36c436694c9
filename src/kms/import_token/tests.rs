use super::*;

fn key(byte: u8) -> KeyMaterial {
    KeyMaterial::from_slice(&[byte; 32]).expect("32 bytes")
}

fn claims() -> TokenClaims {
    TokenClaims {
        key_id: KeyId::new_random(),
        account: "111122223333".into(),
        params_id: "00112233445566778899aabbccddeeff".into(),
        wrapping_algorithm: WrappingAlgorithm::RsaAesKeyWrapSha256,
        wrapping_key_spec: WrappingKeySpec::Rsa4096,
        expires_ms: 1_767_225_600_000,
    }
}

#[test]
fn sealed_token_opens_to_the_same_claims() {
    let k = key(1);
    for alg in WrappingAlgorithm::ALL {
        for spec in WrappingKeySpec::ALL {
            let c = TokenClaims {
                wrapping_algorithm: *alg,
                wrapping_key_spec: *spec,
                expires_ms: -5,
                ..claims()
            };
            let token = seal_token(&k, &c).expect("seal");
            assert_eq!(&token[..4], b"KIT1");
            assert_eq!(open_token(&k, &token), Some(c));
        }
    }
}

#[test]
fn tokens_are_randomised_and_hide_the_claims() {
    let k = key(2);
    let c = claims();
    let a = seal_token(&k, &c).expect("seal");
    let b = seal_token(&k, &c).expect("seal");
    assert_ne!(a, b, "fresh nonce per token");
    let text = String::from_utf8_lossy(&a);
    assert!(!text.contains(&c.account), "{text}");
    assert!(!text.contains(&c.params_id), "{text}");
    assert!(!text.contains("RSA_4096"), "{text}");
}

#[test]
fn token_size_stays_within_the_aws_maximum() {
    let k = key(3);
    let c = claims();
    let token = seal_token(&k, &c).expect("seal");
    assert!(token.len() <= MAX_TOKEN_LEN, "{}", token.len());
    assert!(token.len() < 400, "{}", token.len());
    assert_eq!(MAX_TOKEN_LEN, 6144);
    // Claims that would not fit are refused rather than sealed.
    let huge = TokenClaims {
        account: "x".repeat(MAX_TOKEN_LEN),
        ..claims()
    };
    assert_eq!(seal_token(&k, &huge), Err(CryptoError::Seal));
}

#[test]
fn token_key_must_be_32_bytes() {
    let short = KeyMaterial::from_slice(&[1u8; 16]).expect("16 bytes");
    assert!(matches!(
        seal_token(&short, &claims()),
        Err(CryptoError::InvalidInput(_))
    ));
    let token = seal_token(&key(1), &claims()).expect("seal");
    assert_eq!(open_token(&short, &token), None);
}

#[test]
fn token_under_another_key_is_refused() {
    let token = seal_token(&key(4), &claims()).expect("seal");
    assert_eq!(open_token(&key(5), &token), None);
    assert!(open_token(&key(4), &token).is_some());
}

#[test]
fn another_format_version_is_refused() {
    let k = key(6);
    let mut token = seal_token(&k, &claims()).expect("seal");
    token[3] = b'2';
    assert_eq!(open_token(&k, &token), None);
    token[3] = b'1';
    assert!(open_token(&k, &token).is_some());
}

#[test]
fn every_single_bit_flip_is_refused() {
    let k = key(7);
    let token = seal_token(&k, &claims()).expect("seal");
    for i in 0..token.len() * 8 {
        let mut t = token.clone();
        t[i / 8] ^= 1 << (i % 8);
        assert_eq!(open_token(&k, &t), None, "bit {i}");
    }
}

#[test]
fn truncations_extensions_and_random_input_are_refused_without_panic() {
    let k = key(8);
    let token = seal_token(&k, &claims()).expect("seal");
    for len in 0..token.len() {
        assert_eq!(open_token(&k, &token[..len]), None, "prefix {len}");
        assert_eq!(open_token(&k, &token[len + 1..]), None, "suffix from {len}");
    }
    let mut longer = token.clone();
    longer.push(0);
    assert_eq!(open_token(&k, &longer), None);
    let mut buf = vec![0u8; MAX_TOKEN_LEN + 64];
    for len in (0..64).chain([100, 255, 256, 1000, MAX_TOKEN_LEN, MAX_TOKEN_LEN + 64]) {
        for magic in [false, true] {
            crate::crypto::fill_random(&mut buf[..len]).expect("rng");
            if magic && len >= 4 {
                buf[..4].copy_from_slice(b"KIT1");
            }
            assert_eq!(open_token(&k, &buf[..len]), None, "random {len}");
        }
    }
}

#[test]
fn authentic_but_malformed_claims_are_refused() {
    // Sealed like a token, but the plaintext is not valid claims: the
    // parser must refuse it (and not panic) even behind a valid tag.
    let k = key(9);
    let lk = aead_key(&k).expect("key");
    for body in [
        &b""[..],
        b"null",
        b"{}",
        br#"{"k":"not-a-key-id","a":"1","p":"p","w":"RSAES_OAEP_SHA_1","s":"RSA_2048","e":0}"#,
        br#"{"k":"1234abcd-12ab-34cd-56ef-1234567890ab","a":"1","p":"p","w":"NOPE","s":"RSA_2048","e":0}"#,
        br#"{"k":"1234abcd-12ab-34cd-56ef-1234567890ab","a":"1","p":"p","w":"RSAES_OAEP_SHA_1","s":"RSA_2048","e":0,"x":1}"#,
    ] {
        let mut sealed = body.to_vec();
        let nonce = [3u8; NONCE_LEN];
        lk.seal_in_place_append_tag(
            aead::Nonce::assume_unique_for_key(nonce),
            aead::Aad::from(MAGIC),
            &mut sealed,
        )
        .expect("seal");
        let mut token = MAGIC.to_vec();
        token.extend_from_slice(&nonce);
        token.extend_from_slice(&sealed);
        assert_eq!(open_token(&k, &token), None, "{}", String::from_utf8_lossy(body));
    }
    // The same layout with a good body opens: the cases above fail on
    // their content, not on the framing.
    let good = br#"{"k":"1234abcd-12ab-34cd-56ef-1234567890ab","a":"1","p":"p","w":"RSAES_OAEP_SHA_1","s":"RSA_2048","e":0}"#;
    let mut sealed = good.to_vec();
    lk.seal_in_place_append_tag(
        aead::Nonce::assume_unique_for_key([3u8; NONCE_LEN]),
        aead::Aad::from(MAGIC),
        &mut sealed,
    )
    .expect("seal");
    let mut token = MAGIC.to_vec();
    token.extend_from_slice(&[3u8; NONCE_LEN]);
    token.extend_from_slice(&sealed);
    let opened = open_token(&k, &token).expect("valid claims");
    assert_eq!(opened.account, "1");
    assert_eq!(opened.wrapping_key_spec, WrappingKeySpec::Rsa2048);
}

#[test]
fn material_id_is_deterministic_hex_and_bound_to_key_id_material_and_mac_key() {
    let k = key(10);
    let id = KeyId::new_random();
    let a = imported_material_id(&k, &id, b"material-one");
    assert_eq!(a.len(), 64);
    assert!(
        a.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "{a}"
    );
    assert_eq!(a, imported_material_id(&k, &id, b"material-one"));
    assert_ne!(
        a,
        imported_material_id(&k, &KeyId::new_random(), b"material-one")
    );
    assert_ne!(a, imported_material_id(&k, &id, b"material-two"));
    assert_ne!(a, imported_material_id(&key(11), &id, b"material-one"));
}

#[test]
fn material_id_matches_the_documented_encoding() {
    // Recomputed independently of the function: HMAC-SHA256 over
    // be64(len id) || id || be64(len material) || material.
    let k = key(12);
    let id = KeyId::new_random();
    let material = [0x5Au8; 32];
    let s = id.to_string();
    let mut msg = (s.len() as u64).to_be_bytes().to_vec();
    msg.extend_from_slice(s.as_bytes());
    msg.extend_from_slice(&(material.len() as u64).to_be_bytes());
    msg.extend_from_slice(&material);
    let mac = ring::hmac::sign(
        &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, k.expose_secret()),
        &msg,
    );
    assert_eq!(
        imported_material_id(&k, &id, &material),
        hex::encode(mac.as_ref())
    );
    assert_ne!(
        imported_material_id(&k, &id, b""),
        imported_material_id(&k, &id, b"\0")
    );
}
