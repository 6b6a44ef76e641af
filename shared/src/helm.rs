//! Helm 3 release storage, read natively (no helm binary).
//!
//! Helm keeps each revision in a Secret `sh.helm.release.v1.<release>.v<revision>` of type
//! `helm.sh/release.v1` (or a ConfigMap with the ConfigMap driver), labelled
//! `owner=helm,name=<release>,status=<status>,version=<revision>`. The labels are enough for the
//! status of every revision, so [`list_revisions`] reads metadata only; the chart and manifest
//! need the payload, `data.release` = base64(gzip(JSON)) inside the Secret's own base64, which
//! [`decode_release`] unpacks.

use std::{collections::BTreeMap, io::Read};

use base64::Engine;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::{Api, api::ListParams};
use serde::{Deserialize, Serialize};

use crate::{
    error::{Error, Result},
    list,
};

/// Where Helm keeps releases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Storage {
    /// The default Secrets driver.
    Secret,
    /// The ConfigMap driver.
    ConfigMap,
}

impl Storage {
    /// The kind of the storage object (`Secret`, `ConfigMap`).
    pub fn kind(self) -> &'static str {
        match self {
            Self::Secret => "Secret",
            Self::ConfigMap => "ConfigMap",
        }
    }

    /// The resource name kubectl takes (`secret`, `configmap`).
    pub fn resource(self) -> &'static str {
        match self {
            Self::Secret => "secret",
            Self::ConfigMap => "configmap",
        }
    }
}

/// One revision of a release, as its storage labels describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Revision {
    /// Release name.
    pub name: String,
    /// Release namespace.
    pub namespace: String,
    /// Revision number.
    pub revision: u32,
    /// `deployed`, `superseded`, `failed`, `pending-upgrade`, …
    pub status: String,
    /// The storage object's name (what to delete to clear a stuck revision).
    pub object: String,
    /// Secret or ConfigMap.
    pub storage: Storage,
}

impl Revision {
    /// True for `pending-install`, `pending-upgrade` and `pending-rollback`.
    pub fn is_pending(&self) -> bool {
        crate::domain::helm::ReleaseState::of(&self.status)
            == crate::domain::helm::ReleaseState::Pending
    }
}

/// The parts of a decoded release the suite uses.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Release {
    /// Release name.
    #[serde(default)]
    pub name: String,
    /// Release namespace.
    #[serde(default)]
    pub namespace: String,
    /// Revision.
    #[serde(default)]
    pub version: u32,
    /// Status and times.
    #[serde(default)]
    pub info: ReleaseInfo,
    /// The chart.
    #[serde(default)]
    pub chart: Chart,
    /// The rendered manifest (multi-document YAML).
    #[serde(default)]
    pub manifest: String,
}

/// `info` of a release.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ReleaseInfo {
    /// Status text.
    #[serde(default)]
    pub status: String,
    /// Description.
    #[serde(default)]
    pub description: String,
}

/// `chart` of a release.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Chart {
    /// Chart metadata.
    #[serde(default)]
    pub metadata: ChartMetadata,
}

/// `chart.metadata`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChartMetadata {
    /// Chart name.
    #[serde(default)]
    pub name: String,
    /// Chart version.
    #[serde(default)]
    pub version: String,
    /// App version.
    #[serde(default)]
    pub app_version: String,
}

/// Decodes Helm's payload (`data.release` after the Secret's own base64 is removed): base64,
/// then gunzip when gzip's magic bytes lead, then JSON.
pub fn decode_release(payload: &[u8]) -> Result<Release> {
    let err = |reason: String| Error::parse("Helm release payload", reason);
    let text: Vec<u8> = payload
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(&text)
        .map_err(|e| err(format!("not base64: {e}")))?;
    let json = if raw.starts_with(&[0x1f, 0x8b, 0x08]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(raw.as_slice())
            // A release is a few MB at most; a bomb would be cut here.
            .take(256 * 1024 * 1024)
            .read_to_end(&mut out)
            .map_err(|e| err(format!("not gzip: {e}")))?;
        out
    } else {
        raw
    };
    serde_json::from_slice(&json).map_err(|e| err(format!("not a release: {e}")))
}

/// Encodes a release as Helm stores it (the inverse of [`decode_release`]); used by tests and
/// the test helm.
pub fn encode_release(release: &serde_json::Value) -> Vec<u8> {
    use std::io::Write;
    let json = serde_json::to_vec(release).unwrap_or_default();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing into a Vec cannot fail.
    let _ = gz.write_all(&json);
    let zipped = gz.finish().unwrap_or_default();
    base64::engine::general_purpose::STANDARD
        .encode(zipped)
        .into_bytes()
}

fn revision_from_labels(
    labels: &BTreeMap<String, String>,
    object: &str,
    namespace: &str,
    storage: Storage,
) -> Option<Revision> {
    Some(Revision {
        name: labels.get("name")?.clone(),
        namespace: namespace.to_string(),
        revision: labels.get("version")?.parse().ok()?,
        status: labels
            .get("status")
            .cloned()
            .unwrap_or_else(|| "unknown".into()),
        object: object.to_string(),
        storage,
    })
}

/// Lists every revision in `namespace` (all namespaces when `None`), optionally of one release,
/// from the storage labels only (metadata-only lists, no payloads). Secrets first; ConfigMap
/// storage too when `include_configmaps`.
pub(crate) async fn list_revisions(
    client: &kube::Client,
    namespace: Option<&str>,
    release: Option<&str>,
    include_configmaps: bool,
) -> Result<Vec<Revision>> {
    let selector = match release {
        Some(name) => format!("owner=helm,name={name}"),
        None => "owner=helm".to_string(),
    };
    let params = ListParams::default().labels(&selector);
    let where_ = namespace
        .map(|n| format!(" in `{n}`"))
        .unwrap_or_else(|| " in all namespaces".into());
    let secrets: Api<Secret> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    // Label pages are turned into small records as they come: a cluster with thousands of
    // releases never holds their Secrets' metadata all at once.
    let mut out = Vec::new();
    list::for_each_metadata_page(
        &secrets,
        &params,
        &format!("list Helm release Secrets{where_}"),
        |page| push_revisions(page, Storage::Secret, &mut out),
    )
    .await?;
    if include_configmaps {
        let cms: Api<ConfigMap> = match namespace {
            Some(ns) => Api::namespaced(client.clone(), ns),
            None => Api::all(client.clone()),
        };
        list::for_each_metadata_page(
            &cms,
            &params,
            &format!("list Helm release ConfigMaps{where_}"),
            |page| push_revisions(page, Storage::ConfigMap, &mut out),
        )
        .await?;
    }
    out.sort_by(|a, b| {
        (&a.namespace, &a.name, a.revision).cmp(&(&b.namespace, &b.name, b.revision))
    });
    Ok(out)
}

fn push_revisions<K>(
    page: Vec<kube::api::PartialObjectMeta<K>>,
    storage: Storage,
    out: &mut Vec<Revision>,
) {
    for meta in page {
        let m = &meta.metadata;
        if let (Some(labels), Some(name), Some(ns)) = (&m.labels, &m.name, &m.namespace)
            && let Some(r) = revision_from_labels(labels, name, ns, storage)
        {
            out.push(r);
        }
    }
}

/// The newest revision of each release (what `helm list -a` shows).
pub(crate) fn latest(revisions: &[Revision]) -> Vec<&Revision> {
    let mut by_release: BTreeMap<(&str, &str), &Revision> = BTreeMap::new();
    for r in revisions {
        let e = by_release
            .entry((r.namespace.as_str(), r.name.as_str()))
            .or_insert(r);
        if r.revision > e.revision {
            *e = r;
        }
    }
    by_release.into_values().collect()
}

/// The newest `deployed` revision of one release.
pub(crate) fn last_deployed<'a>(
    revisions: &'a [Revision],
    namespace: &str,
    name: &str,
) -> Option<&'a Revision> {
    revisions
        .iter()
        .filter(|r| r.namespace == namespace && r.name == name && r.status == "deployed")
        .max_by_key(|r| r.revision)
}

/// Reads and decodes one revision's payload.
pub(crate) async fn read_release(client: &kube::Client, revision: &Revision) -> Result<Release> {
    let action = format!(
        "get Helm release `{}` in `{}`",
        revision.object, revision.namespace
    );
    let payload: Vec<u8> = match revision.storage {
        Storage::Secret => {
            let api: Api<Secret> = Api::namespaced(client.clone(), &revision.namespace);
            let s = list::retry_read(&action, || api.get(&revision.object)).await?;
            s.data
                .and_then(|mut d| d.remove("release"))
                .map(|b| b.0)
                .unwrap_or_default()
        }
        Storage::ConfigMap => {
            let api: Api<ConfigMap> = Api::namespaced(client.clone(), &revision.namespace);
            let c = list::retry_read(&action, || api.get(&revision.object)).await?;
            c.data
                .and_then(|mut d| d.remove("release"))
                .map(String::into_bytes)
                .unwrap_or_default()
        }
    };
    if payload.is_empty() {
        return Err(Error::parse(
            format!("Helm release `{}`", revision.object),
            "no `release` data",
        ));
    }
    decode_release(&payload).map_err(|e| match e {
        Error::Parse { reason, .. } => {
            Error::parse(format!("Helm release `{}`", revision.object), reason)
        }
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn payloads_round_trip_and_corruption_is_an_error() {
        let release = json!({"name": "ks-core", "namespace": "kubesphere-system", "version": 3,
            "info": {"status": "deployed"}, "chart": {"metadata": {"name": "ks-core", "version": "1.1.4", "appVersion": "v4.1.3"}},
            "manifest": "---\napiVersion: v1\nkind: ConfigMap\n"});
        let payload = encode_release(&release);
        let r = decode_release(&payload).unwrap();
        assert_eq!(r.chart.metadata.app_version, "v4.1.3");
        assert_eq!(r.version, 3);
        assert!(r.manifest.contains("ConfigMap"));

        // Old, uncompressed payloads are accepted too.
        let plain =
            base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(&release).unwrap());
        assert_eq!(decode_release(plain.as_bytes()).unwrap().name, "ks-core");

        for bad in [&b"%%%"[..], b"aGVsbG8=", b"H4sIAAAA"] {
            let e = decode_release(bad).unwrap_err().to_string();
            assert!(e.starts_with("cannot parse Helm release payload"), "{e}");
        }
    }

    #[test]
    fn latest_and_last_deployed() {
        let rev = |n: u32, status: &str| Revision {
            name: "ks-core".into(),
            namespace: "kubesphere-system".into(),
            revision: n,
            status: status.into(),
            object: format!("sh.helm.release.v1.ks-core.v{n}"),
            storage: Storage::Secret,
        };
        let revs = vec![
            rev(1, "superseded"),
            rev(2, "deployed"),
            rev(3, "pending-upgrade"),
        ];
        let l = latest(&revs);
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].revision, 3);
        assert!(l[0].is_pending());
        assert_eq!(
            last_deployed(&revs, "kubesphere-system", "ks-core")
                .unwrap()
                .revision,
            2
        );
    }
}
