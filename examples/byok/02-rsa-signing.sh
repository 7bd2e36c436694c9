#!/bin/sh
# BYOK 2: an RSA signing key whose private key you generate with openssl.
#
# AWS developer guide, "Importing key material", steps 1-4, with kmsctl:
#   1. create an RSA_2048 SIGN_VERIFY key with no material (Origin EXTERNAL);
#   2. download a wrapping public key (RSA_4096) and an import token for
#      RSA_AES_KEY_WRAP_SHA_256 (the only choice for an RSA private key:
#      it is too large for RSA-OAEP alone);
#   3. generate the private key (openssl genpkey, converted to PKCS#8 DER
#      with openssl pkcs8 -topk8), wrap it with
#      a fresh AES-256 key (AES key wrap with padding, openssl enc
#      -id-aes256-wrap-pad), encrypt the AES key with RSA-OAEP SHA-256 under
#      the wrapping public key, and concatenate the two;
#   4. import it;
# then check: get-public-key returns your public key; kmsd's signatures
# verify with openssl, and openssl's verify with kmsd.
# Environment: see lib.sh (KMS_DATA_DIR or KMS_ENDPOINT..., KMSCTL).

. "$(dirname "$0")/lib.sh"

step "1. create-key --origin EXTERNAL --key-spec RSA_2048 --key-usage SIGN_VERIFY"
KEY_ID=$(kms create-key --origin EXTERNAL --key-spec RSA_2048 --key-usage SIGN_VERIFY \
    --description "BYOK example: RSA signing" --output text --query KeyMetadata.KeyId)
printf '    KeyId %s\n' "$KEY_ID" >&2
expect_eq "$(key_state "$KEY_ID")" PendingImport "KeyState after create-key"

step "2. get-parameters-for-import (RSA_AES_KEY_WRAP_SHA_256, RSA_4096)"
get_parameters "$KEY_ID" RSA_AES_KEY_WRAP_SHA_256 RSA_4096

step "3. generate an RSA 2048 private key, convert it to PKCS#8 DER, and wrap it"
# KMS takes PKCS#8 only. openssl genpkey writes PKCS#8 as PEM, but its
# -outform DER is the traditional PKCS#1 form: convert with openssl pkcs8.
"$OPENSSL" genpkey -quiet -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out PrivateKey.pem
"$OPENSSL" pkcs8 -topk8 -nocrypt -inform PEM -in PrivateKey.pem -outform DER -out PrivateKey.der
"$OPENSSL" rand -out aes-key.bin 32
"$OPENSSL" enc -id-aes256-wrap-pad -K "$(hex aes-key.bin)" -iv A65959A6 \
    -in PrivateKey.der -out key-material-wrapped.bin
"$OPENSSL" pkeyutl -encrypt -in aes-key.bin -out aes-key-wrapped.bin \
    -inkey PublicKey.bin -keyform DER -pubin -pkeyopt rsa_padding_mode:oaep \
    -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256
cat aes-key-wrapped.bin key-material-wrapped.bin >EncryptedKeyMaterial.bin
rm -f aes-key.bin
# 512 bytes of RSA-OAEP (RSA_4096) + the wrapped key (8 more than its
# length rounded up to 8).
der_len=$(wc -c <PrivateKey.der)
expect_eq "$(wc -c <EncryptedKeyMaterial.bin)" \
    "$((512 + (der_len + 7) / 8 * 8 + 8))" "EncryptedKeyMaterial.bin size"

step "4. import-key-material (KEY_MATERIAL_DOES_NOT_EXPIRE)"
import_material "$KEY_ID" --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE >/dev/null
expect_eq "$(key_state "$KEY_ID")" Enabled "KeyState after import"

step "check: get-public-key is the public half of PrivateKey.der"
"$OPENSSL" pkey -inform DER -in PrivateKey.der -pubout -outform DER -out openssl-pub.der
kms get-public-key --key-id "$KEY_ID" --output text --query PublicKey |
    base64 --decode >kms-pub.der
expect_same_file kms-pub.der openssl-pub.der "public key"
"$OPENSSL" pkey -pubin -inform DER -in kms-pub.der -out kms-pub.pem

step "check: kmsctl sign (PKCS#1 v1.5 and PSS, SHA-256), verified by openssl"
printf 'release 1.2.3\n' >msg.txt
kms sign --key-id "$KEY_ID" --message fileb://msg.txt --message-type RAW \
    --signing-algorithm RSASSA_PKCS1_V1_5_SHA_256 \
    --output text --query Signature | base64 --decode >msg.pkcs1.sig
"$OPENSSL" dgst -sha256 -verify kms-pub.pem -signature msg.pkcs1.sig msg.txt >/dev/null ||
    fail "openssl does not verify kmsd's RSASSA_PKCS1_V1_5_SHA_256 signature"
# PKCS#1 v1.5 is deterministic: openssl with PrivateKey.der signs the same bytes.
"$OPENSSL" dgst -sha256 -sign PrivateKey.der -keyform DER -out openssl.pkcs1.sig msg.txt
expect_same_file msg.pkcs1.sig openssl.pkcs1.sig "PKCS#1 v1.5 signature (kmsd vs openssl)"
kms sign --key-id "$KEY_ID" --message fileb://msg.txt --message-type RAW \
    --signing-algorithm RSASSA_PSS_SHA_256 \
    --output text --query Signature | base64 --decode >msg.pss.sig
"$OPENSSL" dgst -sha256 -verify kms-pub.pem -sigopt rsa_padding_mode:pss \
    -sigopt rsa_pss_saltlen:32 -signature msg.pss.sig msg.txt >/dev/null ||
    fail "openssl does not verify kmsd's RSASSA_PSS_SHA_256 signature"

step "check: a signature made by openssl with PrivateKey.der verifies in kmsd"
"$OPENSSL" dgst -sha256 -sign PrivateKey.der -keyform DER -sigopt rsa_padding_mode:pss \
    -sigopt rsa_pss_saltlen:32 -out openssl.pss.sig msg.txt
expect_eq "$(kms verify --key-id "$KEY_ID" --message fileb://msg.txt --message-type RAW \
    --signing-algorithm RSASSA_PSS_SHA_256 --signature fileb://openssl.pss.sig \
    --output text --query SignatureValid)" True "kmsctl verify of openssl's signature"

step "OK"
