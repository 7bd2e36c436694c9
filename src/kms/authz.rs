//! The authorization choke point. Every operation calls
//! [`Inner::authorize`] with its action and (where it has one) the key
//! record before touching key material or returning metadata.
//!
//! Current rule (foundation issue): a principal may act only on keys of its
//! own account. Key policies, identity policies and grants replace this rule
//! in the authorization issue, behind this same function.

use super::{Caller, Inner};
use crate::error::{KmsError, KmsResult};
use crate::model::{KeyRecord, Operation};

impl Inner {
    /// Allows or denies `op` by `caller` on `key` (`None` for operations
    /// that act on no key: CreateKey, ListKeys, ListAliases, GenerateRandom,
    /// which are scoped to the caller's own account).
    pub(super) fn authorize(
        &self,
        caller: &Caller,
        op: Operation,
        key: Option<&KeyRecord>,
    ) -> KmsResult<()> {
        let Some(key) = key else {
            return Ok(());
        };
        if key.account == caller.principal.account() {
            return Ok(());
        }
        Err(KmsError::AccessDenied(format!(
            "User: {} is not authorized to perform: {} on resource: {} because no resource-based policy allows the {} action",
            caller.principal.arn(),
            op.action(),
            key.arn(&self.region),
            op.action()
        )))
    }
}
