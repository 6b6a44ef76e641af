"""ks41-host-migrated and broken scenarios."""
import json

import k8s
import yamlout
import common as cm
from cluster import Cluster, b64
from common import ctr
from generate import host_nodes, T_KS_INSTALL, T_KS_RERUN, T_V4, UBUNTU, KERNEL, CONTAINERD
from helm_release import release, release_secret

T_UP = "2025-05-20T03:02:37Z"


def kubesphere_config_v4(role="host"):
    return yamlout.dump({
        "authentication": {
            "authenticateRateLimiterMaxTries": 10, "authenticateRateLimiterDuration": "10m0s",
            "loginHistoryRetentionPeriod": "168h", "multipleLogin": True,
            "issuer": {"url": "http://ks-console.kubesphere-system.svc:30880",
                       "jwtSecret": "Xk9bT2sPqL8vR4mN7cW1yZ3hJ6fD0aGe", "maximumClockSkew": "10s",
                       "accessTokenMaxAge": "2h" if role == "host" else "0s",
                       "accessTokenInactivityTimeout": "30m"}},
        "multicluster": {"clusterRole": role, "hostClusterName": "host"},
        "kubeconfig": {"authMode": "client-certificate"},
        "terminal": {"kubectl": {"image": "docker.io/kubesphere/kubectl:v1.27.16"},
                     "node": {"image": "docker.io/kubesphere/kubectl:v1.27.16"}, "uploadFileLimit": "100Mi"},
        "helmExecutor": {"image": "docker.io/kubesphere/kubectl:v1.27.16", "timeout": "10m", "historyMax": 2,
                         "jobTTLAfterFinished": "0s",
                         "resources": {"limits": {"cpu": "500m", "memory": "500Mi"},
                                       "requests": {"cpu": "100m", "memory": "100Mi"}}},
        "extension": {"imageRegistry": ""},
        "experimental": {"validationDirective": ""},
        "composedApp": {"appSelector": ""},
        "kubesphere": {"tls": False},
        "cache": {"type": "redis", "options": {"host": "redis.kubesphere-system.svc", "port": 6379,
                                               "password": "KUBESPHERE_CACHE_OPTIONS_PASSWORD", "db": 0}},
        "auditing": {"enable": False, "auditLevel": "Metadata",
                     "logOptions": {"path": "/etc/audit/audit.log", "maxAge": 7, "maxBackups": 10, "maxSize": 100}},
    })


def ks_core_v4_host(c):
    rel = ("ks-core", "kubesphere-system")
    cps = c.cps()
    tol = [{"key": "node-role.kubernetes.io/master", "effect": "NoSchedule"},
           {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"},
           {"key": "CriticalAddonsOnly", "operator": "Exists"},
           {"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists", "tolerationSeconds": 60},
           {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "operator": "Exists", "tolerationSeconds": 60}]
    env = [{"name": "KUBESPHERE_CACHE_OPTIONS_PASSWORD",
            "valueFrom": {"secretKeyRef": {"name": "redis-secret", "key": "auth"}}}]
    ann = {"checksum/config": k8s.hexid("kubesphere-config-v4")}
    common = dict(replicas=3, nodes=cps, sa="kubesphere", tolerations=tol, helm=rel, t=T_UP, revision="3",
                  generation=3, template_annotations=ann,
                  strategy={"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}, "type": "RollingUpdate"})
    c.deploy("ks-apiserver", "kubesphere-system",
             [ctr("ks-apiserver", "docker.io/kubesphere/ks-apiserver:v4.1.3", command=["ks-apiserver", "--logtostderr=true"],
                  ports=[{"containerPort": 9090, "protocol": "TCP"}], env=env,
                  resources={"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "20m", "memory": "100Mi"}},
                  probes={"livenessProbe": {"failureThreshold": 8, "httpGet": {"path": "/livez", "port": 9090, "scheme": "HTTP"},
                                            "initialDelaySeconds": 15, "periodSeconds": 10, "successThreshold": 1, "timeoutSeconds": 15}},
                  mounts=[{"mountPath": "/etc/kubesphere/", "name": "kubesphere-config"},
                          {"mountPath": "/etc/localtime", "name": "host-time", "readOnly": True}])],
             labels={"app": "ks-apiserver", "version": "v4.1.3"}, selector={"app": "ks-apiserver", "tier": "backend"},
             pod_labels={"app": "ks-apiserver", "tier": "backend"},
             volumes=[{"name": "kubesphere-config", "configMap": {"name": "kubesphere-config", "defaultMode": 420}},
                      {"name": "host-time", "hostPath": {"path": "/etc/localtime", "type": ""}}], **common)
    c.deploy("ks-console", "kubesphere-system",
             [ctr("ks-console", "docker.io/kubesphere/ks-console:v4.1.3", ports=[{"containerPort": 8000, "protocol": "TCP"}],
                  resources={"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "20m", "memory": "100Mi"}},
                  mounts=[{"mountPath": "/opt/kubesphere/console/server/local_config.yaml", "name": "ks-console-config",
                           "subPath": "local_config.yaml"}])],
             labels={"app": "ks-console", "version": "v4.1.3"}, selector={"app": "ks-console", "tier": "frontend"},
             pod_labels={"app": "ks-console", "tier": "frontend"},
             volumes=[{"name": "ks-console-config", "configMap": {"name": "ks-console-config", "defaultMode": 420}}], **common)
    c.deploy("ks-controller-manager", "kubesphere-system",
             [ctr("ks-controller-manager", "docker.io/kubesphere/ks-controller-manager:v4.1.3",
                  command=["controller-manager", "--logtostderr=true", "--leader-elect=true", "--controllers=*"],
                  ports=[{"containerPort": 8080, "protocol": "TCP"}, {"containerPort": 8443, "protocol": "TCP"}], env=env,
                  resources={"limits": {"cpu": "1", "memory": "1000Mi"}, "requests": {"cpu": "30m", "memory": "50Mi"}},
                  mounts=[{"mountPath": "/etc/kubesphere/", "name": "kubesphere-config"},
                          {"mountPath": "/tmp/k8s-webhook-server/serving-certs", "name": "webhook-secret"}])],
             labels={"app": "ks-controller-manager", "version": "v4.1.3"},
             selector={"app": "ks-controller-manager", "tier": "backend"},
             pod_labels={"app": "ks-controller-manager", "tier": "backend"},
             volumes=[{"name": "kubesphere-config", "configMap": {"name": "kubesphere-config", "defaultMode": 420}},
                      {"name": "webhook-secret", "secret": {"secretName": "ks-controller-manager-webhook-cert", "defaultMode": 420}}],
             **common)
    c.deploy("extensions-museum", "kubesphere-system",
             [ctr("extensions-museum", "docker.io/kubesphere/ks-extensions-museum:v1.1.5",
                  command=["/chartmuseum", "--storage-local-rootdir", "/charts", "--storage", "local",
                           "--tls-cert", "/etc/certs/tls.crt", "--tls-key", "/etc/certs/tls.key"],
                  ports=[{"containerPort": 8080, "protocol": "TCP"}],
                  mounts=[{"mountPath": "/etc/certs/", "name": "certs"}])],
             replicas=1, labels={"app": "extensions-museum"}, selector={"app": "extensions-museum"}, helm=rel, t=T_UP,
             template_annotations={"checksum/cert": k8s.hexid("museum-cert")},
             volumes=[{"name": "certs", "secret": {"secretName": "extensions-museum-certs", "defaultMode": 420}}])
    c.deploy("redis", "kubesphere-system",
             [ctr("redis", "docker.io/kubesphere/redis:7.2.4-alpine", args=["/data/redis.conf"],
                  ports=[{"containerPort": 6379, "protocol": "TCP"}],
                  mounts=[{"mountPath": "/data", "name": "redis-pvc", "subPath": "redis-data"}])],
             replicas=1, labels={"app": "redis", "tier": "database", "version": "redis-4.0"},
             selector={"app": "redis", "tier": "database"},
             pod_labels={"app": "redis", "tier": "database", "version": "redis-4.0"}, helm=rel, t=T_UP,
             nodes=c.workers()[:1],
             volumes=[{"name": "redis-pvc", "persistentVolumeClaim": {"claimName": "redis-pvc"}},
                      {"name": "redis-config", "configMap": {"name": "redis-configmap", "defaultMode": 420}}])
    hl = {"app.kubernetes.io/managed-by": "Helm"}
    ha = {"meta.helm.sh/release-name": "ks-core", "meta.helm.sh/release-namespace": "kubesphere-system"}
    c.svc("ks-apiserver", "kubesphere-system", [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 9090}],
          {"app": "ks-apiserver"}, labels={"app": "ks-apiserver", **hl}, annotations=ha, cluster_ip="10.233.12.76")
    c.svc("ks-console", "kubesphere-system", [{"name": "nginx", "nodePort": 30880, "port": 80, "protocol": "TCP", "targetPort": 8000}],
          {"app": "ks-console"}, labels={"app": "ks-console", **hl}, annotations=ha, stype="NodePort", cluster_ip="10.233.40.225")
    c.svc("ks-controller-manager", "kubesphere-system", [{"port": 443, "protocol": "TCP", "targetPort": 8443}],
          {"app": "ks-controller-manager"}, labels={"app": "ks-controller-manager", **hl}, annotations=ha, cluster_ip="10.233.31.18")
    c.svc("extensions-museum", "kubesphere-system", [{"port": 443, "protocol": "TCP", "targetPort": 8080}],
          {"app": "extensions-museum"}, labels=hl, annotations=ha, cluster_ip="10.233.8.201")
    c.svc("redis", "kubesphere-system", [{"name": "redis", "port": 6379, "protocol": "TCP", "targetPort": 6379}],
          {"app": "redis", "tier": "database"}, labels={"app": "redis", "tier": "database", **hl}, annotations=ha,
          cluster_ip="10.233.50.3")
    kc = k8s.configmap("kubesphere-config", "kubesphere-system", {"kubesphere.yaml": kubesphere_config_v4("host")},
                       labels=hl, annotations=ha)
    c.add(kc)
    objs = [(f"ks-core/templates/{o['metadata']['name']}.yaml", o) for o in c.objs
            if o["metadata"].get("annotations", {}).get("meta.helm.sh/release-name") == "ks-core"
            and o["kind"] in ("Deployment", "Service", "ConfigMap")]
    return cm.manifest_of(objs)


def upgrade_jobs(c):
    img = "docker.io/kubesphere/ks-upgrade:v4.1.3"
    vol = [{"name": "config", "configMap": {"name": "ks-core-upgrade-config", "defaultMode": 420}},
           {"name": "data", "persistentVolumeClaim": {"claimName": "ks-upgrade"}}]
    mounts = [{"mountPath": "/etc/kubesphere/config-patch.yaml", "name": "config", "subPath": "config-patch.yaml"},
              {"mountPath": "/tmp/ks-upgrade", "name": "data"}]
    pv = cm.local_pv(c, "ks-upgrade", "kubesphere-system", "5Gi", c.workers()[1], reclaim="Retain", t=T_UP)
    pvc = [o for o in c.objs if o["kind"] == "PersistentVolumeClaim" and o["metadata"]["name"] == "ks-upgrade"][0]
    pvc["metadata"]["labels"] = {"app": "ks-upgrade", "version": "v4.1.3"}
    pvc["metadata"]["annotations"]["helm.sh/hook"] = "pre-upgrade"
    cfg = yamlout.dump({"storage": {"local": {"path": "/tmp/ks-upgrade"}},
                        "validator": {"ksVersion": {"enabled": True},
                                      "extensionsMuseum": {"enabled": True, "namespace": "kubesphere-system",
                                                           "name": "extensions-museum", "syncInterval": 0,
                                                           "watchTimeout": "30m"}},
                        "jobs": {"network": {"enabled": True, "priority": 100,
                                             "extensionRef": {"name": "network", "version": "1.1.0"},
                                             "dynamicOptions": {"rerun": "false"}},
                                 "gateway": {"enabled": True, "priority": 90,
                                             "extensionRef": {"name": "gateway", "version": "1.0.5"}}}})
    c.add(k8s.configmap("ks-upgrade-prepare-config", "kubesphere-system", {"config-patch.yaml": cfg}))
    c.add(k8s.configmap("ks-core-upgrade-config", "kubesphere-system", {"config-patch.yaml": cfg},
                        annotations={"helm.sh/hook": "pre-upgrade", "helm.sh/hook-weight": "-1"}))
    c.job_complete("prepare-upgrade", "kubesphere-system",
                   [ctr("prepare-upgrade-job", img, command=["ks-upgrade", "prepare-upgrade", "--logtostderr=true",
                                                             "--config=/etc/kubesphere/config.yaml",
                                                             "--config=/etc/kubesphere/config-patch.yaml"],
                        mounts=[mounts[0]])],
                   "2025-05-20T02:58:01Z", "2025-05-20T02:59:44Z", sa="kubesphere",
                   volumes=[{"name": "config", "configMap": {"name": "ks-upgrade-prepare-config", "defaultMode": 420}}])
    for phase, t0, t1, w in [("pre", "2025-05-20T03:00:12Z", "2025-05-20T03:01:58Z", "0"),
                             ("post", "2025-05-20T03:04:40Z", "2025-05-20T03:09:21Z", "0")]:
        c.job_complete(f"ks-core-{phase}-upgrade", "kubesphere-system",
                       [ctr(f"{phase}-upgrade-job", img, command=["ks-upgrade", f"{phase}-upgrade", "--logtostderr=true",
                                                                   "--config=/etc/kubesphere/config.yaml",
                                                                   "--config=/etc/kubesphere/config-patch.yaml"],
                            mounts=mounts)],
                       t0, t1, sa="kubesphere", volumes=vol,
                       annotations={"helm.sh/hook": f"{phase}-upgrade", "helm.sh/hook-weight": w,
                                    "helm.sh/hook-delete-policy": "before-hook-creation"})


def extensions(c):
    c.add({"apiVersion": "kubesphere.io/v1alpha1", "kind": "Repository",
           "metadata": {"name": "extensions-museum", "labels": {"app.kubernetes.io/managed-by": "Helm"},
                        "annotations": {"meta.helm.sh/release-name": "ks-core", "meta.helm.sh/release-namespace": "kubesphere-system"}},
           "spec": {"url": "https://extensions-museum.kubesphere-system.svc", "caBundle": b64("-----BEGIN CERTIFICATE-----\nself-signed-ca\n-----END CERTIFICATE-----\n")},
           "status": {"lastSyncTime": "2025-05-20T03:04:02Z"}})
    exts = [("gateway", "1.0.5", "networking", "Multicluster", "extension-gateway"),
            ("network", "1.1.0", "networking", "HostOnly", "extension-network")]
    for name, ver, cat, mode, tns in exts:
        c.add({"apiVersion": "kubesphere.io/v1alpha1", "kind": "Extension",
               "metadata": {"name": name, "labels": {"kubesphere.io/category": cat,
                                                     "kubesphere.io/repository-ref": "extensions-museum"}},
               "spec": {"displayName": {"en": name.capitalize(), "zh": name}, "description": {"en": f"KubeSphere {name} extension"},
                        "provider": {"en": {"name": "KubeSphere", "url": "https://kubesphere.com.cn"}}},
               "status": {"state": "Installed", "enabled": True, "plannedInstallVersion": ver, "installedVersion": ver,
                          "recommendedVersion": ver, "versions": [{"version": ver, "creationTimestamp": "2025-05-20T03:04:02Z"}],
                          "conditions": [{"type": "Installed", "status": "True", "reason": "InstallSuccessful",
                                          "message": "", "lastTransitionTime": "2025-05-20T03:07:51Z"}]}})
        c.add({"apiVersion": "kubesphere.io/v1alpha1", "kind": "ExtensionVersion",
               "metadata": {"name": f"{name}-{ver}", "labels": {"kubesphere.io/extension-ref": name,
                                                                "kubesphere.io/repository-ref": "extensions-museum",
                                                                "kubesphere.io/category": cat}},
               "spec": {"version": ver, "ksVersion": ">=4.1.0-0", "kubeVersion": ">=1.19.0-0",
                        "chartURL": f"https://extensions-museum.kubesphere-system.svc/charts/{name}-{ver}.tgz",
                        "namespace": tns, "installationMode": mode, "category": cat, "repository": "extensions-museum"}})
    def st(state, ver, rel, tns, t):
        return {"state": state, "targetNamespace": tns, "releaseName": rel, "version": ver,
                "configHash": k8s.hexid("cfg" + rel, 16),
                "jobName": f"helm-install-{rel}-{k8s.h(rel + t, 5)}",
                "conditions": [{"type": "Installed", "status": "True", "reason": "InstallSuccessful", "message": "",
                                "lastTransitionTime": t}],
                "stateHistory": [{"lastTransitionTime": "2025-05-20T03:05:10Z", "state": "Preparing"},
                                 {"lastTransitionTime": "2025-05-20T03:05:11Z", "state": "Installing"},
                                 {"lastTransitionTime": t, "state": "Installed"}]}
    gw = {"apiVersion": "kubesphere.io/v1alpha1", "kind": "InstallPlan",
          "metadata": {"name": "gateway", "finalizers": ["kubesphere.io/installplan"]},
          "spec": {"extension": {"name": "gateway", "version": "1.0.5"}, "enabled": True, "upgradeStrategy": "Manual",
                   "config": "", "clusterScheduling": {"placement": {"clusters": ["host", "member-a", "member-b"]}}},
          "status": {**st("Installed", "1.0.5", "gateway", "extension-gateway", "2025-05-20T03:07:51Z"), "enabled": True,
                     "clusterSchedulingStatuses": {"host": st("Installed", "1.0.5", "gateway-agent", "extension-gateway",
                                                              "2025-05-20T03:08:30Z")}}}
    nw = {"apiVersion": "kubesphere.io/v1alpha1", "kind": "InstallPlan",
          "metadata": {"name": "network", "finalizers": ["kubesphere.io/installplan"]},
          "spec": {"extension": {"name": "network", "version": "1.1.0"}, "enabled": True, "upgradeStrategy": "Manual",
                   "config": ""},
          "status": {**st("Installed", "1.1.0", "network", "extension-network", "2025-05-20T03:06:40Z"), "enabled": True}}
    c.add(gw, nw)
    for name, ver, _, _, tns in exts:
        c.add(k8s.namespace(tns, labels={"kubesphere.io/managed": "true"}))
        man = cm.manifest_of([(f"{name}/templates/serviceaccount.yaml",
                               {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": tns}})])
        r = release(name, tns, 1, "deployed", name, ver, ver, man, "2025-05-20T11:05:11.20391021+08:00",
                    "2025-05-20T11:05:11.20391021+08:00")
        c.add(release_secret(r, 1747710311))
        if name == "gateway":
            r = release("gateway-agent", tns, 1, "deployed", "gateway", ver, ver, man.replace("name: gateway", "name: gateway-agent"),
                        "2025-05-20T11:08:21.55013422+08:00", "2025-05-20T11:08:21.55013422+08:00")
            c.add(release_secret(r, 1747710501))


def iam_v4(c):
    V = "iam.kubesphere.io/v1beta1"
    for name, email, grole in [("admin", "admin@kubesphere.io", "platform-admin"), ("dev-lead", "dev-lead@example.com", "ops-custom")]:
        c.add({"apiVersion": V, "kind": "User",
               "metadata": {"name": name, "annotations": {"iam.kubesphere.io/globalrole": grole,
                                                          "iam.kubesphere.io/password-encrypted": "true"},
                            "finalizers": ["finalizers.kubesphere.io/users"]},
               "spec": {"email": email, "lang": "en", "password": "$2a$10$zcHepmzfKPoxCVCYZr5K7ORPZZ/ySe9p/7IUb/8u./xHrnSX2LOCO"},
               "status": {"lastLoginTime": "2025-05-20T03:15:02Z", "lastTransitionTime": "2024-03-18T07:12:30Z", "state": "Active"}})
    for name in ["platform-admin", "platform-regular", "platform-self-provisioner"]:
        c.add({"apiVersion": V, "kind": "GlobalRole", "metadata": {"name": name, "labels": {"iam.kubesphere.io/managed": "true"}},
               "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}] if name == "platform-admin" else []})
    c.add({"apiVersion": V, "kind": "GlobalRole",
           "metadata": {"name": "ops-custom", "annotations": {"kubesphere.io/creator": "admin"}},
           "aggregationRoleTemplates": {"templateNames": ["global-view-clusters"]},
           "rules": [{"apiGroups": ["cluster.kubesphere.io"], "resources": ["clusters"], "verbs": ["get", "list", "watch"]}]})
    for u, r in [("admin", "platform-admin"), ("dev-lead", "ops-custom")]:
        c.add({"apiVersion": V, "kind": "GlobalRoleBinding",
               "metadata": {"name": f"{u}-{r}", "labels": {"iam.kubesphere.io/user-ref": u, "iam.kubesphere.io/role-ref": r}},
               "roleRef": {"apiGroup": "iam.kubesphere.io", "kind": "GlobalRole", "name": r},
               "subjects": [{"apiGroup": "iam.kubesphere.io", "kind": "User", "name": u}]})
    for ws, mgr, placement in [("system-workspace", "admin", {"clusterSelector": {}}),
                               ("demo", "dev-lead", {"clusters": [{"name": "host"}, {"name": "member-a"}]})]:
        c.add({"apiVersion": "tenant.kubesphere.io/v1beta1", "kind": "WorkspaceTemplate",
               "metadata": {"name": ws, "annotations": {"kubesphere.io/creator": "admin"},
                            "finalizers": ["kubesphere.io/protection"] if ws == "system-workspace" else ["finalizers.tenant.kubesphere.io"]},
               "spec": {"placement": placement, "template": {"metadata": {}, "spec": {"manager": mgr}}}})


def ks41_host_migrated():
    c = Cluster("ks41-host-migrated", "The ks34-host cluster after `upgrade.sh host` to KubeSphere v4.1.3 (ks-core chart 1.1.4): members tainted Schedulable=False, v3 gateways not yet upgraded",
                "v1.26.15", "2024-03-18T07:12:30Z")
    host_nodes(c, "v1.26.15")
    cm.crds_v4(c)
    cm.namespaces_v4(c)
    cm.kube_system(c, "v1.26.15")
    cm.storageclass_local(c, default=True)
    etcd_ips = ",".join(c.node_ip(n) for n in c.cps())
    c.add(cm.cc_v3("host", etcd_ips=etcd_ips, extra_status={
        "network": {"networkpolicy": {"enabledTime": "2024-03-18T07:20:31UTC", "status": "enabled"}}}))
    c.add(k8s.configmap("kubesphere-gateway-backup-config", "kubesphere-system",
                        {"kubesphere.yaml": cm.kubesphere_config_v3("host")}))
    c.add(k8s.configmap("redis-configmap", "kubesphere-system",
                        {"redis.conf": "requirepass REDIS_PASSWORD\nmasterauth REDIS_PASSWORD\nappendonly yes\n"},
                        labels={"app": "redis"}))
    c.add({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "redis-secret", "namespace": "kubesphere-system"},
           "type": "Opaque", "data": {"auth": b64("kXqVbRtLmNpWsYz")}})
    cm.local_pv(c, "redis-pvc", "kubesphere-system", "2Gi", c.workers()[0])
    v4_manifest = ks_core_v4_host(c)
    v3_manifest = cm.manifest_of([("ks-core/templates/ks-apiserver.yml", {"apiVersion": "apps/v1", "kind": "Deployment",
                                                                          "metadata": {"name": "ks-apiserver", "labels": {"app": "ks-apiserver", "tier": "backend", "version": "v3.3.2"}},
                                                                          "spec": {"replicas": 1}})])
    cm.helm_history(c, "ks-core", "kubesphere-system",
                    [("superseded", "0.1.0", "v3.3.2", v3_manifest), ("superseded", "0.1.0", "v3.3.2", v3_manifest),
                     ("deployed", "1.1.4", "v4.1.3", v4_manifest)],
                    None, "ks-core", [T_KS_INSTALL, T_KS_RERUN, T_V4])
    upgrade_jobs(c)
    extensions(c)
    # v3 gateways: the v1 Gateway CRs and their CRD were removed by ks-upgrade's gateway post step,
    # the Nginx CRs, ingress-nginx workloads and both Helm releases per gateway are untouched.
    for gw_ns, ws, np in [("kubesphere-system", None, (31080, 31443)), ("workspace-demo", "demo", (32080, 32443))]:
        parts = cm.gateway_v3(c, gw_ns, "2024-03-19T02:11:08Z", workspace=ws, node_port=np, create_cr=False)
        cm.gateway_releases(c, *parts, times=[("2024-03-19T10:11:08.118263716+08:00", 1710814268)])
    sched = lambda: {"type": "Schedulable", "status": "False", "reason": "Upgrading", "message": "Not schedulable now",
                     "lastTransitionTime": "2025-05-20T03:01:31Z", "lastUpdateTime": "2025-05-20T03:01:31Z"}
    ksready = lambda: {"type": "KSCoreReady", "status": "True", "reason": "", "message": "",
                       "lastTransitionTime": "2025-05-20T03:01:31Z", "lastUpdateTime": "2025-05-20T03:01:31Z"}
    c.add(cm.cluster_cr("host", "https://lb.kubesphere.local:6443", "v4.1.3", "v1.26.15", 8, "2024-03-18T07:22:10Z",
                        host=True, v4=True))
    c.add(cm.cluster_cr("member-a", "https://192.168.20.11:6443", "v4.1.3", "v1.26.15", 3, "2024-03-20T03:01:44Z",
                        v4=True, member_v4_state=True, extra_conditions=[ksready(), sched()], region="cn-east"))
    c.add(cm.cluster_cr("member-b", "https://192.168.30.11:6443", "v3.4.1", "v1.26.15", 3, "2024-03-21T05:47:12Z",
                        v4=True, member_v4_state=True, extra_conditions=[ksready(), sched()], region="cn-north"))
    iam_v4(c)
    cm.demo_project(c, v4=True)
    # cluster-wide demo namespace roles: deployer stays as-is (namespace roles are only rewritten by iam job when affected)
    return c


# ====================================================================== broken

def broken():
    V = "v1.27.16"
    c = Cluster("broken", "KubeSphere v3.4.1 (clusterRole none) on Kubernetes v1.27.16 with one planted instance of every problem the plugins must find",
                V, "2024-02-05T03:30:00Z")
    kw = dict(containerd="1.6.28", os_image=UBUNTU, kernel=KERNEL, t_created="2024-02-05T03:10:11Z",
              t_ready="2024-02-05T03:12:40Z")
    c.add_node("master-1", "10.20.0.11", True, kubelet=V, **kw)
    c.add_node("worker-1", "10.20.0.21", False, kubelet=V, **kw)
    c.add_node("worker-2", "10.20.0.22", False, kubelet=V, ready="Unknown", hb="2024-06-03T07:52:10Z",
               extra_taints=[{"effect": "NoSchedule", "key": "node.kubernetes.io/unreachable", "timeAdded": "2024-06-03T07:52:10Z"},
                             {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "timeAdded": "2024-06-03T07:52:15Z"}],
               **{**kw, "t_ready": "2024-06-03T07:51:22Z"})
    c.add_node("worker-3", "10.20.0.23", False, kubelet=V, unschedulable=True, **{**kw, "t_ready": "2024-05-30T12:00:04Z"})
    c.add_node("worker-4", "10.20.0.24", False, kubelet="v1.24.17", **{**kw, "containerd": "1.6.4"})
    c.avoid = {"worker-2"}
    not_ready_on_w2 = {"worker-2": {"ready": False}}
    cm.crds_v3(c)
    cm.namespaces_v3(c, "none")
    cm.kube_system(c, V, etcd="3.5.12-0", coredns="v1.10.1", calico="v3.27.3", cp_endpoint="10.20.0.11:6443",
                   calico_rollout=("v3.26.1", ["master-1", "worker-1", "worker-3"]),
                   ds_pod_states={"kube-proxy": not_ready_on_w2, "calico-node": not_ready_on_w2})
    cm.storageclass_local(c, default=False)

    # ---- KubeSphere 3.4.1 single cluster
    c.add(cm.cc_v3("none", etcd_ips="10.20.0.11", t_installed="2024-02-05T05:02:44UTC"))
    c.add(k8s.configmap("kubesphere-config", "kubesphere-system", {"kubesphere.yaml": cm.kubesphere_config_v3("none")}))
    cm.ks_installer_v3(c)
    cm.redis_v3(c)
    t = c.t0
    crash = [{"statuses": [k8s.container_status(
        {"name": "ks-controller-manager", "image": "kubesphere/ks-controller-manager:v3.4.1"}, "crash", t, ready=False,
        restarts=42, started=False,
        state={"waiting": {"reason": "CrashLoopBackOff",
                           "message": "back-off 5m0s restarting failed container=ks-controller-manager pod=ks-controller-manager_kubesphere-system"}},
        last_state={"terminated": {"containerID": "containerd://" + k8s.hexid("crash-last"), "exitCode": 1,
                                   "finishedAt": "2024-06-03T08:09:57Z", "reason": "Error",
                                   "startedAt": "2024-06-03T08:09:55Z"}})], "ready": False}]
    pull = [{"phase": "Pending", "ready": False, "statuses": [k8s.container_status(
        {"name": "ks-console", "image": "kubesphere/ks-console:v3.4.11"}, "pull", t, ready=False,
        state={"waiting": {"reason": "ImagePullBackOff",
                           "message": 'Back-off pulling image "kubesphere/ks-console:v3.4.11"'}})]}]
    cm.ks_core_deployments_v3(c, cm_pod_states=crash, console_pod_states=pull, console_image="kubesphere/ks-console:v3.4.11")
    manifest = cm.ks_core_release_manifest(c)
    v4_manifest = manifest.replace("v3.4.1", "v4.1.3")
    cm.helm_history(c, "ks-core", "kubesphere-system",
                    [("superseded", "0.1.0", "v3.3.2"), ("deployed", "0.1.0", "v3.3.2"),
                     ("pending-upgrade", "1.1.5", "v4.1.3", v4_manifest)],
                    manifest, "ks-core",
                    [("2024-02-05T13:01:12.22170936+08:00", 1707109272), ("2024-02-20T09:44:31.05129964+08:00", 1708393471),
                     ("2024-06-03T16:05:02.91833012+08:00", 1717401902)],
                    created_last=True)
    # gateway whose ingress release failed on its second revision
    parts = cm.gateway_v3(c, "kubesphere-system", "2024-02-06T01:00:00Z", pod_nodes=["worker-1"])
    cm.gateway_releases(c, *parts, times=[("2024-02-06T09:00:00.10283746+08:00", 1707181200),
                                          ("2024-05-28T14:22:09.77102311+08:00", 1716877329)],
                        inner_statuses=("superseded", "failed"))
    cm.iam_v3(c, host=False)
    cm.workspaces_v3(c, "none")

    # ---- metrics-server APIService without endpoints
    c.svc("metrics-server", "kube-system", [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": "https"}],
          {"k8s-app": "metrics-server"}, labels={"k8s-app": "metrics-server"}, cluster_ip="10.233.13.201")
    c.add({"apiVersion": "v1", "kind": "Endpoints",
           "metadata": {"name": "metrics-server", "namespace": "kube-system", "labels": {"k8s-app": "metrics-server"}}})
    c.add({"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
           "metadata": {"name": "v1beta1.metrics.k8s.io", "labels": {"k8s-app": "metrics-server"}},
           "spec": {"group": "metrics.k8s.io", "groupPriorityMinimum": 100, "insecureSkipTLSVerify": True,
                    "service": {"name": "metrics-server", "namespace": "kube-system", "port": 443},
                    "version": "v1beta1", "versionPriority": 100},
           "status": {"conditions": [{"type": "Available", "status": "False", "reason": "MissingEndpoints",
                                      "message": 'endpoints for service/metrics-server in "kube-system" have no addresses with port name "https"',
                                      "lastTransitionTime": "2024-06-02T22:14:05Z"}]}})

    # ---- fail-closed webhook whose only backend pod is Running but not Ready
    c.add(k8s.namespace("kyverno", labels={"kubernetes.io/metadata.name": "kyverno"}))
    kyv = ctr("kyverno", "ghcr.io/kyverno/kyverno:v1.11.4", args=["--autogenInternals=true", "--loggingFormat=text"],
              ports=[{"containerPort": 9443, "name": "https", "protocol": "TCP"},
                     {"containerPort": 8000, "name": "metrics-port", "protocol": "TCP"}],
              probes={"readinessProbe": {"failureThreshold": 6, "httpGet": {"path": "/health/readiness", "port": 9443, "scheme": "HTTPS"},
                                         "initialDelaySeconds": 5, "periodSeconds": 10, "successThreshold": 1, "timeoutSeconds": 5}})
    nr = [{"ready": False, "statuses": [k8s.container_status(kyv, "kyverno", t, ready=False, restarts=3, started=True)]}]
    sel = {"app.kubernetes.io/component": "admission-controller", "app.kubernetes.io/instance": "kyverno",
           "app.kubernetes.io/part-of": "kyverno"}
    c.deploy("kyverno-admission-controller", "kyverno", [kyv], replicas=1, labels={**sel, "app.kubernetes.io/version": "v1.11.4"},
             selector=sel, sa="kyverno-admission-controller", pod_states=nr, nodes=["worker-1"])
    c.svc("kyverno-svc", "kyverno", [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": "https"}], sel,
          labels={**sel, "app.kubernetes.io/version": "v1.11.4"}, cluster_ip="10.233.44.17")
    c.add({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
           "metadata": {"name": "kyverno-resource-validating-webhook-cfg",
                        "labels": {"webhook.kyverno.io/managed-by": "kyverno"}},
           "webhooks": [{"admissionReviewVersions": ["v1"],
                         "clientConfig": {"caBundle": b64("-----BEGIN CERTIFICATE-----\nkyverno-ca\n-----END CERTIFICATE-----\n"),
                                          "service": {"name": "kyverno-svc", "namespace": "kyverno",
                                                      "path": "/validate/fail", "port": 443}},
                         "failurePolicy": "Fail", "matchPolicy": "Equivalent", "name": "validate.kyverno.svc-fail",
                         "namespaceSelector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn",
                                                                     "values": ["kyverno"]}]},
                         "objectSelector": {},
                         "rules": [{"apiGroups": ["apps"], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
                                    "resources": ["deployments"], "scope": "*"}],
                         "sideEffects": "NoneOnDryRun", "timeoutSeconds": 10}]})

    # ---- user namespace "shop"
    ns = "shop"
    c.add(k8s.namespace(ns, labels={"kubesphere.io/namespace": ns}))
    pay = ctr("payments", "ghcr.io/example/payments:2.8.1", ports=[{"containerPort": 8080, "name": "http", "protocol": "TCP"}],
              resources={"requests": {"cpu": "100m", "memory": "128Mi"}})
    c.deploy("payments", ns, [pay], replicas=2, selector={"app": "payments"}, nodes=["worker-1", "worker-4"])
    c.add({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
           "metadata": {"name": "payments", "namespace": ns},
           "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "payments"}}},
           "status": {"conditions": [{"type": "DisruptionAllowed", "status": "False", "reason": "InsufficientPods",
                                      "message": "", "observedGeneration": 1, "lastTransitionTime": t}],
                      "currentHealthy": 2, "desiredHealthy": 2, "disruptionsAllowed": 0, "expectedPods": 2,
                      "observedGeneration": 1}})
    cart = ctr("cart", "ghcr.io/example/cart:1.4.0", ports=[{"containerPort": 8080, "name": "http", "protocol": "TCP"}],
               resources={"requests": {"cpu": "2", "memory": "2Gi"}})
    pending = {"phase": "Pending", "ready": False, "scheduled": False, "node": "worker-1",
               "conditions": [{"lastProbeTime": None, "lastTransitionTime": "2024-06-03T07:55:40Z", "status": "False",
                               "type": "PodScheduled", "reason": "Unschedulable",
                               "message": "0/5 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }, 1 node(s) were unschedulable, 1 Too many pods. preemption: 0/5 nodes are available: 1 No preemption victims found for incoming pod, 4 Preemption is not helpful for scheduling.."}]}
    c.deploy("cart", ns, [cart], replicas=3, selector={"app": "cart"}, nodes=["worker-1", "worker-4"],
             pod_states=[{}, {}, pending], progressing=True)
    c.add({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
           "metadata": {"name": "cart", "namespace": ns, "annotations": {"kubectl.kubernetes.io/last-applied-configuration": k8s.last_applied({
               "apiVersion": "autoscaling/v2beta2", "kind": "HorizontalPodAutoscaler",
               "metadata": {"annotations": {}, "name": "cart", "namespace": ns},
               "spec": {"maxReplicas": 6, "minReplicas": 3,
                        "metrics": [{"resource": {"name": "cpu", "target": {"averageUtilization": 70, "type": "Utilization"}}, "type": "Resource"}],
                        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "cart"}}})}},
           "spec": {"maxReplicas": 6, "minReplicas": 3,
                    "metrics": [{"resource": {"name": "cpu", "target": {"averageUtilization": 70, "type": "Utilization"}}, "type": "Resource"}],
                    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "cart"}},
           "status": {"currentReplicas": 3, "desiredReplicas": 3,
                      "conditions": [{"type": "AbleToScale", "status": "True", "reason": "ReadyForNewScale",
                                      "message": "recommended size matches current size", "lastTransitionTime": t},
                                     {"type": "ScalingActive", "status": "False", "reason": "FailedGetResourceMetric",
                                      "message": "the HPA was unable to compute the replica count: failed to get cpu utilization: unable to get metrics for resource cpu: unable to fetch metrics from resource metrics API: the server is currently unable to handle the request (get pods.metrics.k8s.io)",
                                      "lastTransitionTime": "2024-06-02T22:14:35Z"}]}})
    c.svc("storefront", ns, [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}], {"app": "payments"},
          cluster_ip="10.233.45.12")
    c.add({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
           "metadata": {"name": "storefront", "namespace": ns, "annotations": {
               "kubectl.kubernetes.io/last-applied-configuration": k8s.last_applied({
                   "apiVersion": "extensions/v1beta1", "kind": "Ingress",
                   "metadata": {"annotations": {}, "name": "storefront", "namespace": ns},
                   "spec": {"rules": [{"host": "shop.example.com", "http": {"paths": [
                       {"backend": {"serviceName": "storefront", "servicePort": 80}, "path": "/"}]}}]}})}},
           "spec": {"rules": [{"host": "shop.example.com", "http": {"paths": [
               {"backend": {"service": {"name": "storefront", "port": {"number": 80}}}, "path": "/", "pathType": "ImplementationSpecific"}]}}]},
           "status": {"loadBalancer": {"ingress": [{"ip": "10.20.0.21"}]}}})
    cj_spec = {"schedule": "0 2 * * *", "concurrencyPolicy": "Forbid", "failedJobsHistoryLimit": 1,
               "successfulJobsHistoryLimit": 3, "suspend": False,
               "jobTemplate": {"spec": {"template": {"spec": {"containers": [
                   {"name": "report", "image": "ghcr.io/example/report:0.9.2", "args": ["--since=24h"]}],
                   "restartPolicy": "OnFailure"}}}}}
    c.add({"apiVersion": "batch/v1", "kind": "CronJob",
           "metadata": {"name": "nightly-report", "namespace": ns, "annotations": {
               "kubectl.kubernetes.io/last-applied-configuration": k8s.last_applied({
                   "apiVersion": "batch/v1beta1", "kind": "CronJob",
                   "metadata": {"annotations": {}, "name": "nightly-report", "namespace": ns}, "spec": cj_spec})}},
           "spec": cj_spec,
           "status": {"lastScheduleTime": "2024-06-03T02:00:00Z", "lastSuccessfulTime": "2024-06-03T02:01:12Z"}})
    c._mkpod("debug-shell", ns, [ctr("shell", "busybox:1.36", command=["sleep", "infinity"])],
             {"run": "debug-shell"}, None, {"node": "worker-1"}, None, t, "default", None)
    c.add({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
           "metadata": {"name": "orders-data", "namespace": ns, "finalizers": ["kubernetes.io/pvc-protection"]},
           "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "20Gi"}}, "volumeMode": "Filesystem"},
           "status": {"phase": "Pending"}})
    c.add({"apiVersion": "v1", "kind": "PersistentVolume",
           "metadata": {"name": "pv-legacy-nfs", "finalizers": ["kubernetes.io/pv-protection"],
                        "annotations": {"pv.kubernetes.io/bound-by-controller": "yes"}},
           "spec": {"accessModes": ["ReadWriteMany"], "capacity": {"storage": "50Gi"},
                    "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "name": "legacy-data", "namespace": ns,
                                 "uid": k8s.fake_uid("PVC/shop/legacy-data")},
                    "nfs": {"path": "/exports/legacy", "server": "10.20.0.50"},
                    "persistentVolumeReclaimPolicy": "Recycle", "volumeMode": "Filesystem"},
           "status": {"phase": "Failed", "message": "recycle failed: unexpected error creating recycler pod: pods \"recycler-for-pv-legacy-nfs\" is forbidden"}})
    c.add({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
           "metadata": {"name": "legacy-data", "namespace": ns, "finalizers": ["kubernetes.io/pvc-protection"],
                        "annotations": {"pv.kubernetes.io/bind-completed": "yes"}},
           "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "50Gi"}},
                    "storageClassName": "", "volumeMode": "Filesystem", "volumeName": "pv-legacy-nfs"},
           "status": {"phase": "Lost"}})
    # Helm release with removed APIs in its manifest (deployed), and an older superseded revision
    bill = ctr("billing", "ghcr.io/example/billing:3.2.0")
    c.deploy("billing", ns, [bill], replicas=2, selector={"app.kubernetes.io/name": "billing", "app.kubernetes.io/instance": "billing"},
             labels={"app.kubernetes.io/name": "billing", "app.kubernetes.io/instance": "billing", "helm.sh/chart": "billing-2.3.1"},
             helm=("billing", ns), nodes=["worker-1", "worker-4"])
    c.add({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
           "metadata": {"name": "billing", "namespace": ns, "labels": {"app.kubernetes.io/managed-by": "Helm"},
                        "annotations": {"meta.helm.sh/release-name": "billing", "meta.helm.sh/release-namespace": ns}},
           "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": "billing", "app.kubernetes.io/instance": "billing"}}},
           "status": {"conditions": [{"type": "DisruptionAllowed", "status": "True", "reason": "SufficientPods", "message": "",
                                      "observedGeneration": 1, "lastTransitionTime": t}],
                      "currentHealthy": 2, "desiredHealthy": 1, "disruptionsAllowed": 1, "expectedPods": 2, "observedGeneration": 1}})
    base = ("---\n# Source: billing/templates/deployment.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: billing\n"
            "  labels:\n    app.kubernetes.io/name: billing\n    app.kubernetes.io/instance: billing\nspec:\n  replicas: 2\n"
            "  selector:\n    matchLabels:\n      app.kubernetes.io/name: billing\n      app.kubernetes.io/instance: billing\n"
            "  template:\n    metadata:\n      labels:\n        app.kubernetes.io/name: billing\n        app.kubernetes.io/instance: billing\n"
            "    spec:\n      containers:\n      - name: billing\n        image: ghcr.io/example/billing:{tag}\n")
    pdb = ("---\n# Source: billing/templates/pdb.yaml\napiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata:\n  name: billing\n"
           "spec:\n  minAvailable: 1\n  selector:\n    matchLabels:\n      app.kubernetes.io/name: billing\n      app.kubernetes.io/instance: billing\n")
    fs = ("---\n# Source: billing/templates/flowschema.yaml\napiVersion: flowcontrol.apiserver.k8s.io/v1beta2\nkind: FlowSchema\n"
          "metadata:\n  name: billing-batch\nspec:\n  matchingPrecedence: 1000\n  priorityLevelConfiguration:\n    name: workload-low\n"
          "  distinguisherMethod:\n    type: ByUser\n  rules:\n  - subjects:\n    - kind: ServiceAccount\n      serviceAccount:\n"
          "        name: billing\n        namespace: shop\n    resourceRules:\n    - verbs: [\"*\"]\n      apiGroups: [\"*\"]\n"
          "      resources: [\"*\"]\n      namespaces: [\"*\"]\n")
    old_ing = ("---\n# Source: billing/templates/ingress.yaml\napiVersion: extensions/v1beta1\nkind: Ingress\nmetadata:\n  name: billing\n"
               "spec:\n  rules:\n  - host: billing.example.com\n    http:\n      paths:\n      - path: /\n        backend:\n"
               "          serviceName: billing\n          servicePort: 80\n")
    cm.helm_history(c, "billing", ns,
                    [("superseded", "2.1.0", "3.0.0", base.format(tag="3.0.0") + pdb + old_ing),
                     ("deployed", "2.3.1", "3.2.0", base.format(tag="3.2.0") + pdb + fs)],
                    None, "billing",
                    [("2021-09-14T11:20:03.55101823+08:00", 1631589603), ("2023-08-02T17:41:56.10392761+08:00", 1690969316)])
    return c


SCENARIOS = {"ks41-host-migrated.yaml": ks41_host_migrated, "broken.yaml": broken}
