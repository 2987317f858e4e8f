#!/usr/bin/env bash
# Validates the deployment files without a cluster or a Docker engine:
#   1. renders base and every overlay with kustomize (`kustomize build`, or `kubectl kustomize`
#      where only kubectl is installed); a renderer is required (see below);
#   2. kubernetes-validate --strict: every manifest (raw files of base/ and the overlays, and the
#      rendered overlays) against the Kubernetes API schemas of the oldest supported version
#      (1.30: `lifecycle.preStop.sleep`) and of the newest the tool knows;
#   3. a few project rules kubernetes-validate cannot express (no literal secrets in env, ...;
#      in prod: images by digest, and the TLS wiring, which stands in for the schemas of the
#      custom kinds listed in deploy/custom-kinds.txt: step 2 fails on any other kind it cannot
#      check);
#   4. checkov (security/policy): raw files, each rendered overlay, and the Dockerfile; every
#      check passes but those listed, each with its reason, in deploy/checkov.skip, and a listed
#      check that no longer fails is an error too.
# Exits non-zero if any step fails. Installs its tools with pip, into a virtualenv of its own
# (DEPLOY_VALIDATE_VENV, default ~/.cache/platform-deploy-validate) so it never changes the
# system's Python packages. First run: ~2 minutes (pip); later runs: ~1 minute.
#
#   bash deploy/validate.sh
#
# The renderer: Debian's `kustomize` package (.ci/run installs it; deploy/README.md, section 6,
# shows how), or any kubectl whose `kubectl kustomize` is kustomize v5. Without either the script
# fails. DEPLOY_NO_RENDER=1 runs the other steps on the raw files alone, with a loud warning that
# the overlays were not checked; CI=true refuses it.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."   # the repository root
K8S=deploy/k8s

KUBERNETES_VALIDATE_VERSION=1.37.0
CHECKOV_VERSION=3.3.30
# Schema versions checked: the oldest cluster the manifests support, and the newest known.
KUBE_VERSIONS=(1.30.0 1.37.0)

# checkov's skipped checks, each with its reason: deploy/checkov.skip.
SKIP_FILE=deploy/checkov.skip

failures=()
step() { printf '\n==> %s\n' "$*"; }
fail() { printf 'FAILED: %s\n' "$*" >&2; failures+=("$*"); }

# --- tools ---------------------------------------------------------------------------------------
VENV="${DEPLOY_VALIDATE_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/platform-deploy-validate}"
have_tools() {
    [[ -x "$VENV/bin/kubernetes-validate" && -x "$VENV/bin/checkov" ]] &&
        "$VENV/bin/python" - "$KUBERNETES_VALIDATE_VERSION" "$CHECKOV_VERSION" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
sys.exit(0 if (version("kubernetes-validate"), version("checkov")) == tuple(sys.argv[1:3]) else 1)
PY
}
if ! have_tools; then
    step "installing kubernetes-validate $KUBERNETES_VALIDATE_VERSION and checkov $CHECKOV_VERSION into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check \
        "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" "checkov==$CHECKOV_VERSION"
fi
PY="$VENV/bin/python"
KV="$VENV/bin/kubernetes-validate"
# --skip-download: no network calls to the vendor's API (guidelines, severities).
CHECKOV=("$VENV/bin/checkov" --compact --quiet --skip-download)

RENDER_DIR="$(mktemp -d)"
trap 'rm -rf "$RENDER_DIR"' EXIT

# --- 1. render the overlays ---------------------------------------------------------------------
overlays=()
for dir in "$K8S"/overlays/*/; do overlays+=("$(basename "$dir")"); done
if command -v kustomize >/dev/null 2>&1; then
    renderer=(kustomize build)
    renderer_version="$(command -v kustomize): $(dpkg-query -W -f 'Debian package kustomize ${Version}' kustomize 2>/dev/null || kustomize version)"
elif command -v kubectl >/dev/null 2>&1; then
    renderer=(kubectl kustomize)
    renderer_version="kubectl: $(kubectl version --client 2>/dev/null | tr '\n' ' ')"
else
    renderer=()
fi
rendered=()
if ((${#renderer[@]})); then
    step "rendering base and overlays with ${renderer[*]} ($renderer_version)"
    for o in base "${overlays[@]}"; do
        src="$K8S/overlays/$o"; [[ $o == base ]] && src="$K8S/base"
        out="$RENDER_DIR/$o/all.yaml"; mkdir -p "$(dirname "$out")"
        if "${renderer[@]}" "$src" >"$out"; then
            echo "$src: $(grep -c '^kind:' "$out") resources"
            rendered+=("$out")
        else
            rm -f "$out" # (the project rules read every all.yaml)
            fail "${renderer[*]} $src"
        fi
    done
elif [[ "${DEPLOY_NO_RENDER:-0}" == 1 && "${CI:-}" != true ]]; then
    echo "!!! neither kustomize nor kubectl is installed and DEPLOY_NO_RENDER=1: the overlays are !!!" >&2
    echo "!!! NOT rendered, so the rendered manifests are NOT validated (only the raw files are)  !!!" >&2
else
    fail "neither kustomize nor kubectl is installed: cannot render the overlays (Debian's package" \
        "\`kustomize\`: deploy/README.md, section 6)"
fi

# --- 2. schema validation -----------------------------------------------------------------------
# Raw manifests: everything but the kustomization files and the partial strategic-merge patches
# (*.patch.yaml), which are not complete objects.
mapfile -t raw < <(find "$K8S" -name '*.yaml' ! -name 'kustomization.yaml' ! -name '*.patch.yaml' | sort)
# A kind it has no schema for is only a warning there; here it fails, unless deploy/custom-kinds.txt
# lists it (with what checks it instead, step 3). A listed kind no manifest uses fails too.
CUSTOM_KINDS=deploy/custom-kinds.txt
for v in "${KUBE_VERSIONS[@]}"; do
    step "kubernetes-validate --strict -k $v: ${#raw[@]} raw files, ${#rendered[@]} rendered overlays"
    kv_out="$RENDER_DIR/kubernetes-validate-$v.txt"
    kv_status=0
    "$KV" --strict --quiet -k "$v" "${raw[@]}" "${rendered[@]}" >"$kv_out" 2>&1 || kv_status=$?
    grep -v "Couldn't find schema for kind" "$kv_out" || true
    if "$PY" - "$kv_out" "$CUSTOM_KINDS" <<'PY'
import re, sys
listed = {}
for line in open(sys.argv[2]):
    if line.strip() and not line.lstrip().startswith("#"):
        fields = line.split(None, 2)
        if len(fields) < 3:
            sys.exit(f"{sys.argv[2]}: expected `<apiVersion> <kind> <reason>`: {line.strip()}")
        listed[(fields[0], fields[1])] = fields[2].strip()
pattern = re.compile(r"Couldn't find schema for kind (\S+) with api version (\S+)")
unknown = {(m[2], m[1]) for m in pattern.finditer(open(sys.argv[1]).read())}
errors = [f"no schema for {v} {k}, and {sys.argv[2]} does not list it" for v, k in sorted(unknown - listed.keys())]
errors += [f"{sys.argv[2]} lists {v} {k}, which no manifest uses: remove it" for v, k in sorted(listed.keys() - unknown)]
for v, k in sorted(unknown & listed.keys()):
    print(f"not schema-validated (listed): {v} {k}: {listed[(v, k)]}")
for e in errors:
    print(e)
sys.exit(1 if errors else 0)
PY
    then :; else fail "kubernetes-validate: kinds without a schema (Kubernetes $v)"; fi
    if ((kv_status == 0)); then
        echo "ok"
    else
        fail "kubernetes-validate (Kubernetes $v)"
    fi
done

# --- 3. project rules ---------------------------------------------------------------------------
step "project rules (secrets by reference, probes, limits, image, namespace)"
if "$PY" - "$RENDER_DIR" "${raw[@]}" <<'PY'
import pathlib, re, sys
import yaml

render_dir = pathlib.Path(sys.argv[1])
errors = []
# CONNECTIONS_KEYS (key-encryption keys), CONNECTIONS_OAUTH_PROVIDERS (client secrets), MAIL_URL.
SECRETISH = re.compile(r"(DATABASE_URL|CREDENTIAL|PASSWORD|SECRET|TOKEN|KEYS?|PROVIDERS|MAIL_URL)$")

def docs(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]

WORKLOADS = ("Deployment", "Job", "CronJob")

def pod_spec(d):
    if d["kind"] == "CronJob":
        return d["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return d["spec"]["template"]["spec"]

def check_workload(src, d):
    name = f"{src}: {d['kind']}/{d['metadata']['name']}"
    spec = pod_spec(d)
    # Run-to-completion pods (Job, CronJob) have no probes.
    probes = ("livenessProbe", "readinessProbe", "startupProbe") if d["kind"] == "Deployment" else ()
    if spec.get("automountServiceAccountToken") is not False:
        errors.append(f"{name}: automountServiceAccountToken must be false")
    for c in spec.get("containers", []):
        for e in c.get("env", []):
            if SECRETISH.search(e["name"]) and "value" in e:
                errors.append(f"{name}: env {e['name']} has a literal value; use secretKeyRef")
        for probe in probes:
            if probe not in c:
                errors.append(f"{name}: container {c['name']} has no {probe}")
        lim = c.get("resources", {}).get("limits", {})
        if not {"cpu", "memory"} <= lim.keys():
            errors.append(f"{name}: container {c['name']} needs cpu and memory limits")
        if not c.get("command", [""])[0].startswith("/usr/local/bin/"):
            errors.append(f"{name}: container {c['name']} must choose its binary with command")

def check_prod(objs):
    """Production: images by digest, and the TLS wiring (deploy/custom-kinds.txt: these rules
    stand in for cert-manager's schemas)."""
    placeholder = set()
    def by_kind(kind):
        return {d["metadata"]["name"]: d for d in objs if d["kind"] == kind}
    issuers, certificates = by_kind("Issuer"), by_kind("Certificate")
    secrets = {c["spec"].get("secretName"): n for n, c in certificates.items()}
    for name, i in issuers.items():
        if len({"selfSigned", "ca"} & i["spec"].keys()) != 1 or len(i["spec"]) != 1:
            errors.append(f"prod: Issuer/{name}: exactly one of selfSigned or ca")
        if "ca" in i["spec"] and i["spec"]["ca"].get("secretName") not in secrets:
            errors.append(f"prod: Issuer/{name}: its CA secret is no Certificate's")
    for name, c in certificates.items():
        spec = c["spec"]
        ref = spec.get("issuerRef", {})
        if not spec.get("secretName"):
            errors.append(f"prod: Certificate/{name}: no secretName")
        if ref.get("kind") != "Issuer" or ref.get("name") not in issuers:
            errors.append(f"prod: Certificate/{name}: issuerRef names no Issuer here")
        if not spec.get("isCA") and not spec.get("dnsNames"):
            errors.append(f"prod: Certificate/{name}: no dnsNames")
        unknown = set(spec.get("usages", [])) - {"digital signature", "key encipherment", "server auth", "client auth"}
        if unknown:
            errors.append(f"prod: Certificate/{name}: usages {sorted(unknown)}")
    for d in objs:
        if d["kind"] in WORKLOADS:
            for c in pod_spec(d)["containers"]:
                if not re.search(r"@sha256:[0-9a-f]{64}$", c["image"]):
                    errors.append(f"prod: {d['metadata']['name']}: image {c['image']} is not pinned by digest")
                elif c["image"].endswith("@sha256:" + "0" * 64):
                    placeholder.add(d["metadata"]["name"])
    if placeholder:
        print(f"note: prod's image digest is the placeholder (zeros) in {', '.join(sorted(placeholder))};"
              " the release sets the real one (deploy/README.md, section 7)")
    for name, d in by_kind("Deployment").items():
        spec = pod_spec(d)
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for c in spec["containers"]:
            env = {e["name"]: e.get("value") for e in c.get("env", [])}
            mounts = {m["mountPath"]: volumes.get(m["name"], {}) for m in c.get("volumeMounts", [])}
            for var, path in env.items():
                if not var.startswith("GRPC_TLS_"):
                    continue
                mount = next((v for p, v in mounts.items() if path and path.startswith(p + "/")), None)
                secret = (mount or {}).get("secret", {}).get("secretName")
                if secret not in secrets:
                    errors.append(f"prod: {name}: {var}={path} is not in a mounted Certificate's Secret")
            for var, url in env.items():
                if not var.endswith("_URL") or var == "PUBLIC_URL" or not url:
                    continue
                host = re.sub(r"^\w+://([^:/]+).*$", r"\1", url)
                if "GRPC_TLS_CA_FILE" in env and not url.startswith("https://"):
                    errors.append(f"prod: {name}: {var}={url} must be https:// (GRPC_TLS_CA_FILE)")
                served = certificates.get(f"{host}-tls", {}).get("spec", {})
                if "server auth" not in served.get("usages", []) or host not in served.get("dnsNames", []):
                    errors.append(f"prod: {name}: {var}: no server certificate {host}-tls naming {host}")
    for name, ing in by_kind("Ingress").items():
        if not ing["metadata"].get("annotations", {}).get("cert-manager.io/cluster-issuer"):
            errors.append(f"prod: Ingress/{name}: no cert-manager.io/cluster-issuer annotation")
        hosts = {r.get("host") for r in ing["spec"].get("rules", [])}
        tls_hosts = {h for t in ing["spec"].get("tls", []) if t.get("secretName") for h in t.get("hosts", [])}
        if not hosts or hosts - tls_hosts:
            errors.append(f"prod: Ingress/{name}: hosts without TLS: {sorted(hosts - tls_hosts)}")
    if not by_kind("Ingress"):
        errors.append("prod: no Ingress")

for path in sys.argv[2:]:
    for d in docs(path):
        if d.get("kind") in WORKLOADS:
            check_workload(path, d)
        if d.get("kind") == "Secret" and "example" not in path:
            errors.append(f"{path}: a Secret in the manifests; secrets are created out of band")

for out in sorted(render_dir.glob("*/all.yaml")):
    overlay = out.parent.name
    objs = docs(out)
    kinds = {(d["kind"], d["metadata"]["name"]) for d in objs}
    for comp in ("gateway", "identity-svc", "connections-svc", "projects-svc"):
        for kind in ("Deployment", "Service", "ServiceAccount", "PodDisruptionBudget", "NetworkPolicy"):
            if (kind, comp) not in kinds:
                errors.append(f"{overlay}: missing {kind}/{comp}")
    for kind in ("CronJob", "NetworkPolicy"):
        if (kind, "connections-svc-rewrap") not in kinds:
            errors.append(f"{overlay}: missing {kind}/connections-svc-rewrap")
    for d in objs:
        if d["kind"] == "Secret":
            errors.append(f"{overlay}: renders a Secret; secrets are created out of band")
        if overlay != "base" and d["kind"] != "Namespace" and not d["metadata"].get("namespace"):
            errors.append(f"{overlay}: {d['kind']}/{d['metadata']['name']} has no namespace")
        if d["kind"] in WORKLOADS:
            for c in pod_spec(d)["containers"]:
                if overlay != "base" and ":" not in c["image"].rsplit("/", 1)[-1]:
                    errors.append(f"{overlay}: {c['name']} image {c['image']} has no tag")

    if overlay == "prod":
        check_prod(objs)

for e in errors:
    print(e)
print("ok" if not errors else f"{len(errors)} problem(s)")
sys.exit(1 if errors else 0)
PY
then :; else fail "project rules"; fi

# --- 4. checkov ---------------------------------------------------------------------------------
# Each run reports every failed check (JSON); deploy/checkov.skip says which are accepted where.
# A failed check not accepted there fails, and so does an accepted one that did not fail (a skip
# that hides nothing any more), a parsing error, or a run that found nothing to check.
if ! "$PY" - "$SKIP_FILE" <<'PY'
import sys
bad = []
for n, line in enumerate(open(sys.argv[1]), 1):
    if line.strip() and not line.lstrip().startswith("#") and len(line.split(None, 2)) < 3:
        bad.append(f"{sys.argv[1]}:{n}: expected `<where> <check id> <reason>`: {line.strip()}")
for b in bad:
    print(b)
sys.exit(1 if bad else 0)
PY
then fail "$SKIP_FILE"; fi
run_checkov() { # label, scopes (comma-separated, from checkov.skip), checkov args...
    local label=$1 scopes=$2; shift 2
    step "checkov: $label (accepted: the $scopes entries of $SKIP_FILE)"
    local json="$RENDER_DIR/checkov.json"
    # Its exit status says whether some check failed; the JSON says which, and is judged below.
    "${CHECKOV[@]}" -o json "$@" >"$json" 2>"$RENDER_DIR/checkov.err" || true
    if "$PY" - "$json" "$SKIP_FILE" "$scopes" <<'PY'
import json, os, sys

path, skip_file, scopes = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
accepted = {}
for line in open(skip_file):
    if line.strip() and not line.lstrip().startswith("#"):
        fields = line.split(None, 2)  # (a line without a reason failed above)
        if len(fields) == 3 and fields[0] in scopes:
            accepted[fields[1]] = fields[2].strip()
try:
    with open(path) as f:
        report = json.load(f)
except ValueError as e:
    sys.exit(f"checkov wrote no JSON report ({e})")
reports = report if isinstance(report, list) else [report]
errors, failed = [], set()
for r in reports:
    if "results" not in r:
        errors.append(f"checkov found nothing to check: {r}")
        continue
    summary = r["summary"]
    if summary.get("parsing_errors") or r["results"].get("parsing_errors"):
        errors.append(f"parsing errors: {r['results'].get('parsing_errors')}")
    if not summary.get("resource_count"):
        errors.append("no resource checked")
    for c in r["results"].get("failed_checks", []):
        failed.add(c["check_id"])
        if c["check_id"] not in accepted:
            lines = "-".join(map(str, c.get("file_line_range") or []))
            where = c.get("file_abs_path") or ""
            if not os.path.isfile(where):
                where = c["file_path"].lstrip("/")
            elif where.startswith(os.getcwd() + "/"):
                where = os.path.relpath(where)
            errors.append(f"{c['check_id']} {c['check_name']}: {c['resource']} ({where}:{lines})")
    print(f"{summary.get('passed', 0)} passed, {summary.get('failed', 0)} failed"
          f" ({len(failed & accepted.keys())} accepted check(s) among them)")
for check in sorted(accepted.keys() - failed):
    errors.append(f"{check} is accepted in {skip_file} ({accepted[check]}) but passes here:"
                  " remove the entry")
for e in errors:
    print(e)
sys.exit(1 if errors else 0)
PY
    then
        echo "ok"
    else
        tail -n 20 "$RENDER_DIR/checkov.err" >&2
        fail "checkov: $label"
    fi
}
run_checkov "raw manifests in $K8S" k8s,raw \
    -d "$K8S" --framework kubernetes --skip-path 'patch\.yaml$'
for out in "${rendered[@]}"; do
    o="$(basename "$(dirname "$out")")"
    [[ $o == base ]] && continue # namespace-less: covered by the raw run
    run_checkov "rendered overlay $o" "k8s,$o" -f "$out" --framework kubernetes
done
run_checkov "deploy/Dockerfile" dockerfile -f deploy/Dockerfile --framework dockerfile

# --- summary ------------------------------------------------------------------------------------
echo
if ((${#failures[@]})); then
    printf 'deploy validation FAILED (%d step(s)):\n' "${#failures[@]}" >&2
    printf '  - %s\n' "${failures[@]}" >&2
    exit 1
fi
if ((${#rendered[@]})); then
    echo "deploy validation passed"
else
    echo "!!! deploy validation passed for the raw files ONLY: the overlays were NOT rendered !!!"
fi
