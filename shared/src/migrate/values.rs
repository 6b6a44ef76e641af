//! Upstream's `ks-core-values.yaml`: parsed, validated, and summarised as the ks-upgrade jobs
//! that will run, in the order ks-upgrade runs them.
//!
//! ks-upgrade deep-merges `upgrade.config` from these values over the config baked into its
//! image, which enables `core` (priority 10000) and `iam` (999) on its own; a job absent from
//! both is disabled. Jobs run by priority, highest first, ties by name
//! (ks-upgrade's config at https://github.com/kubesphere/ks-upgrade/tree/v4.1.3;
//! the values file of https://kubesphere.io/docs/v4.1/03-installation-and-upgrade/03-upgrade-kubesphere/03-upgrade-kubesphere-from-v3.4.x/).

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};

/// Job names ks-upgrade v4.1.3 knows, as `ks-core-values.yaml` spells them (the packages
/// registered under `pkg/jobs` of <https://github.com/kubesphere/ks-upgrade/tree/v4.1.3/pkg/jobs>: alerting, application, core, devops, events, gateway, iam,
/// kubeedge, kubefed, logging, metricsserver, monitoring, network, notification, opensearch,
/// servicemesh, storageutils, tower, vector, whizard_telemetry).
pub const KNOWN_JOBS: &[&str] = &[
    "application",
    "core",
    "devops",
    "gateway",
    "iam",
    "kubeedge",
    "kubefed",
    "metrics-server",
    "network",
    "opensearch",
    "servicemesh",
    "storage-utils",
    "tower",
    "vector",
    "whizard-alerting",
    "whizard-events",
    "whizard-logging",
    "whizard-monitoring",
    "whizard-notification",
    "whizard-telemetry",
];

/// Jobs the ks-upgrade image enables by itself, with their priorities: the image's base config
/// is `config.yaml` of <https://github.com/kubesphere/ks-upgrade/blob/v4.1.3/config.yaml>, added by
/// its Dockerfile; the other jobs and priorities come from the values file (upstream's
/// `ks-core-values.yaml` in
/// <https://kubesphere.io/docs/v4.1/03-installation-and-upgrade/03-upgrade-kubesphere/03-upgrade-kubesphere-from-v3.4.x/>).
pub const IMAGE_JOBS: &[(&str, i64)] = &[("core", 10000), ("iam", 999)];

const JOB_KEYS: &[&str] = &["enabled", "priority", "extensionRef", "dynamicOptions"];

/// One ks-upgrade job as the merged config enables it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    /// Job name (`network`, `gateway`, …).
    pub name: String,
    /// Priority: higher runs first.
    pub priority: i64,
    /// `extensionRef.name@extensionRef.version`, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extension: Option<String>,
    /// Where the job comes from: `values` or `image` (the ks-upgrade image's built-in config).
    pub source: &'static str,
}

/// The validated values file.
#[derive(Debug, Clone)]
pub struct Values {
    /// Where it was read from.
    pub path: PathBuf,
    /// The whole document.
    pub doc: Value,
    /// `upgrade.persistenceVolume.storageClassName`, when set and not empty.
    pub storage_class: Option<String>,
    /// The enabled jobs in ks-upgrade's order.
    pub jobs: Vec<Job>,
    /// Non-fatal remarks (unknown keys).
    pub warnings: Vec<String>,
}

/// Reads and validates a values file.
pub fn load(path: &Path) -> Result<Values> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io("read values", path, e))?;
    parse(&text, path)
}

/// Parses and validates values text (`path` only names it in messages).
pub fn parse(text: &str, path: &Path) -> Result<Values> {
    let what = || format!("values file `{}`", path.display());
    let doc: Value = serde_saphyr::from_str(text).map_err(|e| Error::parse(what(), e))?;
    let doc = if doc.is_null() {
        Value::Object(Default::default())
    } else {
        doc
    };
    if !doc.is_object() {
        return Err(Error::parse(what(), "the top level must be a mapping"));
    }
    let bad = |p: &str, reason: &str| Error::parse(what(), format!("`{p}`: {reason}"));
    let mut warnings = Vec::new();

    let upgrade = doc.get("upgrade");
    if let Some(u) = upgrade
        && !u.is_object()
    {
        return Err(bad("upgrade", "must be a mapping"));
    }
    match upgrade.and_then(|u| u.get("enabled")) {
        Some(Value::Bool(true)) => {}
        Some(Value::Bool(false)) | None => {
            return Err(bad(
                "upgrade.enabled",
                "must be true: without it the ks-core chart renders none of the upgrade Jobs",
            ));
        }
        Some(_) => return Err(bad("upgrade.enabled", "must be a boolean")),
    }
    let storage_class = match upgrade
        .and_then(|u| u.get("persistenceVolume"))
        .and_then(|p| p.get("storageClassName"))
    {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            return Err(bad(
                "upgrade.persistenceVolume.storageClassName",
                "must be a string",
            ));
        }
    };

    let mut jobs: Vec<Job> = Vec::new();
    let jobs_node = upgrade
        .and_then(|u| u.get("config"))
        .and_then(|c| c.get("jobs"));
    let mut explicit: Vec<String> = Vec::new();
    match jobs_node {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (name, job) in map {
                let p = format!("upgrade.config.jobs.{name}");
                if !KNOWN_JOBS.contains(&name.as_str()) {
                    return Err(bad(
                        &p,
                        &format!(
                            "unknown job `{name}` (ks-upgrade v4.1.3 knows: {})",
                            KNOWN_JOBS.join(", ")
                        ),
                    ));
                }
                explicit.push(name.clone());
                let Value::Object(job) = job else {
                    return Err(bad(&p, "must be a mapping"));
                };
                for key in job.keys() {
                    if !JOB_KEYS.contains(&key.as_str()) {
                        warnings.push(format!(
                            "`{p}.{key}` is not a key ks-upgrade reads (it reads {})",
                            JOB_KEYS.join(", ")
                        ));
                    }
                }
                let enabled = match job.get("enabled") {
                    None | Some(Value::Null) => false,
                    Some(Value::Bool(b)) => *b,
                    Some(_) => return Err(bad(&format!("{p}.enabled"), "must be a boolean")),
                };
                let priority = match job.get("priority") {
                    None | Some(Value::Null) => 0,
                    Some(Value::Number(n)) => n
                        .as_i64()
                        .ok_or_else(|| bad(&format!("{p}.priority"), "must be a whole number"))?,
                    Some(_) => return Err(bad(&format!("{p}.priority"), "must be a number")),
                };
                let extension = match job.get("extensionRef") {
                    None | Some(Value::Null) => None,
                    Some(Value::Object(r)) => {
                        let field = |k: &str| -> Result<Option<String>> {
                            match r.get(k) {
                                None | Some(Value::Null) => Ok(None),
                                Some(Value::String(s)) => Ok(Some(s.clone())),
                                // An unquoted `version: 1.1` reads as a number; ks-upgrade's Go
                                // decoder would reject it.
                                Some(_) => Err(bad(
                                    &format!("{p}.extensionRef.{k}"),
                                    "must be a string (quote versions like \"1.1.0\")",
                                )),
                            }
                        };
                        let ext_name = field("name")?;
                        let version = field("version")?;
                        if let Some(c) = r.get("config")
                            && !(c.is_string() || c.is_null())
                        {
                            return Err(bad(
                                &format!("{p}.extensionRef.config"),
                                "must be a string (Helm values as YAML text)",
                            ));
                        }
                        if let Some(c) = r.get("clusterScheduling")
                            && !(c.is_object() || c.is_null())
                        {
                            return Err(bad(
                                &format!("{p}.extensionRef.clusterScheduling"),
                                "must be a mapping",
                            ));
                        }
                        match (ext_name, version) {
                            (Some(n), Some(v)) => Some(format!("{n}@{v}")),
                            (Some(n), None) => {
                                if enabled {
                                    return Err(bad(
                                        &format!("{p}.extensionRef.version"),
                                        "is required: ks-upgrade installs the extension version named here",
                                    ));
                                }
                                Some(n)
                            }
                            (None, Some(v)) => Some(format!("{name}@{v}")),
                            (None, None) => None,
                        }
                    }
                    Some(_) => {
                        return Err(bad(&format!("{p}.extensionRef"), "must be a mapping"));
                    }
                };
                if let Some(d) = job.get("dynamicOptions")
                    && !(d.is_object() || d.is_null())
                {
                    return Err(bad(&format!("{p}.dynamicOptions"), "must be a mapping"));
                }
                if enabled {
                    jobs.push(Job {
                        name: name.clone(),
                        priority,
                        extension,
                        source: "values",
                    });
                }
            }
        }
        Some(_) => return Err(bad("upgrade.config.jobs", "must be a mapping")),
    }
    for (name, priority) in IMAGE_JOBS {
        if !explicit.iter().any(|e| e == name) {
            jobs.push(Job {
                name: (*name).into(),
                priority: *priority,
                extension: None,
                source: "image",
            });
        }
    }
    order(&mut jobs);
    Ok(Values {
        path: path.to_path_buf(),
        doc,
        storage_class,
        jobs,
        warnings,
    })
}

/// Sorts jobs as ks-upgrade runs them: priority descending, then name ascending.
pub fn order(jobs: &mut [Job]) {
    jobs.sort_by(|a, b| {
        b.priority
            .cmp(&a.priority)
            .then_with(|| a.name.cmp(&b.name))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    const UPSTREAM: &str = r#"
global:
  imageRegistry: docker.io
  tag: v4.1.3
upgrade:
  enabled: true
  image:
    registry: ""
    repository: kubesphere/ks-upgrade
    tag: "v4.1.3"
  persistenceVolume:
    name: ks-upgrade
    storageClassName: ""
    accessMode: ReadWriteOnce
    size: 5Gi
  config:
    storage:
      local:
        path: /tmp/ks-upgrade
    jobs:
      network:
        enabled: true
        priority: 100
        extensionRef:
          name: "network"
          version: "1.1.0"
        dynamicOptions: {
          "rerun": "false"
        }
      gateway:
        enabled: true
        priority: 90
        extensionRef:
          name: "gateway"
          version: "1.0.5"
      devops:
        enabled: true
        priority: 800
        extensionRef:
          name: "devops"
          version: "1.1.2"
      vector:
        enabled: true
        priority: 101
        extensionRef:
          name: "vector"
          version: "1.0.4"
      application:
        enabled: true
        priority: 100
        extensionRef:
          name: "openpitrix"
          version: "2.0.1"
      tower:
        enabled: false
        priority: 100
        extensionRef:
          name: "tower"
          version: "1.0.0"
"#;

    fn names(v: &Values) -> Vec<&str> {
        v.jobs.iter().map(|j| j.name.as_str()).collect()
    }

    #[test]
    fn enabled_jobs_come_in_ks_upgrades_order() {
        let v = parse(UPSTREAM, Path::new("v.yaml")).unwrap();
        assert_eq!(
            names(&v),
            [
                "core",
                "iam",
                "devops",
                "vector",
                "application",
                "network",
                "gateway"
            ]
        );
        assert_eq!(v.jobs[0].source, "image");
        assert_eq!(v.jobs[4].extension.as_deref(), Some("openpitrix@2.0.1"));
        assert_eq!(v.storage_class, None);
        assert!(v.warnings.is_empty(), "{:?}", v.warnings);
    }

    #[test]
    fn values_can_override_the_image_jobs() {
        let text =
            "upgrade:\n  enabled: true\n  config:\n    jobs:\n      iam:\n        enabled: false\n";
        let v = parse(text, Path::new("v.yaml")).unwrap();
        assert_eq!(names(&v), ["core"]);
    }

    #[test]
    fn storage_class_is_read() {
        let text = "upgrade:\n  enabled: true\n  persistenceVolume:\n    storageClassName: fast\n";
        assert_eq!(
            parse(text, Path::new("v"))
                .unwrap()
                .storage_class
                .as_deref(),
            Some("fast")
        );
    }

    #[test]
    fn mistakes_name_their_path() {
        let cases = [
            (
                "upgrade:\n  enabled: true\n  config:\n    jobs:\n      netwrok:\n        enabled: true\n",
                "`upgrade.config.jobs.netwrok`: unknown job `netwrok`",
            ),
            (
                "upgrade:\n  enabled: true\n  config:\n    jobs:\n      network:\n        enabled: \"yes\"\n",
                "`upgrade.config.jobs.network.enabled`: must be a boolean",
            ),
            (
                "upgrade:\n  enabled: true\n  config:\n    jobs:\n      network:\n        enabled: true\n        priority: high\n",
                "`upgrade.config.jobs.network.priority`: must be a number",
            ),
            (
                "upgrade:\n  enabled: true\n  config:\n    jobs:\n      network:\n        enabled: true\n        priority: 1.5\n",
                "`upgrade.config.jobs.network.priority`: must be a whole number",
            ),
            (
                "upgrade:\n  enabled: true\n  config:\n    jobs:\n      network:\n        enabled: true\n        extensionRef:\n          name: network\n          version: 1.1\n",
                "`upgrade.config.jobs.network.extensionRef.version`: must be a string",
            ),
            (
                "upgrade:\n  enabled: true\n  config:\n    jobs:\n      network:\n        enabled: true\n        extensionRef: network\n",
                "`upgrade.config.jobs.network.extensionRef`: must be a mapping",
            ),
            (
                "upgrade:\n  enabled: true\n  config:\n    jobs: [network]\n",
                "`upgrade.config.jobs`: must be a mapping",
            ),
            (
                "upgrade:\n  enabled: false\n",
                "`upgrade.enabled`: must be true",
            ),
            ("global: {}\n", "`upgrade.enabled`: must be true"),
            ("- a\n- b\n", "the top level must be a mapping"),
            ("upgrade: [\n", "cannot parse values file"),
        ];
        for (text, want) in cases {
            let e = parse(text, Path::new("v.yaml")).unwrap_err().to_string();
            assert!(e.contains(want), "{text:?}: got {e}");
            assert!(e.starts_with("cannot parse values file `v.yaml`"), "{e}");
        }
    }

    #[test]
    fn unknown_job_keys_are_warnings() {
        let text = "upgrade:\n  enabled: true\n  config:\n    jobs:\n      network:\n        enabled: true\n        disabled: false\n";
        let v = parse(text, Path::new("v")).unwrap();
        assert_eq!(v.warnings.len(), 1);
        assert!(v.warnings[0].contains("upgrade.config.jobs.network.disabled"));
    }
}
