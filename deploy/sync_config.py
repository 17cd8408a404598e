"""Copy config/*.json into the deployment artefacts: ``uv run python deploy/sync_config.py``.

config/ is the one source of the gateway's configuration files. Kubernetes and Helm cannot read
files outside their own folders, so each holds a copy: deploy/k8s/configmap.yaml embeds them,
and the chart reads deploy/helm/llm-gateway/files/. tests/unit/test_deploy_manifests.py fails
when a copy differs from config/; run this script after editing config/.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG_FILES = ("providers.json", "tools.json", "pricing.json", "models.json")
CONFIGMAP = ROOT / "deploy" / "k8s" / "configmap.yaml"
CHART_FILES = ROOT / "deploy" / "helm" / "llm-gateway" / "files"

_CONFIGMAP_HEADER = """\
# GENERATED from config/*.json by deploy/sync_config.py: edit config/, then re-run the script.
# Mounted at /app/config (replacing the image's copy). The gateway reads these files once, at
# start-up: after changing them, `kubectl rollout restart deployment/llm-gateway`.
# No secrets here: provider keys come from the Secret, through environment variables.
apiVersion: v1
kind: ConfigMap
metadata:
  name: llm-gateway-config
  labels:
    app.kubernetes.io/name: llm-gateway
    app.kubernetes.io/component: gateway
data:
"""


def _literal_block(name: str, text: str) -> str:
    """``name: |`` and the file's lines indented: YAML gives back ``text`` byte for byte."""
    indicator = "|" if text.endswith("\n") else "|-"
    body = "".join(f"    {line}\n" if line else "\n" for line in text.splitlines())
    return f"  {name}: {indicator}\n{body}"


def render_configmap() -> str:
    files = {name: (ROOT / "config" / name).read_text("utf-8") for name in CONFIG_FILES}
    return _CONFIGMAP_HEADER + "".join(_literal_block(n, text) for n, text in files.items())


def main() -> None:
    CONFIGMAP.write_text(render_configmap(), encoding="utf-8")
    CHART_FILES.mkdir(parents=True, exist_ok=True)
    for name in CONFIG_FILES:
        (CHART_FILES / name).write_text((ROOT / "config" / name).read_text("utf-8"), "utf-8")
    print(f"wrote {CONFIGMAP.relative_to(ROOT)} and {CHART_FILES.relative_to(ROOT)}/")


if __name__ == "__main__":
    main()
