"""Build Helm 3 release Secrets (storage driver "secret"), standard library only.

Helm stores base64(gzip(json(Release))) in Secret data key "release"
(helm pkg/storage/driver/util.go, gzip.BestCompression, StdEncoding).  A
Secret's .data values are base64 again, so .data.release in the YAML is
base64(base64(gzip(json))).  The gzip mtime is fixed at 0 so the output is
reproducible.

Labels follow pkg/storage/driver/secrets.go: owner=helm, name, status,
version, plus createdAt (set when a revision is created) or modifiedAt
(set when Helm later updates it, e.g. deployed -> superseded, or
pending-upgrade -> deployed).  A revision still in a pending-* state was
only ever created, so it carries createdAt.
"""
import base64
import gzip
import json


def encode_release(release: dict) -> str:
    raw = json.dumps(release, separators=(",", ":")).encode()
    gz = gzip.compress(raw, compresslevel=9, mtime=0)
    helm_text = base64.b64encode(gz)  # what Helm writes
    return base64.b64encode(helm_text).decode()  # what the Secret .data holds


def decode_secret_data(data_release: str) -> dict:
    helm_text = base64.b64decode(data_release)
    blob = base64.b64decode(helm_text)
    if blob[:3] == b"\x1f\x8b\x08":
        blob = gzip.decompress(blob)
    return json.loads(blob)


def release(name, namespace, revision, status, chart, chart_version, app_version,
            manifest, first_deployed, last_deployed, description=None,
            config=None, chart_description="", notes="", hooks=None):
    if description is None:
        description = {
            "deployed": "Install complete" if revision == 1 else "Upgrade complete",
            "superseded": "Install complete" if revision == 1 else "Upgrade complete",
            "pending-upgrade": "Preparing upgrade",
            "pending-install": "Initial install underway",
            "failed": "Upgrade failed",
        }.get(status, "")
    return {
        "name": name,
        "info": {
            "first_deployed": first_deployed,
            "last_deployed": last_deployed,
            "deleted": "",
            "description": description,
            "status": status,
            "notes": notes,
        },
        "chart": {
            "metadata": {
                "name": chart,
                "version": chart_version,
                "description": chart_description,
                "apiVersion": "v2",
                "appVersion": app_version,
                "type": "application",
            },
            "lock": None,
            "templates": [],
            "values": {},
            "schema": None,
            "files": [],
        },
        "config": config or {},
        "manifest": manifest,
        "hooks": hooks or [],
        "version": revision,
        "namespace": namespace,
    }


def release_secret(rel: dict, unix_time: int, created: bool = False) -> dict:
    labels = {
        "name": rel["name"],
        "owner": "helm",
        "status": rel["info"]["status"],
        "version": str(rel["version"]),
    }
    labels["createdAt" if created else "modifiedAt"] = str(unix_time)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": f"sh.helm.release.v1.{rel['name']}.v{rel['version']}",
            "namespace": rel["namespace"],
            "labels": labels,
        },
        "type": "helm.sh/release.v1",
        "data": {"release": encode_release(rel)},
    }
