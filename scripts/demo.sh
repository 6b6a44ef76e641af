#!/usr/bin/env bash
# The main job, with no real cluster: builds the suite and kubesim, starts a simulated cluster
# (default: a KubeSphere v3.4.1 host on Kubernetes v1.26), installs the four plugins into a
# temporary bin directory the way krew does, and runs, through the real kubectl:
#   kubectl upgrade-plan, then kubectl health.
# Usage: scripts/demo.sh [SCENARIO]   (kubesim scenarios: ks34-host ks34-member ks41-host-migrated broken)
set -euo pipefail
scenario=${1:-ks34-host}
cd "$(dirname "$0")/.."

cargo build --quiet --bins
work=$(mktemp -d)
sim=
cleanup() { [ -n "$sim" ] && kill "$sim" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

./target/debug/kubesim serve --scenario "$scenario" --kubeconfig "$work/kubeconfig" &
sim=$!
for _ in $(seq 1 200); do [ -s "$work/kubeconfig" ] && break; sleep 0.05; done
[ -s "$work/kubeconfig" ] || { echo "kubesim did not start" >&2; exit 2; }

mkdir "$work/bin"
for plugin in kubectl-upgrade_plan kubectl-ks_migrate kubectl-untaint_member kubectl-health; do
  ln -s "$PWD/target/debug/$plugin" "$work/bin/$plugin"
done
export PATH="$work/bin:$PATH" KUBECONFIG="$work/kubeconfig"

echo "\$ kubectl upgrade-plan        # against kubesim scenario '$scenario'"
plan=0; kubectl upgrade-plan || plan=$?
echo
echo "\$ kubectl health"
health=0; kubectl health || health=$?
echo
echo "exit codes: upgrade-plan $plan, health $health (0 ready/healthy, 1 findings, 2 could not run)"
