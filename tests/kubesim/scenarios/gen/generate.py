#!/usr/bin/env python3
"""Regenerate the bundled kubesim scenarios.

    python3 tests/kubesim/scenarios/gen/generate.py

Standard library only (Python 3.11).  Output is deterministic.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import k8s  # noqa: E402
import yamlout  # noqa: E402
from cluster import Cluster  # noqa: E402
import common as cm  # noqa: E402
from common import ctr  # noqa: E402

OUT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UBUNTU = "Ubuntu 22.04.4 LTS"
KERNEL = "5.15.0-105-generic"
CONTAINERD = "1.6.4"

# Helm history timestamps (RFC3339Nano as Helm writes them, unix seconds for labels)
T_KS_INSTALL = ("2024-03-18T15:20:41.318273611+08:00", 1710746441)
T_KS_RERUN = ("2024-04-22T10:05:13.902117458+08:00", 1713751513)
T_V4 = ("2025-05-20T11:02:37.551902834+08:00", 1747710157)


def host_nodes(c, version):
    for i in range(1, 4):
        c.add_node(f"master-{i}", f"192.168.10.{10 + i}", True, kubelet=version, containerd=CONTAINERD,
                   os_image=UBUNTU, kernel=KERNEL, t_created="2024-03-18T06:39:51Z", t_ready="2024-03-18T06:41:20Z")
    for i in range(1, 6):
        c.add_node(f"worker-{i}", f"192.168.10.{20 + i}", False, kubelet=version, containerd=CONTAINERD,
                   os_image=UBUNTU, kernel=KERNEL, t_created="2024-03-18T06:43:02Z", t_ready="2024-03-18T06:44:10Z",
                   cpu="16", mem_kib=32863836)


def ks34_host():
    c = Cluster("ks34-host", "KubeSphere v3.4.1 host cluster (3 control-plane + 5 workers) on Kubernetes v1.26.15 with two v3.4.1 members, two v3 gateways and a demo workspace",
                "v1.26.15", "2024-03-18T07:12:30Z")
    host_nodes(c, "v1.26.15")
    cm.crds_v3(c)
    cm.namespaces_v3(c, "host")
    cm.kube_system(c, "v1.26.15")
    cm.storageclass_local(c, default=True)
    # KubeSphere core
    c.add(cm.cc_v3("host", etcd_ips="localhost", extra_status={
        "network": {"networkpolicy": {"enabledTime": "2024-03-18T07:20:31UTC", "status": "enabled"}}}))
    c.add(k8s.configmap("kubesphere-config", "kubesphere-system", {"kubesphere.yaml": cm.kubesphere_config_v3("host")}))
    cm.ks_installer_v3(c)
    cm.redis_v3(c)
    cm.ks_core_deployments_v3(c)
    cm.webhooks_v3(c)
    cm.monitoring_v3(c)
    manifest = cm.ks_core_release_manifest(c)
    cm.helm_history(c, "ks-core", "kubesphere-system",
                    [("superseded", "0.1.0", "v3.3.2"), ("deployed", "0.1.0", "v3.3.2")],
                    manifest, "ks-core", [T_KS_INSTALL, T_KS_RERUN])
    # gateways
    for gw_ns, ws, np in [("kubesphere-system", None, (31080, 31443)), ("workspace-demo", "demo", (32080, 32443))]:
        parts = cm.gateway_v3(c, gw_ns, "2024-03-19T02:11:08Z", workspace=ws, node_port=np)
        cm.gateway_releases(c, *parts, times=[("2024-03-19T10:11:08.118263716+08:00", 1710814268)])
    # multicluster
    c.add(cm.cluster_cr("host", "https://lb.kubesphere.local:6443", "v3.4.1", "v1.26.15", 8, "2024-03-18T07:22:10Z", host=True))
    c.add(cm.cluster_cr("member-a", "https://192.168.20.11:6443", "v3.4.1", "v1.26.15", 3, "2024-03-20T03:01:44Z", region="cn-east"))
    c.add(cm.cluster_cr("member-b", "https://192.168.30.11:6443", "v3.4.1", "v1.26.15", 3, "2024-03-21T05:47:12Z", region="cn-north"))
    # IAM + tenants
    cm.iam_v3(c, host=True)
    cm.workspaces_v3(c, "host")
    cm.demo_project(c)
    return c


def ks34_member():
    c = Cluster("ks34-member", "KubeSphere v3.4.1 member cluster (1 control-plane + 2 workers) on Kubernetes v1.26.15, ks-installer idle, one gateway",
                "v1.26.15", "2024-03-20T02:31:05Z")
    c.add_node("master-1", "192.168.20.11", True, kubelet="v1.26.15", containerd=CONTAINERD, os_image=UBUNTU,
               kernel=KERNEL, t_created="2024-03-20T02:10:44Z", t_ready="2024-03-20T02:12:01Z")
    for i in (1, 2):
        c.add_node(f"worker-{i}", f"192.168.20.{20 + i}", False, kubelet="v1.26.15", containerd=CONTAINERD,
                   os_image=UBUNTU, kernel=KERNEL, t_created="2024-03-20T02:14:09Z", t_ready="2024-03-20T02:15:27Z")
    cm.crds_v3(c)
    cm.namespaces_v3(c, "member")
    cm.kube_system(c, "v1.26.15")
    cm.storageclass_local(c, default=True)
    c.add(cm.cc_v3("member", etcd_ips="192.168.20.11", t_installed="2024-03-20T07:21:55UTC", extra_status={
        "network": {"networkpolicy": {"enabledTime": "2024-03-20T07:20:31UTC", "status": "enabled"}}}))
    c.add(k8s.configmap("kubesphere-config", "kubesphere-system", {"kubesphere.yaml": cm.kubesphere_config_v3("member")}))
    cm.ks_installer_v3(c)
    cm.redis_v3(c)
    cm.ks_core_deployments_v3(c)
    cm.webhooks_v3(c)
    cm.monitoring_v3(c)
    cm.helm_history(c, "ks-core", "kubesphere-system", [("deployed", "0.1.0", "v3.3.2")],
                    cm.ks_core_release_manifest(c), "ks-core", [("2024-03-20T15:19:02.771245901+08:00", 1710919142)])
    parts = cm.gateway_v3(c, "kubesphere-system", "2024-03-20T08:02:16Z")
    cm.gateway_releases(c, *parts, times=[("2024-03-20T16:02:16.402913377+08:00", 1710921736)])
    cm.iam_v3(c, host=False)
    cm.workspaces_v3(c, "member")
    return c


def write(c, fname):
    docs = c.documents()
    path = os.path.join(OUT, fname)
    with open(path, "w") as f:
        f.write(f"# Generated by gen/generate.py -- do not edit by hand; edit the generator and re-run.\n")
        f.write(yamlout.dump_all(docs))
    print(f"{fname}: {len(docs)} documents")


SCENARIOS = {"ks34-host.yaml": ks34_host, "ks34-member.yaml": ks34_member}

if __name__ == "__main__":
    try:
        import scenarios_more  # noqa: F401  (registers the remaining scenarios)
        SCENARIOS.update(scenarios_more.SCENARIOS)
    except ImportError:
        pass
    for fname, fn in SCENARIOS.items():
        write(fn(), fname)
