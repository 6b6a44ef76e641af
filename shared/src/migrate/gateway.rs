//! `ks-migrate gateway NAME|all`: the v3 gateways, found from their Helm releases in
//! `kubesphere-controls-system`, each upgraded once by ks-upgrade's `dynamic-upgrade` Job.
//!
//! A v3 gateway `kubesphere-router-<ns>` has two releases, `<gw>` (chart `gateway`) and
//! `<gw>-ingress` (chart `ingress-nginx`); upstream's `all` loop meets each gateway twice. The
//! Job uninstalls `<gw>-ingress` and creates a v2 Gateway whose controller deploys release
//! `<gw>` again (the cluster gateway becomes `kubesphere-router-cluster`)
//! (`upgrade.sh gateway` in https://kubesphere.io/docs/v4.1/03-installation-and-upgrade/03-upgrade-kubesphere/03-upgrade-kubesphere-from-v3.4.x/;
//! the gateway job of https://github.com/kubesphere/ks-upgrade/tree/v4.1.3).

use std::collections::BTreeMap;

use serde::Serialize;

use super::{
    helm::Helm,
    steps::{self, Ctx, Settings},
};
use crate::{
    error::Result,
    helm as releases,
    kubesphere::{CONTROLS_NAMESPACE, SYSTEM_NAMESPACE},
};

/// Release name prefix of v3 gateways.
pub const PREFIX: &str = "kubesphere-router-";
/// The v3 cluster gateway.
pub const CLUSTER_GATEWAY: &str = "kubesphere-router-kubesphere-system";
/// Its v4 name.
pub const CLUSTER_GATEWAY_V4: &str = "kubesphere-router-cluster";

/// One gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Gateway {
    /// The v3 name (`kubesphere-router-<ns>`).
    pub name: String,
    /// Its releases with revision and status (`<release> v1 deployed`).
    pub releases: Vec<String>,
    /// True while the v3 `<name>-ingress` release exists (not yet upgraded).
    pub pending: bool,
    /// The release the v4 gateway runs as.
    pub new_release: String,
}

/// The gateway names in release names: `kubesphere-router-*`, `-ingress` stripped, each once,
/// sorted; the v4 cluster gateway's release is not a v3 gateway.
pub fn names<'a>(release_names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = release_names
        .into_iter()
        .filter(|r| r.starts_with(PREFIX))
        .map(|r| r.strip_suffix("-ingress").unwrap_or(r).to_string())
        .filter(|n| n != CLUSTER_GATEWAY_V4 && n.len() > PREFIX.len())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The release a gateway runs as after the upgrade.
pub fn new_release_name(name: &str) -> String {
    if name == CLUSTER_GATEWAY {
        CLUSTER_GATEWAY_V4.to_string()
    } else {
        name.to_string()
    }
}

/// Lists the v3 gateways from the Helm release Secrets.
pub async fn list(client: &kube::Client) -> Result<Vec<Gateway>> {
    let revs = releases::list_revisions(client, Some(CONTROLS_NAMESPACE), None, false).await?;
    let latest = releases::latest(&revs);
    let mut by_name: BTreeMap<String, Gateway> = BTreeMap::new();
    for name in names(latest.iter().map(|r| r.name.as_str())) {
        by_name.insert(
            name.clone(),
            Gateway {
                new_release: new_release_name(&name),
                name,
                releases: Vec::new(),
                pending: false,
            },
        );
    }
    for r in latest {
        let gw = r.name.strip_suffix("-ingress").unwrap_or(&r.name);
        if let Some(g) = by_name.get_mut(gw) {
            g.releases
                .push(format!("{} v{} {}", r.name, r.revision, r.status));
            if r.name.ends_with("-ingress") {
                g.pending = true;
            }
        }
    }
    Ok(by_name.into_values().collect())
}

/// The `helm template` argument vector of the dynamic-upgrade Job (upstream
/// `upgrade_gateway_cmd`: no values file, no `--dry-run=server`).
pub fn template_args(s: &Settings, helm: &Helm, name: &str) -> Vec<String> {
    let mut a: Vec<String> = [
        "template",
        "-s",
        "templates/dynamic-upgrade-job.yaml",
        "-n",
        SYSTEM_NAMESPACE,
        "--release-name",
        "--set",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.push(format!(
        "upgrade.enabled=true,upgrade.dynamic=true,upgrade.config.jobs.gateway.enabled=true,upgrade.config.jobs.gateway.dynamicOptions.gatewayName={name}"
    ));
    a.push("--set".into());
    a.push(format!(
        "global.imageRegistry={},global.tag={},upgrade.image.tag={}",
        s.registry, s.tag, s.tag
    ));
    a.push(s.chart.clone());
    helm.with_conn(a)
}

/// The new release's state: `Some(detail)` when its newest revision is deployed and is not
/// the v3 `gateway` chart.
pub async fn new_release_deployed(client: &kube::Client, gw: &str) -> Result<Option<String>> {
    let name = new_release_name(gw);
    let revs =
        releases::list_revisions(client, Some(CONTROLS_NAMESPACE), Some(&name), false).await?;
    let Some(latest) = releases::latest(&revs).first().map(|r| (*r).clone()) else {
        return Ok(None);
    };
    if latest.status != "deployed" {
        return Ok(None);
    }
    let release = releases::read_release(client, &latest).await?;
    let chart = &release.chart.metadata;
    if chart.name == "gateway" {
        return Ok(None);
    }
    Ok(Some(format!(
        "release {name} revision {} deployed (chart {}-{}, appVersion {})",
        latest.revision, chart.name, chart.version, chart.app_version
    )))
}

/// Upgrades one gateway: delete the old Job, render, apply, wait, check the new release.
pub async fn upgrade(ctx: &mut Ctx, name: &str) -> Result<String> {
    steps::delete_job(ctx, "dynamic-upgrade").await?;
    let args = template_args(&ctx.settings, &ctx.helm, name);
    steps::render_apply_wait(ctx, args, "dynamic-upgrade").await?;
    if ctx.dry_run {
        ctx.act(format!(
            "check that Helm release {CONTROLS_NAMESPACE}/{} is deployed",
            new_release_name(name)
        ));
        return Ok("would upgrade".into());
    }
    // ks-upgrade itself waits up to 5 minutes for the release; a short grace here.
    for _ in 0..30 {
        if let Some(d) = new_release_deployed(&ctx.client, name).await? {
            return Ok(d);
        }
        ctx.status(&format!(
            "waiting for Helm release {}",
            new_release_name(name)
        ));
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
    Err(crate::Error::refused(
        format!(
            "the dynamic-upgrade Job completed but Helm release {CONTROLS_NAMESPACE}/{} is not deployed",
            new_release_name(name)
        ),
        Some("check `helm -n kubesphere-controls-system list -a` and the gateway-controller's logs; `helm history`/`helm rollback` a pending release".into()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_gateway_once() {
        let rels = [
            "kubesphere-router-kubesphere-system",
            "kubesphere-router-kubesphere-system-ingress",
            "kubesphere-router-workspace-demo-ingress",
            "kubesphere-router-workspace-demo",
            "kubesphere-router-cluster",
            "other",
            "kubesphere-router-",
        ];
        assert_eq!(
            names(rels),
            [
                "kubesphere-router-kubesphere-system",
                "kubesphere-router-workspace-demo"
            ]
        );
    }

    #[test]
    fn the_cluster_gateway_is_renamed() {
        assert_eq!(
            new_release_name(CLUSTER_GATEWAY),
            "kubesphere-router-cluster"
        );
        assert_eq!(
            new_release_name("kubesphere-router-workspace-demo"),
            "kubesphere-router-workspace-demo"
        );
    }

    #[test]
    fn template_args_are_upstreams() {
        let s = Settings {
            chart: "charts/ks-core".into(),
            values: None,
            registry: "docker.io".into(),
            extension_registry: None,
            tag: "v4.1.3".into(),
            role: crate::kubesphere::Role::Host,
            helm_timeout: "30m".into(),
        };
        let helm = Helm::new("helm".into(), &Default::default());
        assert_eq!(
            template_args(&s, &helm, "kubesphere-router-workspace-demo").join(" "),
            "template -s templates/dynamic-upgrade-job.yaml -n kubesphere-system --release-name \
             --set upgrade.enabled=true,upgrade.dynamic=true,upgrade.config.jobs.gateway.enabled=true,upgrade.config.jobs.gateway.dynamicOptions.gatewayName=kubesphere-router-workspace-demo \
             --set global.imageRegistry=docker.io,global.tag=v4.1.3,upgrade.image.tag=v4.1.3 charts/ks-core"
        );
    }
}
