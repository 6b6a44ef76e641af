"""Pieces shared by the scenarios: kube-system, storage, KubeSphere 3.4 / 4.1."""
import json

import k8s
import yamlout
from cluster import CP_TOLERATIONS, b64
from helm_release import release, release_secret
from k8s import container as ctr

SYSTEM_WS = {"kubesphere.io/workspace": "system-workspace"}


def ws_owner(ws="system-workspace"):
    return [k8s.owner("tenant.kubesphere.io/v1alpha1", "Workspace", ws)]


# ------------------------------------------------------------------ kube-system

def kube_system(c, version, etcd="3.5.10-0", coredns="v1.9.3", calico="v3.26.1",
                pod_subnet="10.233.64.0/18", svc_subnet="10.233.0.0/18", cp_endpoint="lb.kubesphere.local:6443",
                calico_rollout=None, ds_pod_states=None):
    t = c.t0
    cps = c.cps()
    for n in cps:
        ip = c.node_ip(n)
        c.static_pod("etcd", n, f"registry.k8s.io/etcd:{etcd}", [
            "etcd", f"--advertise-client-urls=https://{ip}:2379", "--cert-file=/etc/kubernetes/pki/etcd/server.crt",
            "--client-cert-auth=true", "--data-dir=/var/lib/etcd", f"--initial-advertise-peer-urls=https://{ip}:2380",
            f"--listen-client-urls=https://127.0.0.1:2379,https://{ip}:2379", f"--name={n}",
            "--trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt"],
            extra_ann={"kubeadm.kubernetes.io/etcd.advertise-client-urls": f"https://{ip}:2379"})
        c.static_pod("kube-apiserver", n, f"registry.k8s.io/kube-apiserver:{version}", [
            "kube-apiserver", f"--advertise-address={ip}", "--allow-privileged=true",
            "--authorization-mode=Node,RBAC", "--client-ca-file=/etc/kubernetes/pki/ca.crt",
            "--enable-admission-plugins=NodeRestriction", "--enable-bootstrap-token-auth=true",
            "--etcd-servers=https://127.0.0.1:2379", "--secure-port=6443",
            f"--service-cluster-ip-range={svc_subnet}"],
            extra_ann={"kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint": f"{ip}:6443"})
        c.static_pod("kube-controller-manager", n, f"registry.k8s.io/kube-controller-manager:{version}", [
            "kube-controller-manager", "--allocate-node-cidrs=true", f"--cluster-cidr={pod_subnet}",
            "--cluster-name=cluster.local", "--controllers=*,bootstrapsigner,tokencleaner",
            "--leader-elect=true", "--node-cidr-mask-size=24", f"--service-cluster-ip-range={svc_subnet}",
            "--use-service-account-credentials=true"])
        c.static_pod("kube-scheduler", n, f"registry.k8s.io/kube-scheduler:{version}", [
            "kube-scheduler", "--authentication-kubeconfig=/etc/kubernetes/scheduler.conf",
            "--authorization-kubeconfig=/etc/kubernetes/scheduler.conf", "--bind-address=0.0.0.0",
            "--kubeconfig=/etc/kubernetes/scheduler.conf", "--leader-elect=true"])

    cluster_cfg = {
        "apiServer": {"certSANs": ["kubernetes", "kubernetes.default", "kubernetes.default.svc",
                                   "kubernetes.default.svc.cluster.local", "localhost", "127.0.0.1",
                                   "lb.kubesphere.local"] + [c.node_ip(n) for n in cps] + cps,
                      "extraArgs": {"authorization-mode": "Node,RBAC", "bind-address": "0.0.0.0",
                                    "feature-gates": "RotateKubeletServerCertificate=true"},
                      "timeoutForControlPlane": "4m0s"},
        "apiVersion": "kubeadm.k8s.io/v1beta3",
        "certificatesDir": "/etc/kubernetes/pki",
        "clusterName": "cluster.local",
        "controlPlaneEndpoint": cp_endpoint,
        "controllerManager": {"extraArgs": {"bind-address": "0.0.0.0", "cluster-signing-duration": "87600h",
                                            "feature-gates": "RotateKubeletServerCertificate=true"}},
        "dns": {"imageRepository": "registry.k8s.io/coredns", "imageTag": coredns},
        "etcd": {"local": {"dataDir": "/var/lib/etcd"}},
        "imageRepository": "registry.k8s.io",
        "kind": "ClusterConfiguration",
        "kubernetesVersion": version,
        "networking": {"dnsDomain": "cluster.local", "podSubnet": pod_subnet, "serviceSubnet": svc_subnet},
        "scheduler": {"extraArgs": {"bind-address": "0.0.0.0"}},
    }
    c.add(k8s.configmap("kubeadm-config", "kube-system", {"ClusterConfiguration": yamlout.dump(cluster_cfg)}))
    c.add(k8s.configmap("coredns", "kube-system", {"Corefile": (
        ".:53 {\n    errors\n    health {\n       lameduck 5s\n    }\n    ready\n"
        "    kubernetes cluster.local in-addr.arpa ip6.arpa {\n       pods insecure\n"
        "       fallthrough in-addr.arpa ip6.arpa\n       ttl 30\n    }\n"
        "    prometheus :9153\n    forward . /etc/resolv.conf {\n       max_concurrent 1000\n    }\n"
        "    cache 30\n    loop\n    reload\n    loadbalance\n}\n")}))
    c.add(k8s.configmap("kube-proxy", "kube-system", {"config.conf": yamlout.dump({
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1", "kind": "KubeProxyConfiguration",
        "bindAddress": "0.0.0.0", "clusterCIDR": pod_subnet, "mode": "ipvs",
        "ipvs": {"strictARP": False, "scheduler": "rr"}})}, labels={"app": "kube-proxy"}))

    dns_nodes = cps if len(c.placeable()) == 0 else c.placeable()[:2]
    c.deploy("coredns", "kube-system",
             [ctr("coredns", f"registry.k8s.io/coredns/coredns:{coredns}", args=["-conf", "/etc/coredns/Corefile"],
                  ports=[{"containerPort": 53, "name": "dns", "protocol": "UDP"},
                         {"containerPort": 53, "name": "dns-tcp", "protocol": "TCP"},
                         {"containerPort": 9153, "name": "metrics", "protocol": "TCP"}],
                  resources={"limits": {"memory": "170Mi"}, "requests": {"cpu": "100m", "memory": "70Mi"}},
                  mounts=[{"mountPath": "/etc/coredns", "name": "config-volume", "readOnly": True}])],
             replicas=2, labels={"k8s-app": "kube-dns"}, selector={"k8s-app": "kube-dns"}, sa="coredns",
             nodes=dns_nodes, tolerations=[{"key": "CriticalAddonsOnly", "operator": "Exists"}] + CP_TOLERATIONS,
             pod_spec_extra={"priorityClassName": "system-cluster-critical", "dnsPolicy": "Default"},
             volumes=[{"name": "config-volume", "configMap": {"name": "coredns", "defaultMode": 420,
                                                              "items": [{"key": "Corefile", "path": "Corefile"}]}}],
             strategy={"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}, "type": "RollingUpdate"})
    c.svc("kube-dns", "kube-system",
          [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
           {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
           {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153}],
          {"k8s-app": "kube-dns"}, cluster_ip="10.233.0.10",
          labels={"k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true", "kubernetes.io/name": "CoreDNS"},
          annotations={"prometheus.io/port": "9153", "prometheus.io/scrape": "true"})

    ds_pod_states = ds_pod_states or {}
    c.daemonset("kube-proxy", "kube-system",
                [ctr("kube-proxy", f"registry.k8s.io/kube-proxy:{version}",
                     command=["/usr/local/bin/kube-proxy", "--config=/var/lib/kube-proxy/config.conf",
                              "--hostname-override=$(NODE_NAME)"],
                     env=[{"name": "NODE_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "spec.nodeName"}}}])],
                sa="kube-proxy", host_network=True, priority_class="system-node-critical",
                pod_states=ds_pod_states.get("kube-proxy"))
    calico_c = [ctr("calico-node", f"calico/node:{calico}",
                    env=[{"name": "DATASTORE_TYPE", "value": "kubernetes"},
                         {"name": "CALICO_NETWORKING_BACKEND", "value": "bird"},
                         {"name": "CALICO_IPV4POOL_CIDR", "value": pod_subnet},
                         {"name": "CALICO_IPV4POOL_IPIP", "value": "Always"}],
                    resources={"requests": {"cpu": "250m"}})]
    kw = {}
    if calico_rollout:
        old_ver, updated_nodes = calico_rollout
        kw = {"generation": 2, "updated_nodes": updated_nodes,
              "old_containers": [ctr("calico-node", f"calico/node:{old_ver}", env=calico_c[0]["env"],
                                     resources={"requests": {"cpu": "250m"}})]}
    c.daemonset("calico-node", "kube-system", calico_c, sa="calico-node", host_network=True,
                priority_class="system-node-critical", pod_states=ds_pod_states.get("calico-node"), **kw)
    c.deploy("calico-kube-controllers", "kube-system",
             [ctr("calico-kube-controllers", f"calico/kube-controllers:{calico}",
                  env=[{"name": "ENABLED_CONTROLLERS", "value": "node"}, {"name": "DATASTORE_TYPE", "value": "kubernetes"}])],
             labels={"k8s-app": "calico-kube-controllers"}, selector={"k8s-app": "calico-kube-controllers"},
             sa="calico-kube-controllers", nodes=cps, tolerations=[{"key": "CriticalAddonsOnly", "operator": "Exists"}] + CP_TOLERATIONS,
             pod_spec_extra={"priorityClassName": "system-cluster-critical"},
             strategy={"type": "Recreate"})
    c.deploy("openebs-localpv-provisioner", "kube-system",
             [ctr("openebs-provisioner-hostpath", "openebs/provisioner-localpv:3.3.0",
                  env=[{"name": "OPENEBS_IO_BASE_PATH", "value": "/var/openebs/local"}])],
             labels={"name": "openebs-localpv-provisioner", "openebs.io/component-name": "openebs-localpv-provisioner",
                     "openebs.io/version": "3.3.0"},
             selector={"name": "openebs-localpv-provisioner", "openebs.io/component-name": "openebs-localpv-provisioner"},
             sa="openebs-maya-operator", nodes=c.placeable()[-1:] or cps, strategy={"type": "Recreate"})
    # etcd Service + Endpoints as KubeKey / ks-installer monitoring create them (no selector).
    c.svc("etcd", "kube-system", [{"name": "etcd", "port": 2379, "protocol": "TCP", "targetPort": 2379}],
          None, labels={"app.kubernetes.io/name": "etcd"}, headless=True)
    c.add({"apiVersion": "v1", "kind": "Endpoints",
           "metadata": {"name": "etcd", "namespace": "kube-system", "labels": {"app.kubernetes.io/name": "etcd"}},
           "subsets": [{"addresses": [{"ip": c.node_ip(n), "nodeName": n} for n in cps],
                        "ports": [{"name": "etcd", "port": 2379, "protocol": "TCP"}]}]})


def storageclass_local(c, default=True):
    ann = {"cas.openebs.io/config": "- name: StorageType\n  value: \"hostpath\"\n- name: BasePath\n  value: \"/var/openebs/local/\"\n",
           "openebs.io/cas-type": "local"}
    if default:
        ann["storageclass.kubernetes.io/is-default-class"] = "true"
    ann["storageclass.beta.kubernetes.io/is-default-class"] = "true" if default else "false"
    c.add({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
           "metadata": {"name": "local", "annotations": ann},
           "provisioner": "openebs.io/local", "reclaimPolicy": "Delete",
           "volumeBindingMode": "WaitForFirstConsumer"})


def local_pv(c, pvc_name, ns, size, node, reclaim="Delete", t=None):
    pv_name = "pvc-" + k8s.fake_uid(f"PVC/{ns}/{pvc_name}")
    t = t or c.t0
    c.add({"apiVersion": "v1", "kind": "PersistentVolume",
           "metadata": {"name": pv_name,
                        "annotations": {"pv.kubernetes.io/provisioned-by": "openebs.io/local"},
                        "labels": {"openebs.io/cas-type": "local-hostpath"},
                        "finalizers": ["kubernetes.io/pv-protection"]},
           "spec": {"accessModes": ["ReadWriteOnce"], "capacity": {"storage": size},
                    "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "name": pvc_name,
                                 "namespace": ns, "uid": k8s.fake_uid(f"PVC/{ns}/{pvc_name}")},
                    "local": {"fsType": "", "path": f"/var/openebs/local/{pv_name}"},
                    "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                        {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}},
                    "persistentVolumeReclaimPolicy": reclaim, "storageClassName": "local",
                    "volumeMode": "Filesystem"},
           "status": {"phase": "Bound"}})
    c.add({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
           "metadata": {"name": pvc_name, "namespace": ns,
                        "annotations": {"pv.kubernetes.io/bind-completed": "yes",
                                        "pv.kubernetes.io/bound-by-controller": "yes",
                                        "volume.beta.kubernetes.io/storage-provisioner": "openebs.io/local",
                                        "volume.kubernetes.io/selected-node": node,
                                        "volume.kubernetes.io/storage-provisioner": "openebs.io/local"},
                        "finalizers": ["kubernetes.io/pvc-protection"]},
           "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}},
                    "storageClassName": "local", "volumeMode": "Filesystem", "volumeName": pv_name},
           "status": {"accessModes": ["ReadWriteOnce"], "capacity": {"storage": size}, "phase": "Bound"}})
    return pv_name


# ------------------------------------------------------------------ KubeSphere CRDs

def crds_v3(c):
    C = k8s.crd
    c.add(C("installer.kubesphere.io", "ClusterConfiguration", "clusterconfigurations", "Namespaced",
            [("v1alpha1", True, True)], short=["cc"], annotations={}))
    c.add(C("cluster.kubesphere.io", "Cluster", "clusters", "Cluster", [("v1alpha1", True, True)],
            columns=[{"jsonPath": ".spec.joinFederation", "name": "Federated", "type": "boolean"},
                     {"jsonPath": ".spec.provider", "name": "Provider", "type": "string"},
                     {"jsonPath": ".spec.enable", "name": "Active", "type": "boolean"},
                     {"jsonPath": ".status.kubernetesVersion", "name": "Version", "type": "string"}],
            subresources={}))
    c.add(C("gateway.kubesphere.io", "Gateway", "gateways", "Namespaced", [("v1alpha1", True, True)],
            subresources={"status": {}}))
    c.add(C("gateway.kubesphere.io", "Nginx", "nginxes", "Namespaced", [("v1alpha1", True, True)],
            subresources={"status": {}}, annotations={}))
    iam = lambda kind, plural, cols=None, sub=None: C(
        "iam.kubesphere.io", kind, plural, "Cluster", [("v1alpha2", True, True)], categories=["iam"],
        columns=cols, subresources=sub)
    c.add(iam("User", "users", [{"jsonPath": ".spec.email", "name": "Email", "type": "string"},
                                {"jsonPath": ".status.state", "name": "Status", "type": "string"}], {}))
    c.add(iam("GlobalRole", "globalroles"))
    c.add(iam("GlobalRoleBinding", "globalrolebindings"))
    c.add(iam("WorkspaceRole", "workspaceroles",
              [{"jsonPath": ".metadata.labels.kubesphere\\.io/workspace", "name": "Workspace", "type": "string"},
               {"jsonPath": ".metadata.annotations.kubesphere\\.io/alias-name", "name": "Alias", "type": "string"}], {}))
    c.add(iam("WorkspaceRoleBinding", "workspacerolebindings",
              [{"jsonPath": ".metadata.labels.kubesphere\\.io/workspace", "name": "Workspace", "type": "string"}], {}))
    c.add(iam("Group", "groups", [{"jsonPath": ".metadata.labels.kubesphere\\.io/workspace", "name": "Workspace", "type": "string"}], {}))
    c.add(iam("GroupBinding", "groupbindings"))
    c.add(C("tenant.kubesphere.io", "WorkspaceTemplate", "workspacetemplates", "Cluster",
            [("v1alpha2", True, True)], categories=["tenant"]))
    c.add(C("tenant.kubesphere.io", "Workspace", "workspaces", "Cluster",
            [("v1alpha1", True, True)], categories=["tenant"]))


def crds_v4(c):
    C = k8s.crd
    c.add(C("installer.kubesphere.io", "ClusterConfiguration", "clusterconfigurations", "Namespaced",
            [("v1alpha1", True, True)], short=["cc"], annotations={}))
    c.add(C("cluster.kubesphere.io", "Cluster", "clusters", "Cluster", [("v1alpha1", True, True)],
            columns=[{"jsonPath": ".spec.provider", "name": "Provider", "type": "string"},
                     {"jsonPath": ".status.kubernetesVersion", "name": "Version", "type": "string"}],
            subresources={}))
    ext = lambda kind, plural, cols=None: C("kubesphere.io", kind, plural, "Cluster", [("v1alpha1", True, True)],
                                           categories=["extensions"], columns=cols, subresources={})
    state = [{"jsonPath": ".status.state", "name": "State", "type": "string"}]
    c.add(ext("InstallPlan", "installplans", state))
    c.add(ext("Extension", "extensions", state))
    c.add(ext("ExtensionVersion", "extensionversions"))
    c.add(ext("Repository", "repositories"))
    # v2 Gateway CRD, applied from the gateway extension chart by ks-upgrade's gateway job
    c.add(C("gateway.kubesphere.io", "Gateway", "gateways", "Namespaced", [("v2alpha1", True, True)],
            subresources={"status": {}}))
    # the Nginx CRD stays until the documented manual cleanup after all gateways are upgraded
    c.add(C("gateway.kubesphere.io", "Nginx", "nginxes", "Namespaced", [("v1alpha1", True, True)],
            subresources={"status": {}}, annotations={}))
    iam = lambda kind, plural, cols=None, sub=None: C(
        "iam.kubesphere.io", kind, plural, "Cluster", [("v1alpha2", True, False), ("v1beta1", True, True)],
        categories=["iam"], columns=cols, subresources=sub)
    c.add(iam("User", "users", [{"jsonPath": ".spec.email", "name": "Email", "type": "string"},
                                {"jsonPath": ".status.state", "name": "Status", "type": "string"}], {}))
    c.add(iam("GlobalRole", "globalroles"))
    c.add(iam("GlobalRoleBinding", "globalrolebindings"))
    c.add(iam("WorkspaceRole", "workspaceroles",
              [{"jsonPath": ".metadata.labels.kubesphere\\.io/workspace", "name": "Workspace", "type": "string"},
               {"jsonPath": ".metadata.annotations.kubesphere\\.io/alias-name", "name": "Alias", "type": "string"}], {}))
    c.add(iam("WorkspaceRoleBinding", "workspacerolebindings",
              [{"jsonPath": ".metadata.labels.kubesphere\\.io/workspace", "name": "Workspace", "type": "string"}], {}))
    c.add(C("tenant.kubesphere.io", "WorkspaceTemplate", "workspacetemplates", "Cluster",
            [("v1alpha2", True, False), ("v1beta1", True, True)], categories=["tenant"]))
    c.add(C("tenant.kubesphere.io", "Workspace", "workspaces", "Cluster",
            [("v1alpha1", True, False), ("v1beta1", True, True)], categories=["tenant"]))


# ------------------------------------------------------------------ namespaces

def namespaces_v3(c, role):
    sys_ns = ["kubesphere-system", "kubesphere-controls-system", "kubesphere-monitoring-system",
              "kubesphere-monitoring-federated", "kube-node-lease"]
    if role == "host":
        sys_ns.append("kube-federation-system")
    for ns in ["default", "kube-public", "kube-system"] + sys_ns:
        c.add(k8s.namespace(ns, labels={**SYSTEM_WS, "kubesphere.io/namespace": ns},
                            owner_refs=ws_owner()))
    # devops worker namespace: upgrade.sh backup always includes it; not labelled system-workspace
    c.add(k8s.namespace("kubesphere-devops-worker", labels={"kubesphere.io/namespace": "kubesphere-devops-worker"}))


def namespaces_v4(c):
    managed = {"kubesphere.io/managed": "true"}
    prot = {"kubesphere.io/protected-resource": "true"}
    patched = ["kubesphere-system", "kubesphere-controls-system", "default", "kube-node-lease",
               "kube-public", "kube-system"]
    for ns in ["default", "kube-public", "kube-system", "kubesphere-system", "kubesphere-controls-system",
               "kubesphere-monitoring-system", "kubesphere-monitoring-federated", "kube-node-lease",
               "kube-federation-system"]:
        lbl = {**SYSTEM_WS, "kubesphere.io/namespace": ns, **managed}
        if ns in patched:
            lbl.update(prot)
        c.add(k8s.namespace(ns, labels=lbl))
    c.add(k8s.namespace("kubesphere-devops-worker", labels={"kubesphere.io/namespace": "kubesphere-devops-worker"}))


# ------------------------------------------------------------------ KubeSphere 3.4 core

def kubesphere_config_v3(role, redis=True, host_name="host"):
    lines = [
        "authentication:",
        "  authenticateRateLimiterMaxTries: 10",
        "  authenticateRateLimiterDuration: 10m0s",
        "  loginHistoryRetentionPeriod: 168h",
        "  maximumClockSkew: 10s",
        "  multipleLogin: True",
        "  kubectlImage: kubesphere/kubectl:v1.22.0",
        '  jwtSecret: "Xk9bT2sPqL8vR4mN7cW1yZ3hJ6fD0aGe"',
        "  oauthOptions:",
    ]
    if role == "member":
        lines.append("    accessTokenMaxAge: 0")
    lines += ["    clients:", "    - name: kubesphere", "      secret: kubesphere", "      redirectURIs:", "      - '*'"]
    if redis:
        lines += ["cache:", "  type: redis", "  options:", "    host: redis.kubesphere-system.svc",
                  "    port: 6379", "    password: KUBESPHERE_CACHE_OPTIONS_PASSWORD", "    db: 0"]
    lines += ["network:", "  enableNetworkPolicy: true", "  ippoolType: none"]
    lines += ["multicluster:", f"  clusterRole: {role}"]
    if role == "member":
        lines.append("  enable: false")
    if role == "host":
        lines += ["  enable: true", "  agentImage: kubesphere/tower:v0.2.1",
                  "  proxyPublishService: tower.kubesphere-system.svc", f"  hostClusterName: {host_name}"]
    lines += ["monitoring:", "  endpoint: http://prometheus-operated.kubesphere-monitoring-system.svc:9090",
              "  enableGPUMonitoring: false",
              "gpu:", "  kinds:", "  - resourceName: nvidia.com/gpu", "    resourceType: GPU", "    default: True",
              "notification:", "  endpoint: http://notification-manager-svc.kubesphere-monitoring-system.svc:19093",
              "terminal:", "  image: alpine:3.14", "  timeout: 600",
              "gateway:", "  watchesPath: /var/helm-charts/watches.yaml",
              "  repository: kubesphere/nginx-ingress-controller", "  tag: v1.3.1",
              "  namespace: kubesphere-controls-system"]
    return "\n".join(lines) + "\n"


def cc_v3(role, etcd_ips="localhost", t_installed="2024-03-18T07:21:09UTC", network_policy=True,
          extra_status=None, version="v3.4.1"):
    status = {
        "clusterId": k8s.fake_uid("clusterId-" + role + etcd_ips)[:8] + "-" + version,
        "core": {"enabledTime": t_installed, "status": "enabled", "version": version},
        "redis": {"enabledTime": t_installed.replace("07:21", "07:14"), "status": "enabled"},
        "monitoring": {"enabledTime": t_installed.replace("07:21", "07:19"), "status": "enabled"},
    }
    if role == "host":
        status["multicluster"] = {"enabledTime": t_installed.replace("07:21", "07:20"), "status": "enabled"}
    status.update(extra_status or {})
    return {
        "apiVersion": "installer.kubesphere.io/v1alpha1", "kind": "ClusterConfiguration",
        "metadata": {"name": "ks-installer", "namespace": "kubesphere-system", "labels": {"version": version}},
        "spec": {
            "persistence": {"storageClass": ""},
            "authentication": {"jwtSecret": ""},
            "local_registry": "",
            "etcd": {"monitoring": False, "endpointIps": etcd_ips, "port": 2379, "tlsEnable": True},
            "common": {
                "core": {"console": {"enableMultiLogin": True, "port": 30880, "type": "NodePort"}},
                "redis": {"enabled": True, "enableHA": False, "volumeSize": "2Gi"},
                "openldap": {"enabled": False, "volumeSize": "2Gi"},
                "minio": {"volumeSize": "20Gi"},
                "monitoring": {"endpoint": "http://prometheus-operated.kubesphere-monitoring-system.svc:9090",
                               "GPUMonitoring": {"enabled": False}},
                "gpu": {"kinds": [{"resourceName": "nvidia.com/gpu", "resourceType": "GPU", "default": True}]},
                "es": {"enabled": False, "logMaxAge": 7, "elkPrefix": "logstash",
                       "basicAuth": {"enabled": False, "username": "", "password": ""},
                       "externalElasticsearchHost": "", "externalElasticsearchPort": ""},
                "opensearch": {"enabled": False, "logMaxAge": 7, "opensearchPrefix": "whizard",
                               "basicAuth": {"enabled": True, "username": "admin", "password": "admin"},
                               "externalOpensearchHost": "", "externalOpensearchPort": "",
                               "dashboard": {"enabled": False}},
            },
            "alerting": {"enabled": False},
            "auditing": {"enabled": False},
            "devops": {"enabled": False, "jenkinsCpuReq": 0.5, "jenkinsCpuLim": 1, "jenkinsMemoryReq": "4Gi",
                       "jenkinsMemoryLim": "4Gi", "jenkinsVolumeSize": "16Gi"},
            "events": {"enabled": False, "ruler": {"enabled": True, "replicas": 2}},
            "logging": {"enabled": False, "logsidecar": {"enabled": True, "replicas": 2}},
            "metrics_server": {"enabled": False},
            "monitoring": {"storageClass": "", "node_exporter": {"port": 9100},
                           "gpu": {"nvidia_dcgm_exporter": {"enabled": False}}},
            "multicluster": {"clusterRole": role},
            "network": {"networkpolicy": {"enabled": network_policy}, "ippool": {"type": "none"},
                        "topology": {"type": "none"}},
            "openpitrix": {"store": {"enabled": False}},
            "servicemesh": {"enabled": False, "istio": {"components": {
                "ingressGateways": [{"name": "istio-ingressgateway", "enabled": False}], "cni": {"enabled": False}}}},
            "edgeruntime": {"enabled": False, "kubeedge": {"enabled": False}},
            "gatekeeper": {"enabled": False},
            "terminal": {"timeout": 600},
        },
        "status": status,
    }


def ks_core_deployments_v3(c, version="v3.4.1", cm_pod_states=None, console_pod_states=None,
                           console_image=None):
    """ks-apiserver / ks-console / ks-controller-manager as the ks-core 0.1.0 chart renders them."""
    rel = ("ks-core", "kubesphere-system")
    nodes = c.cps()
    tol = [{"effect": "NoSchedule", "key": "node-role.kubernetes.io/master"},
           {"key": "CriticalAddonsOnly", "operator": "Exists"},
           {"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists", "tolerationSeconds": 60},
           {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "operator": "Exists", "tolerationSeconds": 60}]
    env = [{"name": "KUBESPHERE_CACHE_OPTIONS_PASSWORD",
            "valueFrom": {"secretKeyRef": {"name": "redis-secret", "key": "auth"}}}]
    common = dict(replicas=1, nodes=nodes, sa="kubesphere", tolerations=tol, helm=rel,
                  strategy={"rollingUpdate": {"maxSurge": 0, "maxUnavailable": "25%"}, "type": "RollingUpdate"})
    deps = []
    deps.append(c.deploy("ks-apiserver", "kubesphere-system",
                         [ctr("ks-apiserver", f"kubesphere/ks-apiserver:{version}", command=["ks-apiserver", "--logtostderr=true"],
                              ports=[{"containerPort": 9090, "protocol": "TCP"}], env=env,
                              resources={"limits": {"cpu": "1", "memory": "1024Mi"}, "requests": {"cpu": "20m", "memory": "100Mi"}},
                              probes={"livenessProbe": {"failureThreshold": 8, "httpGet": {"path": "/healthz", "port": 9090, "scheme": "HTTP"},
                                                        "initialDelaySeconds": 15, "periodSeconds": 10, "successThreshold": 1, "timeoutSeconds": 15}},
                              mounts=[{"mountPath": "/etc/kubesphere/ingress-controller", "name": "ks-router-config"},
                                      {"mountPath": "/etc/kubesphere/", "name": "kubesphere-config"},
                                      {"mountPath": "/etc/localtime", "name": "host-time", "readOnly": True}])],
                         labels={"app": "ks-apiserver", "tier": "backend", "version": "v3.3.2"},
                         selector={"app": "ks-apiserver", "tier": "backend"},
                         volumes=[{"name": "ks-router-config", "configMap": {"name": "ks-router-config", "defaultMode": 420}},
                                  {"name": "kubesphere-config", "configMap": {"name": "kubesphere-config", "defaultMode": 420}},
                                  {"name": "host-time", "hostPath": {"path": "/etc/localtime", "type": ""}}],
                         **common))
    deps.append(c.deploy("ks-console", "kubesphere-system",
                         [ctr("ks-console", console_image or f"kubesphere/ks-console:{version}",
                              ports=[{"containerPort": 8000, "protocol": "TCP"}],
                              resources={"limits": {"cpu": "1", "memory": "1024Mi"}, "requests": {"cpu": "20m", "memory": "100Mi"}},
                              probes={"livenessProbe": {"failureThreshold": 3, "periodSeconds": 10, "successThreshold": 1,
                                                        "tcpSocket": {"port": 8000}, "initialDelaySeconds": 15, "timeoutSeconds": 15}},
                              mounts=[{"mountPath": "/opt/kubesphere/console/server/local_config.yaml", "name": "ks-console-config",
                                       "subPath": "local_config.yaml"}])],
                         labels={"app": "ks-console", "tier": "frontend", "version": "v3.3.2"},
                         selector={"app": "ks-console", "tier": "frontend"},
                         volumes=[{"name": "ks-console-config", "configMap": {"name": "ks-console-config", "defaultMode": 420,
                                                                              "items": [{"key": "local_config.yaml", "path": "local_config.yaml"}]}}],
                         pod_states=console_pod_states, **common))
    deps.append(c.deploy("ks-controller-manager", "kubesphere-system",
                         [ctr("ks-controller-manager", f"kubesphere/ks-controller-manager:{version}",
                              command=["controller-manager", "--logtostderr=true", "--leader-elect=true", "--controllers=*"],
                              ports=[{"containerPort": 8080, "protocol": "TCP"}, {"containerPort": 8443, "protocol": "TCP"}],
                              env=env,
                              resources={"limits": {"cpu": "1", "memory": "1000Mi"}, "requests": {"cpu": "30m", "memory": "50Mi"}},
                              mounts=[{"mountPath": "/etc/kubesphere/", "name": "kubesphere-config"},
                                      {"mountPath": "/tmp/k8s-webhook-server/serving-certs", "name": "webhook-secret"}])],
                         labels={"app": "ks-controller-manager", "tier": "backend", "version": "v3.3.2"},
                         selector={"app": "ks-controller-manager", "tier": "backend"},
                         volumes=[{"name": "kubesphere-config", "configMap": {"name": "kubesphere-config", "defaultMode": 420}},
                                  {"name": "webhook-secret", "secret": {"secretName": "ks-controller-manager-webhook-cert", "defaultMode": 420}}],
                         pod_states=cm_pod_states, **common))
    hl = {"app.kubernetes.io/managed-by": "Helm"}
    ha = {"meta.helm.sh/release-name": "ks-core", "meta.helm.sh/release-namespace": "kubesphere-system"}
    c.svc("ks-apiserver", "kubesphere-system", [{"port": 80, "protocol": "TCP", "targetPort": 9090}],
          {"app": "ks-apiserver", "tier": "backend"}, labels={"app": "ks-apiserver", "tier": "backend", "version": "v3.3.2", **hl},
          annotations=ha, cluster_ip="10.233.12.76")
    c.svc("ks-console", "kubesphere-system", [{"name": "nginx", "nodePort": 30880, "port": 80, "protocol": "TCP", "targetPort": 8000}],
          {"app": "ks-console", "tier": "frontend"}, labels={"app": "ks-console", "tier": "frontend", "version": "v3.3.2", **hl},
          annotations=ha, stype="NodePort", cluster_ip="10.233.40.225")
    c.svc("ks-controller-manager", "kubesphere-system", [{"port": 443, "protocol": "TCP", "targetPort": 8443}],
          {"app": "ks-controller-manager", "tier": "backend"},
          labels={"app": "ks-controller-manager", "tier": "backend", "version": "v3.3.2", **hl},
          annotations=ha, cluster_ip="10.233.31.18")
    return deps


# The last lines of an idle ks-installer's log (roles/check-result), without the default
# account lines. kubesim serves a pod's `kubesim.dev/log` annotation as its log; pre-check.sh
# and `kubectl ks-migrate` look for "Welcome to KubeSphere!" in the last 20 lines.
IDLE_INSTALLER_LOG = """TASK [ks-core/prepare : KubeSphere | Init KubeSphere] *****************************
changed: [localhost]
PLAY RECAP *********************************************************************
localhost                  : ok=31   changed=25   unreachable=0    failed=0    skipped=17   rescued=0    ignored=0
Start installing monitoring
Start installing multicluster
**************************************************
Waiting for all tasks to be completed ...
task multicluster status is successful  (1/2)
task monitoring status is successful  (2/2)
**************************************************
Collecting installation results ...
#####################################################
###              Welcome to KubeSphere!           ###
#####################################################

Console: http://192.168.0.11:30880

#####################################################
https://kubesphere.io             2024-06-12 08:14:31
#####################################################
"""


def ks_installer_v3(c, version="v3.4.1", log=IDLE_INSTALLER_LOG):
    return c.deploy("ks-installer", "kubesphere-system",
                    [ctr("installer", f"kubesphere/ks-installer:{version}", pull="Always",
                         resources={"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "20m", "memory": "100Mi"}},
                         mounts=[{"mountPath": "/etc/localtime", "name": "host-time", "readOnly": True}])],
                    labels={"app": "ks-installer"}, selector={"app": "ks-installer"}, sa="ks-installer",
                    volumes=[{"name": "host-time", "hostPath": {"path": "/etc/localtime", "type": ""}}],
                    pod_states=[{"annotations": {"kubesim.dev/log": log}}])


def redis_v3(c):
    """Plain (non-Helm) redis from ks-installer roles/common/templates/redis.yaml.j2 (enableHA=false)."""
    local_pv(c, "redis-pvc", "kubesphere-system", "2Gi", c.placeable()[0])
    c.add(k8s.configmap("redis-configmap", "kubesphere-system",
                        {"redis.conf": "requirepass REDIS_PASSWORD\nmasterauth REDIS_PASSWORD\nappendonly yes\n"},
                        labels={"app": "redis"}))
    c.add({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "redis-secret", "namespace": "kubesphere-system"},
           "type": "Opaque", "data": {"auth": b64("kXqVbRtLmNpWsYz")}})
    c.deploy("redis", "kubesphere-system",
             [ctr("redis", "redis:5.0.14-alpine", args=["/data/redis.conf"], ports=[{"containerPort": 6379, "protocol": "TCP"}],
                  resources={"limits": {"cpu": "1", "memory": "1000Mi"}, "requests": {"cpu": "20m", "memory": "100Mi"}},
                  mounts=[{"mountPath": "/data", "name": "redis-pvc", "subPath": "redis-data"}])],
             labels={"app": "redis", "tier": "database", "version": "redis-4.0"},
             selector={"app": "redis", "tier": "database"},
             pod_labels={"app": "redis", "tier": "database", "version": "redis-4.0"},
             nodes=c.placeable()[:1],
             volumes=[{"name": "redis-pvc", "persistentVolumeClaim": {"claimName": "redis-pvc"}},
                      {"name": "redis-config", "configMap": {"name": "redis-configmap", "defaultMode": 420}}])
    c.svc("redis", "kubesphere-system", [{"name": "redis", "port": 6379, "protocol": "TCP", "targetPort": 6379}],
          {"app": "redis", "tier": "database"}, labels={"app": "redis", "tier": "database", "version": "redis-4.0"},
          cluster_ip="10.233.50.3")


def webhooks_v3(c):
    ca = b64("-----BEGIN CERTIFICATE-----\nMIIC+ks-controller-manager-ca\n-----END CERTIFICATE-----\n")
    hl = {"app.kubernetes.io/managed-by": "Helm"}
    ha = {"meta.helm.sh/release-name": "ks-core", "meta.helm.sh/release-namespace": "kubesphere-system"}
    specs = [("users.iam.kubesphere.io", "users.iam.kubesphere.io", "/validate-email-iam-kubesphere-io-v1alpha2",
              "iam.kubesphere.io", "v1alpha2", ["CREATE", "UPDATE"], "users"),
             ("network.kubesphere.io", "validating-network.kubesphere.io", "/validate-network-kubesphere-io-v1alpha1",
              "network.kubesphere.io", "v1alpha1", ["CREATE", "UPDATE", "DELETE"], "ippools"),
             ("cluster.kubesphere.io", "validating-cluster.kubesphere.io", "/validate-cluster-kubesphere-io-v1alpha1",
              "cluster.kubesphere.io", "v1alpha1", ["UPDATE"], "clusters"),
             ("resourcesquotas.quota.kubesphere.io", "resourcesquotas.quota.kubesphere.io", "/validate-quota-kubesphere-io-v1alpha2",
              "*", "*", ["CREATE"], "pods")]
    for name, wname, path, grp, ver, ops, res in specs:
        c.add({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
               "metadata": {"name": name, "labels": hl, "annotations": ha},
               "webhooks": [{"admissionReviewVersions": ["v1beta1"],
                             "clientConfig": {"caBundle": ca, "service": {"name": "ks-controller-manager",
                                                                         "namespace": "kubesphere-system",
                                                                         "path": path, "port": 443}},
                             "failurePolicy": "Ignore" if res == "pods" else "Fail", "matchPolicy": "Exact", "name": wname,
                             "namespaceSelector": {"matchExpressions": [{"key": "control-plane", "operator": "DoesNotExist"}]},
                             "objectSelector": {},
                             "rules": [{"apiGroups": [grp], "apiVersions": [ver], "operations": ops,
                                        "resources": [res], "scope": "*"}],
                             "sideEffects": "None", "timeoutSeconds": 30}]})


def manifest_of(objs_with_sources):
    parts = []
    for src, o in objs_with_sources:
        o = k8s.strip_status(o)
        md = o["metadata"]
        md.get("labels", {}).pop("app.kubernetes.io/managed-by", None)
        for k in ("meta.helm.sh/release-name", "meta.helm.sh/release-namespace"):
            md.get("annotations", {}).pop(k, None)
        if md.get("annotations") == {}:
            md.pop("annotations")
        if md.get("labels") == {}:
            md.pop("labels")
        parts.append(f"---\n# Source: {src}\n" + yamlout.dump(o))
    return "".join(parts)


def helm_history(c, name, ns, revisions, manifest, chart, times, created_last=False, configs=None,
                 descriptions=None):
    """revisions: list of (status, chart_version, app_version[, manifest]) oldest first;
    times: list of (iso, unix) per revision."""
    first = times[0][0]
    for i, rev in enumerate(revisions):
        status, cv, av = rev[:3]
        man = rev[3] if len(rev) > 3 else manifest
        r = release(name, ns, i + 1, status, chart, cv, av, man, first, times[i][0],
                    config=(configs or {}).get(i + 1), description=(descriptions or {}).get(i + 1))
        is_last = i == len(revisions) - 1
        c.add(release_secret(r, times[i][1], created=is_last and created_last))


def gateway_v3(c, gw_ns, t, workspace=None, node_port=None, replicas=1, release_statuses=None,
               nginx_image="kubesphere/nginx-ingress-controller:v1.3.1", create_cr=True, pod_nodes=None):
    """A v3.4 gateway: Gateway CR -> release kubesphere-router-<ns> (chart gateway 0.1.0) -> Nginx CR
    kubesphere-router-<ns>-ingress -> release kubesphere-router-<ns>-ingress (chart ingress-nginx 4.2.5)
    -> Deployment/Service kubesphere-router-<ns> in kubesphere-controls-system."""
    name = f"kubesphere-router-{gw_ns}"
    ns = "kubesphere-controls-system"
    gtype = "cluster" if gw_ns == "kubesphere-system" else "workspace"
    http_np, https_np = node_port or (31080, 31443)
    spec = {"controller": {"replicas": replicas, "annotations": {}, "config": {"worker-processes": "4"},
                           "scope": {"enabled": gtype != "cluster", "namespace": "" if gtype == "cluster" else gw_ns},
                           "image": {"repository": "kubesphere/nginx-ingress-controller", "tag": "v1.3.1"}},
            "deployment": {"annotations": {"servicemesh.kubesphere.io/enabled": "false"}, "replicas": replicas},
            "service": {"annotations": {}, "type": "NodePort"}}
    labels = {"kubesphere.io/gateway-type": gtype}
    if workspace:
        labels["kubesphere.io/workspace"] = workspace
    if create_cr:
        c.add({"apiVersion": "gateway.kubesphere.io/v1alpha1", "kind": "Gateway",
               "metadata": {"name": name, "namespace": ns, "labels": labels,
                            "annotations": {"kubesphere.io/annotations": "", "kubesphere.io/creator": "admin"},
                            "finalizers": ["uninstall-helm-release"]},
               "spec": spec,
               "status": {"conditions": [{"type": "Initialized", "status": "True", "lastTransitionTime": t},
                                         {"type": "Deployed", "status": "True", "reason": "InstallSuccessful",
                                          "message": f"1. Get the application URL by running these commands:",
                                          "lastTransitionTime": t}],
                          "deployedRelease": {"name": name, "manifest": ""},
                          "loadBalancer": {}}})
    nginx_spec = {"fullnameOverride": name,
                  "controller": {"name": "", "image": spec["controller"]["image"], "watchIngressWithoutClass": True,
                                 "publishService": {"enabled": False}, "electionID": f"ingress-controller-leader-{name}",
                                 "ingressClass": "nginx", "ingressClassResource": {"enabled": False, "default": False},
                                 "kind": "Deployment", "replicaCount": replicas, "minAvailable": 1,
                                 "resources": {"requests": {"cpu": "100m", "memory": "90Mi"}},
                                 "service": {"enabled": True, "type": "NodePort",
                                             "nodePorts": {"http": "", "https": "", "tcp": {}, "udp": {}}},
                                 "admissionWebhooks": {"enabled": False},
                                 "metrics": {"port": 10254, "enabled": True, "serviceMonitor": {"enabled": True}}}}
    if gtype != "cluster":
        nginx_spec["controller"]["scope"] = {"enabled": True, "namespace": gw_ns}
    nginx = {"apiVersion": "gateway.kubesphere.io/v1alpha1", "kind": "Nginx",
             "metadata": {"name": f"{name}-ingress", "namespace": ns,
                          "labels": {"app.kubernetes.io/managed-by": "Helm"},
                          "annotations": {"meta.helm.sh/release-name": name, "meta.helm.sh/release-namespace": ns},
                          "finalizers": ["uninstall-helm-release"]},
             "spec": nginx_spec,
             "status": {"conditions": [{"type": "Initialized", "status": "True", "lastTransitionTime": t},
                                       {"type": "Deployed", "status": "True", "reason": "InstallSuccessful",
                                        "lastTransitionTime": t}],
                        "deployedRelease": {"name": f"{name}-ingress", "manifest": ""}}}
    c.add(nginx)
    inst = f"{name}-ingress"
    sel = {"app.kubernetes.io/component": "controller", "app.kubernetes.io/instance": inst,
           "app.kubernetes.io/name": "ingress-nginx"}
    lbl = {**sel, "app.kubernetes.io/part-of": "ingress-nginx", "app.kubernetes.io/version": "1.3.1",
           "helm.sh/chart": "ingress-nginx-4.2.5"}
    args = ["/nginx-ingress-controller", f"--publish-service=$(POD_NAMESPACE)/{name}",
            f"--election-id=ingress-controller-leader-{name}", "--controller-class=k8s.io/ingress-nginx",
            "--ingress-class=nginx", f"--configmap=$(POD_NAMESPACE)/{name}", "--watch-ingress-without-class=true"]
    if gtype != "cluster":
        args.append(f"--watch-namespace={gw_ns}")
    cont = ctr("controller", nginx_image, args=args,
               env=[{"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
                    {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}},
                    {"name": "LD_PRELOAD", "value": "/usr/local/lib/libmimalloc.so"}],
               ports=[{"containerPort": 80, "name": "http", "protocol": "TCP"},
                      {"containerPort": 443, "name": "https", "protocol": "TCP"},
                      {"containerPort": 10254, "name": "metrics", "protocol": "TCP"}],
               resources={"requests": {"cpu": "100m", "memory": "90Mi"}},
               probes={"readinessProbe": {"failureThreshold": 3, "httpGet": {"path": "/healthz", "port": 10254, "scheme": "HTTP"},
                                          "initialDelaySeconds": 10, "periodSeconds": 10, "successThreshold": 1, "timeoutSeconds": 1},
                       "livenessProbe": {"failureThreshold": 5, "httpGet": {"path": "/healthz", "port": 10254, "scheme": "HTTP"},
                                         "initialDelaySeconds": 10, "periodSeconds": 10, "successThreshold": 1, "timeoutSeconds": 1}})
    dep = c.deploy(name, ns, [cont], replicas=replicas, labels=lbl, selector=sel, pod_labels=sel,
                   sa=name, helm=(inst, ns), nodes=pod_nodes, t=t,
                   template_annotations={"sidecar.istio.io/inject": "false"})
    svc = c.svc(name, ns, [{"appProtocol": "http", "name": "http", "nodePort": http_np, "port": 80, "protocol": "TCP", "targetPort": "http"},
                           {"appProtocol": "https", "name": "https", "nodePort": https_np, "port": 443, "protocol": "TCP", "targetPort": "https"}],
                sel, labels={**lbl, "app.kubernetes.io/managed-by": "Helm"},
                annotations={"meta.helm.sh/release-name": inst, "meta.helm.sh/release-namespace": ns},
                stype="NodePort", cluster_ip=f"10.233.{20 + len(name) % 30}.{100 + http_np % 100}")
    msvc = c.svc(f"{name}-metrics", ns, [{"name": "metrics", "port": 10254, "protocol": "TCP", "targetPort": "metrics"}],
                 sel, labels={**lbl, "app.kubernetes.io/managed-by": "Helm"},
                 annotations={"meta.helm.sh/release-name": inst, "meta.helm.sh/release-namespace": ns},
                 cluster_ip=f"10.233.{21 + len(name) % 30}.{100 + http_np % 100}")
    cm = k8s.configmap(name, ns, {"allow-snippet-annotations": "true", "worker-processes": "4"},
                       labels={**lbl, "app.kubernetes.io/managed-by": "Helm"},
                       annotations={"meta.helm.sh/release-name": inst, "meta.helm.sh/release-namespace": ns})
    c.add(cm)
    return name, nginx, dep, svc, msvc, cm


def gateway_releases(c, name, nginx, dep, svc, msvc, cm, times, outer_statuses=("deployed",),
                     inner_statuses=("deployed",), inner_manifest_override=None):
    ns = "kubesphere-controls-system"
    outer_manifest = manifest_of([("gateway/templates/nginx-ingress.yaml", nginx)])
    helm_history(c, name, ns, [(s, "0.1.0", "1.16.0") for s in outer_statuses], outer_manifest, "gateway",
                 times[:len(outer_statuses)])
    inner_manifest = inner_manifest_override or manifest_of([
        ("ingress-nginx/templates/controller-configmap.yaml", cm),
        ("ingress-nginx/templates/controller-service.yaml", svc),
        ("ingress-nginx/templates/controller-service-metrics.yaml", msvc),
        ("ingress-nginx/templates/controller-deployment.yaml", dep)])
    helm_history(c, f"{name}-ingress", ns, [(s, "4.2.5", "1.3.1") for s in inner_statuses], inner_manifest,
                 "ingress-nginx", times[:len(inner_statuses)])


def ks_core_release_manifest(c):
    objs = []
    for o in c.objs:
        md = o["metadata"]
        if md.get("annotations", {}).get("meta.helm.sh/release-name") == "ks-core" and o["kind"] in ("Deployment", "Service"):
            src = {"ks-apiserver": "ks-core/templates/ks-apiserver.yml", "ks-console": "ks-core/templates/ks-console.yml",
                   "ks-controller-manager": "ks-core/templates/ks-controller-manager.yaml"}[md["name"]]
            objs.append((src, o))
    for o in c.cluster_scoped:
        if o["kind"] == "ValidatingWebhookConfiguration" and o["metadata"].get("annotations", {}).get("meta.helm.sh/release-name") == "ks-core":
            objs.append(("ks-core/templates/webhook.yaml", o))
    objs.sort(key=lambda x: (x[0], x[1]["kind"]))
    return manifest_of(objs)


def monitoring_v3(c):
    ns = "kubesphere-monitoring-system"
    c.deploy("prometheus-operator", ns,
             [ctr("prometheus-operator", "kubesphere/prometheus-operator:v0.55.1",
                  args=["--kubelet-service=kube-system/kubelet", "--prometheus-config-reloader=kubesphere/prometheus-config-reloader:v0.55.1"],
                  ports=[{"containerPort": 8080, "name": "http", "protocol": "TCP"}])],
             labels={"app.kubernetes.io/component": "controller", "app.kubernetes.io/name": "prometheus-operator",
                     "app.kubernetes.io/part-of": "kube-prometheus", "app.kubernetes.io/version": "0.55.1"},
             selector={"app.kubernetes.io/component": "controller", "app.kubernetes.io/name": "prometheus-operator",
                       "app.kubernetes.io/part-of": "kube-prometheus"}, sa="prometheus-operator")
    c.deploy("kube-state-metrics", ns,
             [ctr("kube-state-metrics", "kubesphere/kube-state-metrics:v2.6.0",
                  args=["--host=127.0.0.1", "--port=8081", "--telemetry-host=127.0.0.1", "--telemetry-port=8082"])],
             labels={"app.kubernetes.io/component": "exporter", "app.kubernetes.io/name": "kube-state-metrics",
                     "app.kubernetes.io/part-of": "kube-prometheus", "app.kubernetes.io/version": "2.6.0"},
             selector={"app.kubernetes.io/component": "exporter", "app.kubernetes.io/name": "kube-state-metrics",
                       "app.kubernetes.io/part-of": "kube-prometheus"}, sa="kube-state-metrics")
    c.statefulset("prometheus-k8s", ns,
                  [ctr("prometheus", "prom/prometheus:v2.39.1",
                       args=["--web.console.templates=/etc/prometheus/consoles", "--storage.tsdb.retention.time=7d",
                             "--config.file=/etc/prometheus/config_out/prometheus.env.yaml"],
                       ports=[{"containerPort": 9090, "name": "web", "protocol": "TCP"}])],
                  1, "prometheus-operated",
                  labels={"app.kubernetes.io/component": "prometheus", "app.kubernetes.io/instance": "k8s",
                          "app.kubernetes.io/name": "prometheus", "app.kubernetes.io/part-of": "kube-prometheus",
                          "app.kubernetes.io/version": "2.39.1", "prometheus": "k8s"},
                  selector={"app.kubernetes.io/instance": "k8s", "app.kubernetes.io/managed-by": "prometheus-operator",
                            "app.kubernetes.io/name": "prometheus", "operator.prometheus.io/name": "k8s",
                            "operator.prometheus.io/shard": "0", "prometheus": "k8s"},
                  sa="prometheus-k8s")
    c.svc("prometheus-operated", ns, [{"name": "web", "port": 9090, "protocol": "TCP", "targetPort": "web"}],
          {"app.kubernetes.io/name": "prometheus"}, labels={"operated-prometheus": "true"}, headless=True)


# ------------------------------------------------------------------ IAM (3.x)

def iam_v3(c, host=True):
    V = "iam.kubesphere.io/v1alpha2"
    bcrypt = "$2a$10$zcHepmzfKPoxCVCYZr5K7ORPZZ/ySe9p/7IUb/8u./xHrnSX2LOCO"

    def user(name, email, grole, t_login):
        return {"apiVersion": V, "kind": "User",
                "metadata": {"name": name, "annotations": {"iam.kubesphere.io/globalrole": grole,
                                                           "iam.kubesphere.io/password-encrypted": "true",
                                                           "kubesphere.io/creator": "admin"},
                             "finalizers": ["finalizers.kubesphere.io/users"]},
                "spec": {"email": email, "lang": "en", "password": bcrypt},
                "status": {"lastLoginTime": t_login, "lastTransitionTime": c.t0, "state": "Active"}}

    admin = user("admin", "admin@kubesphere.io", "platform-admin", "2024-06-02T09:41:07Z")
    admin["metadata"]["annotations"]["helm.sh/resource-policy"] = "keep"
    admin["metadata"]["labels"] = {"app.kubernetes.io/managed-by": "Helm"}
    admin["metadata"]["annotations"].update({"meta.helm.sh/release-name": "ks-core",
                                             "meta.helm.sh/release-namespace": "kubesphere-system"})
    c.add(admin)
    if not host:
        return
    c.add(user("dev-lead", "dev-lead@example.com", "ops-custom", "2024-06-01T15:02:44Z"))

    def templ(name, alias, rules, module):
        return {"apiVersion": V, "kind": "GlobalRole",
                "metadata": {"name": name, "labels": {"iam.kubesphere.io/role-template": "true"},
                             "annotations": {"iam.kubesphere.io/module": module,
                                             "iam.kubesphere.io/role-template-rules": json.dumps(rules),
                                             "kubesphere.io/alias-name": alias}},
                "rules": [{"apiGroups": ["*"], "resources": ["users", "users/loginrecords"], "verbs": ["*"]}]
                if "users" in name else [{"apiGroups": ["*"], "resources": ["clusters"], "verbs": ["get", "list", "watch"]}]}

    c.add(templ("role-template-manage-users", "Users Management", {"users": "manage"}, "Access Control"))
    c.add(templ("role-template-view-users", "Users View", {"users": "view"}, "Access Control"))
    c.add(templ("role-template-view-clusters", "Clusters View", {"clusters": "view"}, "Clusters Management"))
    c.add(templ("role-template-manage-clusters", "Clusters Management", {"clusters": "manage"}, "Clusters Management"))
    for name, desc in [("platform-admin", "Platform administrator"),
                       ("platform-regular", "Regular user"),
                       ("platform-self-provisioner", "Can create workspaces")]:
        c.add({"apiVersion": V, "kind": "GlobalRole",
               "metadata": {"name": name, "annotations": {"kubesphere.io/creator": "admin",
                                                          "kubesphere.io/description": desc}},
               "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}] if name == "platform-admin" else
               [{"apiGroups": ["tenant.kubesphere.io"], "resources": ["workspaces"], "verbs": ["get", "list", "watch"]}]})
    c.add({"apiVersion": V, "kind": "GlobalRole",
           "metadata": {"name": "ops-custom",
                        "annotations": {"iam.kubesphere.io/aggregation-roles": '["role-template-manage-users","role-template-view-clusters"]',
                                        "kubesphere.io/creator": "admin",
                                        "kubesphere.io/description": "Operations team: manage users, view clusters"}},
           "aggregationRoleTemplates": {"templateNames": ["role-template-manage-users", "role-template-view-clusters"]},
           "rules": [{"apiGroups": ["*"], "resources": ["users", "users/loginrecords"], "verbs": ["*"]},
                     {"apiGroups": ["*"], "resources": ["clusters"], "verbs": ["get", "list", "watch"]}]})
    for user_name, role in [("admin", "platform-admin"), ("dev-lead", "ops-custom")]:
        c.add({"apiVersion": V, "kind": "GlobalRoleBinding",
               "metadata": {"name": f"{user_name}", "labels": {"iam.kubesphere.io/user-ref": user_name}},
               "roleRef": {"apiGroup": "iam.kubesphere.io", "kind": "GlobalRole", "name": role},
               "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user_name}]})


def workspaces_v3(c, role):
    c.add({"apiVersion": "tenant.kubesphere.io/v1alpha2", "kind": "WorkspaceTemplate",
           "metadata": {"name": "system-workspace", "labels": {"kubefed.io/managed": "false"},
                        "annotations": {"kubesphere.io/creator": "admin",
                                        "kubesphere.io/description": "system-workspace is a built-in workspace automatically created by KubeSphere. It contains all system components to run KubeSphere."}},
           "spec": {"placement": {"clusterSelector": {}},
                    "template": {"metadata": {}, "spec": {"manager": "admin", "networkIsolation": False}}}})
    c.add({"apiVersion": "tenant.kubesphere.io/v1alpha1", "kind": "Workspace",
           "metadata": {"name": "system-workspace", "labels": {"kubefed.io/managed": "false"},
                        "annotations": {"kubesphere.io/creator": "admin"},
                        "ownerReferences": [k8s.owner("tenant.kubesphere.io/v1alpha2", "WorkspaceTemplate", "system-workspace")]},
           "spec": {"manager": "admin", "networkIsolation": False}})
    if role != "host":
        return
    c.add({"apiVersion": "tenant.kubesphere.io/v1alpha2", "kind": "WorkspaceTemplate",
           "metadata": {"name": "demo", "labels": {"kubefed.io/managed": "false"},
                        "annotations": {"kubesphere.io/creator": "admin", "kubesphere.io/alias-name": "Demo"},
                        "finalizers": ["finalizers.tenant.kubesphere.io"]},
           "spec": {"placement": {"clusters": [{"name": "host"}, {"name": "member-a"}]},
                    "template": {"metadata": {"labels": {"kubefed.io/managed": "false"}},
                                 "spec": {"manager": "dev-lead", "networkIsolation": True}}}})
    c.add({"apiVersion": "tenant.kubesphere.io/v1alpha1", "kind": "Workspace",
           "metadata": {"name": "demo", "labels": {"kubefed.io/managed": "false"},
                        "annotations": {"kubesphere.io/creator": "admin"},
                        "finalizers": ["finalizers.tenant.kubesphere.io"],
                        "ownerReferences": [k8s.owner("tenant.kubesphere.io/v1alpha2", "WorkspaceTemplate", "demo")]},
           "spec": {"manager": "dev-lead", "networkIsolation": True}})
    V = "iam.kubesphere.io/v1alpha2"
    for suffix in ["admin", "regular", "self-provisioner", "viewer"]:
        c.add({"apiVersion": V, "kind": "WorkspaceRole",
               "metadata": {"name": f"demo-{suffix}", "labels": {"kubesphere.io/workspace": "demo"},
                            "annotations": {"kubesphere.io/creator": "system"}},
               "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*" if suffix == "admin" else "get"]}]})
    c.add({"apiVersion": V, "kind": "WorkspaceRole",
           "metadata": {"name": "demo-release-manager", "labels": {"kubesphere.io/workspace": "demo"},
                        "annotations": {"iam.kubesphere.io/aggregation-roles": '["role-template-view-projects","role-template-manage-members"]',
                                        "kubesphere.io/creator": "dev-lead"}},
           "rules": [{"apiGroups": ["*"], "resources": ["namespaces", "members", "workspacemembers"], "verbs": ["*"]}]})
    for user_name, role_name in [("dev-lead", "demo-admin"), ("dev-lead", "demo-release-manager")]:
        c.add({"apiVersion": V, "kind": "WorkspaceRoleBinding",
               "metadata": {"name": f"{user_name}-{role_name}",
                            "labels": {"iam.kubesphere.io/user-ref": user_name, "kubesphere.io/workspace": "demo"}},
               "roleRef": {"apiGroup": "iam.kubesphere.io", "kind": "WorkspaceRole", "name": role_name},
               "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user_name}]})


def demo_project(c, v4=False):
    ns = "demo-project"
    lbl = {"kubesphere.io/workspace": "demo", "kubesphere.io/namespace": ns}
    if v4:
        lbl["kubesphere.io/managed"] = "true"
    c.add(k8s.namespace(ns, labels=lbl, annotations={"kubesphere.io/creator": "dev-lead"},
                        owner_refs=None if v4 else ws_owner("demo")))
    for rname, agg in [("admin", '["role-template-manage-app-workloads","role-template-manage-members"]'),
                       ("operator", '["role-template-manage-app-workloads"]'),
                       ("viewer", '["role-template-view-app-workloads"]'),
                       ("deployer", '["role-template-view-app-workloads","role-template-manage-members"]')]:
        c.add({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
               "metadata": {"name": rname, "namespace": ns,
                            "annotations": {"iam.kubesphere.io/aggregation-roles": agg,
                                            "kubesphere.io/creator": "dev-lead" if rname == "deployer" else "admin"}},
               "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"] if rname == "admin" else ["get", "list", "watch"]}]})
    for u, r in [("dev-lead", "admin"), ("dev-lead", "deployer")]:
        c.add({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
               "metadata": {"name": f"{u}-{r}", "namespace": ns, "labels": {"iam.kubesphere.io/user-ref": u}},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": r},
               "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": u}]})
    web = ctr("nginx", "nginx:1.25.4", ports=[{"containerPort": 80, "name": "http", "protocol": "TCP"}],
              resources={"limits": {"cpu": "500m", "memory": "256Mi"}, "requests": {"cpu": "50m", "memory": "64Mi"}},
              probes={"readinessProbe": {"httpGet": {"path": "/", "port": 80, "scheme": "HTTP"}, "periodSeconds": 10,
                                         "failureThreshold": 3, "successThreshold": 1, "timeoutSeconds": 1}})
    c.deploy("web", ns, [web], replicas=2, labels={"app": "web"}, selector={"app": "web"},
             annotations={"kubesphere.io/creator": "dev-lead"})
    c.add({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
           "metadata": {"name": "web", "namespace": ns},
           "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "web"}}},
           "status": {"conditions": [{"type": "DisruptionAllowed", "status": "True", "reason": "SufficientPods",
                                      "message": "", "observedGeneration": 1, "lastTransitionTime": c.t0}],
                      "currentHealthy": 2, "desiredHealthy": 1, "disruptionsAllowed": 1, "expectedPods": 2,
                      "observedGeneration": 1}})
    c.svc("web", ns, [{"name": "http-80", "port": 80, "protocol": "TCP", "targetPort": 80}], {"app": "web"},
          cluster_ip="10.233.33.140", labels={"app": "web"})
    api = ctr("api", "hashicorp/http-echo:1.0.0", args=["-text=demo-api", "-listen=:5678"],
              ports=[{"containerPort": 5678, "name": "http", "protocol": "TCP"}],
              resources={"limits": {"cpu": "200m", "memory": "64Mi"}, "requests": {"cpu": "10m", "memory": "16Mi"}})
    c.deploy("api", ns, [api], replicas=1, labels={"app": "api"}, selector={"app": "api"},
             annotations={"kubesphere.io/creator": "dev-lead"})
    c.svc("api", ns, [{"name": "http-5678", "port": 5678, "protocol": "TCP", "targetPort": 5678}], {"app": "api"},
          cluster_ip="10.233.33.141", labels={"app": "api"})


# ------------------------------------------------------------------ multicluster

def kubeconfig(cluster, server):
    return b64(
        "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: LS0tLS1CRUdJTi0tLS0tCg==\n"
        f"    server: {server}\n  name: cluster.local\ncontexts:\n- context:\n    cluster: cluster.local\n"
        f"    user: kubernetes-admin\n  name: kubernetes-admin@cluster.local\ncurrent-context: kubernetes-admin@cluster.local\n"
        "kind: Config\npreferences: {}\nusers:\n- name: kubernetes-admin\n  user:\n"
        f"    client-certificate-data: LS0tLS1CRUdJTi0tLS0tCg==\n    client-key-data: LS0tLS1CRUdJTi0tLS0tCg==\n")


def cluster_cr(name, server, ks_version, k8s_version, nodes, t, host=False, v4=False, member_v4_state=False,
               extra_conditions=None, region=None):
    labels = {}
    annotations = {"kubesphere.io/creator": "admin"}
    if host:
        labels["cluster-role.kubesphere.io/host"] = ""
        annotations["kubesphere.io/description"] = "The description was created by KubeSphere automatically. It is recommended that you use the Host Cluster to manage clusters only and deploy workloads on Member Clusters."
    if region:
        labels["cluster.kubesphere.io/region"] = region
    labels["cluster.kubesphere.io/group"] = "production"
    if member_v4_state:
        labels["kubesphere.io/managed"] = "true"
        annotations["kubesphere.io/config-hash"] = "cbf29ce484222325"
    spec = {"connection": {"type": "direct", "kubeconfig": kubeconfig(name, server),
                           "kubernetesAPIEndpoint": server,
                           "kubesphereAPIEndpoint": f"http://{server.split('//')[1].split(':')[0]}:30880" if False else
                           f"https://{server.split('//')[1].split(':')[0]}:30881"},
            "provider": "KubeKey" if host else "Bare Metal"}
    if not v4:
        spec["enable"] = True
        spec["joinFederation"] = False
    else:
        spec["enable"] = True
        spec["joinFederation"] = False
        spec["externalKubeAPIEnabled"] = False
    conds = [{"type": "Ready", "status": "True", "reason": "Ready", "message": "Cluster is available now",
              "lastTransitionTime": t, "lastUpdateTime": "2025-05-20T03:12:44Z" if v4 else "2024-06-03T08:10:00Z"},
             {"type": "KubeConfigCertExpiresInSevenDays", "status": "False", "reason": "KubeConfigCertExpiresInSevenDays",
              "message": "2034-03-16T06:39:51Z", "lastTransitionTime": t,
              "lastUpdateTime": "2025-05-20T03:12:44Z" if v4 else "2024-06-03T08:10:00Z"}]
    conds.extend(extra_conditions or [])
    status = {"conditions": conds, "configz": {"multicluster": True, "monitoring": True, "network": True},
              "kubeSphereVersion": ks_version, "kubernetesVersion": k8s_version, "nodeCount": nodes,
              "uid": k8s.fake_uid("kube-system@" + name)}
    return {"apiVersion": "cluster.kubesphere.io/v1alpha1", "kind": "Cluster",
            "metadata": {"name": name, "labels": labels, "annotations": annotations,
                         "finalizers": ["finalizer.cluster.kubesphere.io"]},
            "spec": spec, "status": status}
