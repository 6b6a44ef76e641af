//! The Kubernetes version skew policy (<https://kubernetes.io/releases/version-skew-policy/>).
//!
//! The kubelet and control-plane rules live in [`crate::version`] and are re-exported here; this
//! module adds the kube-proxy rule.

pub(crate) use crate::version::{Skew, control_plane_skew, node_skew};

use crate::version::Version;

/// How many minors kube-proxy and the kubelet on the same node may be apart: 3, or 2 when either
/// is older than 1.25.
pub fn kube_proxy_kubelet_allowed(kube_proxy: &Version, kubelet: &Version) -> u64 {
    if kube_proxy.minor_key() < (1, 25) || kubelet.minor_key() < (1, 25) {
        2
    } else {
        3
    }
}

/// `Some((apart, allowed))` when kube-proxy and the kubelet are further apart than allowed.
pub fn kube_proxy_kubelet_skew(kube_proxy: &Version, kubelet: &Version) -> Option<(u64, u64)> {
    let apart = kube_proxy.minors_to(kubelet).unsigned_abs();
    let allowed = kube_proxy_kubelet_allowed(kube_proxy, kubelet);
    (apart > allowed).then_some((apart, allowed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::v;

    #[test]
    fn kube_proxy_may_be_three_minors_from_its_kubelet_two_below_1_25() {
        assert_eq!(
            kube_proxy_kubelet_skew(&v("v1.27.1"), &v("v1.24.1")),
            Some((3, 2))
        );
        assert_eq!(kube_proxy_kubelet_skew(&v("v1.28.1"), &v("v1.25.1")), None);
        assert_eq!(
            kube_proxy_kubelet_skew(&v("v1.29.1"), &v("v1.25.1")),
            Some((4, 3))
        );
        assert_eq!(kube_proxy_kubelet_skew(&v("v1.25.1"), &v("v1.28.1")), None);
        assert!(!node_skew(&v("v1.28.0"), &v("v1.24.0")).is_supported());
    }
}
