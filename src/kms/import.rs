//! Imported key material (BYOK): GetParametersForImport, ImportKeyMaterial
//! and DeleteImportedKeyMaterial, and the expiry of imported material and
//! of import parameters (run by `jobs.rs`).
//!
//! The flow, as AWS's:
//! - GetParametersForImport makes a fresh RSA wrapping key pair (on the
//!   bounded generation pool), stores its private half sealed by the
//!   backend in the key's one set of import parameters (`import_params`,
//!   replacing any earlier set, which supersedes its tokens), schedules the
//!   set's expiry (24 h), and returns the public half with an import token
//!   sealed under a root-derived service key (`import_token.rs`).
//! - ImportKeyMaterial opens the token, checks that it is for this key and
//!   account, unexpired, and names the stored set (constant-time compare),
//!   unwraps the material with the stored private key (on the private-op
//!   pool), checks it fits the key's spec, names it (`imported_material_id`:
//!   the same material always gets the same id for a key, so a re-import of
//!   other material is detected by comparing ids), and installs it in one
//!   synced batch with the key record; the set is deleted (a token is
//!   single-use) and the material's expiry scheduled.
//! - DeleteImportedKeyMaterial and the expiry job erase the sealed material
//!   (the record stays, with its id, so the same material can come back)
//!   and, for the current material, put the key in PendingImport.
//!
//! Every change drops the loaded-material cache entry of the version it
//! touches, under the key's lock: a cached handle would otherwise keep
//! decrypting after its material was deleted.

use std::sync::Arc;

use super::import_token::{self, TokenClaims};
use super::key_use::required;
use super::request::{
    DeleteImportedKeyMaterialRequest, GetParametersForImportRequest, ImportKeyMaterialRequest,
};
use super::{validate, AuthzInput, Caller, Inner, Kms, LockName};
use crate::backend::WRAPPING_KEY_LABEL;
use crate::clock::DAY_MS;
use crate::crypto::{self, wrapping, CryptoError};
use crate::error::{KmsError, KmsResult};
use crate::model::import::{
    check_wrapping, spec_takes_several_materials, MAX_MATERIAL_DESCRIPTION_LEN, PARAMETERS_VALID_MS,
};
use crate::model::{
    ExpirationModel, ImportParameters, ImportType, ImportedMaterialInfo, KeyId, KeyRecord,
    KeyState, MaterialLocation, MaterialState, MaterialVersion, Operation, Origin, WrappingKeySpec,
};
use crate::secret::KeyMaterial;
use crate::store::{Batch, Schedule};

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

/// The longest ImportToken and EncryptedKeyMaterial (AWS: 6144 bytes).
const MAX_IMPORT_BLOB: usize = 6144;
/// How far ahead ValidTo may be (AWS: 365 days).
const MAX_VALID_TO_AHEAD_MS: i64 = 365 * DAY_MS;
/// How many material versions of one key an import reads (a key holds the
/// first material plus at most one per on-demand rotation).
const MAX_MATERIALS: usize = 10_000;

/// UnsupportedOperationException unless `key` has origin EXTERNAL.
fn check_external(key: &KeyRecord, region: &str, op: Operation) -> KmsResult<()> {
    if key.origin == Origin::External {
        return Ok(());
    }
    Err(KmsError::UnsupportedOperation(format!(
        "{} is not supported for {}: its origin is {}, and only keys with origin EXTERNAL take imported key material",
        op.name(),
        key.arn(region),
        key.origin
    )))
}

/// A KeyMaterialId as a request gives it: 64 hex digits (lowercased).
fn parse_material_id(field: &str, id: &str) -> KmsResult<String> {
    if id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(id.to_ascii_lowercase())
    } else {
        Err(validate::validation(
            field,
            "KeyMaterialId must be 64 hexadecimal digits",
        ))
    }
}

/// The expiration model of a stored material (`expires_ms` set: expires).
fn model_of(m: &MaterialVersion) -> ExpirationModel {
    if m.expires_ms.is_some() {
        ExpirationModel::KeyMaterialExpires
    } else {
        ExpirationModel::KeyMaterialDoesNotExpire
    }
}

/// The imported-material summary a key record keeps of its current material.
fn info_of(m: &MaterialVersion) -> ImportedMaterialInfo {
    ImportedMaterialInfo {
        material_id: m.material_id.clone(),
        expiration_model: model_of(m),
        valid_to_ms: m.expires_ms,
    }
}

/// What an ImportKeyMaterial installs, decided before any lock.
struct Unwrapped {
    material: KeyMaterial,
    material_id: String,
}

/// The checked, non-secret fields of an ImportKeyMaterial.
struct ImportChoice {
    import_type: Option<ImportType>,
    expires_ms: Option<i64>,
    model: ExpirationModel,
    description: Option<String>,
    target_id: Option<String>,
}

impl Inner {
    /// A new multi-Region EXTERNAL key (`rec`, at CreateKey, in its
    /// creating batch `b`): makes the random secret its imported
    /// material's KeyMaterialIds are computed under, stored sealed by the
    /// backend (`put_mrk_material_id_secret`, the `replication` family).
    /// Every Region of the key holds the same secret (replication sends it
    /// sealed in each `Sync`), so the same material gets the same id
    /// everywhere and a replica can tell the primary's material from any
    /// other. A no-op for other keys.
    pub(super) fn add_material_id_secret(
        &self,
        rec: &KeyRecord,
        b: &mut Batch<'_>,
    ) -> KmsResult<()> {
        if rec.origin != Origin::External || rec.mr.is_none() {
            return Ok(());
        }
        let secret = KeyMaterial::generate(import_token::MR_MATERIAL_ID_KEY_LEN)
            .map_err(KmsError::internal)?;
        self.put_mrk_material_id_secret(b, &rec.id, &secret)
    }

    /// The key KeyMaterialIds of `rec`'s imported material are computed
    /// under: a multi-Region key's own shared secret (`None`: this kmsd's
    /// root-derived one). Blocking pool: the backend opens the secret.
    fn material_id_key_of(&self, rec: &KeyRecord) -> KmsResult<Option<KeyMaterial>> {
        if rec.mr.is_none() {
            return Ok(None);
        }
        match self.mrk_material_id_secret(&rec.id)? {
            Some(k) => Ok(Some(k)),
            None => Err(KmsError::InvalidState(format!(
                "{} has not received its key material id secret from its primary key yet; try again later",
                rec.arn(&self.region)
            ))),
        }
    }

    /// Whether `rec`'s current material is present (AWS_KMS keys always;
    /// EXTERNAL keys once imported and until expired or deleted). Blocking
    /// pool only.
    pub(super) fn has_current_material(&self, rec: &KeyRecord) -> KmsResult<bool> {
        if rec.origin != Origin::External {
            return Ok(true);
        }
        if rec.current_version == 0 {
            return Ok(false);
        }
        Ok(self
            .store
            .get_material(&rec.id, rec.current_version)
            .map_err(KmsError::internal)?
            .is_some_and(|m| !matches!(m.location, MaterialLocation::Absent)))
    }

    /// Every material record of key `id`, in version order.
    fn materials_of(&self, id: &KeyId) -> KmsResult<Vec<MaterialVersion>> {
        self.store
            .list_materials(id, 0, MAX_MATERIALS)
            .map_err(KmsError::internal)
    }

    /// Erases material `m` of key `rec` in batch `b` (DeleteImportedKeyMaterial
    /// and expiry): the sealed bytes go, the record (and its id) stays. The
    /// current material's key goes to PendingImport (a key pending deletion
    /// stays so, as AWS). The caller holds the key's lock, puts `rec` and
    /// drops the version from the material cache after the commit.
    fn erase_material(
        &self,
        rec: &mut KeyRecord,
        mut m: MaterialVersion,
        b: &mut Batch<'_>,
    ) -> KmsResult<()> {
        m.location = MaterialLocation::Absent;
        m.expires_ms = None;
        b.put_material(&rec.id, &m).map_err(KmsError::internal)?;
        if m.version == rec.current_version {
            if matches!(rec.state, KeyState::Enabled | KeyState::Disabled) {
                rec.state = KeyState::PendingImport;
            }
            if let Some(info) = &mut rec.imported {
                info.valid_to_ms = None;
            }
        }
        Ok(())
    }

    /// Expiry job: erases every imported material of key `id` whose ValidTo
    /// has passed (the entry at `due_ms` is one of possibly several; a stale
    /// one finds nothing). Returns whether anything was erased.
    fn expire_materials_due(&self, due_ms: i64, id: &KeyId, now: i64) -> KmsResult<bool> {
        let _w = self.lock(&[LockName::Key(id)]);
        let mut b = self.store.batch();
        b.unschedule(Schedule::MaterialExpiry, due_ms, id);
        let Some(current) = self.store.get_key(id).map_err(KmsError::internal)? else {
            b.commit().map_err(KmsError::internal)?;
            return Ok(false);
        };
        let mut rec = current.clone();
        let mut erased = Vec::new();
        for m in self.materials_of(id)? {
            let due = m.expires_ms.is_some_and(|e| e <= now);
            if due && !matches!(m.location, MaterialLocation::Absent) {
                erased.push(m.version);
                self.erase_material(&mut rec, m, &mut b)?;
            }
        }
        if erased.is_empty() {
            b.commit().map_err(KmsError::internal)?;
            return Ok(false);
        }
        b.put_key(&rec).map_err(KmsError::internal)?;
        b.commit().map_err(KmsError::internal)?;
        for v in &erased {
            self.materials.remove(&(*id, *v));
        }
        tracing::info!(key_id = %id, versions = ?erased, "imported key material expired and was deleted");
        self.cache_put_key(rec);
        Ok(true)
    }

    /// Expiry job: deletes key `id`'s import parameters if they are the
    /// ones that expire at `due_ms` (or earlier); a stale entry (replaced
    /// or used parameters) is just dropped.
    fn expire_import_params_due(&self, due_ms: i64, id: &KeyId, now: i64) -> KmsResult<bool> {
        let _w = self.lock(&[LockName::Key(id)]);
        let mut b = self.store.batch();
        b.unschedule(Schedule::ImportParamsExpiry, due_ms, id);
        let stale = self
            .store
            .get_import_params(id)
            .map_err(KmsError::internal)?
            .is_none_or(|p| p.expires_ms > now);
        if !stale {
            b.delete_import_params(id);
        }
        b.commit().map_err(KmsError::internal)?;
        Ok(!stale)
    }

    /// One batch of due entries of an expiry schedule; a failing entry is
    /// quarantined (`jobs.rs`) so later ones proceed.
    fn expire_due_batch(&self, which: Schedule) -> KmsResult<(usize, bool)> {
        let now = self.now_ms();
        let due = self
            .store
            .due_entries(which, now, super::deletion::BATCH)
            .map_err(KmsError::internal)?;
        let more = due.len() == super::deletion::BATCH;
        let mut done = 0;
        for entry in due {
            let result = match (&entry.decoded, which) {
                (Some((due_ms, id)), Schedule::MaterialExpiry) => {
                    self.expire_materials_due(*due_ms, id, now)
                }
                (Some((due_ms, id)), _) => self.expire_import_params_due(*due_ms, id, now),
                (None, _) => Err(KmsError::internal("undecodable expiry schedule entry")),
            };
            match result {
                Ok(true) => done += 1,
                Ok(false) => {}
                Err(e) => self.quarantine_entry(which, &entry, &e)?,
            }
        }
        Ok((done, more))
    }
}

impl Kms {
    /// Deletes the imported material and import parameters that expired by
    /// now; returns how many keys changed. The background job calls this;
    /// tests may too.
    pub async fn process_due_import_expiry(&self) -> KmsResult<usize> {
        let mut total = 0;
        for which in [Schedule::MaterialExpiry, Schedule::ImportParamsExpiry] {
            loop {
                let (n, more) = self
                    .inner
                    .blocking(move |inner| inner.expire_due_batch(which))
                    .await?;
                total += n;
                if !more {
                    break;
                }
            }
        }
        Ok(total)
    }

    /// GetParametersForImport.
    pub async fn get_parameters_for_import(
        &self,
        caller: &Caller,
        req: GetParametersForImportRequest,
    ) -> KmsResult<ImportParametersOutput> {
        let op = Operation::GetParametersForImport;
        let alg = required("wrappingAlgorithm", req.wrapping_algorithm)?;
        let wspec = required("wrappingKeySpec", req.wrapping_key_spec)?;
        if !alg.is_offered() {
            return Err(KmsError::UnsupportedOperation(format!(
                "WrappingAlgorithm {alg} is not supported (use RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, RSA_AES_KEY_WRAP_SHA_1 or RSA_AES_KEY_WRAP_SHA_256)"
            )));
        }
        if wspec == WrappingKeySpec::Sm2 {
            return Err(KmsError::UnsupportedOperation(
                "WrappingKeySpec SM2 is not supported (use RSA_2048, RSA_3072 or RSA_4096)".into(),
            ));
        }
        let input = AuthzInput::default()
            .value("kms:wrappingalgorithm", alg.as_aws_str())
            .value("kms:wrappingkeyspec", wspec.as_aws_str());
        let key = self.inner.resolve(caller, &req.key_id, op, &input).await?;
        check_external(&key, &self.inner.region, op)?;
        check_wrapping(key.spec, alg, wspec)
            .map_err(|reason| validate::validation("wrappingAlgorithm", reason))?;
        // Up to a second for RSA_4096: on the bounded generation pool,
        // before any lock.
        let pair = self
            .inner
            .bounded_generation(move |_| {
                wrapping::generate_wrapping_key(wspec).map_err(KmsError::internal)
            })
            .await?;
        let public_key = pair.public_spki;
        let private = pair.private_pkcs8;
        let (key, params) = self
            .inner
            .blocking(move |inner| {
                let _w = inner.lock(&[LockName::Key(&key.id)]);
                let rec = inner.recheck(&key, op)?;
                let sealed = inner
                    .backend
                    .seal_secret(WRAPPING_KEY_LABEL, &rec.id, private.expose_secret())
                    .map_err(KmsError::internal)?;
                let mut id = [0u8; 16];
                crypto::fill_random(&mut id).map_err(KmsError::internal)?;
                let now = inner.now_ms();
                let params = ImportParameters {
                    key_id: rec.id,
                    account: rec.account.clone(),
                    params_id: hex::encode(id),
                    wrapping_algorithm: alg,
                    wrapping_key_spec: wspec,
                    created_ms: now,
                    expires_ms: now.saturating_add(PARAMETERS_VALID_MS),
                    sealed_private_key: sealed,
                };
                let old = inner
                    .store
                    .get_import_params(&rec.id)
                    .map_err(KmsError::internal)?;
                let mut b = inner.store.batch();
                if let Some(old) = old.filter(|o| o.expires_ms != params.expires_ms) {
                    b.unschedule(Schedule::ImportParamsExpiry, old.expires_ms, &rec.id);
                }
                // Replacing the set supersedes every earlier token.
                b.put_import_params(&params).map_err(KmsError::internal)?;
                b.schedule(Schedule::ImportParamsExpiry, params.expires_ms, &rec.id);
                b.commit().map_err(KmsError::internal)?;
                Ok((rec, params))
            })
            .await?;
        self.inner.schedule_changed.notify_one();
        let claims = TokenClaims {
            key_id: params.key_id,
            account: params.account,
            params_id: params.params_id,
            wrapping_algorithm: alg,
            wrapping_key_spec: wspec,
            expires_ms: params.expires_ms,
        };
        let import_token = import_token::seal_token(&self.inner.import_token_key, &claims)
            .map_err(KmsError::internal)?;
        Ok(ImportParametersOutput {
            key,
            import_token,
            public_key,
            parameters_valid_to_ms: params.expires_ms,
        })
    }

    /// ImportKeyMaterial.
    pub async fn import_key_material(
        &self,
        caller: &Caller,
        req: ImportKeyMaterialRequest,
    ) -> KmsResult<ImportedMaterialOutput> {
        let op = Operation::ImportKeyMaterial;
        let ImportKeyMaterialRequest {
            key_id,
            import_token,
            encrypted_key_material,
            valid_to_ms,
            expiration_model,
            import_type,
            key_material_description,
            key_material_id,
        } = req;
        validate::length("importToken", import_token.len(), 1, MAX_IMPORT_BLOB)?;
        validate::length(
            "encryptedKeyMaterial",
            encrypted_key_material.len(),
            1,
            MAX_IMPORT_BLOB,
        )?;
        if let Some(d) = &key_material_description {
            if d.chars().count() > MAX_MATERIAL_DESCRIPTION_LEN {
                return Err(validate::validation(
                    "keyMaterialDescription",
                    "Member must have length less than or equal to 256",
                ));
            }
        }
        let target_id = match &key_material_id {
            Some(id) => Some(parse_material_id("keyMaterialId", id)?),
            None => None,
        };
        if import_type == Some(ImportType::NewKeyMaterial) && target_id.is_some() {
            return Err(validate::validation(
                "keyMaterialId",
                "KeyMaterialId cannot be given with ImportType NEW_KEY_MATERIAL (the id of new material is derived from it)",
            ));
        }
        let model = expiration_model.unwrap_or(ExpirationModel::KeyMaterialExpires);
        let now = self.inner.now_ms();
        let expires_ms = match model {
            ExpirationModel::KeyMaterialExpires => {
                let v = valid_to_ms.ok_or_else(|| {
                    validate::validation(
                        "validTo",
                        "ValidTo is required when ExpirationModel is KEY_MATERIAL_EXPIRES",
                    )
                })?;
                if v <= now {
                    return Err(validate::validation(
                        "validTo",
                        "ValidTo must be in the future",
                    ));
                }
                if v > now.saturating_add(MAX_VALID_TO_AHEAD_MS) {
                    return Err(validate::validation(
                        "validTo",
                        "ValidTo must be at most 365 days in the future",
                    ));
                }
                Some(v)
            }
            ExpirationModel::KeyMaterialDoesNotExpire => {
                if valid_to_ms.is_some() {
                    return Err(validate::validation(
                        "validTo",
                        "ValidTo must not be given when ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE",
                    ));
                }
                None
            }
        };
        // `kms:ValidTo` is numeric in AWS: Unix seconds.
        let valid_to_secs = expires_ms.map(|v| v.div_euclid(1000).to_string());
        let mut input = AuthzInput::default().value("kms:expirationmodel", model.as_aws_str());
        if let Some(secs) = &valid_to_secs {
            input = input.value("kms:validto", secs.as_str());
        }
        let key = self.inner.resolve(caller, &key_id, op, &input).await?;
        check_external(&key, &self.inner.region, op)?;

        let invalid = |why: &str| {
            KmsError::InvalidImportToken(format!(
                "The import token is not valid for {}: {why}",
                key.arn(&self.inner.region)
            ))
        };
        let claims = import_token::open_token(&self.inner.import_token_key, &import_token)
            .ok_or_else(|| invalid("it is not an import token issued by this kmsd"))?;
        if claims.key_id != key.id || claims.account != key.account {
            return Err(invalid("it was issued for another KMS key"));
        }
        // Before the stored-parameters check: the expiry job deletes
        // expired parameters, and an expired token must still be told so.
        if now >= claims.expires_ms {
            return Err(KmsError::ExpiredImportToken(format!(
                "The import token for {} expired; call GetParametersForImport again",
                key.arn(&self.inner.region)
            )));
        }
        let id = key.id;
        let params = self
            .inner
            .blocking(move |inner| {
                inner
                    .store
                    .get_import_params(&id)
                    .map_err(KmsError::internal)
            })
            .await?;
        let params = match params {
            Some(p)
                if crypto::ct_eq(p.params_id.as_bytes(), claims.params_id.as_bytes())
                    && p.wrapping_algorithm == claims.wrapping_algorithm
                    && p.wrapping_key_spec == claims.wrapping_key_spec =>
            {
                p
            }
            _ => {
                return Err(invalid(
                    "its import parameters were superseded by a later GetParametersForImport or already used",
                ))
            }
        };

        // RSA decryption takes milliseconds: on the private-op pool.
        let spec = key.spec;
        let id_key_of = Arc::clone(&key);
        let inner = Arc::clone(&self.inner);
        let unwrapped = self
            .inner
            .private_ops
            .run(move || -> KmsResult<Unwrapped> {
                let private = inner
                    .backend
                    .open_secret(WRAPPING_KEY_LABEL, &id, &params.sealed_private_key)
                    .map_err(KmsError::internal)?;
                let raw = wrapping::unwrap_key_material(
                    private.expose_secret(),
                    params.wrapping_key_spec,
                    params.wrapping_algorithm,
                    &encrypted_key_material,
                )
                .map_err(|_| {
                    KmsError::InvalidCiphertext(
                        "The encrypted key material cannot be unwrapped with the wrapping key and algorithm of the import parameters".into(),
                    )
                })?;
                let material = wrapping::check_imported_material(spec, raw).map_err(|e| {
                    let reason = match e {
                        CryptoError::InvalidInput(r) => r,
                        _ => "it does not fit the key spec",
                    };
                    validate::validation(
                        "encryptedKeyMaterial",
                        &format!("The imported key material is not valid for a {spec} key: {reason}"),
                    )
                })?;
                // A multi-Region key's ids are computed under its own
                // secret, shared by its Regions (same input layout).
                let own_key = inner.material_id_key_of(&id_key_of)?;
                let material_id = import_token::imported_material_id(
                    own_key.as_ref().unwrap_or(&inner.material_id_key),
                    &id,
                    material.expose_secret(),
                );
                Ok(Unwrapped {
                    material,
                    material_id,
                })
            })
            .await??;

        let choice = ImportChoice {
            import_type,
            expires_ms,
            model,
            description: key_material_description,
            target_id,
        };
        let params_id = claims.params_id;
        let out = self
            .inner
            .blocking(move |inner| {
                let _w = inner.lock(&[LockName::Key(&key.id)]);
                let current = inner.recheck(&key, op)?;
                // Another import may have used the parameters meanwhile.
                let stored = inner
                    .store
                    .get_import_params(&key.id)
                    .map_err(KmsError::internal)?
                    .filter(|p| crypto::ct_eq(p.params_id.as_bytes(), params_id.as_bytes()))
                    .ok_or_else(|| {
                        KmsError::InvalidImportToken(format!(
                            "The import token is not valid for {}: its import parameters were superseded or already used",
                            key.arn(&inner.region)
                        ))
                    })?;
                inner.install_material(&current, &stored, unwrapped, choice)
            })
            .await?;
        self.inner.schedule_changed.notify_one();
        Ok(out)
    }

    /// DeleteImportedKeyMaterial.
    pub async fn delete_imported_key_material(
        &self,
        caller: &Caller,
        req: DeleteImportedKeyMaterialRequest,
    ) -> KmsResult<ImportedMaterialOutput> {
        let op = Operation::DeleteImportedKeyMaterial;
        let target_id = match &req.key_material_id {
            Some(id) => Some(parse_material_id("keyMaterialId", id)?),
            None => None,
        };
        let key = self
            .inner
            .resolve(caller, &req.key_id, op, &AuthzInput::default())
            .await?;
        check_external(&key, &self.inner.region, op)?;
        self.inner
            .blocking(move |inner| {
                let _w = inner.lock(&[LockName::Key(&key.id)]);
                let mut rec = (*inner.recheck(&key, op)?).clone();
                let arn = rec.arn(&inner.region);
                let materials = inner.materials_of(&rec.id)?;
                let target = match &target_id {
                    Some(t) => materials
                        .into_iter()
                        .find(|m| &m.material_id == t)
                        .ok_or_else(|| {
                            validate::validation(
                                "keyMaterialId",
                                &format!("{t} is not a key material of {arn}"),
                            )
                        })?,
                    None => materials
                        .into_iter()
                        .find(|m| m.version == rec.current_version)
                        .ok_or_else(|| {
                            KmsError::InvalidState(format!(
                                "{arn} has no imported key material to delete"
                            ))
                        })?,
                };
                if matches!(target.location, MaterialLocation::Absent) {
                    return Err(KmsError::InvalidState(format!(
                        "Key material {} of {arn} is already deleted (pending import)",
                        target.material_id
                    )));
                }
                let (version, material_id) = (target.version, target.material_id.clone());
                let mut b = inner.store.batch();
                inner.erase_material(&mut rec, target, &mut b)?;
                b.put_key(&rec).map_err(KmsError::internal)?;
                b.commit().map_err(KmsError::internal)?;
                inner.materials.remove(&(rec.id, version));
                Ok(ImportedMaterialOutput {
                    key: inner.cache_put_key(rec),
                    key_material_id: material_id,
                })
            })
            .await
    }
}

impl Inner {
    /// Installs unwrapped material in key `current` (under its lock, with
    /// its import parameters `params` still stored): decides the version
    /// and state by the import type, commits material, key record, the
    /// deletion of the used parameters and the material's expiry schedule
    /// in one synced batch, then updates the caches.
    fn install_material(
        &self,
        current: &KeyRecord,
        params: &ImportParameters,
        unwrapped: Unwrapped,
        choice: ImportChoice,
    ) -> KmsResult<ImportedMaterialOutput> {
        let mut rec = current.clone();
        let arn = rec.arn(&self.region);
        let materials = self.materials_of(&rec.id)?;
        let replica = rec.is_replica_in(&self.region);
        if replica && choice.import_type == Some(ImportType::NewKeyMaterial) {
            return Err(KmsError::UnsupportedOperation(format!(
                "{arn} is a replica key: import new key material into its primary key, then the same material into each replica (ImportType EXISTING_KEY_MATERIAL)"
            )));
        }
        // A replica takes only material its primary has (the versions it
        // learned by replication, with their KeyMaterialIds): AWS's rule
        // that each replica gets the primary's material as
        // EXISTING_KEY_MATERIAL, checked by the id computed under the
        // key's shared secret.
        if replica && materials.is_empty() {
            return Err(KmsError::IncorrectKeyMaterial(format!(
                "{arn} is a replica key whose primary key has no key material yet: import it into the primary key first"
            )));
        }
        let import_type = choice.import_type.unwrap_or(if materials.is_empty() {
            ImportType::NewKeyMaterial
        } else {
            ImportType::ExistingKeyMaterial
        });
        let same_id = |m: &MaterialVersion| {
            crypto::ct_eq(m.material_id.as_bytes(), unwrapped.material_id.as_bytes())
        };
        let now = self.now_ms();
        let record = match import_type {
            ImportType::NewKeyMaterial => {
                let (version, state) = if materials.is_empty() {
                    (1, MaterialState::Current)
                } else {
                    if !spec_takes_several_materials(rec.spec) || rec.multi_region {
                        return Err(KmsError::UnsupportedOperation(format!(
                            "{arn} already has key material: only single-Region symmetric encryption keys take new key material (import the same material with ImportType EXISTING_KEY_MATERIAL)"
                        )));
                    }
                    if materials.iter().any(same_id) {
                        return Err(KmsError::IncorrectKeyMaterial(format!(
                            "This key material is already a key material of {arn}: import it with ImportType EXISTING_KEY_MATERIAL"
                        )));
                    }
                    if materials
                        .iter()
                        .any(|m| m.state == MaterialState::PendingRotation)
                    {
                        return Err(KmsError::InvalidState(format!(
                            "{arn} already has new key material pending rotation: call RotateKeyOnDemand (or delete it) before importing more"
                        )));
                    }
                    let last = materials.iter().map(|m| m.version).max().unwrap_or(0);
                    let version = last.checked_add(1).ok_or_else(|| {
                        KmsError::LimitExceeded(format!("{arn} has too many key materials"))
                    })?;
                    (version, MaterialState::PendingRotation)
                };
                let mut m = self
                    .backend
                    .import(
                        &rec.id,
                        version,
                        rec.spec,
                        &unwrapped.material,
                        unwrapped.material_id.clone(),
                        now,
                        choice.expires_ms,
                        choice.description,
                    )
                    .map_err(KmsError::internal)?;
                m.state = state;
                m
            }
            ImportType::ExistingKeyMaterial => {
                let target = match &choice.target_id {
                    Some(t) => materials.iter().find(|m| &m.material_id == t),
                    None => materials.iter().find(|m| m.version == rec.current_version),
                };
                let Some(target) = target else {
                    return Err(KmsError::IncorrectKeyMaterial(format!(
                        "{arn} has no such key material to re-import (use ImportType NEW_KEY_MATERIAL for material the key never had)"
                    )));
                };
                if !same_id(target) {
                    return Err(KmsError::IncorrectKeyMaterial(if replica {
                        format!(
                            "The key material is not key material {} of the primary key of {arn}",
                            target.material_id
                        )
                    } else {
                        format!(
                            "The key material is not key material {} of {arn}",
                            target.material_id
                        )
                    }));
                }
                let mut m = self
                    .backend
                    .import(
                        &rec.id,
                        target.version,
                        rec.spec,
                        &unwrapped.material,
                        target.material_id.clone(),
                        target.created_ms,
                        choice.expires_ms,
                        choice.description.or_else(|| target.description.clone()),
                    )
                    .map_err(KmsError::internal)?;
                m.state = target.state;
                m
            }
        };
        if record.version == 1 && rec.current_version == 0 {
            rec.current_version = 1;
        }
        if record.version == rec.current_version {
            rec.imported = Some(ImportedMaterialInfo {
                material_id: record.material_id.clone(),
                expiration_model: choice.model,
                valid_to_ms: choice.expires_ms,
            });
            if rec.state == KeyState::PendingImport {
                rec.state = KeyState::Enabled;
            }
        }
        let mut b = self.store.batch();
        b.put_material(&rec.id, &record)
            .map_err(KmsError::internal)?;
        if import_type == ImportType::NewKeyMaterial && !replica {
            // A multi-Region primary's new material version (its id) is
            // shared state: the replicas learn it, to check their own
            // imports against (no-op for a single-Region key).
            self.shared_changed(&mut rec, &mut b)?;
        }
        if let Some(t) = choice.expires_ms {
            b.schedule(Schedule::MaterialExpiry, t, &rec.id);
        }
        // A token is single-use.
        b.delete_import_params(&rec.id);
        b.unschedule(Schedule::ImportParamsExpiry, params.expires_ms, &rec.id);
        b.put_key(&rec).map_err(KmsError::internal)?;
        b.commit().map_err(KmsError::internal)?;
        self.materials.remove(&(rec.id, record.version));
        tracing::info!(key_id = %rec.id, version = record.version, "imported key material");
        Ok(ImportedMaterialOutput {
            key: self.cache_put_key(rec),
            key_material_id: record.material_id,
        })
    }

    /// RotateKeyOnDemand of a symmetric EXTERNAL key (in `rotation.rs`'s
    /// batch): the material imported as NEW_KEY_MATERIAL becomes current.
    pub(super) fn rotate_to_imported(
        &self,
        rec: &mut KeyRecord,
        b: &mut Batch<'_>,
    ) -> KmsResult<u32> {
        let arn = rec.arn(&self.region);
        let materials = self.materials_of(&rec.id)?;
        let Some(mut next) = materials
            .iter()
            .find(|m| m.state == MaterialState::PendingRotation)
            .cloned()
        else {
            return Err(KmsError::InvalidState(format!(
                "{arn} has no key material pending rotation: import new key material (ImportKeyMaterial with ImportType NEW_KEY_MATERIAL) before RotateKeyOnDemand"
            )));
        };
        if matches!(next.location, MaterialLocation::Absent) {
            return Err(KmsError::InvalidState(format!(
                "Key material {} of {arn}, pending rotation, was deleted: import it again before RotateKeyOnDemand",
                next.material_id
            )));
        }
        if let Some(mut previous) = materials
            .into_iter()
            .find(|m| m.version == rec.current_version)
        {
            previous.state = MaterialState::NonCurrent;
            b.put_material(&rec.id, &previous)
                .map_err(KmsError::internal)?;
        }
        next.state = MaterialState::Current;
        b.put_material(&rec.id, &next).map_err(KmsError::internal)?;
        rec.current_version = next.version;
        rec.imported = Some(info_of(&next));
        Ok(next.version)
    }
}

/// ListKeyRotations of an EXTERNAL key: what each material reports.
pub(super) fn import_fields(
    m: &MaterialVersion,
) -> (crate::model::ImportState, Option<ExpirationModel>) {
    let state = if matches!(m.location, MaterialLocation::Absent) {
        crate::model::ImportState::PendingImport
    } else {
        crate::model::ImportState::Imported
    };
    let model = (!matches!(m.location, MaterialLocation::Absent)).then(|| model_of(m));
    (state, model)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::clock::{Clock, ManualClock};
    use crate::kms::request::{
        CreateKeyRequest, DecryptRequest, EncryptRequest, ListKeyRotationsRequest,
        RotateKeyOnDemandRequest,
    };
    use crate::kms::KmsConfig;
    use crate::model::{KeySpec, Principal, WrappingAlgorithm};
    use crate::secret::{Plaintext, RootKey};
    use crate::store::Store;

    const ACCOUNT: &str = "111122223333";

    fn core() -> (tempfile::TempDir, Kms, ManualClock) {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = RootKey::from_slice(&[7; 32]).expect("32 bytes");
        let store = Store::open(&dir.path().join("db")).expect("open store");
        let backend = crate::backend::local::LocalBackend::open(root, &store).expect("backend");
        let clock = ManualClock::new(1_000_000);
        let kms = Kms::new(
            store,
            Arc::new(backend),
            KmsConfig::default(),
            Arc::new(clock.clone()),
        );
        (dir, kms, clock)
    }

    fn caller(account: &str) -> Caller {
        Caller::new(Principal::parse(&format!("arn:aws:iam::{account}:root")).expect("principal"))
    }

    async fn external_key(kms: &Kms, c: &Caller, spec: KeySpec) -> Arc<KeyRecord> {
        kms.create_key(
            c,
            CreateKeyRequest {
                origin: Some(Origin::External),
                key_spec: Some(spec),
                key_usage: spec
                    .default_usage()
                    .or_else(|| spec.usages().first().copied()),
                ..Default::default()
            },
        )
        .await
        .expect("create EXTERNAL key")
    }

    async fn params(kms: &Kms, c: &Caller, key: &KeyId) -> ImportParametersOutput {
        kms.get_parameters_for_import(
            c,
            GetParametersForImportRequest {
                key_id: key.to_string(),
                wrapping_algorithm: Some(WrappingAlgorithm::RsaesOaepSha256),
                wrapping_key_spec: Some(WrappingKeySpec::Rsa2048),
            },
        )
        .await
        .expect("parameters")
    }

    /// RSA-OAEP-SHA-256 under the (RSA_2048) wrapping public key, by the
    /// `rsa` crate behind asymmetric Encrypt (not kmsd's wrapping code).
    fn wrap(spki: &[u8], material: &[u8]) -> Vec<u8> {
        crate::crypto::asymmetric::encrypt(
            KeySpec::Rsa2048,
            spki,
            crate::model::EncryptionAlgorithm::RsaesOaepSha256,
            material,
        )
        .expect("wrap")
    }

    fn import_req(
        key: &KeyId,
        p: &ImportParametersOutput,
        material: &[u8],
    ) -> ImportKeyMaterialRequest {
        ImportKeyMaterialRequest {
            key_id: key.to_string(),
            import_token: p.import_token.clone(),
            encrypted_key_material: wrap(&p.public_key, material),
            expiration_model: Some(ExpirationModel::KeyMaterialDoesNotExpire),
            ..Default::default()
        }
    }

    async fn import(
        kms: &Kms,
        c: &Caller,
        key: &KeyId,
        material: &[u8],
        change: impl FnOnce(&mut ImportKeyMaterialRequest),
    ) -> KmsResult<ImportedMaterialOutput> {
        let p = params(kms, c, key).await;
        let mut req = import_req(key, &p, material);
        change(&mut req);
        kms.import_key_material(c, req).await
    }

    async fn encrypt(kms: &Kms, c: &Caller, key: &KeyId, pt: &[u8]) -> (Vec<u8>, String) {
        let out = kms
            .encrypt(
                c,
                EncryptRequest {
                    key_id: key.to_string(),
                    plaintext: Plaintext::new(pt.to_vec()),
                    encryption_context: Default::default(),
                    grant_tokens: Vec::new(),
                    encryption_algorithm: None,
                },
            )
            .await
            .expect("encrypt");
        (out.ciphertext_blob, out.key_material_id)
    }

    async fn decrypt(kms: &Kms, c: &Caller, blob: &[u8]) -> KmsResult<(Vec<u8>, String)> {
        kms.decrypt(
            c,
            DecryptRequest {
                ciphertext_blob: blob.to_vec(),
                ..Default::default()
            },
        )
        .await
        .map(|o| (o.plaintext.expose_secret().to_vec(), o.key_material_id))
    }

    async fn state(kms: &Kms, key: &KeyId) -> KeyState {
        let id = *key;
        kms.inner
            .blocking(move |i| i.load_key(&id))
            .await
            .expect("load")
            .expect("key")
            .state
    }

    #[tokio::test]
    async fn import_round_trip_delete_and_reimport() {
        let (_dir, kms, _clock) = core();
        let c = caller(ACCOUNT);
        let key = external_key(&kms, &c, KeySpec::SymmetricDefault).await;
        assert_eq!(key.state, KeyState::PendingImport);
        assert_eq!(key.current_version, 0);
        // Nothing works before the import.
        let e = kms
            .encrypt(
                &c,
                EncryptRequest {
                    key_id: key.id.to_string(),
                    plaintext: Plaintext::new(b"x".to_vec()),
                    encryption_context: Default::default(),
                    grant_tokens: Vec::new(),
                    encryption_algorithm: None,
                },
            )
            .await
            .expect_err("pending import");
        assert!(matches!(e, KmsError::InvalidState(_)), "{e}");

        let material = [0x42u8; 32];
        let out = import(&kms, &c, &key.id, &material, |_| {})
            .await
            .expect("import");
        assert_eq!(out.key.state, KeyState::Enabled);
        assert_eq!(out.key.current_version, 1);
        assert_eq!(out.key_material_id.len(), 64);
        let (blob, mid) = encrypt(&kms, &c, &key.id, b"secret").await;
        assert_eq!(mid, out.key_material_id);
        assert_eq!(
            decrypt(&kms, &c, &blob).await.expect("decrypt"),
            (b"secret".to_vec(), mid.clone())
        );

        // Delete: the key goes to PendingImport, and a cached handle does
        // not keep decrypting.
        let del = kms
            .delete_imported_key_material(
                &c,
                DeleteImportedKeyMaterialRequest {
                    key_id: key.id.to_string(),
                    key_material_id: None,
                },
            )
            .await
            .expect("delete");
        assert_eq!(del.key_material_id, mid);
        assert_eq!(del.key.state, KeyState::PendingImport);
        let e = decrypt(&kms, &c, &blob).await.expect_err("deleted");
        assert!(matches!(e, KmsError::InvalidState(_)), "{e}");
        // Deleting again: already absent.
        let e = kms
            .delete_imported_key_material(
                &c,
                DeleteImportedKeyMaterialRequest {
                    key_id: key.id.to_string(),
                    key_material_id: None,
                },
            )
            .await
            .expect_err("absent");
        assert!(matches!(e, KmsError::InvalidState(_)), "{e}");

        // Other material is refused; the same material restores the key,
        // and the old ciphertext decrypts again.
        let e = import(&kms, &c, &key.id, &[0x43u8; 32], |_| {})
            .await
            .expect_err("other material");
        assert!(matches!(e, KmsError::IncorrectKeyMaterial(_)), "{e}");
        let again = import(&kms, &c, &key.id, &material, |_| {})
            .await
            .expect("re-import");
        assert_eq!(again.key_material_id, mid);
        assert_eq!(again.key.state, KeyState::Enabled);
        assert_eq!(
            decrypt(&kms, &c, &blob).await.expect("decrypt").0,
            b"secret"
        );
    }

    #[tokio::test]
    async fn tokens_are_single_use_superseded_bound_and_expire() {
        let (_dir, kms, clock) = core();
        let c = caller(ACCOUNT);
        let key = external_key(&kms, &c, KeySpec::SymmetricDefault).await;
        let other = external_key(&kms, &c, KeySpec::SymmetricDefault).await;
        let material = [7u8; 32];

        // Superseded by a newer GetParametersForImport.
        let old = params(&kms, &c, &key.id).await;
        let _newer = params(&kms, &c, &key.id).await;
        let e = kms
            .import_key_material(&c, import_req(&key.id, &old, &material))
            .await
            .expect_err("superseded");
        assert!(matches!(e, KmsError::InvalidImportToken(_)), "{e}");

        // Another key's token.
        let p_other = params(&kms, &c, &other.id).await;
        let e = kms
            .import_key_material(&c, import_req(&key.id, &p_other, &material))
            .await
            .expect_err("other key's token");
        assert!(matches!(e, KmsError::InvalidImportToken(_)), "{e}");

        // Tampered.
        let p = params(&kms, &c, &key.id).await;
        let mut req = import_req(&key.id, &p, &material);
        if let Some(b) = req.import_token.last_mut() {
            *b ^= 1;
        }
        let e = kms
            .import_key_material(&c, req)
            .await
            .expect_err("tampered");
        assert!(matches!(e, KmsError::InvalidImportToken(_)), "{e}");

        // Used once, then refused.
        kms.import_key_material(&c, import_req(&key.id, &p, &material))
            .await
            .expect("import");
        let e = kms
            .import_key_material(&c, import_req(&key.id, &p, &material))
            .await
            .expect_err("used");
        assert!(matches!(e, KmsError::InvalidImportToken(_)), "{e}");

        // Expired (the clock passes ParametersValidTo).
        let p = params(&kms, &c, &key.id).await;
        assert_eq!(
            p.parameters_valid_to_ms,
            clock.now_ms() + PARAMETERS_VALID_MS
        );
        clock.advance(Duration::from_millis(
            u64::try_from(PARAMETERS_VALID_MS).expect("positive"),
        ));
        let e = kms
            .import_key_material(&c, import_req(&key.id, &p, &material))
            .await
            .expect_err("expired");
        assert!(matches!(e, KmsError::ExpiredImportToken(_)), "{e}");
        // The expiry job deletes the parameters (the wrapping private key).
        assert!(kms.process_due_import_expiry().await.expect("job") >= 1);
        let id = key.id;
        let left = kms
            .inner
            .blocking(move |i| i.store.get_import_params(&id).map_err(KmsError::internal))
            .await
            .expect("read");
        assert!(left.is_none());
    }

    #[tokio::test]
    async fn material_expires_by_the_job_and_comes_back() {
        let (_dir, kms, clock) = core();
        let c = caller(ACCOUNT);
        let key = external_key(&kms, &c, KeySpec::SymmetricDefault).await;
        let material = [9u8; 32];
        let valid_to = clock.now_ms() + 3_600_000;
        let out = import(&kms, &c, &key.id, &material, |r| {
            r.expiration_model = Some(ExpirationModel::KeyMaterialExpires);
            r.valid_to_ms = Some(valid_to);
        })
        .await
        .expect("import");
        let info = out.key.imported.clone().expect("info");
        assert_eq!(info.valid_to_ms, Some(valid_to));
        let (blob, _) = encrypt(&kms, &c, &key.id, b"until expiry").await;
        // Not due yet: nothing happens.
        kms.process_due_import_expiry().await.expect("job");
        assert_eq!(state(&kms, &key.id).await, KeyState::Enabled);
        clock.advance(Duration::from_secs(3600));
        assert_eq!(kms.process_due_import_expiry().await.expect("job"), 1);
        assert_eq!(state(&kms, &key.id).await, KeyState::PendingImport);
        let e = decrypt(&kms, &c, &blob).await.expect_err("expired");
        assert!(matches!(e, KmsError::InvalidState(_)), "{e}");
        // Bad expiry choices are refused.
        for (model, v) in [
            (Some(ExpirationModel::KeyMaterialExpires), None),
            (None, Some(clock.now_ms() - 1)),
            (None, Some(clock.now_ms() + 366 * DAY_MS)),
            (
                Some(ExpirationModel::KeyMaterialDoesNotExpire),
                Some(clock.now_ms() + 1000),
            ),
        ] {
            let e = import(&kms, &c, &key.id, &material, |r| {
                r.expiration_model = model;
                r.valid_to_ms = v;
            })
            .await
            .expect_err("bad expiry");
            assert!(matches!(e, KmsError::Validation(_)), "{e}");
        }
        import(&kms, &c, &key.id, &material, |_| {})
            .await
            .expect("re-import");
        assert_eq!(
            decrypt(&kms, &c, &blob).await.expect("decrypt").0,
            b"until expiry"
        );
    }

    #[tokio::test]
    async fn new_material_then_rotate_on_demand() {
        let (_dir, kms, _clock) = core();
        let c = caller(ACCOUNT);
        let key = external_key(&kms, &c, KeySpec::SymmetricDefault).await;
        let first = import(&kms, &c, &key.id, &[1u8; 32], |_| {})
            .await
            .expect("first");
        let (blob1, _) = encrypt(&kms, &c, &key.id, b"one").await;
        // Without a pending material, RotateKeyOnDemand is refused.
        let rotate = || {
            kms.rotate_key_on_demand(
                &c,
                RotateKeyOnDemandRequest {
                    key_id: key.id.to_string(),
                },
            )
        };
        let e = rotate().await.expect_err("nothing pending");
        assert!(matches!(e, KmsError::InvalidState(_)), "{e}");
        // Never automatic rotation.
        let e = kms
            .enable_key_rotation(
                &c,
                crate::kms::request::EnableKeyRotationRequest {
                    key_id: key.id.to_string(),
                    rotation_period_in_days: None,
                },
            )
            .await
            .expect_err("automatic rotation");
        assert!(matches!(e, KmsError::UnsupportedOperation(_)), "{e}");
        // The same material as NEW is refused.
        let e = import(&kms, &c, &key.id, &[1u8; 32], |r| {
            r.import_type = Some(ImportType::NewKeyMaterial)
        })
        .await
        .expect_err("same as new");
        assert!(matches!(e, KmsError::IncorrectKeyMaterial(_)), "{e}");
        let second = import(&kms, &c, &key.id, &[2u8; 32], |r| {
            r.import_type = Some(ImportType::NewKeyMaterial);
            r.key_material_description = Some("next".into());
        })
        .await
        .expect("second");
        assert_ne!(second.key_material_id, first.key_material_id);
        // Pending: the key still encrypts under the first material.
        assert_eq!(second.key.current_version, 1);
        let e = import(&kms, &c, &key.id, &[3u8; 32], |r| {
            r.import_type = Some(ImportType::NewKeyMaterial)
        })
        .await
        .expect_err("one pending at a time");
        assert!(matches!(e, KmsError::InvalidState(_)), "{e}");
        let rotated = rotate().await.expect("rotate");
        assert_eq!(rotated.current_version, 2);
        let (blob2, mid2) = encrypt(&kms, &c, &key.id, b"two").await;
        assert_eq!(mid2, second.key_material_id);
        assert_eq!(
            decrypt(&kms, &c, &blob1).await.expect("decrypt 1"),
            (b"one".to_vec(), first.key_material_id.clone())
        );
        assert_eq!(
            decrypt(&kms, &c, &blob2).await.expect("decrypt 2").0,
            b"two"
        );
        let (list, _) = kms
            .list_key_rotations(
                &c,
                ListKeyRotationsRequest {
                    key_id: key.id.to_string(),
                    include_original: true,
                    ..Default::default()
                },
            )
            .await
            .expect("list");
        let ids: Vec<_> = list.iter().map(|r| r.key_material_id.clone()).collect();
        assert_eq!(
            ids,
            vec![first.key_material_id.clone(), second.key_material_id]
        );
        assert!(list[1].current && !list[0].current);
        assert_eq!(list[1].description.as_deref(), Some("next"));
        assert_eq!(
            list[1].rotation_type,
            Some(crate::model::RotationType::OnDemand)
        );
        // Deleting the non-current material leaves the key enabled, but
        // its ciphertexts wait for a re-import of that material.
        kms.delete_imported_key_material(
            &c,
            DeleteImportedKeyMaterialRequest {
                key_id: key.id.to_string(),
                key_material_id: Some(first.key_material_id.clone()),
            },
        )
        .await
        .expect("delete first");
        assert_eq!(state(&kms, &key.id).await, KeyState::Enabled);
        let e = decrypt(&kms, &c, &blob1).await.expect_err("first deleted");
        assert!(matches!(e, KmsError::InvalidState(_)), "{e}");
        import(&kms, &c, &key.id, &[1u8; 32], |r| {
            r.import_type = Some(ImportType::ExistingKeyMaterial);
            r.key_material_id = Some(first.key_material_id.clone());
        })
        .await
        .expect("restore first");
        assert_eq!(
            decrypt(&kms, &c, &blob1).await.expect("decrypt 1").0,
            b"one"
        );
    }

    #[tokio::test]
    async fn origin_and_spec_rules() {
        let (_dir, kms, _clock) = core();
        let c = caller(ACCOUNT);
        // AWS_KMS keys take no imported material.
        let own = kms
            .create_key(&c, CreateKeyRequest::default())
            .await
            .expect("key");
        let e = kms
            .get_parameters_for_import(
                &c,
                GetParametersForImportRequest {
                    key_id: own.id.to_string(),
                    wrapping_algorithm: Some(WrappingAlgorithm::RsaesOaepSha256),
                    wrapping_key_spec: Some(WrappingKeySpec::Rsa2048),
                },
            )
            .await
            .expect_err("AWS_KMS key");
        assert!(matches!(e, KmsError::UnsupportedOperation(_)), "{e}");
        // Ed25519 keys cannot be EXTERNAL.
        let e = kms
            .create_key(
                &c,
                CreateKeyRequest {
                    origin: Some(Origin::External),
                    key_spec: Some(KeySpec::EccNistEdwards25519),
                    key_usage: Some(crate::model::KeyUsage::SignVerify),
                    ..Default::default()
                },
            )
            .await
            .expect_err("Ed25519 EXTERNAL");
        assert!(matches!(e, KmsError::UnsupportedOperation(_)), "{e}");
        let key = external_key(&kms, &c, KeySpec::SymmetricDefault).await;
        let gp = |alg, spec| {
            kms.get_parameters_for_import(
                &c,
                GetParametersForImportRequest {
                    key_id: key.id.to_string(),
                    wrapping_algorithm: alg,
                    wrapping_key_spec: spec,
                },
            )
        };
        let e = gp(
            Some(WrappingAlgorithm::RsaesPkcs1V15),
            Some(WrappingKeySpec::Rsa2048),
        )
        .await
        .expect_err("PKCS#1 v1.5");
        assert!(matches!(e, KmsError::UnsupportedOperation(_)), "{e}");
        let e = gp(None, Some(WrappingKeySpec::Rsa2048))
            .await
            .expect_err("missing");
        assert!(matches!(e, KmsError::Validation(_)), "{e}");
        // An alias is not accepted.
        let e = kms
            .get_parameters_for_import(
                &c,
                GetParametersForImportRequest {
                    key_id: "alias/x".into(),
                    wrapping_algorithm: Some(WrappingAlgorithm::RsaesOaepSha256),
                    wrapping_key_spec: Some(WrappingKeySpec::Rsa2048),
                },
            )
            .await
            .expect_err("alias");
        assert!(matches!(e, KmsError::NotFound(_)), "{e}");
        // HMAC keys hold one material only.
        let hmac = external_key(&kms, &c, KeySpec::Hmac256).await;
        import(&kms, &c, &hmac.id, &[5u8; 40], |_| {})
            .await
            .expect("hmac import");
        let e = import(&kms, &c, &hmac.id, &[6u8; 40], |r| {
            r.import_type = Some(ImportType::NewKeyMaterial)
        })
        .await
        .expect_err("second HMAC material");
        assert!(matches!(e, KmsError::UnsupportedOperation(_)), "{e}");
        // Material of the wrong size.
        let e = import(&kms, &c, &key.id, &[1u8; 16], |_| {})
            .await
            .expect_err("short");
        assert!(matches!(e, KmsError::Validation(_)), "{e}");
    }

    #[tokio::test]
    async fn condition_keys_of_import_are_filled() {
        let (_dir, kms, clock) = core();
        let c = caller(ACCOUNT);
        let policy = format!(
            r#"{{"Version":"2012-10-17","Statement":[
            {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":"kms:*","Resource":"*"}},
            {{"Effect":"Deny","Principal":"*","Action":"kms:GetParametersForImport","Resource":"*",
              "Condition":{{"StringEquals":{{"kms:WrappingAlgorithm":"RSAES_OAEP_SHA_1","kms:WrappingKeySpec":"RSA_2048"}}}}}},
            {{"Effect":"Deny","Principal":"*","Action":"kms:ImportKeyMaterial","Resource":"*",
              "Condition":{{"NumericGreaterThan":{{"kms:ValidTo":"{}"}}}}}},
            {{"Effect":"Deny","Principal":"*","Action":"kms:ImportKeyMaterial","Resource":"*",
              "Condition":{{"StringEquals":{{"kms:ExpirationModel":"KEY_MATERIAL_DOES_NOT_EXPIRE"}}}}}}
            ]}}"#,
            clock.now_ms() / 1000 + 7200
        );
        let key = kms
            .create_key(
                &c,
                CreateKeyRequest {
                    origin: Some(Origin::External),
                    policy: Some(policy),
                    ..Default::default()
                },
            )
            .await
            .expect("key");
        let gp = |alg| {
            kms.get_parameters_for_import(
                &c,
                GetParametersForImportRequest {
                    key_id: key.id.to_string(),
                    wrapping_algorithm: Some(alg),
                    wrapping_key_spec: Some(WrappingKeySpec::Rsa2048),
                },
            )
        };
        let e = gp(WrappingAlgorithm::RsaesOaepSha1)
            .await
            .expect_err("denied");
        assert!(matches!(e, KmsError::AccessDenied(_)), "{e}");
        gp(WrappingAlgorithm::RsaesOaepSha256)
            .await
            .expect("allowed");
        let material = [3u8; 32];
        let e = import(&kms, &c, &key.id, &material, |_| {})
            .await
            .expect_err("does-not-expire denied");
        assert!(matches!(e, KmsError::AccessDenied(_)), "{e}");
        let now = clock.now_ms();
        let e = import(&kms, &c, &key.id, &material, |r| {
            r.expiration_model = None;
            r.valid_to_ms = Some(now + 3 * 3_600_000);
        })
        .await
        .expect_err("too late denied");
        assert!(matches!(e, KmsError::AccessDenied(_)), "{e}");
        import(&kms, &c, &key.id, &material, |r| {
            r.expiration_model = None;
            r.valid_to_ms = Some(now + 3_600_000);
        })
        .await
        .expect("allowed");
    }

    /// The expiry schedule is in the store: a core opened anew over the
    /// same data directory after ValidTo deletes the material.
    #[tokio::test]
    async fn material_expiry_survives_a_restart() {
        let dir = tempfile::tempdir().expect("tempdir");
        let open = |now: i64| {
            let root = RootKey::from_slice(&[7; 32]).expect("32 bytes");
            let store = Store::open(&dir.path().join("db")).expect("open store");
            let backend = crate::backend::local::LocalBackend::open(root, &store).expect("backend");
            Kms::new(
                store,
                Arc::new(backend),
                KmsConfig::default(),
                Arc::new(ManualClock::new(now)),
            )
        };
        let c = caller(ACCOUNT);
        let kms = open(1_000_000);
        let key = external_key(&kms, &c, KeySpec::SymmetricDefault).await;
        import(&kms, &c, &key.id, &[4u8; 32], |r| {
            r.expiration_model = None;
            r.valid_to_ms = Some(1_000_000 + 60_000);
        })
        .await
        .expect("import");
        let (blob, _) = encrypt(&kms, &c, &key.id, b"x").await;
        kms.flush().await.expect("flush");
        drop(kms);
        let kms = open(1_000_000 + 60_000);
        assert_eq!(kms.process_due_import_expiry().await.expect("job"), 1);
        assert_eq!(state(&kms, &key.id).await, KeyState::PendingImport);
        let e = decrypt(&kms, &c, &blob).await.expect_err("expired");
        assert!(matches!(e, KmsError::InvalidState(_)), "{e}");
    }

    /// An ECC private key imported into an EXTERNAL SIGN_VERIFY key signs,
    /// and the signature verifies under the key's public key; a second
    /// import of another private key is refused.
    #[tokio::test]
    async fn imported_ecc_key_signs() {
        use crate::kms::request::{SignRequest, VerifyRequest};
        use crate::model::SigningAlgorithm;
        let (_dir, kms, _clock) = core();
        let c = caller(ACCOUNT);
        let key = external_key(&kms, &c, KeySpec::EccNistP256).await;
        let pkcs8 = crate::crypto::asymmetric::generate(KeySpec::EccNistP256).expect("key");
        let out = import(&kms, &c, &key.id, pkcs8.expose_secret(), |_| {})
            .await
            .expect("import");
        assert_eq!(out.key.state, KeyState::Enabled);
        let sig = kms
            .sign(
                &c,
                SignRequest {
                    key_id: key.id.to_string(),
                    message: b"imported".to_vec(),
                    message_type: None,
                    grant_tokens: Vec::new(),
                    signing_algorithm: Some(SigningAlgorithm::EcdsaSha256),
                },
            )
            .await
            .expect("sign")
            .signature;
        kms.verify(
            &c,
            VerifyRequest {
                key_id: key.id.to_string(),
                message: b"imported".to_vec(),
                message_type: None,
                signature: sig,
                signing_algorithm: Some(SigningAlgorithm::EcdsaSha256),
                grant_tokens: Vec::new(),
            },
        )
        .await
        .expect("verify");
        let other = crate::crypto::asymmetric::generate(KeySpec::EccNistP256).expect("key");
        let e = import(&kms, &c, &key.id, other.expose_secret(), |_| {})
            .await
            .expect_err("other private key");
        assert!(matches!(e, KmsError::IncorrectKeyMaterial(_)), "{e}");
        // A P-384 key does not fit a P-256 key.
        let p384 = crate::crypto::asymmetric::generate(KeySpec::EccNistP384).expect("key");
        let e = import(&kms, &c, &key.id, p384.expose_secret(), |_| {})
            .await
            .expect_err("wrong curve");
        assert!(matches!(e, KmsError::Validation(_)), "{e}");
    }

    /// CancelKeyDeletion returns an EXTERNAL key without material to
    /// PendingImport (one with material to Disabled).
    #[tokio::test]
    async fn deletion_and_cancel_keep_the_import_state() {
        use crate::kms::request::{CancelKeyDeletionRequest, ScheduleKeyDeletionRequest};
        let (_dir, kms, _clock) = core();
        let c = caller(ACCOUNT);
        let schedule = |id: KeyId| {
            kms.schedule_key_deletion(
                &c,
                ScheduleKeyDeletionRequest {
                    key_id: id.to_string(),
                    pending_window_in_days: Some(7),
                },
            )
        };
        let cancel = |id: KeyId| {
            kms.cancel_key_deletion(
                &c,
                CancelKeyDeletionRequest {
                    key_id: id.to_string(),
                },
            )
        };
        let empty = external_key(&kms, &c, KeySpec::SymmetricDefault).await;
        schedule(empty.id).await.expect("schedule");
        assert_eq!(
            cancel(empty.id).await.expect("cancel").state,
            KeyState::PendingImport
        );
        let full = external_key(&kms, &c, KeySpec::SymmetricDefault).await;
        import(&kms, &c, &full.id, &[8u8; 32], |_| {})
            .await
            .expect("import");
        schedule(full.id).await.expect("schedule");
        assert_eq!(
            cancel(full.id).await.expect("cancel").state,
            KeyState::Disabled
        );
    }

    #[test]
    fn material_ids_are_64_hex_digits() {
        assert!(parse_material_id("f", &"A".repeat(64)).is_ok());
        assert_eq!(
            parse_material_id("f", &"A".repeat(64)).expect("ok"),
            "a".repeat(64)
        );
        assert!(parse_material_id("f", &"a".repeat(63)).is_err());
        assert!(parse_material_id("f", &"g".repeat(64)).is_err());
    }

    /// Multi-Region EXTERNAL keys: KeyMaterialIds are computed under the
    /// key's own secret (the same in every Region), new material goes into
    /// the primary only, and a replica accepts exactly the primary's
    /// material.
    #[tokio::test]
    async fn multi_region_imports_match_across_regions() {
        let (_d1, east, _clock) = core();
        let c = caller(ACCOUNT);
        let key = east
            .create_key(
                &c,
                CreateKeyRequest {
                    origin: Some(Origin::External),
                    multi_region: true,
                    ..Default::default()
                },
            )
            .await
            .expect("multi-Region EXTERNAL key");
        let sealed = east
            .inner
            .store
            .get_material_id_key(&key.id)
            .expect("read")
            .expect("a sealed material id secret");
        let material = [0x42u8; 32];
        let out = import(&east, &c, &key.id, &material, |_| {})
            .await
            .expect("import into the primary");
        assert_ne!(
            out.key_material_id,
            import_token::imported_material_id(&east.inner.material_id_key, &key.id, &material),
            "named under the key's own secret, not this kmsd's"
        );
        let v = out.key.mr.as_ref().expect("mr").version;
        assert_eq!(v, 2, "the new material is shared state");
        let e = import(&east, &c, &key.id, &[0x43; 32], |r| {
            r.import_type = Some(ImportType::NewKeyMaterial)
        })
        .await
        .expect_err("no second material for a multi-Region key");
        assert!(matches!(e, KmsError::UnsupportedOperation(_)), "{e}");

        // A replica in another Region, as replication creates it: the
        // primary's material record without the material, and the secret
        // (sealed for that Region; the same root key stands in for the
        // engine's re-sealing here).
        assert!(!sealed.as_bytes().is_empty());
        let dir = tempfile::tempdir().expect("tempdir");
        let root = RootKey::from_slice(&[7; 32]).expect("32 bytes");
        let store = Store::open(&dir.path().join("db")).expect("open store");
        let backend = crate::backend::local::LocalBackend::open(root, &store).expect("backend");
        let west = Kms::new(
            store,
            Arc::new(backend),
            KmsConfig {
                region: "us-west-2".into(),
                ..Default::default()
            },
            Arc::new(ManualClock::new(1_000_000)),
        );
        let plant = |rec: &KeyRecord, m: Option<MaterialVersion>| {
            let mut b = west.inner.store.batch();
            b.put_key(rec).expect("key");
            let sealed = east
                .inner
                .store
                .get_material_id_key(&rec.id)
                .expect("read")
                .expect("sealed secret");
            b.put_material_id_key(&rec.id, &sealed).expect("secret");
            if let Some(m) = &m {
                b.put_material(&rec.id, m).expect("material");
            }
            b.put_key_policy(&rec.id, &crate::kms::default_key_policy(ACCOUNT));
            b.commit().expect("commit");
        };
        let mut replica = (*out.key).clone();
        replica.state = KeyState::PendingImport;
        replica.imported = None;
        if let Some(mr) = replica.mr.as_mut() {
            mr.replica_regions = vec!["us-west-2".into()];
        }
        let mut absent = east
            .inner
            .store
            .get_material(&key.id, 1)
            .expect("read")
            .expect("material 1");
        absent.location = MaterialLocation::Absent;
        plant(&replica, Some(absent));
        let e = import(&west, &c, &key.id, &[0x44; 32], |_| {})
            .await
            .expect_err("other material");
        assert!(matches!(e, KmsError::IncorrectKeyMaterial(_)), "{e}");
        let e = import(&west, &c, &key.id, &material, |r| {
            r.import_type = Some(ImportType::NewKeyMaterial)
        })
        .await
        .expect_err("new material into a replica");
        assert!(matches!(e, KmsError::UnsupportedOperation(_)), "{e}");
        let got = import(&west, &c, &key.id, &material, |_| {})
            .await
            .expect("the primary's material");
        assert_eq!(got.key_material_id, out.key_material_id);
        assert_eq!(got.key.state, KeyState::Enabled);
        assert_eq!(
            got.key.mr, replica.mr,
            "a replica's import changes no shared state"
        );
        let (blob, _) = encrypt(&east, &c, &key.id, b"across Regions").await;
        let (pt, id) = decrypt(&west, &c, &blob)
            .await
            .expect("decrypt in the replica");
        assert_eq!(pt, b"across Regions");
        assert_eq!(id, out.key_material_id);

        // A replica whose primary had no material yet takes none.
        let early = east
            .create_key(
                &c,
                CreateKeyRequest {
                    origin: Some(Origin::External),
                    multi_region: true,
                    ..Default::default()
                },
            )
            .await
            .expect("key");
        let mut r2 = (*early).clone();
        if let Some(mr) = r2.mr.as_mut() {
            mr.replica_regions = vec!["us-west-2".into()];
        }
        plant(&r2, None);
        let e = import(&west, &c, &early.id, &material, |_| {})
            .await
            .expect_err("nothing to match");
        assert!(matches!(e, KmsError::IncorrectKeyMaterial(_)), "{e}");
    }
}
