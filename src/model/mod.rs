//! The key model: identifiers and ARNs, the key record with its enums and
//! state machine, and the operations that act on keys.
//!
//! Pure data and rules: nothing here does I/O or knows about gRPC.

pub mod custom_key_store;
pub mod grant;
pub mod ids;
pub mod import;
pub mod key;
pub mod material;
pub mod metadata;
pub mod multi_region;
pub mod operation;

pub use custom_key_store::{
    ConnectionErrorCode, ConnectionState, CustomKeyStoreRecord, CustomKeyStoreType,
};
pub use grant::{GrantConstraints, GrantRecord};
pub use ids::{AliasName, KeyId, KeyRef, Principal};
pub use import::{
    ExpirationModel, ImportParameters, ImportState, ImportType, ImportedMaterialInfo,
    WrappingAlgorithm, WrappingKeySpec,
};
pub use key::{
    DataKeyPairSpec, DataKeySpec, EncapsulationAlgorithm, EncryptionAlgorithm, GrantOperation,
    KeyAgreementAlgorithm, KeyRecord, KeySpec, KeyState, KeyUsage, MacAlgorithm, MessageType,
    Origin, RotationSettings, RotationType, SigningAlgorithm,
};
pub use material::{MaterialLocation, MaterialOrigin, MaterialState, MaterialVersion, SealedBlob};
pub use metadata::{
    KeyManager, KeyMaterialState, KeyMetadata, MultiRegionConfiguration, MultiRegionKey,
    MultiRegionKeyType,
};
pub use multi_region::{Handoff, HandoffRole, MultiRegionState};
pub use operation::Operation;
