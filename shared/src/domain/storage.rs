//! StorageClasses: which one is the default.

use k8s_openapi::api::storage::v1::StorageClass;

/// The annotation that marks the default StorageClass.
pub const DEFAULT_CLASS: &str = "storageclass.kubernetes.io/is-default-class";
/// Its beta spelling, still honoured by the API server.
pub const DEFAULT_CLASS_BETA: &str = "storageclass.beta.kubernetes.io/is-default-class";

/// True for a StorageClass marked default (GA or beta annotation set to `true`).
pub fn is_default_class(sc: &StorageClass) -> bool {
    sc.metadata.annotations.as_ref().is_some_and(|a| {
        [DEFAULT_CLASS, DEFAULT_CLASS_BETA]
            .iter()
            .any(|k| a.get(*k).is_some_and(|v| v == "true"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sc(annotations: serde_json::Value) -> StorageClass {
        serde_json::from_value(
            json!({"metadata": {"name": "c", "annotations": annotations}, "provisioner": "x"}),
        )
        .unwrap()
    }

    #[test]
    fn either_annotation_set_to_true_marks_the_default() {
        assert!(is_default_class(&sc(json!({DEFAULT_CLASS: "true"}))));
        assert!(is_default_class(&sc(json!({DEFAULT_CLASS_BETA: "true"}))));
        assert!(!is_default_class(&sc(json!({DEFAULT_CLASS_BETA: "false"}))));
        assert!(!is_default_class(&sc(json!({}))));
        let bare: StorageClass =
            serde_json::from_value(json!({"metadata": {"name": "c"}, "provisioner": "x"})).unwrap();
        assert!(!is_default_class(&bare));
    }
}
