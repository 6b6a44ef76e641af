//! Step `prepare-upgrade`: the `prepare-upgrade` Job rendered by `helm template`, applied, and
//! waited for; and the Job helpers the gateway upgrade shares.

use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use kube::{Api, api::ApiResource};
use serde_json::Value;

use super::{Ctx, args::prepare_template_args, parse_documents};
use crate::{
    error::{Error, Result},
    kubesphere::SYSTEM_NAMESPACE,
    list,
};

/// Deletes a Job (as `kubectl delete job --ignore-not-found`) and waits until it is gone.
pub async fn delete_job(ctx: &mut Ctx, name: &str) -> Result<()> {
    let ar = ApiResource::erase::<Job>(&());
    if !ctx.delete(&ar, Some(SYSTEM_NAMESPACE), name).await? || ctx.dry_run {
        return Ok(());
    }
    let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), SYSTEM_NAMESPACE);
    for _ in 0..120 {
        if list::get_opt(&jobs, name, &format!("get Job `{SYSTEM_NAMESPACE}/{name}`"))
            .await?
            .is_none()
        {
            return Ok(());
        }
        ctx.status(&format!("waiting for the old Job {name} to go"));
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(Error::Timeout {
        what: format!("the old Job {SYSTEM_NAMESPACE}/{name} to be deleted"),
        seconds: 60,
    })
}

/// Renders with helm template, applies the objects, and waits for the Job.
pub async fn render_apply_wait(ctx: &mut Ctx, args: Vec<String>, job: &str) -> Result<usize> {
    let text = ctx.helm_read(args).await?;
    let objects = parse_documents(&text, "the output of helm template")?;
    if !objects.iter().any(|o| {
        o.get("kind").and_then(Value::as_str) == Some("Job")
            && o.pointer("/metadata/name").and_then(Value::as_str) == Some(job)
    }) {
        return Err(Error::parse(
            "the output of helm template",
            format!(
                "it holds no Job {job}; is upgrade.enabled true in the values, and is the chart ks-core 1.1.x?"
            ),
        ));
    }
    for o in &objects {
        ctx.apply(o).await?;
    }
    ctx.wait_job(SYSTEM_NAMESPACE, job).await?;
    Ok(objects.len())
}

pub(super) async fn run(ctx: &mut Ctx) -> Result<String> {
    delete_job(ctx, "prepare-upgrade").await?;
    let args = prepare_template_args(&ctx.settings, &ctx.helm)?;
    let n = render_apply_wait(ctx, args, "prepare-upgrade").await?;
    Ok(format!(
        "{n} rendered objects applied; Job prepare-upgrade complete"
    ))
}
