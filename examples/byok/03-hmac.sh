#!/bin/sh
# BYOK 3: an HMAC key with your own 256-bit key material.
#
# AWS developer guide, "Importing key material", steps 1-4, with kmsctl:
#   1. create an HMAC_256 GENERATE_VERIFY_MAC key with no material
#      (Origin EXTERNAL);
#   2. download a wrapping public key (RSA_3072) and an import token for
#      RSAES_OAEP_SHA_1;
#   3. generate 32 random bytes and encrypt them with RSA-OAEP SHA-1;
#   4. import them;
# then check: kmsd's HMAC of a message is openssl's HMAC with the same key.
# Environment: see lib.sh (KMS_DATA_DIR or KMS_ENDPOINT..., KMSCTL).

. "$(dirname "$0")/lib.sh"

step "1. create-key --origin EXTERNAL --key-spec HMAC_256 --key-usage GENERATE_VERIFY_MAC"
KEY_ID=$(kms create-key --origin EXTERNAL --key-spec HMAC_256 \
    --key-usage GENERATE_VERIFY_MAC --description "BYOK example: HMAC" \
    --output text --query KeyMetadata.KeyId)
printf '    KeyId %s\n' "$KEY_ID" >&2
expect_eq "$(key_state "$KEY_ID")" PendingImport "KeyState after create-key"

step "2. get-parameters-for-import (RSAES_OAEP_SHA_1, RSA_3072)"
get_parameters "$KEY_ID" RSAES_OAEP_SHA_1 RSA_3072

step "3. generate 32 bytes of HMAC key material and encrypt them (RSA-OAEP SHA-1)"
"$OPENSSL" rand -out PlaintextKeyMaterial.bin 32
"$OPENSSL" pkeyutl -encrypt -in PlaintextKeyMaterial.bin -out EncryptedKeyMaterial.bin \
    -inkey PublicKey.bin -keyform DER -pubin -pkeyopt rsa_padding_mode:oaep \
    -pkeyopt rsa_oaep_md:sha1 -pkeyopt rsa_mgf1_md:sha1

step "4. import-key-material (KEY_MATERIAL_DOES_NOT_EXPIRE)"
import_material "$KEY_ID" --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE >/dev/null
expect_eq "$(key_state "$KEY_ID")" Enabled "KeyState after import"

step "check: generate-mac equals openssl's HMAC-SHA-256 with the same key"
printf 'message to authenticate\n' >msg.txt
kms generate-mac --key-id "$KEY_ID" --message fileb://msg.txt --mac-algorithm HMAC_SHA_256 \
    --output text --query Mac | base64 --decode >kms.mac
"$OPENSSL" dgst -sha256 -mac HMAC -macopt hexkey:"$(hex PlaintextKeyMaterial.bin)" \
    -binary -out openssl.mac msg.txt
expect_same_file kms.mac openssl.mac "HMAC (kmsd vs openssl)"
expect_eq "$(kms verify-mac --key-id "$KEY_ID" --message fileb://msg.txt \
    --mac-algorithm HMAC_SHA_256 --mac fileb://openssl.mac \
    --output text --query MacValid)" True "verify-mac of openssl's MAC"

step "OK"
