#!/bin/sh
# BYOK 4: expiring material, deleting it, and re-importing it.
#
# Imported material can expire (KEY_MATERIAL_EXPIRES with --valid-to) or be
# deleted at once (delete-imported-key-material); either way the key goes
# back to PendingImport and is unusable until the SAME material is imported
# again, with fresh import parameters. Then every earlier ciphertext
# decrypts again. Other material is refused (IncorrectKeyMaterialException).
#
#   1-4. a symmetric EXTERNAL key, material imported with
#        KEY_MATERIAL_EXPIRES and ValidTo one day ahead (describe-key shows
#        both); encrypt something;
#   5.   delete-imported-key-material: PendingImport, decrypt refused;
#   6.   new parameters, other material: IncorrectKeyMaterialException;
#   7.   new parameters, the same material (now not expiring): Enabled, and
#        the old ciphertext decrypts.
# Environment: see lib.sh (KMS_DATA_DIR or KMS_ENDPOINT..., KMSCTL).

. "$(dirname "$0")/lib.sh"

step "1. create-key --origin EXTERNAL"
KEY_ID=$(kms create-key --origin EXTERNAL --description "BYOK example: expiry and re-import" \
    --output text --query KeyMetadata.KeyId)
printf '    KeyId %s\n' "$KEY_ID" >&2

step "2-3. get-parameters-for-import (RSAES_OAEP_SHA_256, RSA_2048); wrap 32 random bytes"
get_parameters "$KEY_ID" RSAES_OAEP_SHA_256 RSA_2048
"$OPENSSL" rand -out PlaintextKeyMaterial.bin 32
wrap_oaep sha256 PlaintextKeyMaterial.bin EncryptedKeyMaterial.bin

step "4. import-key-material --expiration-model KEY_MATERIAL_EXPIRES --valid-to (now + 1 day)"
valid_to=$(($(date +%s) + 86400))
MATERIAL_ID=$(import_material "$KEY_ID" --expiration-model KEY_MATERIAL_EXPIRES \
    --valid-to "$valid_to")
printf '    KeyMaterialId %s\n' "$MATERIAL_ID" >&2
expect_eq "$(key_state "$KEY_ID")" Enabled "KeyState after import"
expect_eq "$(kms describe-key --key-id "$KEY_ID" --output text \
    --query KeyMetadata.ExpirationModel)" KEY_MATERIAL_EXPIRES "ExpirationModel"
# The AWS CLI prints timestamps as 2027-01-01T00:00:00+00:00.
expect_eq "$(kms describe-key --key-id "$KEY_ID" --output text --query KeyMetadata.ValidTo)" \
    "$(date -u -d "@$valid_to" +%Y-%m-%dT%H:%M:%S+00:00)" "ValidTo"
printf 'written before the material was deleted\n' >secret.txt
kms encrypt --key-id "$KEY_ID" --plaintext fileb://secret.txt \
    --output text --query CiphertextBlob | base64 --decode >secret.enc

step "5. delete-imported-key-material: the key is PendingImport and cannot decrypt"
deleted=$(kms delete-imported-key-material --key-id "$KEY_ID" --output text --query KeyMaterialId)
expect_eq "$deleted" "$MATERIAL_ID" "deleted KeyMaterialId"
expect_eq "$(key_state "$KEY_ID")" PendingImport "KeyState after delete-imported-key-material"
expect_error KMSInvalidStateException decrypt --ciphertext-blob fileb://secret.enc

step "6. new parameters; importing OTHER material is refused"
get_parameters "$KEY_ID" RSAES_OAEP_SHA_256 RSA_2048
"$OPENSSL" rand -out OtherKeyMaterial.bin 32
wrap_oaep sha256 OtherKeyMaterial.bin EncryptedKeyMaterial.bin
expect_error IncorrectKeyMaterialException import-key-material --key-id "$KEY_ID" \
    --encrypted-key-material fileb://EncryptedKeyMaterial.bin \
    --import-token fileb://ImportToken.bin \
    --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE
expect_eq "$(key_state "$KEY_ID")" PendingImport "KeyState after the refused import"

step "7. new parameters; re-import the SAME material (KEY_MATERIAL_DOES_NOT_EXPIRE now)"
get_parameters "$KEY_ID" RSAES_OAEP_SHA_256 RSA_2048
wrap_oaep sha256 PlaintextKeyMaterial.bin EncryptedKeyMaterial.bin
reimported=$(import_material "$KEY_ID" --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE)
expect_eq "$reimported" "$MATERIAL_ID" "re-imported KeyMaterialId"
expect_eq "$(key_state "$KEY_ID")" Enabled "KeyState after re-import"
expect_eq "$(kms describe-key --key-id "$KEY_ID" --output text \
    --query KeyMetadata.ExpirationModel)" KEY_MATERIAL_DOES_NOT_EXPIRE \
    "ExpirationModel after re-import"
kms decrypt --ciphertext-blob fileb://secret.enc \
    --output text --query Plaintext | base64 --decode >secret.dec
expect_same_file secret.txt secret.dec "old ciphertext after re-import"

step "OK"
