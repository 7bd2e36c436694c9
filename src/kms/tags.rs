//! Tags: TagResource, UntagResource, ListResourceTags.

use super::keys::{check_request_tags, merge_tags};
use super::request::{ListResourceTagsRequest, TagResourceRequest, UntagResourceRequest};
use super::{validate, AuthzInput, Caller, Kms};
use crate::error::{KmsError, KmsResult};
use crate::model::Operation;

impl Kms {
    /// TagResource: adds or overwrites tags.
    pub async fn tag_resource(&self, caller: &Caller, req: TagResourceRequest) -> KmsResult<()> {
        if req.tags.is_empty() {
            return Err(validate::validation("tags", "Member must not be empty"));
        }
        check_request_tags(&req.tags)?;
        let input = AuthzInput::default().request_tags(&req.tags);
        let tags = req.tags.clone();
        self.update_key(
            caller,
            &req.key_id,
            Operation::TagResource,
            &input,
            move |_, rec, _| merge_tags(&mut rec.tags, &tags),
        )
        .await
    }

    /// UntagResource: removes tags by key (absent keys are ignored, as in AWS).
    pub async fn untag_resource(
        &self,
        caller: &Caller,
        req: UntagResourceRequest,
    ) -> KmsResult<()> {
        if req.tag_keys.is_empty() {
            return Err(validate::validation("tagKeys", "Member must not be empty"));
        }
        if req.tag_keys.len() > validate::MAX_TAGS {
            return Err(validate::validation(
                "tagKeys",
                &format!(
                    "Member must have length less than or equal to {}",
                    validate::MAX_TAGS
                ),
            ));
        }
        for k in &req.tag_keys {
            validate::tag_key(k)?;
        }
        let input = AuthzInput::default().multi(
            "aws:tagkeys",
            req.tag_keys
                .iter()
                .map(|k| std::borrow::Cow::Borrowed(k.as_str()))
                .collect(),
        );
        let tag_keys = req.tag_keys.clone();
        self.update_key(
            caller,
            &req.key_id,
            Operation::UntagResource,
            &input,
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
        req: ListResourceTagsRequest,
    ) -> KmsResult<(Vec<(String, String)>, Option<String>)> {
        let limit = validate::limit(req.page.limit)?;
        let after = validate::marker(req.page.marker.as_deref())?.map(str::to_owned);
        let key = self
            .inner
            .resolve(
                caller,
                &req.key_id,
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
