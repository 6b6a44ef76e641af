"""A scenario under construction: accumulates objects and derives pods,
ReplicaSets and Endpoints the way the controllers would."""
import base64
import ipaddress

import k8s
from k8s import h, owner

CP_TOLERATIONS = [{"effect": "NoSchedule", "key": "node-role.kubernetes.io/control-plane"},
                  {"effect": "NoSchedule", "key": "node-role.kubernetes.io/master"}]


class Cluster:
    def __init__(self, name, description, git_version, t0):
        self.name = name
        self.description = description
        self.git_version = git_version
        self.t0 = t0
        self.crds, self.namespaces, self.cluster_scoped, self.objs = [], [], [], []
        self.pods = []
        self.nodes = []  # (name, ip, cidr, control_plane)
        self._ipnext = {}
        self._rr = 0
        self.avoid = set()  # nodes the scheduler would not pick (e.g. NotReady)

    # -- plumbing -------------------------------------------------------
    def add(self, *objs):
        for o in objs:
            if o is None:
                continue
            kind = o["kind"]
            if kind == "CustomResourceDefinition":
                self.crds.append(o)
            elif kind == "Namespace":
                self.namespaces.append(o)
            elif "namespace" not in o["metadata"]:
                self.cluster_scoped.append(o)
            else:
                self.objs.append(o)
                if kind == "Pod":
                    self.pods.append(o)
        return objs[0] if len(objs) == 1 else objs

    def add_node(self, name, ip, control_plane, **kw):
        idx = len(self.nodes)
        cidr = f"10.233.{64 + idx}.0/24"
        tunnel = f"10.233.{64 + idx}.1"
        n = k8s.node(name, ip, control_plane=control_plane, pod_cidr=cidr, tunnel_ip=tunnel, **kw)
        self.nodes.append((name, ip, cidr, control_plane))
        self._ipnext[name] = 2
        self.add(n)
        return n

    def node_ip(self, name):
        return next(n[1] for n in self.nodes if n[0] == name)

    def pod_ip(self, node_name):
        cidr = next(n[2] for n in self.nodes if n[0] == node_name)
        i = self._ipnext[node_name]
        self._ipnext[node_name] += 1
        return str(ipaddress.ip_network(cidr).network_address + i)

    def workers(self):
        return [n[0] for n in self.nodes if not n[3]]

    def placeable(self):
        return [n for n in self.workers() if n not in self.avoid]

    def cps(self):
        return [n[0] for n in self.nodes if n[3]]

    def pick(self, candidates):
        n = candidates[self._rr % len(candidates)]
        self._rr += 1
        return n

    # -- workloads ------------------------------------------------------
    def deploy(self, name, ns, containers, replicas=1, labels=None, selector=None,
               pod_labels=None, nodes=None, pod_states=None, t=None, sa="default",
               pod_spec_extra=None, annotations=None, tolerations=None, template_annotations=None,
               helm=None, revision="1", available=None, progressing=True, strategy=None,
               generation=1, node_selector=None, volumes=None):
        """pod_states: optional list (per replica) of dicts overriding pod fields:
        {ready, phase, statuses, node, conditions, pod_ip, annotations}."""
        t = t or self.t0
        selector = selector or {"app": name}
        labels = labels or dict(selector)
        pod_labels = pod_labels or dict(selector)
        pod_states = pod_states or [{} for _ in range(replicas)]
        n_ready = sum(1 for s in pod_states if s.get("ready", True) and s.get("phase", "Running") == "Running")
        if available is None:
            available = n_ready
        ann = dict(annotations or {})
        lbl = dict(labels)
        if helm:
            lbl["app.kubernetes.io/managed-by"] = "Helm"
            ann.update({"meta.helm.sh/release-name": helm[0], "meta.helm.sh/release-namespace": helm[1]})
        extra = {"serviceAccount": sa, "serviceAccountName": sa} if sa != "default" else {}
        if tolerations:
            extra["tolerations"] = tolerations
        if node_selector:
            extra["nodeSelector"] = node_selector
        if volumes:
            extra["volumes"] = volumes
        extra.update(pod_spec_extra or {})
        dep, rs_name = k8s.deployment(name, ns, lbl, selector, pod_labels, containers, replicas, t,
                                      available=available, ready=n_ready, annotations=ann,
                                      pod_spec_extra=extra, revision=revision,
                                      progressing=progressing, strategy=strategy,
                                      generation=generation,
                                      template_annotations=template_annotations)
        rs, ph = k8s.replicaset(dep, rs_name, t)
        self.add(dep, rs)
        for i, st in enumerate(pod_states):
            pname = f"{rs_name}-{h(rs_name + str(i), 5)}"
            self._mkpod(pname, ns, containers, {**pod_labels, "pod-template-hash": ph},
                        [owner("apps/v1", "ReplicaSet", rs_name)], st, nodes, t, sa,
                        tolerations, node_selector, volumes, template_annotations)
        return dep

    def _mkpod(self, pname, ns, containers, labels, owners, st, nodes, t, sa, tolerations,
               node_selector=None, volumes=None, annotations=None, host_network=False,
               priority_class=None, extra_spec=None, qos="Burstable"):
        node_name = st.get("node") or self.pick(nodes or self.placeable())
        phase = st.get("phase", "Running")
        ready = st.get("ready", True) and phase == "Running"
        scheduled = st.get("scheduled", True)
        if host_network:
            ip = self.node_ip(node_name)
        elif phase == "Pending" and not st.get("statuses"):
            ip = None
        else:
            ip = st.get("pod_ip") or self.pod_ip(node_name)
        if st.get("statuses") and phase == "Pending":
            ip = None
        if st.get("annotations"):
            annotations = {**(annotations or {}), **st["annotations"]}
        p = k8s.pod(pname, ns, containers, node_name if scheduled else None,
                    self.node_ip(node_name), ip, st.get("t", t), labels=labels,
                    annotations=annotations, owner_refs=owners, phase=phase,
                    ready=ready, statuses=st.get("statuses"), sa=sa,
                    tolerations=tolerations, node_selector=node_selector,
                    volumes=volumes, host_network=host_network,
                    priority_class=priority_class, extra_spec=extra_spec,
                    conditions=st.get("conditions"), qos=qos)
        self.add(p)
        return p

    def daemonset(self, name, ns, containers, labels=None, selector=None, pod_labels=None,
                  t=None, sa="default", host_network=False, priority_class=None,
                  pod_states=None, generation=1, old_containers=None, updated_nodes=None,
                  helm=None):
        """pod_states: {node_name: {ready, statuses, ...}}; old_containers + updated_nodes
        model a rollout in progress (nodes not in updated_nodes still run old_containers)."""
        t = t or self.t0
        selector = selector or {"k8s-app": name}
        labels = labels or dict(selector)
        pod_labels = pod_labels or dict(selector)
        pod_states = pod_states or {}
        nodes = [n[0] for n in self.nodes]
        new_hash = h("cr" + ns + name + str(generation), 10)
        old_hash = h("cr" + ns + name + str(generation - 1), 10)
        tol = [{"operator": "Exists"}]
        ready = 0
        updated = 0
        for nn in nodes:
            is_new = updated_nodes is None or nn in updated_nodes
            cs = containers if is_new else old_containers
            st = pod_states.get(nn, {})
            if st.get("ready", True):
                ready += 1
            if is_new:
                updated += 1
            pl = {**pod_labels, "controller-revision-hash": new_hash if is_new else old_hash,
                  "pod-template-generation": str(generation if is_new else generation - 1)}
            pname = f"{name}-{h(name + nn, 5)}"
            self._mkpod(pname, ns, cs, pl, [owner("apps/v1", "DaemonSet", name)],
                        {**st, "node": nn}, nodes, t, sa, tol, host_network=host_network,
                        priority_class=priority_class,
                        extra_spec={"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In",
                                                                    "values": [nn]}]}]}}}})
        extra = {"tolerations": tol}
        if host_network:
            extra["hostNetwork"] = True
            extra["dnsPolicy"] = "ClusterFirstWithHostNet"
        if priority_class:
            extra["priorityClassName"] = priority_class
        if sa != "default":
            extra.update({"serviceAccount": sa, "serviceAccountName": sa})
        ann = None
        lbl = dict(labels)
        if helm:
            lbl["app.kubernetes.io/managed-by"] = "Helm"
            ann = {"meta.helm.sh/release-name": helm[0], "meta.helm.sh/release-namespace": helm[1]}
        ds = k8s.daemonset(name, ns, lbl, selector, pod_labels, containers, len(nodes), t,
                           ready=ready, updated=updated, pod_spec_extra=extra,
                           generation=generation, annotations=ann)
        self.add(ds)
        return ds

    def statefulset(self, name, ns, containers, replicas, service_name, labels=None,
                    selector=None, pod_labels=None, nodes=None, t=None, sa="default", vct=None):
        t = t or self.t0
        selector = selector or {"app": name}
        labels = labels or dict(selector)
        pod_labels = pod_labels or dict(selector)
        extra = {"serviceAccount": sa, "serviceAccountName": sa} if sa != "default" else {}
        sts, rev = k8s.statefulset(name, ns, labels, selector, pod_labels, containers, replicas,
                                   service_name, pod_spec_extra=extra, vct=vct)
        self.add(sts)
        for i in range(replicas):
            pname = f"{name}-{i}"
            self._mkpod(pname, ns, containers,
                        {**pod_labels, "controller-revision-hash": rev,
                         "statefulset.kubernetes.io/pod-name": pname,
                         "apps.kubernetes.io/pod-index": str(i)},
                        [owner("apps/v1", "StatefulSet", name)], {}, nodes, t, sa, None,
                        extra_spec={"hostname": pname, "subdomain": service_name})
        return sts

    def static_pod(self, component, node_name, image, command, t=None, extra_ann=None):
        t = t or self.t0
        ip = self.node_ip(node_name)
        ann = {
            "kubernetes.io/config.hash": k8s.hexid(component + node_name, 32),
            "kubernetes.io/config.mirror": k8s.hexid(component + node_name, 32),
            "kubernetes.io/config.seen": t.replace("Z", ".118273846Z"),
            "kubernetes.io/config.source": "file",
        }
        ann.update(extra_ann or {})
        c = k8s.container(component, image, command=command,
                          resources={"requests": {"cpu": {"kube-apiserver": "250m",
                                                          "kube-controller-manager": "200m",
                                                          "kube-scheduler": "100m",
                                                          "etcd": "100m"}[component]}})
        p = k8s.pod(f"{component}-{node_name}", "kube-system", [c], node_name, ip, ip, t,
                    labels={"component": component, "tier": "control-plane"}, annotations=ann,
                    owner_refs=[{"apiVersion": "v1", "controller": True, "kind": "Node",
                                 "name": node_name, "uid": k8s.fake_uid("Node/" + node_name)}],
                    host_network=True, priority_class="system-node-critical",
                    tolerations=[{"effect": "NoExecute", "operator": "Exists"}])
        p["spec"]["securityContext"] = {"seccompProfile": {"type": "RuntimeDefault"}}
        self.add(p)
        return p

    def job_complete(self, name, ns, containers, t_start, t_done, annotations=None, labels=None,
                     sa="default", node=None, volumes=None):
        uid = k8s.fake_uid(f"Job/{ns}/{name}")
        sel = {"batch.kubernetes.io/controller-uid": uid}
        pl = {"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": name,
              "controller-uid": uid, "job-name": name}
        spec_extra = {"serviceAccount": sa, "serviceAccountName": sa} if sa != "default" else {}
        if volumes:
            spec_extra["volumes"] = volumes
        job = {
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": name, "namespace": ns, "labels": {**(labels or {}), **pl}},
            "spec": {"backoffLimit": 6, "completionMode": "NonIndexed", "completions": 1,
                     "parallelism": 1, "selector": {"matchLabels": sel}, "suspend": False,
                     "template": {"metadata": {"labels": pl},
                                  "spec": {"containers": containers, "dnsPolicy": "ClusterFirst",
                                           "restartPolicy": "Never",
                                           "schedulerName": "default-scheduler",
                                           "securityContext": {},
                                           "terminationGracePeriodSeconds": 30, **spec_extra}}},
            "status": {"completionTime": t_done, "startTime": t_start, "succeeded": 1,
                       "ready": 0, "uncountedTerminatedPods": {},
                       "conditions": [{"type": "Complete", "status": "True",
                                       "lastProbeTime": t_done, "lastTransitionTime": t_done}]},
        }
        if annotations:
            job["metadata"]["annotations"] = annotations
        self.add(job)
        node = node or self.pick(self.placeable())
        pname = f"{name}-{h(name + 'jobpod', 5)}"
        sts = [k8s.container_status(c, ns + pname, t_start, ready=False, started=False,
                                    state={"terminated": {"containerID": "containerd://" + k8s.hexid(pname + c["name"]),
                                                          "exitCode": 0, "finishedAt": t_done,
                                                          "reason": "Completed", "startedAt": t_start}})
               for c in containers]
        conds = [
            {"lastProbeTime": None, "lastTransitionTime": t_start, "status": "True", "type": "Initialized"},
            {"lastProbeTime": None, "lastTransitionTime": t_done, "reason": "PodCompleted", "status": "False", "type": "Ready"},
            {"lastProbeTime": None, "lastTransitionTime": t_done, "reason": "PodCompleted", "status": "False", "type": "ContainersReady"},
            {"lastProbeTime": None, "lastTransitionTime": t_start, "status": "True", "type": "PodScheduled"},
        ]
        p = self._mkpod(pname, ns, containers, pl, [owner("batch/v1", "Job", name)],
                        {"node": node, "phase": "Succeeded", "ready": False, "statuses": sts,
                         "conditions": conds, "t": t_start}, None, t_start, sa, None,
                        volumes=volumes)
        p["spec"]["restartPolicy"] = "Never"
        return job

    def svc(self, name, ns, ports, selector=None, **kw):
        return self.add(k8s.service(name, ns, ports, selector, **kw))

    # -- output ---------------------------------------------------------
    def finalize(self):
        eps = []
        have = {(o["metadata"]["namespace"], o["metadata"]["name"]) for o in self.objs if o["kind"] == "Endpoints"}
        for o in self.objs:
            if o["kind"] == "Service" and o["spec"].get("selector"):
                key = (o["metadata"]["namespace"], o["metadata"]["name"])
                if key in have:
                    continue
                eps.append(k8s.endpoints_for(o, self.pods))
        self.objs.extend(e for e in eps if e)

    def documents(self):
        self.finalize()
        header = {"apiVersion": "kubesim.dev/v1", "kind": "KubesimScenario",
                  "metadata": {"name": self.name}, "description": self.description,
                  "gitVersion": self.git_version}
        order = {"Node": 0, "StorageClass": 1, "PriorityClass": 2, "ClusterRole": 3,
                 "ClusterRoleBinding": 4, "APIService": 5, "ValidatingWebhookConfiguration": 6,
                 "MutatingWebhookConfiguration": 7, "PersistentVolume": 8}
        cs = sorted(self.cluster_scoped, key=lambda o: order.get(o["kind"], 50))
        return [header] + self.crds + self.namespaces + cs + self.objs


def b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()
