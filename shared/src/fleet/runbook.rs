//! The fleet's runbook, from each cluster's own steps: the host first, then each member (every
//! `kubectl`, `helm` and `velero` command carrying that cluster's context), then the steps that
//! belong to the whole fleet (untaint the members, migrate the gateways), then verification.
//!
//! A cluster's plan knows its part only: the host's plan also lists "Member m: migrate" steps
//! with `--context m` (a guess at the context name) and the untaint and gateway steps. Here those
//! are recognised by the suite's own commands (`ks-migrate member` with `--context`,
//! `untaint-member`, `ks-migrate gateway`) and moved to their place in the fleet order, with the
//! real contexts.

use crate::plan::{report::UpgradePlan, steps::Step};

use super::FleetRole;

/// One cluster as the runbook needs it.
pub(crate) struct Part<'a> {
    pub(crate) name: &'a str,
    pub(crate) role: FleetRole,
    /// The context its commands name (`None`: the current context, no flag).
    pub(crate) context: Option<String>,
    /// True when no context of the user's kubeconfig reaches it (the commands name a context of
    /// the member's name, which the user must create).
    pub(crate) context_assumed: bool,
    /// Its plan, or why there is none.
    pub(crate) plan: Result<&'a UpgradePlan, &'a str>,
}

/// What a cluster-level step is, for the fleet order.
#[derive(Debug, PartialEq, Eq)]
enum Kind {
    /// The cluster's own work.
    Own,
    /// A step the host plan writes for a member (`kubectl --context m ks-migrate member`).
    MemberFromHost,
    /// `untaint-member`.
    Untaint,
    /// `ks-migrate gateway`.
    Gateways,
    /// The final checks (phase `verify`, or "Check KubeSphere" after a migration).
    Verify,
}

fn kind(step: &Step) -> Kind {
    let any = |needle: &str| step.commands.iter().any(|c| c.contains(needle));
    if step.phase == "verify" || step.title == "Check KubeSphere" {
        Kind::Verify
    } else if any("untaint-member") {
        Kind::Untaint
    } else if any("ks-migrate gateway") {
        Kind::Gateways
    } else if any("--context ") && any("ks-migrate member") {
        Kind::MemberFromHost
    } else {
        Kind::Own
    }
}

/// Quotes a context name for a shell when it needs it.
fn quoted(ctx: &str) -> String {
    let plain = ctx
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "@._:/-+=".contains(c));
    if plain && !ctx.is_empty() {
        ctx.to_string()
    } else {
        format!("'{}'", ctx.replace('\'', r"'\''"))
    }
}

/// The command with the cluster's context: `kubectl --context C …`, `helm --kube-context C …`,
/// `velero --kubecontext C …`; commands run on nodes and comments are left alone.
pub(crate) fn with_context(command: &str, context: Option<&str>) -> String {
    let Some(ctx) = context else {
        return command.to_string();
    };
    let ctx = quoted(ctx);
    for (tool, flag) in [
        ("kubectl", "--context"),
        ("helm", "--kube-context"),
        ("velero", "--kubecontext"),
    ] {
        if let Some(rest) = command.strip_prefix(&format!("{tool} "))
            && !rest.starts_with(flag)
        {
            return format!("{tool} {flag} {ctx} {rest}");
        }
    }
    command.to_string()
}

fn localized(step: &Step, part: &Part<'_>) -> Step {
    let ctx = part.context.as_deref();
    let where_ = match (step.where_.starts_with("kubectl"), ctx) {
        (true, Some(c)) => format!("{}, context {c}", part.name),
        _ => format!("{}: {}", part.name, step.where_),
    };
    Step {
        number: 0,
        phase: format!("{} {}", part.name, step.phase),
        title: step.title.clone(),
        where_,
        commands: step.commands.iter().map(|c| with_context(c, ctx)).collect(),
        notes: step.notes.clone(),
    }
}

/// Builds the fleet's runbook from the parts (the host first, then the members).
pub(crate) fn fleet_steps(parts: &[Part<'_>]) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut untaint = false;
    let mut gateways: Option<Step> = None;
    let host = parts.iter().find(|p| p.role == FleetRole::Host);
    let host_ctx = host.and_then(|h| h.context.clone());
    for part in parts {
        match part.plan {
            Ok(plan) => {
                let mut first = true;
                for step in &plan.steps {
                    match kind(step) {
                        Kind::Own => {
                            let mut s = localized(step, part);
                            if first && part.context_assumed {
                                s.notes.push(format!(
                                    "no context of your kubeconfig reaches `{}`: create a context named `{}` for it, or edit --context",
                                    part.name, part.name
                                ));
                            }
                            first = false;
                            steps.push(s);
                        }
                        Kind::Untaint => untaint = true,
                        Kind::Gateways => {
                            if part.role == FleetRole::Host {
                                gateways.get_or_insert_with(|| localized(step, part));
                            }
                        }
                        Kind::MemberFromHost | Kind::Verify => {}
                    }
                }
            }
            Err(reason) => steps.push(Step {
                number: 0,
                phase: format!("{} blocked", part.name),
                title: format!("Plan {}: it could not be read", part.name),
                where_: "kubectl".into(),
                commands: vec![format!(
                    "# {reason}; make it reachable, then run `kubectl upgrade-plan --fleet` again"
                )],
                notes: Vec::new(),
            }),
        }
    }
    if untaint {
        steps.push(Step {
            number: 0,
            phase: "fleet untaint".into(),
            title: "Untaint the migrated members".into(),
            where_: host_where(&host_ctx),
            commands: vec![with_context(
                "kubectl untaint-member --all",
                host_ctx.as_deref(),
            )],
            notes: vec!["after every member above is migrated".into()],
        });
    }
    if let Some(mut g) = gateways {
        g.phase = "fleet gateways".into();
        steps.push(g);
    }
    let mut verify: Vec<String> = Vec::new();
    for part in parts {
        verify.push(with_context(
            "kubectl get nodes -o wide",
            part.context.as_deref(),
        ));
    }
    verify.push(with_context(
        "kubectl health --fleet --wait",
        host_ctx.as_deref(),
    ));
    verify.push(with_context(
        "kubectl upgrade-plan --fleet",
        host_ctx.as_deref(),
    ));
    steps.push(Step {
        number: 0,
        phase: "fleet verify".into(),
        title: "Check every cluster".into(),
        where_: host_where(&host_ctx),
        commands: verify,
        notes: vec![
            "upgrade-plan --fleet shows no step left on any cluster when the targets are reached"
                .into(),
        ],
    });
    for (i, s) in steps.iter_mut().enumerate() {
        s.number = i + 1;
    }
    steps
}

fn host_where(ctx: &Option<String>) -> String {
    match ctx {
        Some(c) => format!("host, context {c}"),
        None => "host, current context".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_carry_the_cluster_context() {
        assert_eq!(
            with_context("kubectl drain n1 --ignore-daemonsets", Some("m1")),
            "kubectl --context m1 drain n1 --ignore-daemonsets"
        );
        assert_eq!(
            with_context("helm upgrade -n kubesphere-system ks-core x", Some("m1")),
            "helm --kube-context m1 upgrade -n kubesphere-system ks-core x"
        );
        assert_eq!(
            with_context("velero backup create b --wait", Some("a b")),
            "velero --kubecontext 'a b' backup create b --wait"
        );
        assert_eq!(
            with_context("sudo kubeadm upgrade node", Some("m1")),
            "sudo kubeadm upgrade node"
        );
        assert_eq!(
            with_context("# upgrade kubeadm", Some("m1")),
            "# upgrade kubeadm"
        );
        assert_eq!(with_context("kubectl health", None), "kubectl health");
        assert_eq!(
            with_context("kubectl --context x get nodes", Some("m1")),
            "kubectl --context x get nodes"
        );
    }

    fn step(phase: &str, title: &str, commands: &[&str]) -> Step {
        Step {
            number: 0,
            phase: phase.into(),
            title: title.into(),
            where_: "kubectl".into(),
            commands: commands.iter().map(|c| c.to_string()).collect(),
            notes: Vec::new(),
        }
    }

    #[test]
    fn steps_are_classified_by_the_suites_commands() {
        assert_eq!(
            kind(&step("verify", "Check the cluster", &["kubectl health"])),
            Kind::Verify
        );
        assert_eq!(
            kind(&step(
                "kubesphere v4.1.3",
                "Member m: migrate",
                &["kubectl --context m ks-migrate member"]
            )),
            Kind::MemberFromHost
        );
        assert_eq!(
            kind(&step(
                "kubesphere v4.1.3",
                "Member: migrate",
                &["kubectl ks-migrate member"]
            )),
            Kind::Own
        );
        assert_eq!(
            kind(&step("k", "U", &["kubectl untaint-member --all"])),
            Kind::Untaint
        );
        assert_eq!(
            kind(&step("k", "G", &["kubectl ks-migrate gateway all"])),
            Kind::Gateways
        );
    }
}
