#!/usr/bin/env bash
# The kubectl side of KubeSphere's `scripts/pre-check.sh` (ks-installer, v4.1.3 upgrade; read from
# https://github.com/wansir/ks-installer/blob/2672124c/scripts/pre-check.sh), reproduced so the
# benchmark can run it next to `kubectl upgrade-plan`. Credit for the structure goes upstream: the
# same checks in the same order issue the same kubectl commands, one process each, sequentially:
#   1. cluster objects: one `kubectl get <kind> -A` per kind, counted
#   2. nodes: a custom-columns table, three `get nodes` for counts, one for the status set, then per
#      node a `kubectl describe node` and a `get pods -A --field-selector spec.nodeName=<node>`
#   3. pods that are not Running (server-side field selector), minus Completed
#   4. KubeSphere info: api-resources, the ks-installer ClusterConfiguration and its version label,
#      `describe cc`
#   5. KubeSphere Cluster objects
#   6. node status, 7. default StorageClass, 8. server version (>= v1.21.0)
#   10. KubeSphere version (>= v3.4.0), 11. ks-installer pod and its last 20 log lines
# Dropped: 9. `helm version` (no helm binary here), the colours, `clear` and the tool checks.
# Written for this repository; prints a plain summary, exits 0 like upstream.
set -u
K=${KUBECTL:-kubectl}

semver_of() { grep -oE '[0-9]+\.[0-9]+\.[0-9]+' <<<"$1" | head -n1; }
# at_least CURRENT MINIMUM: true when CURRENT >= MINIMUM (x.y.z compared numerically)
at_least() {
  local a b i
  IFS=. read -r -a a <<<"$(semver_of "$1")"
  IFS=. read -r -a b <<<"$(semver_of "$2")"
  for i in 0 1 2; do
    ((${a[i]:-0} > ${b[i]:-0})) && return 0
    ((${a[i]:-0} < ${b[i]:-0})) && return 1
  done
  return 0
}

echo "== cluster objects"
for kind in deployment po svc ing statefulset daemonset rs sa sc pdb crd cronjobs pv pvc hpa; do
  n=$("$K" get "$kind" -A --ignore-not-found 2>/dev/null | grep -v NAMESPACE | wc -l)
  printf '%-14s %s\n' "$kind" "$n"
done

echo "== nodes"
"$K" get nodes -o=custom-columns=NAME:.metadata.name,STATUS:.status.conditions[-1].type,VERSION:.status.nodeInfo.kubeletVersion,OS:.status.nodeInfo.osImage,CONTAINER-RUNTIME:.status.nodeInfo.containerRuntimeVersion
echo "all:     $("$K" get nodes | grep -v NAME | wc -l)"
echo "workers: $("$K" get nodes | grep -v NAME | grep -c worker)"
echo "masters: $("$K" get nodes | grep -v NAME | grep -c master)"
echo "status:  $("$K" get node | grep -v NAME | awk '{print $2}' | sort -u | tr '\n' ' ')"
echo "-- kubelet per node"
for node in $("$K" get node | grep -v NAME | awk '{print $1}'); do
  echo "$node: $("$K" describe node "$node" | grep kubelet | awk '{print $15}' | sort -u | tr '\n' ' ')"
done
echo "-- pods per node"
for node in $("$K" get node | grep -v NAME | awk '{print $1}'); do
  echo "$node: $("$K" get pods --all-namespaces --field-selector "spec.nodeName=$node" -o wide | wc -l)"
done

echo "== pods not Running or Completed"
"$K" get pods --all-namespaces --field-selector=status.phase!=Running --ignore-not-found | grep -v Completed

echo "== KubeSphere info"
has_cc() {
  [ "$("$K" api-resources | grep -c ClusterConfiguration)" -gt 0 ] &&
    [ "$("$K" get cc -n kubesphere-system ks-installer --no-headers --ignore-not-found | wc -l)" -gt 0 ]
}
if has_cc; then
  echo "version: $("$K" get cc ks-installer -n kubesphere-system -o jsonpath='{.metadata.labels.version}')"
  "$K" describe cc -n kubesphere-system ks-installer | awk '/Status:/{on=1} on && /^ /'
else
  echo "FAIL no ClusterConfiguration (cc) found, this cluster can't be upgraded"
fi

echo "== KubeSphere clusters"
"$K" get cluster.cluster.kubesphere.io --no-headers

echo "== checks"
if "$K" get nodes | grep -v NAME | awk '{print $2}' | sort -u | grep -qvx Ready; then
  echo "FAIL a node is not Ready"
else
  echo "ok   all nodes are Ready"
fi
if [ "$("$K" get sc | grep -c '(default)')" -eq 0 ]; then
  echo "FAIL no default storageclass"
else
  echo "ok   default storageclass found"
fi
# upstream takes the third word; older kubectl clients print `version.Info{…GitVersion:"v1.27.16"…}`
server=$("$K" version 2>/dev/null | grep 'Server Version' | grep -oE 'v[0-9]+\.[0-9]+\.[0-9]+' | head -n1)
if at_least "$server" v1.21.0; then
  echo "ok   Kubernetes $server >= v1.21.0"
else
  echo "FAIL Kubernetes $server < v1.21.0"
fi
if has_cc; then
  ks=$("$K" get cc ks-installer -n kubesphere-system -o jsonpath='{.metadata.labels.version}')
  if at_least "$ks" v3.4.0; then
    echo "ok   KubeSphere $ks >= v3.4.0"
  else
    echo "FAIL KubeSphere $ks < v3.4.0"
  fi
else
  echo "FAIL no ClusterConfiguration (cc) found"
fi
sel='app in (ks-install, ks-installer)'
if [ "$("$K" get pod --no-headers --ignore-not-found -n kubesphere-system -l "$sel" | wc -l)" -eq 0 ]; then
  echo "ok   no tasks running in ks-installer"
else
  pod=$("$K" get pod -n kubesphere-system -l "$sel" -o jsonpath='{.items[0].metadata.name}')
  if "$K" logs -n kubesphere-system "$pod" --tail=20 2>/dev/null | grep -q 'Welcome to KubeSphere!'; then
    echo "ok   no tasks running in ks-installer"
  else
    echo "FAIL tasks running in ks-installer (or its log is unavailable)"
  fi
fi
exit 0
