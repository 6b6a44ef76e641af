//! The backup directory a migration wrote, read back and checked before a rollback uses it.

use super::*;

/// A backup directory, checked and read.
#[derive(Debug, Clone)]
pub struct Backup {
    /// The directory.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: backup::Manifest,
    /// The objects of each file.
    pub files: Vec<(String, Vec<Value>)>,
}

impl Backup {
    /// Verifies the checksums and reads the files; refuses (exit 1) on any mismatch.
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join(backup::MANIFEST);
        if !path.is_file() {
            return Err(Error::usage(format!(
                "`{}` is not a ks-migrate backup: it has no {}",
                dir.display(),
                backup::MANIFEST
            )));
        }
        let problems = backup::verify(dir)?;
        if !problems.is_empty() {
            return Err(Error::refused(
                format!(
                    "backup `{}` does not match its manifest ({}); nothing was changed",
                    dir.display(),
                    problems.join("; ")
                ),
                Some(
                    "a changed or damaged backup cannot be restored safely: use an intact copy of the directory"
                        .into(),
                ),
            ));
        }
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io("read", &path, e))?;
        let manifest: backup::Manifest =
            serde_json::from_str(&text).map_err(|e| Error::parse(path.display().to_string(), e))?;
        let mut files = Vec::new();
        for f in &manifest.files {
            let p = dir.join(&f.file);
            let bytes = std::fs::read(&p).map_err(|e| Error::io("read", &p, e))?;
            let list: Value = serde_saphyr::from_slice(&bytes)
                .map_err(|e| Error::parse(p.display().to_string(), e))?;
            let items = list
                .get("items")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            files.push((f.file.clone(), items));
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            manifest,
            files,
        })
    }

    /// The objects of one file.
    pub fn items(&self, file: &str) -> &[Value] {
        self.files
            .iter()
            .find(|(f, _)| f == file)
            .map(|(_, i)| i.as_slice())
            .unwrap_or_default()
    }

    /// A backed-up redis object: in the system namespace's file, or (the Service and the PVC)
    /// in [`backup::REDIS_FILE`].
    pub fn redis(&self, kind: &str, name: &str) -> Option<&Value> {
        self.find(SYSTEM_FILE, kind, name)
            .or_else(|| self.find(backup::REDIS_FILE, kind, name))
    }

    /// One object of a file, by kind and name.
    pub fn find(&self, file: &str, kind: &str, name: &str) -> Option<&Value> {
        self.items(file).iter().find(|o| {
            o.get("kind").and_then(Value::as_str) == Some(kind)
                && o.pointer("/metadata/name").and_then(Value::as_str) == Some(name)
        })
    }

    /// The cluster identity, checked against the cluster's; refuses (exit 1) on another
    /// cluster or when the backup records none.
    pub fn check_cluster(&self, uid: &str) -> Result<&Identity> {
        let Some(id) = &self.manifest.identity else {
            return Err(Error::refused(
                format!(
                    "backup `{}` records no cluster identity (it was written by an older ks-migrate), so it cannot be told apart from another cluster's; nothing was changed",
                    self.dir.display()
                ),
                Some("restore the objects by hand (kubectl apply -f on the backup's files) or the etcd snapshot taken before the migration".into()),
            ));
        };
        if id.cluster_uid != uid {
            return Err(Error::refused(
                format!(
                    "backup `{}` was taken from another cluster (kube-system uid {}, this cluster's is {uid}; server then {}); nothing was changed",
                    self.dir.display(),
                    id.cluster_uid,
                    self.manifest.server
                ),
                Some("check --kubeconfig/--context, or pass the backup directory of this cluster's migration".into()),
            ));
        }
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn a_tampered_or_foreign_backup_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("b");
        local::create_private_dir(&dir).unwrap();
        let c = backup::Collected {
            source: backup::namespace_source("kubesphere-system"),
            items: vec![
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}),
            ],
            not_served: vec![],
        };
        let id = Identity {
            cluster_uid: "uid-a".into(),
            ks_core_revision: Some(2),
            ks_core_chart: Some("ks-core-0.4.0".into()),
            ks_core_app_version: Some("v3.4.1".into()),
        };
        backup::write_with(&dir, &[c], "https://x", Some(id.clone())).unwrap();
        let b = Backup::load(&dir).unwrap();
        assert_eq!(b.check_cluster("uid-a").unwrap(), &id);
        assert!(b.find(SYSTEM_FILE, "ConfigMap", "c").is_some());
        let e = b.check_cluster("uid-b").unwrap_err();
        assert_eq!(e.exit_status(), ExitStatus::Findings);
        assert!(e.to_string().contains("another cluster"), "{e}");
        std::fs::write(
            dir.join(SYSTEM_FILE),
            "apiVersion: v1\nkind: List\nitems: []\n",
        )
        .unwrap();
        let e = Backup::load(&dir).unwrap_err();
        assert_eq!(e.exit_status(), ExitStatus::Findings);
        assert!(e.to_string().contains("sha256 differs"), "{e}");
    }
}
