#!/usr/bin/env bash
# The dependency floors of pyproject.toml, checked (issue 28, item 20): a fresh virtual
# environment with every `>=` floor of the dependencies and of the ray, compare and export
# extras installed exactly (`==`), the project itself without dependencies, the test tools at
# their latest, then the fast test tier. A floor that cannot install or fails a test is a
# floor to raise. Slow (it downloads torch's floor): run by hand, not in CI.
#   bash .ci/floors.sh            # FLOORS_VENV=/tmp/floors-venv by default
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${FLOORS_VENV:-/tmp/floors-venv}"
rm -rf "$venv"
python3 -m venv "$venv"
pins=$("$venv/bin/python" - <<'PY'
import re, tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
extras = project["optional-dependencies"]
deps = project["dependencies"] + extras["ray"] + extras["compare"] + extras["export"]
print(" ".join(re.sub(r"\s*>=\s*", "==", d.split(";")[0].split("#")[0]).replace(" ", "")
               for d in deps if ">=" in d))
PY
)
echo "floors: $pins"
# pip's constraint file on this machine caps torch at what lies on disk: floors sit below it
"$venv/bin/pip" install -q $pins pytest pytest-timeout hypothesis
"$venv/bin/pip" install -q --no-deps -e .
"$venv/bin/pip" freeze | grep -iE "^(torch|torchvision|numpy|hydra-core|omegaconf|tensorboard|tqdm|matplotlib|pyyaml|ray|optuna|onnx|onnxscript|onnxruntime)=" 
"$venv/bin/python" -m pytest -q -m "not slow" -p no:cacheprovider
