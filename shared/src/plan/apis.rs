//! The curated removal table (`shared/data/removed-apis.yaml`, embedded) and the three signals of
//! deprecated-API use: stored objects' `last-applied-configuration` and `managedFields`, Helm
//! release manifests, and the API server's `apiserver_requested_deprecated_apis` metric.
//!
//! Everything here is pure: the table, the classification of an apiVersion against the upgrade
//! path, the manifest and metric parsers. Listing happens in [`super::inventory`].

use std::{collections::BTreeMap, sync::OnceLock};

use serde::{Deserialize, Serialize};

use crate::{
    error::{Error, Result},
    version::Version,
};

/// The table, as shipped.
pub const TABLE_YAML: &str = include_str!("../../data/removed-apis.yaml");

/// One deprecated API.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiEntry {
    /// The deprecated `group/version`.
    pub api_version: String,
    /// Kind.
    pub kind: String,
    /// Plural resource name.
    pub resource: String,
    /// The minor that deprecated it.
    pub deprecated_in: Version,
    /// The minor that stopped serving it (`None`: not scheduled).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removed_in: Option<Version>,
    /// The apiVersion to move to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replacement: Option<String>,
    /// The first minor serving the replacement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replacement_available_in: Option<Version>,
    /// Whether stored objects are listed to find it.
    #[serde(skip)]
    pub scan: bool,
    /// Alpha API.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub alpha: bool,
    /// Extra advice.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The public page that states the removal (or deprecation).
    pub source: String,
}

impl ApiEntry {
    /// The API group (`""` for core).
    pub fn group(&self) -> &str {
        group_of(&self.api_version)
    }

    /// `replacement` or a sentence saying there is none.
    pub fn replacement_text(&self) -> String {
        match (&self.replacement, &self.replacement_available_in) {
            (Some(r), Some(v)) => format!("{r} {} (served since {})", self.kind, v.minor_string()),
            (Some(r), None) => format!("{r} {}", self.kind),
            (None, _) => self
                .note
                .clone()
                .unwrap_or_else(|| "no replacement".to_string()),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEntry {
    api_version: String,
    kind: String,
    resource: String,
    deprecated_in: String,
    removed_in: Option<String>,
    replacement: Option<String>,
    replacement_available_in: Option<String>,
    scan: Option<bool>,
    alpha: Option<bool>,
    note: Option<String>,
    source: String,
}

#[derive(Deserialize)]
struct RawTable {
    apis: Vec<RawEntry>,
}

/// The group of an apiVersion (`apps/v1` → `apps`, `v1` → ``).
pub fn group_of(api_version: &str) -> &str {
    api_version.split_once('/').map(|(g, _)| g).unwrap_or("")
}

/// Parses a table in the data file's format.
pub fn parse_table(text: &str) -> Result<Vec<ApiEntry>> {
    let raw: RawTable =
        serde_saphyr::from_str(text).map_err(|e| Error::parse("removed-API table", e))?;
    let ver = |s: &str, what: &str, e: &RawEntry| -> Result<Version> {
        s.parse::<Version>().map_err(|err| {
            Error::parse(
                format!("removed-API table entry {} {}", e.api_version, e.kind),
                format!("{what}: {err}"),
            )
        })
    };
    raw.apis
        .iter()
        .map(|e| {
            Ok(ApiEntry {
                api_version: e.api_version.clone(),
                kind: e.kind.clone(),
                resource: e.resource.clone(),
                deprecated_in: ver(&e.deprecated_in, "deprecatedIn", e)?,
                removed_in: e
                    .removed_in
                    .as_deref()
                    .map(|s| ver(s, "removedIn", e))
                    .transpose()?,
                replacement: e.replacement.clone(),
                replacement_available_in: e
                    .replacement_available_in
                    .as_deref()
                    .map(|s| ver(s, "replacementAvailableIn", e))
                    .transpose()?,
                scan: e.scan.unwrap_or(true),
                alpha: e.alpha.unwrap_or(false),
                note: e.note.clone(),
                source: e.source.clone(),
            })
        })
        .collect()
}

/// The embedded table (parsed once).
pub fn table() -> Result<&'static [ApiEntry]> {
    static TABLE: OnceLock<std::result::Result<Vec<ApiEntry>, String>> = OnceLock::new();
    match TABLE.get_or_init(|| parse_table(TABLE_YAML).map_err(|e| e.to_string())) {
        Ok(t) => Ok(t),
        Err(e) => Err(Error::parse("the embedded removed-API table", e)),
    }
}

/// Finds the entry of an apiVersion and kind.
pub fn lookup<'a>(table: &'a [ApiEntry], api_version: &str, kind: &str) -> Option<&'a ApiEntry> {
    table
        .iter()
        .find(|e| e.api_version == api_version && e.kind == kind)
}

/// Finds the entry of an apiVersion and plural resource (the metric names resources, not kinds).
pub fn lookup_resource<'a>(
    table: &'a [ApiEntry],
    api_version: &str,
    resource: &str,
) -> Option<&'a ApiEntry> {
    table
        .iter()
        .find(|e| e.api_version == api_version && e.resource == resource)
}

/// Where an API stands against the upgrade path `current` → `target`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiState {
    /// Already not served by the current version.
    RemovedAlready,
    /// Stops being served at this step of the path.
    RemovedInPath(Version),
    /// Deprecated by the target, still served after it.
    Deprecated,
    /// Not deprecated within the path.
    Fine,
}

/// Classifies an entry against the path.
pub fn classify(entry: &ApiEntry, current: &Version, target: &Version) -> ApiState {
    if let Some(removed) = &entry.removed_in {
        if removed.minor_key() <= current.minor_key() {
            return ApiState::RemovedAlready;
        }
        if removed.minor_key() <= target.minor_key() {
            return ApiState::RemovedInPath(removed.clone());
        }
    }
    if entry.deprecated_in.minor_key() <= target.minor_key() {
        ApiState::Deprecated
    } else {
        ApiState::Fine
    }
}

/// A kind to list in the cluster, with the apiVersions to try in order (the first one served
/// wins; the server converts stored objects to it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanKind {
    /// Kind.
    pub kind: String,
    /// Plural.
    pub resource: String,
    /// `group/version`s to try, best first.
    pub candidates: Vec<String>,
}

/// The kinds worth listing for the path: every scanned kind with an entry deprecated by the
/// target. Candidates: the replacements served by `current` (newest first), then the deprecated
/// versions themselves that `current` still serves (for clusters older than the replacement).
pub fn scan_kinds(table: &[ApiEntry], current: &Version, target: &Version) -> Vec<ScanKind> {
    let mut by_kind: BTreeMap<(String, String), Vec<&ApiEntry>> = BTreeMap::new();
    for e in table {
        if e.scan && classify(e, current, target) != ApiState::Fine {
            by_kind
                .entry((e.kind.clone(), e.resource.clone()))
                .or_default()
                .push(e);
        }
    }
    by_kind
        .into_iter()
        .map(|((kind, resource), entries)| {
            let mut replacements: Vec<(&Version, &String)> = entries
                .iter()
                .filter_map(|e| {
                    let r = e.replacement.as_ref()?;
                    let since = e.replacement_available_in.as_ref()?;
                    // A replacement that is itself in the table as removed by now is no use.
                    let gone = lookup(table, r, &e.kind)
                        .and_then(|x| x.removed_in.as_ref())
                        .is_some_and(|rm| rm.minor_key() <= current.minor_key());
                    (since.minor_key() <= current.minor_key() && !gone).then_some((since, r))
                })
                .collect();
            replacements.sort_by(|a, b| b.0.cmp(a.0));
            let mut olds: Vec<&&ApiEntry> = entries
                .iter()
                .filter(|e| classify(e, current, target) != ApiState::RemovedAlready)
                .collect();
            olds.sort_by(|a, b| b.deprecated_in.cmp(&a.deprecated_in));
            let mut candidates: Vec<String> = Vec::new();
            for c in replacements
                .into_iter()
                .map(|(_, r)| r.clone())
                .chain(olds.into_iter().map(|e| e.api_version.clone()))
            {
                if !candidates.contains(&c) {
                    candidates.push(c);
                }
            }
            ScanKind {
                kind,
                resource,
                candidates,
            }
        })
        .filter(|k| !k.candidates.is_empty())
        .collect()
}

/// One object of a rendered manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestObject {
    /// apiVersion.
    pub api_version: String,
    /// Kind.
    pub kind: String,
    /// metadata.name (empty when absent).
    pub name: String,
    /// metadata.namespace, when written.
    pub namespace: Option<String>,
}

/// The documents of a multi-document YAML stream, split at the `---` markers (and `...` ends)
/// that start a line: a marker is always at column 0, inside a block scalar the text is indented.
fn documents(stream: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut offset = 0;
    for line in stream.split_inclusive('\n') {
        let bare = line.trim_end();
        let marker =
            bare == "---" || bare == "..." || bare.starts_with("--- ") || bare.starts_with("---\t");
        if marker {
            out.push(&stream[start..offset]);
            // `--- {apiVersion: v1, …}`: the document starts on the marker's line.
            start = if bare.len() > 3 && !bare[3..].trim_start().starts_with('#') {
                offset + 3
            } else {
                offset + line.len()
            };
        }
        offset += line.len();
    }
    out.push(&stream[start..]);
    out
}

fn text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn push_objects(doc: &serde_json::Value, out: &mut Vec<ManifestObject>) {
    let field = |k: &str| doc.get(k).and_then(text).unwrap_or_default();
    let (api_version, kind) = (field("apiVersion"), field("kind"));
    if api_version.is_empty() || kind.is_empty() {
        return;
    }
    // `kind: List` (and `*List`) wraps objects in `items`.
    if kind.ends_with("List")
        && let Some(items) = doc.get("items").and_then(|i| i.as_array())
    {
        for item in items {
            push_objects(item, out);
        }
        return;
    }
    let meta = doc.get("metadata");
    let meta_field = |k: &str| meta.and_then(|m| m.get(k)).and_then(text);
    out.push(ManifestObject {
        api_version,
        kind,
        name: meta_field("name").unwrap_or_default(),
        namespace: meta_field("namespace"),
    });
}

/// Reads apiVersion, kind, name and namespace from each document of a multi-document manifest
/// (Helm's rendered output), parsed as YAML: block or flow style, any indentation, quoted or not,
/// and `List` documents item by item. Each document is parsed on its own, so one that is not
/// YAML (a broken template) hides none of the others.
pub fn manifest_objects(manifest: &str) -> Vec<ManifestObject> {
    let mut out = Vec::new();
    for doc in documents(manifest) {
        if doc
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
        {
            continue;
        }
        if let Ok(value) = serde_saphyr::from_str::<serde_json::Value>(doc) {
            push_objects(&value, &mut out);
        }
    }
    out
}

/// One series of `apiserver_requested_deprecated_apis`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricUse {
    /// `group/version` (`v1` for core).
    pub api_version: String,
    /// Plural resource.
    pub resource: String,
    /// Subresource, when the request was to one.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub subresource: String,
    /// `removed_release` label (`1.29`), empty when not scheduled.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub removed_release: String,
}

fn labels(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = text;
    while let Some(eq) = rest.find("=\"") {
        let key = rest[..eq].trim().trim_start_matches(',').trim().to_string();
        let after = &rest[eq + 2..];
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = after.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, n)) = chars.next() {
                        value.push(n);
                    }
                }
                '"' => {
                    end = i + 1;
                    break;
                }
                _ => value.push(c),
            }
        }
        out.insert(key, value);
        rest = &after[end.min(after.len())..];
    }
    out
}

/// Parses the Prometheus text of `/metrics` for `apiserver_requested_deprecated_apis` series with
/// value 1 (the gauge is set to 1 for every deprecated API requested since the server started).
pub fn parse_deprecated_metric(text: &str) -> Vec<MetricUse> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("apiserver_requested_deprecated_apis{") else {
            continue;
        };
        let Some(close) = rest.rfind('}') else {
            continue;
        };
        let value = rest[close + 1..].trim();
        if value.parse::<f64>().map(|v| v < 0.5).unwrap_or(true) {
            continue;
        }
        let l = labels(&rest[..close]);
        let group = l.get("group").cloned().unwrap_or_default();
        let version = l.get("version").cloned().unwrap_or_default();
        let api_version = if group.is_empty() {
            version
        } else {
            format!("{group}/{version}")
        };
        let m = MetricUse {
            api_version,
            resource: l.get("resource").cloned().unwrap_or_default(),
            subresource: l.get("subresource").cloned().unwrap_or_default(),
            removed_release: l.get("removed_release").cloned().unwrap_or_default(),
        };
        if !out.contains(&m) {
            out.push(m);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::v;
    use std::collections::HashSet;

    fn t() -> &'static [ApiEntry] {
        table().unwrap()
    }

    fn removed(api_version: &str, kind: &str) -> String {
        lookup(t(), api_version, kind)
            .unwrap_or_else(|| panic!("{api_version} {kind} missing"))
            .removed_in
            .as_ref()
            .map(|v| v.minor_string())
            .unwrap_or_default()
    }

    #[test]
    fn the_table_is_consistent() {
        let t = t();
        assert!(t.len() >= 60, "{}", t.len());
        let mut seen = HashSet::new();
        for e in t {
            assert!(
                seen.insert((e.api_version.clone(), e.kind.clone())),
                "duplicate {} {}",
                e.api_version,
                e.kind
            );
            assert!(!e.kind.ends_with("List"), "List kind {}", e.kind);
            assert!(
                is_public_source(&e.source),
                "{} {}: source `{}`",
                e.api_version,
                e.kind,
                e.source
            );
            assert!(e.api_version.contains('/'), "{}", e.api_version);
            assert!(
                e.resource.chars().all(|c| c.is_ascii_lowercase()),
                "{}",
                e.resource
            );
            if let Some(r) = &e.removed_in {
                if e.alpha {
                    assert!(r >= &e.deprecated_in, "{} {}", e.api_version, e.kind);
                } else {
                    assert!(r > &e.deprecated_in, "{} {}", e.api_version, e.kind);
                }
                assert!(
                    (v("v1.16")..=v("v1.36")).contains(r),
                    "{} {} removed {r}",
                    e.api_version,
                    e.kind
                );
            }
            match (&e.replacement, &e.replacement_available_in) {
                (Some(repl), Some(since)) => {
                    assert_ne!(repl, &e.api_version);
                    assert!(!group_of(repl).is_empty(), "{} {}", e.api_version, e.kind);
                    if let Some(r) = &e.removed_in {
                        assert!(since <= r, "{} {}", e.api_version, e.kind);
                    }
                }
                (None, None) => assert!(e.note.is_some(), "{} {}", e.api_version, e.kind),
                _ => panic!(
                    "{} {}: replacement without its release",
                    e.api_version, e.kind
                ),
            }
        }
    }

    /// A page users can open: kubernetes.io, or an upstream file pinned to a tag.
    pub(crate) fn is_public_source(url: &str) -> bool {
        url.starts_with("https://kubernetes.io/")
            || (url.starts_with("https://github.com/")
                && url.contains("/blob/v")
                && !url.contains("/blob/master/")
                && !url.contains("/blob/main/"))
    }

    #[test]
    fn every_row_names_a_public_source() {
        for e in t() {
            assert!(
                is_public_source(&e.source),
                "{} {}: `{}`",
                e.api_version,
                e.kind,
                e.source
            );
        }
        // GA-era removals point at their section of the migration guide.
        assert_eq!(
            lookup(t(), "policy/v1beta1", "PodDisruptionBudget")
                .unwrap()
                .source,
            "https://kubernetes.io/docs/reference/using-api/deprecation-guide/#poddisruptionbudget-v125"
        );
        // A row without a source does not load.
        let e = parse_table(
            "apis:\n- {apiVersion: a/v1beta1, kind: A, resource: as, deprecatedIn: v1.20}\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("source"), "{e}");
        assert!(!is_public_source("notes/kubernetes-upgrade.md"));
        assert!(!is_public_source(
            "https://github.com/kubernetes/website/blob/main/content/en/docs/x.md"
        ));
    }

    #[test]
    fn known_removals() {
        for (av, kind, rel) in [
            ("extensions/v1beta1", "Deployment", "v1.16"),
            ("apps/v1beta2", "DaemonSet", "v1.16"),
            ("extensions/v1beta1", "Ingress", "v1.22"),
            ("networking.k8s.io/v1beta1", "Ingress", "v1.22"),
            ("networking.k8s.io/v1beta1", "IngressClass", "v1.22"),
            (
                "apiextensions.k8s.io/v1beta1",
                "CustomResourceDefinition",
                "v1.22",
            ),
            (
                "admissionregistration.k8s.io/v1beta1",
                "ValidatingWebhookConfiguration",
                "v1.22",
            ),
            (
                "admissionregistration.k8s.io/v1beta1",
                "MutatingWebhookConfiguration",
                "v1.22",
            ),
            ("apiregistration.k8s.io/v1beta1", "APIService", "v1.22"),
            ("authentication.k8s.io/v1beta1", "TokenReview", "v1.22"),
            (
                "authorization.k8s.io/v1beta1",
                "SubjectAccessReview",
                "v1.22",
            ),
            (
                "certificates.k8s.io/v1beta1",
                "CertificateSigningRequest",
                "v1.22",
            ),
            ("coordination.k8s.io/v1beta1", "Lease", "v1.22"),
            (
                "rbac.authorization.k8s.io/v1beta1",
                "ClusterRoleBinding",
                "v1.22",
            ),
            ("scheduling.k8s.io/v1beta1", "PriorityClass", "v1.22"),
            ("storage.k8s.io/v1beta1", "StorageClass", "v1.22"),
            ("storage.k8s.io/v1beta1", "CSIDriver", "v1.22"),
            ("storage.k8s.io/v1beta1", "CSINode", "v1.22"),
            ("storage.k8s.io/v1beta1", "VolumeAttachment", "v1.22"),
            ("policy/v1beta1", "PodSecurityPolicy", "v1.25"),
            ("policy/v1beta1", "PodDisruptionBudget", "v1.25"),
            ("batch/v1beta1", "CronJob", "v1.25"),
            ("autoscaling/v2beta1", "HorizontalPodAutoscaler", "v1.25"),
            ("discovery.k8s.io/v1beta1", "EndpointSlice", "v1.25"),
            ("events.k8s.io/v1beta1", "Event", "v1.25"),
            ("node.k8s.io/v1beta1", "RuntimeClass", "v1.25"),
            ("autoscaling/v2beta2", "HorizontalPodAutoscaler", "v1.26"),
            (
                "flowcontrol.apiserver.k8s.io/v1beta1",
                "FlowSchema",
                "v1.26",
            ),
            (
                "flowcontrol.apiserver.k8s.io/v1beta1",
                "PriorityLevelConfiguration",
                "v1.26",
            ),
            ("storage.k8s.io/v1beta1", "CSIStorageCapacity", "v1.27"),
            (
                "flowcontrol.apiserver.k8s.io/v1beta2",
                "FlowSchema",
                "v1.29",
            ),
            (
                "flowcontrol.apiserver.k8s.io/v1beta2",
                "PriorityLevelConfiguration",
                "v1.29",
            ),
            (
                "flowcontrol.apiserver.k8s.io/v1beta3",
                "FlowSchema",
                "v1.32",
            ),
            (
                "flowcontrol.apiserver.k8s.io/v1beta3",
                "PriorityLevelConfiguration",
                "v1.32",
            ),
            ("scheduling.k8s.io/v1alpha1", "PriorityClass", "v1.17"),
            ("networking.k8s.io/v1alpha1", "ClusterCIDR", "v1.29"),
            ("resource.k8s.io/v1alpha2", "ResourceClass", "v1.31"),
            ("resource.k8s.io/v1alpha2", "ResourceClaim", "v1.31"),
            ("resource.k8s.io/v1alpha2", "ResourceClaimTemplate", "v1.31"),
            ("resource.k8s.io/v1alpha2", "PodSchedulingContext", "v1.31"),
            ("resource.k8s.io/v1alpha2", "ResourceSlice", "v1.31"),
            (
                "resource.k8s.io/v1alpha2",
                "ResourceClassParameters",
                "v1.31",
            ),
            (
                "resource.k8s.io/v1alpha2",
                "ResourceClaimParameters",
                "v1.31",
            ),
            ("storage.k8s.io/v1alpha1", "VolumeAttributesClass", "v1.35"),
            (
                "storagemigration.k8s.io/v1alpha1",
                "StorageVersionMigration",
                "v1.35",
            ),
        ] {
            assert_eq!(removed(av, kind), rel, "{av} {kind}");
        }
        // pluto's mistakes are not repeated.
        assert!(t().iter().all(|e| e.kind != "FlowControl"));
        assert!(t().iter().all(|e| e.group() != "audit.k8s.io"));
        assert_eq!(
            lookup(t(), "autoscaling/v2beta2", "HorizontalPodAutoscaler")
                .unwrap()
                .replacement
                .as_deref(),
            Some("autoscaling/v2")
        );
        assert!(
            lookup(t(), "policy/v1beta1", "PodSecurityPolicy")
                .unwrap()
                .replacement
                .is_none()
        );
        // Deprecated, removal not scheduled.
        assert!(
            lookup(t(), "storage.k8s.io/v1beta1", "VolumeAttributesClass")
                .unwrap()
                .removed_in
                .is_none()
        );
    }

    #[test]
    fn classification_follows_the_path() {
        let fs = lookup(t(), "flowcontrol.apiserver.k8s.io/v1beta2", "FlowSchema").unwrap();
        assert_eq!(
            classify(fs, &v("v1.27.16"), &v("v1.28")),
            ApiState::Deprecated
        );
        assert_eq!(
            classify(fs, &v("v1.27.16"), &v("v1.29")),
            ApiState::RemovedInPath(v("v1.29"))
        );
        assert_eq!(
            classify(fs, &v("v1.29.0"), &v("v1.30")),
            ApiState::RemovedAlready
        );
        assert_eq!(classify(fs, &v("v1.24.0"), &v("v1.25")), ApiState::Fine);
    }

    #[test]
    fn scan_lists_each_kind_once_at_a_served_version() {
        let kinds = scan_kinds(t(), &v("v1.27.16"), &v("v1.28"));
        let ingress = kinds.iter().find(|k| k.kind == "Ingress").unwrap();
        assert_eq!(ingress.candidates, vec!["networking.k8s.io/v1".to_string()]);
        let hpa = kinds
            .iter()
            .find(|k| k.kind == "HorizontalPodAutoscaler")
            .unwrap();
        assert_eq!(hpa.candidates, vec!["autoscaling/v2".to_string()]);
        let fs = kinds.iter().find(|k| k.kind == "FlowSchema").unwrap();
        assert_eq!(fs.candidates[0], "flowcontrol.apiserver.k8s.io/v1beta3");
        assert!(
            fs.candidates
                .contains(&"flowcontrol.apiserver.k8s.io/v1beta2".to_string())
        );
        // No review APIs, no events.
        assert!(
            kinds
                .iter()
                .all(|k| k.kind != "TokenReview" && k.kind != "Event")
        );
        // Unique kinds.
        let mut names: Vec<_> = kinds.iter().map(|k| (&k.kind, &k.resource)).collect();
        names.dedup();
        assert_eq!(names.len(), kinds.len());
        // An old cluster lists at the version it serves.
        let old = scan_kinds(t(), &v("v1.20.0"), &v("v1.21"));
        let cj = old.iter().find(|k| k.kind == "CronJob").unwrap();
        assert_eq!(cj.candidates, vec!["batch/v1beta1".to_string()]);
    }

    #[test]
    fn manifests_yield_every_document() {
        let m = "---\n# Source: billing/templates/pdb.yaml\napiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata:\n  name: billing\n  labels:\n    name: not-this\nspec:\n  minAvailable: 1\n---\n# Source: x\napiVersion: \"flowcontrol.apiserver.k8s.io/v1beta2\"\nkind: FlowSchema\nmetadata:\n  name: billing-batch # comment\n---\n# only a comment\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  namespace: shop\n  name: billing\n";
        let objs = manifest_objects(m);
        assert_eq!(objs.len(), 3);
        assert_eq!(objs[0].api_version, "policy/v1beta1");
        assert_eq!(objs[0].name, "billing");
        assert_eq!(objs[1].kind, "FlowSchema");
        assert_eq!(objs[1].name, "billing-batch");
        assert_eq!(objs[2].namespace.as_deref(), Some("shop"));
        assert!(manifest_objects("").is_empty());
    }

    #[test]
    fn manifests_are_parsed_as_yaml() {
        // Four-space indentation, a flow-style document, a `List`, a document that is not YAML
        // (it hides nothing), a marker carrying its document, and a block scalar holding `---`.
        let m = "---\n# Source: a/templates/pdb.yaml\napiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata:\n    labels:\n        name: not-this\n    name: four-spaces\n    namespace: shop\n---\n{apiVersion: batch/v1beta1, kind: CronJob, metadata: {name: flow, namespace: jobs}}\n---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: autoscaling/v2beta2\n  kind: HorizontalPodAutoscaler\n  metadata: {name: in-list}\n---\napiVersion: v1\nkind: [unclosed\n--- {apiVersion: networking.k8s.io/v1beta1, kind: Ingress, metadata: {name: on-marker}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: script\ndata:\n  run.sh: |\n    echo one\n    ---\n    echo two\n";
        let got: Vec<(String, String, String, Option<String>)> = manifest_objects(m)
            .into_iter()
            .map(|o| (o.api_version, o.kind, o.name, o.namespace))
            .collect();
        let o = |a: &str, k: &str, n: &str, ns: Option<&str>| {
            (
                a.to_string(),
                k.to_string(),
                n.to_string(),
                ns.map(str::to_string),
            )
        };
        assert_eq!(
            got,
            vec![
                o(
                    "policy/v1beta1",
                    "PodDisruptionBudget",
                    "four-spaces",
                    Some("shop")
                ),
                o("batch/v1beta1", "CronJob", "flow", Some("jobs")),
                o(
                    "autoscaling/v2beta2",
                    "HorizontalPodAutoscaler",
                    "in-list",
                    None
                ),
                o("networking.k8s.io/v1beta1", "Ingress", "on-marker", None),
                o("v1", "ConfigMap", "script", None),
            ]
        );
    }

    #[test]
    fn the_metric_is_parsed() {
        let text = "# HELP apiserver_requested_deprecated_apis [STABLE] Gauge\n# TYPE apiserver_requested_deprecated_apis gauge\napiserver_requested_deprecated_apis{group=\"flowcontrol.apiserver.k8s.io\",removed_release=\"1.29\",resource=\"flowschemas\",subresource=\"\",version=\"v1beta2\"} 1\napiserver_requested_deprecated_apis{group=\"\",removed_release=\"\",resource=\"componentstatuses\",subresource=\"\",version=\"v1\"} 1\napiserver_requested_deprecated_apis{group=\"x\",removed_release=\"\",resource=\"y\",subresource=\"\",version=\"v1\"} 0\napiserver_request_total{code=\"200\"} 5\n";
        let uses = parse_deprecated_metric(text);
        assert_eq!(uses.len(), 2);
        assert_eq!(uses[0].api_version, "flowcontrol.apiserver.k8s.io/v1beta2");
        assert_eq!(uses[0].removed_release, "1.29");
        assert_eq!(uses[1].api_version, "v1");
        assert_eq!(
            lookup_resource(t(), &uses[0].api_version, &uses[0].resource)
                .unwrap()
                .kind,
            "FlowSchema"
        );
        assert!(parse_deprecated_metric("garbage{").is_empty());
    }
}
