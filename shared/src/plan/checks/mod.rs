//! The plan's checks: pure functions from what [`super::inventory`] collected (and the path) to
//! [`Finding`](super::findings::Finding)s, one file per area: `nodes`, `runtime` (the container
//! runtime), [`skew`] (kubelet and kube-proxy), [`control_plane`], `disruption` (budgets, single
//! replicas), `pods`, `apiservices`, `admission` (webhooks), `helm`, `storage`, `apis`
//! (deprecated and removed APIs), `iam` (the KubeSphere 3.3.1 role changes) and `kubesphere`.
//! [`skew`] and [`control_plane`] are public: their rows ([`skew::NodeVersions`],
//! [`control_plane::ComponentVersion`]) are in the report.

pub(crate) mod admission;
pub(crate) mod apis;
pub(crate) mod apiservices;
pub mod control_plane;
pub(crate) mod disruption;
pub(crate) mod helm;
pub(crate) mod iam;
pub(crate) mod kubesphere;
pub(crate) mod nodes;
pub(crate) mod pods;
pub(crate) mod runtime;
pub mod skew;
pub(crate) mod storage;

pub(crate) use self::{
    admission::check_webhooks,
    apis::check_apis,
    apiservices::check_apiservices,
    control_plane::check_control_plane,
    disruption::{check_pdbs, check_single_replicas},
    helm::check_helm,
    iam::{check_role_changes, crosses_role_changes},
    kubesphere::{KubeSphereFacts, check_kubesphere},
    nodes::check_nodes,
    pods::{check_bare_pods, check_unhealthy_pods},
    runtime::check_runtime,
    skew::check_skew,
    storage::check_default_storage_class,
};
