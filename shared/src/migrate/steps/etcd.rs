//! Step `fill-etcd-endpoints`: the ClusterConfiguration's etcd `endpointIps`, as upstream's
//! `fill_etcd_endpoint_ips` fills it.

use k8s_openapi::api::core::v1::Endpoints;
use kube::Api;
use serde_json::{Value, json};

use super::Ctx;
use crate::{
    error::{Error, Result},
    kubesphere::{self, SYSTEM_NAMESPACE, cluster_configuration_resource, field},
    list,
};

/// The etcd patch upstream's `fill_etcd_endpoint_ips` makes, or `None` when the current value
/// is a real address. `current` is `spec.etcd.endpointIps` (`None` when `spec.etcd` is absent
/// altogether, `Some("")` when only the field is).
pub fn etcd_patch(etcd_present: bool, current: Option<&str>, ips: &str) -> Option<Value> {
    match current.map(str::trim) {
        _ if !etcd_present => {
            Some(json!([{"op": "add", "path": "/spec/etcd", "value": {"endpointIps": ips}}]))
        }
        None | Some("") => {
            Some(json!([{"op": "add", "path": "/spec/etcd/endpointIps", "value": ips}]))
        }
        Some("localhost") => {
            Some(json!([{"op": "replace", "path": "/spec/etcd/endpointIps", "value": ips}]))
        }
        Some(_) => None,
    }
}

/// The addresses of Endpoints `kube-system/etcd`, comma-joined.
pub fn etcd_ips(ep: &Endpoints) -> String {
    ep.subsets
        .iter()
        .flatten()
        .flat_map(|s| s.addresses.iter().flatten())
        .map(|a| a.ip.clone())
        .collect::<Vec<_>>()
        .join(",")
}

pub(super) async fn fill(ctx: &mut Ctx) -> Result<String> {
    let Some(cc) = kubesphere::cluster_configuration(&ctx.client).await? else {
        return Err(Error::refused(
            "the ClusterConfiguration ks-installer is gone",
            None,
        ));
    };
    let etcd_present = field(&cc, &["spec", "etcd"]).is_some_and(Value::is_object);
    let current = field(&cc, &["spec", "etcd", "endpointIps"]).map(|v| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    if let Some(c) = current.as_deref()
        && !c.trim().is_empty()
        && c.trim() != "localhost"
    {
        return Ok(format!("endpointIps already set to {c}"));
    }
    let eps: Api<Endpoints> = Api::namespaced(ctx.client.clone(), "kube-system");
    let ips = list::get_opt(&eps, "etcd", "get Endpoints `kube-system/etcd`")
        .await?
        .map(|e| etcd_ips(&e))
        .unwrap_or_default();
    if ips.is_empty() {
        return Err(Error::refused(
            format!(
                "spec.etcd.endpointIps of the ClusterConfiguration is `{}` and Endpoints kube-system/etcd lists no addresses",
                current.unwrap_or_default()
            ),
            Some("set spec.etcd.endpointIps to the etcd addresses by hand (kubectl -n kubesphere-system edit cc ks-installer), then rerun".into()),
        ));
    }
    let Some(patch) = etcd_patch(etcd_present, current.as_deref(), &ips) else {
        return Ok("endpointIps already set".into());
    };
    ctx.json_patch(
        &cluster_configuration_resource(),
        Some(SYSTEM_NAMESPACE),
        crate::kubesphere::INSTALLER,
        patch,
    )
    .await?;
    Ok(format!("endpointIps set to {ips}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etcd_patches_follow_upstream() {
        let ips = "192.168.10.11,192.168.10.12";
        assert_eq!(
            etcd_patch(true, Some("localhost"), ips).unwrap(),
            json!([{"op": "replace", "path": "/spec/etcd/endpointIps", "value": ips}])
        );
        assert_eq!(
            etcd_patch(true, None, ips).unwrap(),
            json!([{"op": "add", "path": "/spec/etcd/endpointIps", "value": ips}])
        );
        assert_eq!(etcd_patch(true, Some(""), ips).unwrap()[0]["op"], "add");
        assert_eq!(
            etcd_patch(false, None, ips).unwrap()[0]["path"],
            "/spec/etcd"
        );
        assert!(etcd_patch(true, Some("10.0.0.1"), ips).is_none());
    }

    #[test]
    fn etcd_addresses_are_joined() {
        let ep: Endpoints = serde_json::from_value(json!({"metadata": {"name": "etcd"},
            "subsets": [{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "ports": [{"port": 2379}]},
                        {"addresses": [{"ip": "10.0.0.3"}]}]}))
        .unwrap();
        assert_eq!(etcd_ips(&ep), "10.0.0.1,10.0.0.2,10.0.0.3");
        assert_eq!(etcd_ips(&Endpoints::default()), "");
    }
}
