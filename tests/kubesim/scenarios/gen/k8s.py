"""Builders for realistic Kubernetes objects (standard library only).

Everything is deterministic: hashes, container IDs and placeholder UIDs are
derived from object names, so regenerating gives byte-identical YAML.
"""
import hashlib
import json
import uuid

_HASH_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # k8s.io/apimachinery rand.SafeEncodeString


def h(seed: str, n: int) -> str:
    d = hashlib.sha256(seed.encode()).digest()
    return "".join(_HASH_ALPHABET[b % len(_HASH_ALPHABET)] for b in d[:n])


def hexid(seed: str, n: int = 64) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:n]


def fake_uid(seed: str) -> str:
    """Placeholder UID for ownerReferences (the server assigns real UIDs)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "kubesim:" + seed))


def owner(api_version, kind, name, controller=True, block=True):
    ref = {"apiVersion": api_version, "kind": kind, "name": name,
           "uid": fake_uid(f"{kind}/{name}")}
    if controller:
        ref["controller"] = True
    if block:
        ref["blockOwnerDeletion"] = True
    return ref


def full_image(image: str) -> str:
    first = image.split("/", 1)[0]
    if "/" not in image:
        return "docker.io/library/" + image
    if "." in first or ":" in first or first == "localhost":
        return image
    return "docker.io/" + image


def image_id(image: str) -> str:
    repo = full_image(image).rsplit(":", 1)[0]
    return f"{repo}@sha256:{hexid('img:' + image)}"


def last_applied(obj: dict) -> str:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True) + "\n"


# ----------------------------------------------------------------- cluster

def namespace(name, labels=None, annotations=None, owner_refs=None):
    md = {"name": name, "labels": {"kubernetes.io/metadata.name": name, **(labels or {})}}
    if annotations:
        md["annotations"] = annotations
    if owner_refs:
        md["ownerReferences"] = owner_refs
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": md,
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}


def node(name, ip, kubelet, containerd, os_image, kernel, control_plane, t_created,
         t_ready, pod_cidr, ready="True", unschedulable=False, cpu="8", mem_kib=16393232,
         tunnel_ip=None, extra_taints=None, hb=None):
    labels = {
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
    }
    taints = []
    if control_plane:
        labels["node-role.kubernetes.io/control-plane"] = ""
        labels["node.kubernetes.io/exclude-from-external-load-balancers"] = ""
        taints.append({"effect": "NoSchedule", "key": "node-role.kubernetes.io/control-plane"})
    else:
        labels["node-role.kubernetes.io/worker"] = ""
    taints.extend(extra_taints or [])
    if unschedulable:
        taints.append({"effect": "NoSchedule", "key": "node.kubernetes.io/unschedulable",
                       "timeAdded": t_ready})
    spec = {"podCIDR": pod_cidr, "podCIDRs": [pod_cidr]}
    if unschedulable:
        spec["unschedulable"] = True
    if taints:
        spec["taints"] = taints
    hb = hb or "2024-06-03T08:14:27Z"
    pressure = [
        ("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
        ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ]
    conds = [{"type": "NetworkUnavailable", "status": "False", "reason": "CalicoIsUp",
              "message": "Calico is running on this node",
              "lastHeartbeatTime": t_ready, "lastTransitionTime": t_ready}]
    if ready == "True":
        for t, r, m in pressure:
            conds.append({"type": t, "status": "False", "reason": r, "message": m,
                          "lastHeartbeatTime": hb, "lastTransitionTime": t_created})
        conds.append({"type": "Ready", "status": "True", "reason": "KubeletReady",
                      "message": "kubelet is posting ready status. AppArmor enabled",
                      "lastHeartbeatTime": hb, "lastTransitionTime": t_ready})
    else:  # node lifecycle controller view of a kubelet that stopped reporting
        for t, r, m in pressure:
            conds.append({"type": t, "status": "Unknown", "reason": "NodeStatusUnknown",
                          "message": "Kubelet stopped posting node status.",
                          "lastHeartbeatTime": t_ready, "lastTransitionTime": hb})
        conds.append({"type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown",
                      "message": "Kubelet stopped posting node status.",
                      "lastHeartbeatTime": t_ready, "lastTransitionTime": hb})
    annotations = {
        "kubeadm.alpha.kubernetes.io/cri-socket": "unix:///run/containerd/containerd.sock",
        "node.alpha.kubernetes.io/ttl": "0",
        "projectcalico.org/IPv4Address": f"{ip}/24",
        "projectcalico.org/IPv4IPIPTunnelAddr": tunnel_ip or "10.233.64.1",
        "volumes.kubernetes.io/controller-managed-attach-detach": "true",
    }
    mem = f"{mem_kib}Ki"
    alloc_mem = f"{mem_kib - 102400}Ki"
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": labels, "annotations": annotations},
        "spec": spec,
        "status": {
            "addresses": [{"type": "InternalIP", "address": ip},
                          {"type": "Hostname", "address": name}],
            "allocatable": {"cpu": cpu, "ephemeral-storage": "94580335255",
                            "hugepages-1Gi": "0", "hugepages-2Mi": "0",
                            "memory": alloc_mem, "pods": "110"},
            "capacity": {"cpu": cpu, "ephemeral-storage": "102626232Ki",
                         "hugepages-1Gi": "0", "hugepages-2Mi": "0",
                         "memory": mem, "pods": "110"},
            "conditions": conds,
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "architecture": "amd64",
                "bootID": str(uuid.uuid5(uuid.NAMESPACE_DNS, "boot." + name + ip)),
                "containerRuntimeVersion": f"containerd://{containerd}",
                "kernelVersion": kernel,
                "kubeProxyVersion": kubelet,
                "kubeletVersion": kubelet,
                "machineID": hexid("machine" + name + ip, 32),
                "operatingSystem": "linux",
                "osImage": os_image,
                "systemUUID": str(uuid.uuid5(uuid.NAMESPACE_DNS, "sys." + name + ip)),
            },
        },
    }


# ----------------------------------------------------------------- pods

def container_status(c, node_seed, started_at, ready=True, restarts=0, state=None,
                     last_state=None, started=None):
    st = {
        "containerID": "containerd://" + hexid(node_seed + c["name"] + str(restarts)),
        "image": full_image(c["image"]),
        "imageID": image_id(c["image"]),
        "lastState": last_state or {},
        "name": c["name"],
        "ready": ready,
        "restartCount": restarts,
        "started": ready if started is None else started,
        "state": state or {"running": {"startedAt": started_at}},
    }
    if state and "waiting" in state and not restarts and not last_state:
        # never ran: no containerID / imageID yet
        st.pop("containerID")
        st["imageID"] = ""
        st["started"] = False
    return st


def pod(name, ns, containers, node_name, host_ip, pod_ip, t_start, labels=None,
        annotations=None, owner_refs=None, phase="Running", ready=True,
        statuses=None, host_network=False, sa="default", priority_class=None,
        tolerations=None, node_selector=None, extra_spec=None, conditions=None,
        qos="Burstable", init_containers=None, init_statuses=None, volumes=None):
    md = {"name": name, "namespace": ns}
    if labels:
        md["labels"] = labels
    if annotations:
        md["annotations"] = annotations
    if owner_refs:
        md["ownerReferences"] = owner_refs
    spec = {
        "containers": containers,
        "dnsPolicy": "ClusterFirstWithHostNet" if host_network else "ClusterFirst",
        "enableServiceLinks": True,
        "preemptionPolicy": "PreemptLowerPriority",
        "priority": 0,
        "restartPolicy": "Always",
        "schedulerName": "default-scheduler",
        "securityContext": {},
        "serviceAccount": sa,
        "serviceAccountName": sa,
        "terminationGracePeriodSeconds": 30,
    }
    if node_name:
        spec["nodeName"] = node_name
    if init_containers:
        spec["initContainers"] = init_containers
    if host_network:
        spec["hostNetwork"] = True
    if priority_class:
        spec["priorityClassName"] = priority_class
        spec["priority"] = 2000001000 if priority_class == "system-node-critical" else 2000000000
    spec["tolerations"] = (tolerations or []) + [
        {"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists",
         "tolerationSeconds": 300},
        {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "operator": "Exists",
         "tolerationSeconds": 300},
    ] if not tolerations or not any(t.get("operator") == "Exists" and "key" not in t for t in tolerations) else tolerations
    if node_selector:
        spec["nodeSelector"] = node_selector
    if volumes:
        spec["volumes"] = volumes
    if extra_spec:
        spec.update(extra_spec)
    seed = f"{ns}/{name}"
    if statuses is None:
        statuses = [container_status(c, seed, t_start, ready=ready) for c in containers]
    if conditions is None:
        r = "True" if ready else "False"
        conditions = [
            {"lastProbeTime": None, "lastTransitionTime": t_start, "status": "True", "type": "Initialized"},
            {"lastProbeTime": None, "lastTransitionTime": t_start, "status": r, "type": "Ready"},
            {"lastProbeTime": None, "lastTransitionTime": t_start, "status": r, "type": "ContainersReady"},
            {"lastProbeTime": None, "lastTransitionTime": t_start, "status": "True", "type": "PodScheduled"},
        ]
        if not ready:
            names = ",".join(s["name"] for s in statuses if not s["ready"]) or containers[0]["name"]
            for c in conditions[1:3]:
                c["reason"] = "ContainersNotReady"
                c["message"] = f"containers with unready status: [{names}]"
    status = {"conditions": conditions, "phase": phase, "qosClass": qos}
    if node_name:
        status["hostIP"] = host_ip
        status["startTime"] = t_start
        status["containerStatuses"] = statuses
        if pod_ip:
            status["podIP"] = pod_ip
            status["podIPs"] = [{"ip": pod_ip}]
    if init_statuses:
        status["initContainerStatuses"] = init_statuses
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": spec, "status": status}


def container(name, image, ports=None, args=None, command=None, resources=None,
              probes=None, env=None, mounts=None, pull="IfNotPresent"):
    c = {"name": name, "image": image, "imagePullPolicy": pull}
    if command:
        c["command"] = command
    if args:
        c["args"] = args
    if env:
        c["env"] = env
    if ports:
        c["ports"] = ports
    c["resources"] = resources if resources is not None else {}
    if probes:
        c.update(probes)
    c["terminationMessagePath"] = "/dev/termination-log"
    c["terminationMessagePolicy"] = "File"
    if mounts:
        c["volumeMounts"] = mounts
    return c


# ----------------------------------------------------------------- workloads

def deployment(name, ns, labels, selector, template_labels, containers, replicas,
               t_created, available=None, ready=None, updated=None, annotations=None,
               pod_spec_extra=None, generation=1, revision="1", strategy=None,
               template_annotations=None, progressing=True):
    available = replicas if available is None else available
    ready = available if ready is None else ready
    updated = replicas if updated is None else updated
    unavailable = replicas - available
    md = {"name": name, "namespace": ns, "labels": labels,
          "annotations": {"deployment.kubernetes.io/revision": revision, **(annotations or {})}}
    tmd = {"labels": template_labels}
    if template_annotations:
        tmd["annotations"] = template_annotations
    pspec = {"containers": containers, "dnsPolicy": "ClusterFirst", "restartPolicy": "Always",
             "schedulerName": "default-scheduler", "securityContext": {},
             "terminationGracePeriodSeconds": 30}
    pspec.update(pod_spec_extra or {})
    conds = []
    if available >= replicas or replicas == 0:
        conds.append({"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
                      "message": "Deployment has minimum availability.",
                      "lastTransitionTime": t_created, "lastUpdateTime": t_created})
    else:
        conds.append({"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable",
                      "message": "Deployment does not have minimum availability.",
                      "lastTransitionTime": t_created, "lastUpdateTime": t_created})
    rs_name = f"{name}-{h('rs' + ns + name + revision, 10 if len(name) < 40 else 9)}"
    if progressing:
        conds.append({"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                      "message": f'ReplicaSet "{rs_name}" has successfully progressed.',
                      "lastTransitionTime": t_created, "lastUpdateTime": t_created})
    else:
        conds.append({"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                      "message": f'ReplicaSet "{rs_name}" has timed out progressing.',
                      "lastTransitionTime": t_created, "lastUpdateTime": t_created})
    status = {"conditions": conds, "observedGeneration": generation}
    if replicas:
        status.update({"replicas": replicas, "updatedReplicas": updated})
        if ready:
            status["readyReplicas"] = ready
        if available:
            status["availableReplicas"] = available
        if unavailable:
            status["unavailableReplicas"] = unavailable
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": md,
        "spec": {
            "progressDeadlineSeconds": 600, "replicas": replicas, "revisionHistoryLimit": 10,
            "selector": {"matchLabels": selector},
            "strategy": strategy or {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
                                     "type": "RollingUpdate"},
            "template": {"metadata": tmd, "spec": pspec},
        },
        "status": status,
    }, rs_name


def replicaset(dep, rs_name, t_created):
    md = dep["metadata"]
    tmpl = json.loads(json.dumps(dep["spec"]["template"]))
    ph = rs_name.rsplit("-", 1)[1]
    tmpl["metadata"]["labels"] = {**tmpl["metadata"]["labels"], "pod-template-hash": ph}
    sel = {**dep["spec"]["selector"]["matchLabels"], "pod-template-hash": ph}
    ds = dep["status"]
    st = {"observedGeneration": 1, "replicas": dep["spec"]["replicas"],
          "fullyLabeledReplicas": dep["spec"]["replicas"]}
    if ds.get("readyReplicas"):
        st["readyReplicas"] = ds["readyReplicas"]
    if ds.get("availableReplicas"):
        st["availableReplicas"] = ds["availableReplicas"]
    if not dep["spec"]["replicas"]:
        st.pop("fullyLabeledReplicas")
    return {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {
            "name": rs_name, "namespace": md["namespace"],
            "labels": {**tmpl["metadata"]["labels"]},
            "annotations": {
                "deployment.kubernetes.io/desired-replicas": str(dep["spec"]["replicas"]),
                "deployment.kubernetes.io/max-replicas": str(dep["spec"]["replicas"] + 1),
                "deployment.kubernetes.io/revision": md["annotations"]["deployment.kubernetes.io/revision"],
            },
            "ownerReferences": [owner("apps/v1", "Deployment", md["name"])],
        },
        "spec": {"replicas": dep["spec"]["replicas"], "selector": {"matchLabels": sel},
                 "template": tmpl},
        "status": st,
    }, ph


def daemonset(name, ns, labels, selector, template_labels, containers, nodes_count,
              t_created, ready=None, updated=None, available=None, pod_spec_extra=None,
              generation=1, revision_hash=None, annotations=None):
    ready = nodes_count if ready is None else ready
    updated = nodes_count if updated is None else updated
    available = ready if available is None else available
    pspec = {"containers": containers, "dnsPolicy": "ClusterFirst", "restartPolicy": "Always",
             "schedulerName": "default-scheduler", "securityContext": {},
             "terminationGracePeriodSeconds": 30}
    pspec.update(pod_spec_extra or {})
    st = {"currentNumberScheduled": nodes_count, "desiredNumberScheduled": nodes_count,
          "numberAvailable": available, "numberMisscheduled": 0, "numberReady": ready,
          "observedGeneration": generation, "updatedNumberScheduled": updated}
    if nodes_count - available:
        st["numberUnavailable"] = nodes_count - available
    md = {"name": name, "namespace": ns, "labels": labels,
          "annotations": {"deprecated.daemonset.template.generation": str(generation), **(annotations or {})}}
    return {
        "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": md,
        "spec": {"revisionHistoryLimit": 10, "selector": {"matchLabels": selector},
                 "template": {"metadata": {"labels": template_labels}, "spec": pspec},
                 "updateStrategy": {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1},
                                    "type": "RollingUpdate"}},
        "status": st,
    }


def statefulset(name, ns, labels, selector, template_labels, containers, replicas,
                service_name, ready=None, pod_spec_extra=None, vct=None):
    ready = replicas if ready is None else ready
    rev = f"{name}-{h('sts' + ns + name, 10)}"
    pspec = {"containers": containers, "dnsPolicy": "ClusterFirst", "restartPolicy": "Always",
             "schedulerName": "default-scheduler", "securityContext": {},
             "terminationGracePeriodSeconds": 30}
    pspec.update(pod_spec_extra or {})
    spec = {"podManagementPolicy": "Parallel", "replicas": replicas, "revisionHistoryLimit": 10,
            "selector": {"matchLabels": selector}, "serviceName": service_name,
            "template": {"metadata": {"labels": template_labels}, "spec": pspec},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}}
    if vct:
        spec["volumeClaimTemplates"] = vct
    return {
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": spec,
        "status": {"availableReplicas": ready, "collisionCount": 0, "currentReplicas": replicas,
                   "currentRevision": rev, "observedGeneration": 1, "readyReplicas": ready,
                   "replicas": replicas, "updateRevision": rev, "updatedReplicas": replicas},
    }, rev


def service(name, ns, ports, selector=None, labels=None, annotations=None, stype="ClusterIP",
            cluster_ip=None, headless=False):
    md = {"name": name, "namespace": ns}
    if labels:
        md["labels"] = labels
    if annotations:
        md["annotations"] = annotations
    ip = "None" if headless else cluster_ip
    spec = {"clusterIP": ip, "clusterIPs": [ip], "internalTrafficPolicy": "Cluster",
            "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack", "ports": ports,
            "sessionAffinity": "None", "type": stype}
    if selector is not None:
        spec["selector"] = selector
    if stype == "NodePort":
        spec["externalTrafficPolicy"] = "Cluster"
    return {"apiVersion": "v1", "kind": "Service", "metadata": md, "spec": spec,
            "status": {"loadBalancer": {}}}


def endpoints_for(svc, pods):
    """Endpoints as the endpoints controller would write them for svc."""
    sel = svc["spec"].get("selector")
    if not sel:
        return None
    ns = svc["metadata"]["namespace"]
    ready, not_ready = [], []
    for p in pods:
        if p["metadata"]["namespace"] != ns:
            continue
        lbl = p["metadata"].get("labels", {})
        if any(lbl.get(k) != v for k, v in sel.items()):
            continue
        ip = p["status"].get("podIP")
        if not ip or p["status"]["phase"] in ("Succeeded", "Failed"):
            continue
        addr = {"ip": ip, "nodeName": p["spec"]["nodeName"],
                "targetRef": {"kind": "Pod", "name": p["metadata"]["name"], "namespace": ns,
                              "uid": fake_uid("Pod/" + ns + "/" + p["metadata"]["name"])}}
        is_ready = any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"]["conditions"])
        (ready if is_ready else not_ready).append(addr)
    ports = []
    for sp in svc["spec"]["ports"]:
        tp = sp.get("targetPort", sp["port"])
        if isinstance(tp, str):
            tp = _resolve_named_port(pods, sel, ns, tp) or sp["port"]
        ep = {"port": tp, "protocol": sp.get("protocol", "TCP")}
        if "name" in sp:
            ep["name"] = sp["name"]
        ports.append(ep)
    md = {"name": svc["metadata"]["name"], "namespace": ns}
    if svc["metadata"].get("labels"):
        md["labels"] = dict(svc["metadata"]["labels"])
    out = {"apiVersion": "v1", "kind": "Endpoints", "metadata": md}
    if ready or not_ready:
        subset = {}
        if ready:
            subset["addresses"] = sorted(ready, key=lambda a: a["ip"])
        if not_ready:
            subset["notReadyAddresses"] = sorted(not_ready, key=lambda a: a["ip"])
        subset["ports"] = ports
        out["subsets"] = [subset]
    return out


def _resolve_named_port(pods, sel, ns, name):
    for p in pods:
        if p["metadata"]["namespace"] != ns:
            continue
        lbl = p["metadata"].get("labels", {})
        if any(lbl.get(k) != v for k, v in sel.items()):
            continue
        for c in p["spec"]["containers"]:
            for port in c.get("ports", []):
                if port.get("name") == name:
                    return port["containerPort"]
    return None


def configmap(name, ns, data, labels=None, annotations=None):
    md = {"name": name, "namespace": ns}
    if labels:
        md["labels"] = labels
    if annotations:
        md["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": md, "data": data}


def crd(group, kind, plural, scope, versions, singular=None, short=None, categories=None,
        columns=None, subresources=None, list_kind=None, annotations=None, labels=None,
        status_subresource_versions=None):
    """versions: list of (name, served, storage)."""
    names = {"kind": kind, "listKind": list_kind or kind + "List", "plural": plural,
             "singular": singular or kind.lower()}
    if short:
        names["shortNames"] = short
    if categories:
        names["categories"] = categories
    vs = []
    for vname, served, storage in versions:
        v = {"name": vname, "served": served, "storage": storage,
             "schema": {"openAPIV3Schema": {
                 "type": "object",
                 "properties": {
                     "apiVersion": {"type": "string"},
                     "kind": {"type": "string"},
                     "metadata": {"type": "object"},
                     "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                     "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                 },
                 "x-kubernetes-preserve-unknown-fields": True}}}
        if columns:
            v["additionalPrinterColumns"] = columns
        if subresources is not None:
            v["subresources"] = subresources
        vs.append(v)
    md = {"name": f"{plural}.{group}"}
    md["annotations"] = annotations if annotations is not None else {
        "controller-gen.kubebuilder.io/version": "(unknown)"}
    if not md["annotations"]:
        md.pop("annotations")
    if labels:
        md["labels"] = labels
    stored = [v[0] for v in versions if v[2]]
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": md,
        "spec": {"group": group, "names": names, "scope": scope, "versions": vs},
        "status": {
            "acceptedNames": names,
            "conditions": [
                {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
                 "message": "no conflicts found", "lastTransitionTime": "2024-03-18T06:40:12Z"},
                {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
                 "message": "the initial names have been accepted",
                 "lastTransitionTime": "2024-03-18T06:40:12Z"},
            ],
            "storedVersions": stored,
        },
    }


def strip_status(obj):
    o = json.loads(json.dumps(obj))
    o.pop("status", None)
    md = o.get("metadata", {})
    for k in ("ownerReferences",):
        md.pop(k, None)
    ann = md.get("annotations", {})
    ann.pop("deployment.kubernetes.io/revision", None)
    ann.pop("deprecated.daemonset.template.generation", None)
    if "annotations" in md and not ann:
        md.pop("annotations")
    return o
