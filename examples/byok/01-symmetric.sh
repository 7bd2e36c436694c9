#!/bin/sh
# BYOK 1: a symmetric encryption key with your own 256-bit key material.
#
# AWS developer guide, "Importing key material", steps 1-4, with kmsctl:
#   1. create a key with no material (Origin EXTERNAL);
#   2. download a wrapping public key (RSA_2048) and an import token;
#   3. generate 32 random bytes and encrypt them under the public key
#      with RSAES_OAEP_SHA_256 (openssl pkeyutl);
#   4. import them (KEY_MATERIAL_DOES_NOT_EXPIRE);
# then check: the key is Enabled and encrypts and decrypts.
# Environment: see lib.sh (KMS_DATA_DIR or KMS_ENDPOINT..., KMSCTL).

. "$(dirname "$0")/lib.sh"

step "1. create-key --origin EXTERNAL (no key material yet)"
KEY_ID=$(kms create-key --origin EXTERNAL --description "BYOK example: symmetric" \
    --output text --query KeyMetadata.KeyId)
printf '    KeyId %s\n' "$KEY_ID" >&2
expect_eq "$(key_state "$KEY_ID")" PendingImport "KeyState after create-key"
expect_eq "$(kms describe-key --key-id "$KEY_ID" --output text --query KeyMetadata.Origin)" \
    EXTERNAL "Origin"
printf 'hello' >msg.txt
expect_error KMSInvalidStateException encrypt --key-id "$KEY_ID" --plaintext fileb://msg.txt

step "2. get-parameters-for-import (RSAES_OAEP_SHA_256, RSA_2048)"
get_parameters "$KEY_ID" RSAES_OAEP_SHA_256 RSA_2048

step "3. generate 32 bytes of key material and encrypt them (RSA-OAEP SHA-256)"
"$OPENSSL" rand -out PlaintextKeyMaterial.bin 32
"$OPENSSL" pkeyutl -encrypt -in PlaintextKeyMaterial.bin -out EncryptedKeyMaterial.bin \
    -inkey PublicKey.bin -keyform DER -pubin -pkeyopt rsa_padding_mode:oaep \
    -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256

step "4. import-key-material (KEY_MATERIAL_DOES_NOT_EXPIRE)"
MATERIAL_ID=$(import_material "$KEY_ID" --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE)
[ -n "$MATERIAL_ID" ] || fail "import-key-material printed no KeyMaterialId"
printf '    KeyMaterialId %s\n' "$MATERIAL_ID" >&2

step "check: the key is Enabled, does not expire, and encrypts and decrypts"
expect_eq "$(key_state "$KEY_ID")" Enabled "KeyState after import"
expect_eq "$(kms describe-key --key-id "$KEY_ID" --output text \
    --query KeyMetadata.ExpirationModel)" KEY_MATERIAL_DOES_NOT_EXPIRE "ExpirationModel"
expect_eq "$(kms describe-key --key-id "$KEY_ID" --output text \
    --query KeyMetadata.CurrentKeyMaterialId)" "$MATERIAL_ID" "CurrentKeyMaterialId"
printf 'database password\n' >secret.txt
kms encrypt --key-id "$KEY_ID" --plaintext fileb://secret.txt \
    --encryption-context purpose=byok-example \
    --output text --query CiphertextBlob | base64 --decode >secret.enc
kms decrypt --ciphertext-blob fileb://secret.enc --encryption-context purpose=byok-example \
    --output text --query Plaintext | base64 --decode >secret.dec
expect_same_file secret.txt secret.dec "decrypt(encrypt(x))"

step "OK"
