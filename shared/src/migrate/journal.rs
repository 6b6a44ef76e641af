//! The journal: which steps of a migration are done, kept in the cluster (ConfigMap
//! `kubesphere-system/ks-migrate-journal`, one key per step) and locally (`journal.json` in the
//! backup directory).
//!
//! Each key holds `{"state":"done|failed|running","at":"<RFC 3339>","detail":"…"}`. A rerun
//! skips the steps that are `done` and resumes at the first that is not; a destructive step
//! left `running` by a crashed run is re-checked against the cluster before it runs again. The
//! key `run` holds what the journal belongs to (the role, the backup directory).

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::{
    Api,
    api::{Patch, PatchParams},
};
use serde::{Deserialize, Serialize};

use super::local::{now, write_private};
use crate::{
    error::{Error, KubeResultExt, Result},
    kubesphere::SYSTEM_NAMESPACE,
    list,
};

/// The journal ConfigMap's name.
pub const NAME: &str = "ks-migrate-journal";
/// The field manager of every write the plugin makes.
pub const FIELD_MANAGER: &str = "kubectl-ks-migrate";
/// The key that describes the run.
const RUN_KEY: &str = "run";

/// A step's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Started, not finished (a crash or Ctrl-C leaves this).
    Running,
    /// Finished.
    Done,
    /// Failed; a rerun runs it again.
    Failed,
}

/// One step's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// State.
    pub state: State,
    /// When the state was written (RFC 3339).
    pub at: String,
    /// What happened.
    #[serde(default)]
    pub detail: String,
}

/// What a journal belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunInfo {
    /// `host`, `member` or `gateway`.
    #[serde(default)]
    pub role: String,
    /// The backup directory of the run that made the backup.
    #[serde(default)]
    pub backup_dir: String,
    /// When the first run started.
    #[serde(default)]
    pub started_at: String,
}

/// The journal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    /// Run info.
    #[serde(default)]
    pub run: RunInfo,
    /// Step records by step key.
    #[serde(default)]
    pub steps: BTreeMap<String, Entry>,
}

impl Journal {
    /// Reads a journal from ConfigMap data; entries that do not parse are dropped (and named).
    pub fn from_data(data: &BTreeMap<String, String>) -> (Self, Vec<String>) {
        let mut j = Journal::default();
        let mut bad = Vec::new();
        for (k, v) in data {
            if k == RUN_KEY {
                match serde_json::from_str(v) {
                    Ok(r) => j.run = r,
                    Err(_) => bad.push(k.clone()),
                }
            } else {
                match serde_json::from_str(v) {
                    Ok(e) => {
                        j.steps.insert(k.clone(), e);
                    }
                    Err(_) => bad.push(k.clone()),
                }
            }
        }
        (j, bad)
    }

    /// The ConfigMap data.
    pub fn to_data(&self) -> BTreeMap<String, String> {
        let mut data = BTreeMap::new();
        data.insert(
            RUN_KEY.to_string(),
            serde_json::to_string(&self.run).unwrap_or_default(),
        );
        for (k, e) in &self.steps {
            data.insert(k.clone(), serde_json::to_string(e).unwrap_or_default());
        }
        data
    }

    /// The state of a step.
    pub fn state(&self, key: &str) -> Option<State> {
        self.steps.get(key).map(|e| e.state)
    }

    /// True when every one of `keys` is done.
    pub fn all_done<'a>(&self, keys: impl IntoIterator<Item = &'a str>) -> bool {
        keys.into_iter().all(|k| self.state(k) == Some(State::Done))
    }

    /// True when some of `keys` has a record but not all are done: a run is in progress.
    pub fn in_progress<'a>(&self, keys: impl IntoIterator<Item = &'a str> + Clone) -> bool {
        keys.clone().into_iter().any(|k| self.steps.contains_key(k)) && !self.all_done(keys)
    }

    /// Records a step.
    pub fn set(&mut self, key: &str, state: State, detail: impl Into<String>) {
        self.steps.insert(
            key.to_string(),
            Entry {
                state,
                at: now(),
                detail: detail.into(),
            },
        );
    }
}

/// Reads the journal from the cluster, an empty one when there is none.
pub async fn read(client: &kube::Client) -> Result<(Journal, Vec<String>)> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), SYSTEM_NAMESPACE);
    let cm = list::get_opt(
        &api,
        NAME,
        &format!("get ConfigMap `{SYSTEM_NAMESPACE}/{NAME}`"),
    )
    .await?;
    Ok(match cm.and_then(|c| c.data) {
        Some(data) => Journal::from_data(&data),
        None => (Journal::default(), Vec::new()),
    })
}

/// Where the journal is written: the cluster, and a local copy.
pub struct Store {
    client: kube::Client,
    local: Option<PathBuf>,
}

impl Store {
    /// A store writing to the cluster and, when given, to `local`.
    pub fn new(client: kube::Client, local: Option<PathBuf>) -> Self {
        Self { client, local }
    }

    /// Sets the local copy's path.
    pub fn set_local(&mut self, local: PathBuf) {
        self.local = Some(local);
    }

    /// Writes the whole journal (server-side apply of the ConfigMap, then the local copy).
    pub async fn save(&self, journal: &Journal) -> Result<()> {
        let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), SYSTEM_NAMESPACE);
        let cm = serde_json::json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": NAME,
                "namespace": SYSTEM_NAMESPACE,
                "labels": {"app.kubernetes.io/managed-by": FIELD_MANAGER},
            },
            "data": journal.to_data(),
        });
        api.patch(
            NAME,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&cm),
        )
        .await
        .ctx(|| format!("write the journal ConfigMap `{SYSTEM_NAMESPACE}/{NAME}`"))?;
        if let Some(path) = &self.local {
            write_local(path, journal)?;
        }
        Ok(())
    }
}

/// Writes the local copy (mode 0600).
pub fn write_local(path: &Path, journal: &Journal) -> Result<()> {
    let text = serde_json::to_string_pretty(journal).unwrap_or_default();
    write_private(path, text.as_bytes())
}

/// A one-line summary: how many of `keys` are done.
pub fn describe(journal: &Journal, keys: &[String]) -> String {
    let done = keys
        .iter()
        .filter(|k| journal.state(k) == Some(State::Done))
        .count();
    format!("{done}/{} steps done", keys.len())
}

/// Checks a journal's step keys are valid ConfigMap keys.
pub fn valid_key(key: &str) -> Result<()> {
    if !key.is_empty()
        && key.len() <= 253
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
    {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "`{key}` cannot be a journal key (letters, digits, `-`, `_`, `.`)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_configmap_data() {
        let mut j = Journal::default();
        j.run.role = "host".into();
        j.set("backup", State::Done, "42 objects");
        j.set("remove-redis", State::Running, "");
        let data = j.to_data();
        assert!(data["backup"].contains("\"state\":\"done\""));
        let (back, bad) = Journal::from_data(&data);
        assert!(bad.is_empty());
        assert_eq!(back, j);
    }

    #[test]
    fn progress_is_judged_on_the_given_keys() {
        let keys = ["a", "b"];
        let mut j = Journal::default();
        assert!(!j.in_progress(keys));
        j.set("a", State::Done, "");
        assert!(j.in_progress(keys));
        j.set("b", State::Failed, "boom");
        assert!(j.in_progress(keys));
        j.set("b", State::Done, "");
        assert!(!j.in_progress(keys));
        assert!(j.all_done(keys));
        assert_eq!(describe(&j, &["a".into(), "b".into()]), "2/2 steps done");
    }

    #[test]
    fn garbage_entries_are_reported() {
        let mut data = BTreeMap::new();
        data.insert("backup".to_string(), "not json".to_string());
        let (j, bad) = Journal::from_data(&data);
        assert!(j.steps.is_empty());
        assert_eq!(bad, ["backup"]);
    }

    #[test]
    fn keys_must_fit_a_configmap() {
        assert!(valid_key("gateway.kubesphere-router-workspace-demo").is_ok());
        assert!(valid_key("gateway/x").is_err());
        assert!(valid_key("").is_err());
    }
}
