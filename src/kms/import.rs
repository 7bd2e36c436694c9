//! Imported key material (BYOK): GetParametersForImport, ImportKeyMaterial
//! and DeleteImportedKeyMaterial, and the expiry of imported material.
//!
//! CONTRACT STUB (issue 13): the operations below answer
//! UnsupportedOperationException until the core helper fills them in.

use std::sync::Arc;

use super::request::{
    DeleteImportedKeyMaterialRequest, GetParametersForImportRequest, ImportKeyMaterialRequest,
};
use super::{Caller, Kms};
use crate::error::{KmsError, KmsResult};
use crate::model::KeyRecord;

/// GetParametersForImport's result.
#[derive(Debug)]
pub struct ImportParametersOutput {
    /// The key.
    pub key: Arc<KeyRecord>,
    /// The opaque, authenticated import token.
    pub import_token: Vec<u8>,
    /// DER SubjectPublicKeyInfo of the RSA wrapping key.
    pub public_key: Vec<u8>,
    /// When the parameters expire, Unix ms.
    pub parameters_valid_to_ms: i64,
}

/// ImportKeyMaterial's and DeleteImportedKeyMaterial's result.
#[derive(Debug)]
pub struct ImportedMaterialOutput {
    /// The key.
    pub key: Arc<KeyRecord>,
    /// KeyMaterialId of the material imported or deleted.
    pub key_material_id: String,
}

impl Kms {
    /// GetParametersForImport.
    pub async fn get_parameters_for_import(
        &self,
        _caller: &Caller,
        _req: GetParametersForImportRequest,
    ) -> KmsResult<ImportParametersOutput> {
        Err(KmsError::UnsupportedOperation(
            "GetParametersForImport is not implemented yet".into(),
        ))
    }

    /// ImportKeyMaterial.
    pub async fn import_key_material(
        &self,
        _caller: &Caller,
        _req: ImportKeyMaterialRequest,
    ) -> KmsResult<ImportedMaterialOutput> {
        Err(KmsError::UnsupportedOperation(
            "ImportKeyMaterial is not implemented yet".into(),
        ))
    }

    /// DeleteImportedKeyMaterial.
    pub async fn delete_imported_key_material(
        &self,
        _caller: &Caller,
        _req: DeleteImportedKeyMaterialRequest,
    ) -> KmsResult<ImportedMaterialOutput> {
        Err(KmsError::UnsupportedOperation(
            "DeleteImportedKeyMaterial is not implemented yet".into(),
        ))
    }
}
