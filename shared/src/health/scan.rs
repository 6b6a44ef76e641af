//! Reading a namespaced kind (pods, Deployments, StatefulSets, DaemonSets) in a check's scope,
//! page by page, keeping only what the check derives from each object (a [`Tally`]: counts and
//! findings), never the objects.
//!
//! The request pattern ([`plan`]):
//! - When the scope is a known set of at most [`PER_NAMESPACE_MAX`] namespaces (the default
//!   system scope, typically under ten namespaces), each scope namespace is listed on its own
//!   (`/namespaces/{ns}/…`, paginated), at most [`NAMESPACE_CONCURRENCY`] at a time. The
//!   cluster's other namespaces are never read: the requests grow with what is checked, never
//!   with the cluster's size or namespace count, and the lists overlap, so the time is that of
//!   the largest namespace's list, not of the cluster's first page. (No label or field selector
//!   can select a set of namespaces, so one cluster-wide list with a selector cannot do this.)
//! - Otherwise (`-A`, or a scope of more than [`PER_NAMESPACE_MAX`] namespaces) one
//!   cluster-wide list, page by page, each page judged as it arrives and filtered client-side
//!   by the scope: requests grow with the cluster's pages.
//! - In the default scope, [`ALWAYS_IN_SCOPE`] is listed on its own at once, while the
//!   namespaces are being listed, and left out of the rest.

use std::fmt::Debug;

use futures::{StreamExt, TryStreamExt, stream};
use k8s_openapi::NamespaceResourceScope;
use kube::{Api, Resource, api::ListParams};
use serde::de::DeserializeOwned;

use super::{ALWAYS_IN_SCOPE, CheckError, Ctx, Finding, Scope};
use crate::list;

/// Makes `$view`, a narrower decoding of `$of` (a struct with a `metadata: ObjectMeta` field and
/// only the parts of `$of` a check reads), listable where `$of` is: the same group, version, kind,
/// URL and scope. The parts a view leaves out are skipped by the JSON parser, never allocated.
macro_rules! listed_as {
    ($view:ty, $of:ty) => {
        impl k8s_openapi::Resource for $view {
            const API_VERSION: &'static str = <$of as k8s_openapi::Resource>::API_VERSION;
            const GROUP: &'static str = <$of as k8s_openapi::Resource>::GROUP;
            const KIND: &'static str = <$of as k8s_openapi::Resource>::KIND;
            const VERSION: &'static str = <$of as k8s_openapi::Resource>::VERSION;
            const URL_PATH_SEGMENT: &'static str = <$of as k8s_openapi::Resource>::URL_PATH_SEGMENT;
            type Scope = <$of as k8s_openapi::Resource>::Scope;
        }

        impl k8s_openapi::Metadata for $view {
            type Ty = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
            fn metadata(&self) -> &Self::Ty {
                &self.metadata
            }
            fn metadata_mut(&mut self) -> &mut Self::Ty {
                &mut self.metadata
            }
        }
    };
}
pub(crate) use listed_as;

/// Scopes of at most this many namespaces are read namespace by namespace.
pub(crate) const PER_NAMESPACE_MAX: usize = 25;

/// Scope namespaces listed at the same time when reading namespace by namespace: the default
/// system scope (about ten namespaces) in one wave. The client speaks HTTP/2 where the server
/// does, so the lists share one connection (see `client::stack`); the four kinds read this way
/// then put at most about fifty small requests in flight, as `kubectl get` of several kinds
/// does.
pub(crate) const NAMESPACE_CONCURRENCY: usize = 12;

/// What a check keeps of the objects it has seen. Each walk (one namespace, or the whole
/// cluster) fills its own; the walks' tallies are then merged.
pub(crate) trait Tally: Default {
    /// Adds what another walk kept.
    fn merge(&mut self, other: Self);
}

/// The plain tally: how many objects were seen, and the findings about them.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Counted {
    /// Objects judged.
    pub(crate) seen: usize,
    /// What was wrong with them.
    pub(crate) findings: Vec<Finding>,
}

impl Counted {
    /// Counts one object and keeps its finding, if any.
    pub(crate) fn add(&mut self, finding: Option<Finding>) {
        self.seen += 1;
        self.findings.extend(finding);
    }
}

impl Tally for Counted {
    fn merge(&mut self, other: Self) {
        self.seen += other.seen;
        self.findings.extend(other.findings);
    }
}

/// How a namespaced kind is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Each scope namespace listed on its own.
    PerNamespace,
    /// One cluster-wide list, filtered by the scope.
    ClusterWide,
}

/// Decides how to read a kind in `scope`.
pub(crate) fn plan(scope: &Scope) -> Plan {
    match scope {
        Scope::Namespaces(set) if set.len() <= PER_NAMESPACE_MAX => Plan::PerNamespace,
        _ => Plan::ClusterWide,
    }
}

fn in_scope<K: Resource>(scope: &Scope, obj: &K) -> bool {
    scope.contains(obj.meta().namespace.as_deref().unwrap_or_default())
}

/// Reads every `kind` (plural, for messages: `pods`) object in the check's scope, calling
/// `judge` with each one as its page arrives; see the module doc for the requests.
///
/// In the default scope, [`ALWAYS_IN_SCOPE`] is listed at once, while the scope's other
/// namespaces are still being looked up: it is the largest system namespace (a pod per node),
/// so its list no longer waits for the namespaces list.
pub(crate) async fn scan<K, T, F>(ctx: &Ctx<'_>, kind: &str, judge: F) -> Result<T, CheckError>
where
    K: Listed,
    T: Tally,
    F: Fn(&mut T, K),
{
    let judge = &judge;
    if ctx.options.all_namespaces {
        let scope = ctx.scope().await?;
        return Ok(walk_cluster(ctx.client, scope, None, kind, judge).await?);
    }
    let first = walk_namespace(ctx.client, ALWAYS_IN_SCOPE, kind, judge);
    let rest = async {
        let scope = ctx.scope().await?;
        Ok::<T, CheckError>(match (plan(scope), scope) {
            (Plan::PerNamespace, Scope::Namespaces(set)) => {
                let mut tally = T::default();
                // Made before they are streamed: see `pods::judge_job_pods`.
                let lists: Vec<_> = set
                    .iter()
                    .filter(|ns| *ns != ALWAYS_IN_SCOPE)
                    .map(|ns| walk_namespace(ctx.client, ns, kind, judge))
                    .collect();
                stream::iter(lists)
                    .buffer_unordered(NAMESPACE_CONCURRENCY)
                    .try_for_each(|part| {
                        tally.merge(part);
                        futures::future::ready(Ok(()))
                    })
                    .await?;
                tally
            }
            _ => walk_cluster(ctx.client, scope, Some(ALWAYS_IN_SCOPE), kind, judge).await?,
        })
    };
    let (mut tally, rest) =
        futures::try_join!(async { first.await.map_err(CheckError::from) }, rest)?;
    tally.merge(rest);
    Ok(tally)
}

/// A namespaced kind a check reads.
pub(crate) trait Listed:
    Resource<Scope = NamespaceResourceScope, DynamicType = ()> + Clone + DeserializeOwned + Debug
{
}

impl<K> Listed for K where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
        + Clone
        + DeserializeOwned
        + Debug
{
}

/// Every `kind` object in `namespace`, page by page.
async fn walk_namespace<K: Listed, T: Tally, F: Fn(&mut T, K)>(
    client: &kube::Client,
    namespace: &str,
    kind: &str,
    judge: &F,
) -> crate::Result<T> {
    // the API server's 403 message names the namespace
    walk(
        Api::namespaced(client.clone(), namespace),
        kind,
        |_| true,
        judge,
    )
    .await
}

/// Every `kind` object of the cluster in `scope`, except those in `skip` (a namespace read on
/// its own), page by page.
async fn walk_cluster<K: Listed, T: Tally, F: Fn(&mut T, K)>(
    client: &kube::Client,
    scope: &Scope,
    skip: Option<&str>,
    kind: &str,
    judge: &F,
) -> crate::Result<T> {
    let keep = |o: &K| {
        in_scope(scope, o) && skip.is_none_or(|ns| o.meta().namespace.as_deref() != Some(ns))
    };
    walk(Api::all(client.clone()), kind, keep, judge).await
}

/// Judges every object `api` lists that `keep` keeps, page by page.
async fn walk<K: Listed, T: Tally, F: Fn(&mut T, K)>(
    api: Api<K>,
    kind: &str,
    keep: impl Fn(&K) -> bool,
    judge: &F,
) -> crate::Result<T> {
    let mut tally = T::default();
    list::for_each_page(
        &api,
        &ListParams::default(),
        &format!("list {kind}"),
        |page| {
            for obj in page.into_iter().filter(|o| keep(o)) {
                judge(&mut tally, obj);
            }
        },
    )
    .await?;
    Ok(tally)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn namespaces(n: usize) -> Scope {
        Scope::Namespaces((0..n).map(|i| format!("ns-{i}")).collect::<BTreeSet<_>>())
    }

    #[test]
    fn a_small_scope_is_read_per_namespace() {
        assert_eq!(plan(&namespaces(1)), Plan::PerNamespace);
        assert_eq!(plan(&namespaces(PER_NAMESPACE_MAX)), Plan::PerNamespace);
        assert_eq!(plan(&namespaces(PER_NAMESPACE_MAX + 1)), Plan::ClusterWide);
        assert_eq!(plan(&Scope::All), Plan::ClusterWide);
    }

    #[test]
    fn counted_tallies_merge_to_the_whole() {
        let f = |name: &str| Finding::fail("Deployment", Some("kube-system"), name, "X", "m");
        let mut whole = Counted::default();
        let mut a = Counted::default();
        let mut b = Counted::default();
        for (i, finding) in [None, Some(f("x")), None, Some(f("y")), None]
            .into_iter()
            .enumerate()
        {
            whole.add(finding.clone());
            if i < 2 { &mut a } else { &mut b }.add(finding);
        }
        let mut merged = Counted::default();
        merged.merge(a);
        merged.merge(b);
        assert_eq!(merged, whole);
        assert_eq!(merged.seen, 5);
        assert_eq!(merged.findings.len(), 2);
    }
}
