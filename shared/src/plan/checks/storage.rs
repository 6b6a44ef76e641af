//! SC001: no default StorageClass.

use k8s_openapi::api::storage::v1::StorageClass;

use crate::{
    domain::storage::is_default_class,
    model::{ObjectRef, Severity},
    plan::{codes::Code, findings::Finding},
};

/// SC001.
pub(crate) fn check_default_storage_class(
    classes: &[StorageClass],
    migration_step: bool,
) -> Vec<Finding> {
    if classes.iter().any(is_default_class) {
        return Vec::new();
    }
    let names: Vec<String> = classes
        .iter()
        .filter_map(|c| c.metadata.name.clone())
        .collect();
    let severity = if migration_step {
        Severity::Blocking
    } else {
        Severity::Advisory
    };
    vec![
        Finding::new(
            Code::Sc001,
            ObjectRef::cluster("StorageClass", names.first().map(String::as_str).unwrap_or("-")),
            format!(
                "no default StorageClass (classes: {}); the KubeSphere 4.1 upgrade's ks-upgrade PVC and PVCs without storageClassName stay Pending",
                if names.is_empty() { "none".to_string() } else { names.join(", ") }
            ),
        )
        .severity(severity)
        .remedy(format!(
            "kubectl annotate storageclass {} storageclass.kubernetes.io/is-default-class=true",
            names.first().map(String::as_str).unwrap_or("<class>")
        )),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn default_storage_class() {
        let sc = |name: &str, ann: serde_json::Value| -> StorageClass {
            serde_json::from_value(
                json!({"metadata": {"name": name, "annotations": ann}, "provisioner": "x"}),
            )
            .unwrap()
        };
        assert!(
            check_default_storage_class(
                &[sc(
                    "local",
                    json!({"storageclass.kubernetes.io/is-default-class": "true"})
                )],
                true
            )
            .is_empty()
        );
        assert!(
            check_default_storage_class(
                &[sc(
                    "b",
                    json!({"storageclass.beta.kubernetes.io/is-default-class": "true"})
                )],
                true
            )
            .is_empty()
        );
        let f = check_default_storage_class(
            &[sc(
                "local",
                json!({"storageclass.beta.kubernetes.io/is-default-class": "false"}),
            )],
            true,
        );
        assert_eq!(f[0].severity, Severity::Blocking);
        let f = check_default_storage_class(&[], false);
        assert_eq!(f[0].severity, Severity::Advisory);
    }
}
