//! Writes the suite makes with an RFC 6902 JSON patch.
//!
//! kube-rs sends JSON patches only with its `jsonpatch` feature, which ties the build to the
//! json-patch crate version kube-rs was built against; we need the patch on the wire, not the
//! crate's types, so kube-rs builds the URL and query (as for a merge patch) and only the media
//! type changes. A JSON patch is how the suite writes where a blind write could lose a concurrent
//! update: its `test` operations make the server refuse (422) when the object moved.

use kube::{
    Resource,
    api::{ApiResource, DynamicObject, Patch, PatchParams},
};
use serde_json::Value;

use crate::error::{Error, Result};

/// The media type of RFC 6902 patches.
pub const JSON_PATCH: &str = "application/json-patch+json";

/// Sends `operations` (a JSON array of RFC 6902 operations) to the main resource of `name`,
/// recording `field_manager`, and returns the object the server answers with.
pub async fn json_patch(
    client: &kube::Client,
    resource: &ApiResource,
    namespace: Option<&str>,
    name: &str,
    operations: &Value,
    field_manager: &str,
) -> Result<DynamicObject> {
    let kind = if resource.group.is_empty() {
        resource.plural.clone()
    } else {
        format!("{}.{}", resource.plural, resource.group)
    };
    let action = || match namespace {
        Some(ns) => format!("patch {kind} `{ns}/{name}`"),
        None => format!("patch {kind} `{name}`"),
    };
    let params = PatchParams {
        field_manager: Some(field_manager.into()),
        ..PatchParams::default()
    };
    let mut request = kube::core::Request::new(DynamicObject::url_path(resource, namespace))
        .patch(name, &params, &Patch::Merge(operations))
        .map_err(|e| Error::api(action(), kube::Error::BuildRequest(e)))?;
    request.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(JSON_PATCH),
    );
    client
        .request::<DynamicObject>(request)
        .await
        .map_err(|e| Error::api(action(), e))
}
