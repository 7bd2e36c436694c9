//! Tags: TagResource, UntagResource, ListResourceTags.

use super::authz::owned;
use super::keys::merge_tags;
use super::{validate, AuthzInput, Caller, Kms};
use crate::error::{KmsError, KmsResult};
use crate::model::Operation;

impl Kms {
    /// TagResource: adds or overwrites tags.
    pub async fn tag_resource(
        &self,
        caller: &Caller,
        key_id: &str,
        tags: Vec<(String, String)>,
    ) -> KmsResult<()> {
        if tags.is_empty() {
            return Err(validate::validation("tags", "Member must not be empty"));
        }
        let input = AuthzInput::default().request_tags(&tags);
        let input = owned(input);
        self.update_key(
            caller,
            key_id,
            Operation::TagResource,
            input,
            move |_, rec, _| merge_tags(&mut rec.tags, &tags),
        )
        .await
    }

    /// UntagResource: removes tags by key (absent keys are ignored, as in AWS).
    pub async fn untag_resource(
        &self,
        caller: &Caller,
        key_id: &str,
        tag_keys: Vec<String>,
    ) -> KmsResult<()> {
        if tag_keys.is_empty() {
            return Err(validate::validation("tagKeys", "Member must not be empty"));
        }
        for k in &tag_keys {
            validate::tag_key(k)?;
        }
        let input = AuthzInput::default().multi(
            "aws:tagkeys",
            tag_keys
                .iter()
                .map(|k| std::borrow::Cow::Owned(k.clone()))
                .collect(),
        );
        self.update_key(
            caller,
            key_id,
            Operation::UntagResource,
            input,
            move |_, rec, _| {
                for k in &tag_keys {
                    rec.tags.remove(k);
                }
                Ok(())
            },
        )
        .await
    }

    /// ListResourceTags, in tag-key order.
    pub async fn list_resource_tags(
        &self,
        caller: &Caller,
        key_id: &str,
        limit: Option<i32>,
        marker: Option<&str>,
    ) -> KmsResult<(Vec<(String, String)>, Option<String>)> {
        let limit = validate::limit(limit)?;
        let after = validate::marker(marker)?.map(str::to_owned);
        let key = self
            .inner
            .resolve(
                caller,
                key_id,
                Operation::ListResourceTags,
                &AuthzInput::default(),
            )
            .await?;
        if let Some(a) = &after {
            if !key.tags.contains_key(a) {
                return Err(KmsError::InvalidMarker(
                    "The marker is not one that ListResourceTags returned".into(),
                ));
            }
        }
        let mut page: Vec<(String, String)> = key
            .tags
            .iter()
            .filter(|(k, _)| after.as_deref().is_none_or(|a| k.as_str() > a))
            .take(limit + 1)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let next = if page.len() > limit {
            page.truncate(limit);
            page.last().map(|(k, _)| k.clone())
        } else {
            None
        };
        Ok((page, next))
    }
}
