//! The helm argument vectors, as upstream's `upgrade.sh` builds them.

use super::{super::helm::Helm, Settings};
use crate::{
    error::{Error, Result},
    kubesphere::{KS_CORE_RELEASE, Role, SYSTEM_NAMESPACE},
};

/// `--set` arguments for the image settings (upstream's `upgrade.image.*`, `global.*`).
fn image_sets(s: &Settings) -> (String, Option<String>, String) {
    (
        format!(
            "upgrade.image.registry={},upgrade.image.tag={}",
            s.registry, s.tag
        ),
        s.extension_registry
            .as_ref()
            .map(|r| format!("extension.imageRegistry={r}")),
        format!("global.imageRegistry={},global.tag={}", s.registry, s.tag),
    )
}

fn values_path(s: &Settings) -> Result<String> {
    s.values
        .as_ref()
        .map(|p| p.display().to_string())
        .ok_or_else(|| Error::usage("a values file is required (-f ks-core-values.yaml)"))
}

/// The `helm template` argument vector of the prepare-upgrade Job (upstream §1.1 step 10).
pub fn prepare_template_args(s: &Settings, helm: &Helm) -> Result<Vec<String>> {
    let (upgrade, ext, global) = image_sets(s);
    let mut a: Vec<String> = [
        "template",
        "-s",
        "templates/prepare-upgrade-job.yaml",
        "-n",
        SYSTEM_NAMESPACE,
        "--release-name",
        "--set",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.push(format!("upgrade.prepare=true,{upgrade}"));
    if let Some(e) = ext {
        a.push("--set".into());
        a.push(e);
    }
    a.push("--set".into());
    a.push(global);
    a.push("-f".into());
    a.push(values_path(s)?);
    a.push(s.chart.clone());
    a.push("--dry-run=server".into());
    Ok(helm.with_conn(a))
}

/// The `helm upgrade` argument vector (upstream §1.1 step 12, without the no-op
/// `kseExtensionRepository` setting).
pub fn upgrade_args(s: &Settings, helm: &Helm, ha: bool, redis_ha: bool) -> Result<Vec<String>> {
    let (upgrade, ext, global) = image_sets(s);
    let role = match s.role {
        Role::Member => "member",
        _ => "host",
    };
    let mut a: Vec<String> = vec![
        "upgrade".into(),
        "-n".into(),
        SYSTEM_NAMESPACE.into(),
        KS_CORE_RELEASE.into(),
        s.chart.clone(),
        "--debug".into(),
        "--wait".into(),
        "--timeout".into(),
        s.helm_timeout.clone(),
        "--set".into(),
        format!("multicluster.role={role}"),
        "--set".into(),
        upgrade,
    ];
    if let Some(e) = ext {
        a.push("--set".into());
        a.push(e);
    }
    a.push("--set".into());
    a.push(global);
    if ha {
        a.push("--set".into());
        a.push("ha.enabled=true".into());
    }
    if redis_ha {
        a.push("--set".into());
        a.push("redisHA.enabled=true".into());
    }
    a.push("--set".into());
    a.push(format!(
        "upgrade.config.validator.extensionsMuseum.enabled={}",
        s.role != Role::Member
    ));
    a.push("-f".into());
    a.push(values_path(s)?);
    Ok(helm.with_conn(a))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(role: Role) -> Settings {
        Settings {
            chart: "charts/ks-core".into(),
            values: Some("ks-core-values.yaml".into()),
            registry: "docker.io".into(),
            extension_registry: None,
            tag: "v4.1.3".into(),
            role,
            helm_timeout: "30m".into(),
        }
    }

    #[test]
    fn helm_argument_vectors_are_upstreams() {
        let helm = Helm::new("helm".into(), &Default::default());
        let t = prepare_template_args(&settings(Role::Host), &helm)
            .unwrap()
            .join(" ");
        assert_eq!(
            t,
            "template -s templates/prepare-upgrade-job.yaml -n kubesphere-system --release-name \
             --set upgrade.prepare=true,upgrade.image.registry=docker.io,upgrade.image.tag=v4.1.3 \
             --set global.imageRegistry=docker.io,global.tag=v4.1.3 -f ks-core-values.yaml charts/ks-core --dry-run=server"
        );
        let u = upgrade_args(&settings(Role::Host), &helm, true, false)
            .unwrap()
            .join(" ");
        assert_eq!(
            u,
            "upgrade -n kubesphere-system ks-core charts/ks-core --debug --wait --timeout 30m \
             --set multicluster.role=host --set upgrade.image.registry=docker.io,upgrade.image.tag=v4.1.3 \
             --set global.imageRegistry=docker.io,global.tag=v4.1.3 --set ha.enabled=true \
             --set upgrade.config.validator.extensionsMuseum.enabled=true -f ks-core-values.yaml"
        );
        let mut s = settings(Role::Member);
        s.extension_registry = Some("r.example/ks".into());
        let u = upgrade_args(&s, &helm, false, true).unwrap().join(" ");
        assert!(u.contains("--set multicluster.role=member"));
        assert!(u.contains("--set extension.imageRegistry=r.example/ks"));
        assert!(u.contains("--set redisHA.enabled=true"));
        assert!(u.contains("extensionsMuseum.enabled=false"));
        s.values = None;
        assert!(upgrade_args(&s, &helm, false, false).is_err());
    }
}
