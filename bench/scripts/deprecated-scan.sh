#!/usr/bin/env bash
# A kubectl-based deprecated-API scan, the way one is done by hand: for every kind that
# `kubectl upgrade-plan`'s removal table (shared/data/removed-apis.yaml) lists for the path
# current -> target, `kubectl get <resource>.<group> -A -o json` (one process each, sequentially),
# then jq reads each object's `kubectl.kubernetes.io/last-applied-configuration` and reports the
# objects last applied with a deprecated apiVersion. Like pluto/kubent's "in-cluster" mode it sees
# only what was applied with kubectl; Helm manifests and the apiserver metric are not read.
#
# Usage: deprecated-scan.sh [TABLE]   (TARGET=v1.N overrides the default: the next minor)
set -u
K=${KUBECTL:-kubectl}
here=$(cd "$(dirname "$0")" && pwd)
table=${1:-$here/../../shared/data/removed-apis.yaml}

server=$("$K" version -o json | jq -r '.serverVersion.gitVersion')
cur_minor=$(grep -oE '^v?[0-9]+\.[0-9]+' <<<"$server" | cut -d. -f2)
if [ -n "${TARGET:-}" ]; then
  target_minor=$(cut -d. -f2 <<<"$TARGET")
else
  target_minor=$((cur_minor + 1))
fi
echo "Kubernetes $server, target minor 1.$target_minor"

# The table's flow mappings -> "apiVersion kind resource removedIn listgroup" for the entries
# deprecated by the target (the plan's scan_kinds rule), skipping `scan: false`.
entries=$(grep '^- {' "$table" | grep -v 'scan: false' | awk -v t="$target_minor" '
  {
    line = $0; sub(/^- \{/, "", line); sub(/\}[[:space:]]*$/, "", line)
    n = split(line, kv, /, /); delete f
    for (i = 1; i <= n; i++) { p = index(kv[i], ": "); f[substr(kv[i], 1, p - 1)] = substr(kv[i], p + 2) }
    split(f["deprecatedIn"], d, "."); if (d[2] + 0 > t + 0) next
    src = (f["replacement"] != "" && f["replacement"] ~ /\//) ? f["replacement"] : f["apiVersion"]
    g = (src ~ /\//) ? substr(src, 1, index(src, "/") - 1) : ""
    print f["apiVersion"], f["kind"], f["resource"], (f["removedIn"] == "" ? "-" : f["removedIn"]), g
  }')

resources=$(awk '{ print ($5 == "" ? $3 : $3 "." $5) }' <<<"$entries" | sort -u)
deprecated=$(awk '{ print $1 "|" $2 "|" $4 }' <<<"$entries")
echo "$(wc -l <<<"$resources") resources to list"

found=0
for res in $resources; do
  hits=$("$K" get "$res" -A -o json --ignore-not-found 2>/dev/null | jq -r --arg dep "$deprecated" '
    ($dep | split("\n") | map(split("|") | {key: (.[0] + "|" + .[1]), value: .[2]}) | from_entries) as $d
    | .items[]?
    | .metadata as $m
    | ($m.annotations["kubectl.kubernetes.io/last-applied-configuration"] // empty)
    | (try fromjson catch empty)
    | select($d[(.apiVersion // "") + "|" + (.kind // "")] != null)
    | "\(.apiVersion) \(.kind) \(if $m.namespace then $m.namespace + "/" else "" end)\($m.name) removed-in=\($d[.apiVersion + "|" + .kind])"')
  if [ -n "$hits" ]; then
    echo "$hits"
    found=$((found + $(wc -l <<<"$hits")))
  fi
done
echo "$found objects last applied with a deprecated apiVersion"
exit 0
