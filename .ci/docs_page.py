"""The documentation page in a real browser (issue #19 item 3).

Run by .ci/run against a running platform, with Debian's chromium:
    python3 docs_page.py http://127.0.0.1:PORT
Loads /api/docs in headless Chromium, which runs Swagger UI against /api/docs/openapi.json, and
fails unless the rendered page shows every operation of the document: Swagger UI renders one
`opblock` element per operation and tag (an untagged operation goes under "default"). Also fails
when the page would reach off the machine: Chromium's network log of the load must name only
the gateway, and the page's own HTML and start-up script reference no http(s) URL elsewhere.
Standard library only.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request

BASE = sys.argv[1].rstrip("/")
CHROMIUM = os.environ.get("CHROMIUM", "chromium")
ORIGIN = urllib.parse.urlsplit(BASE)


def fail(what):
    raise SystemExit(f"FAILED: {what}")


def get(path):
    with urllib.request.urlopen(f"{BASE}{path}", timeout=10) as r:
        return r.read().decode("utf-8", "replace")


def off_machine(url):
    """An http(s) URL whose host is not the gateway's (nor the loopback)."""
    host = urllib.parse.urlsplit(url).hostname or ""
    return host not in (ORIGIN.hostname, "localhost", "127.0.0.1", "::1")


doc = json.loads(get("/api/docs/openapi.json"))
methods = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
operations = [op for item in doc["paths"].values() for m, op in item.items() if m in methods]
expected = sum(max(1, len(op.get("tags", []))) for op in operations)

# The page's own text: the HTML and the scripts it names that are not Swagger UI's bundle (the
# bundle holds URLs as data, such as XML namespaces; the network log below is what it fetched).
html = get("/api/docs")
own = [html]
for src in re.findall(r'<script[^>]+src="([^"]+)"', html):
    if "bundle" not in src and "preset" not in src:
        own.append(get(urllib.parse.urljoin(BASE + "/api/docs/", src).removeprefix(BASE)))
for text in own:
    for url in re.findall(r"https?://[^\s\"'<>)]+", text):
        if off_machine(url):
            fail(f"the page references {url}")
# Swagger UI sends the document's URL to swagger.io's validator unless told not to (it skips only
# localhost, so this run would not see the request).
if not re.search(r'"validatorUrl":\s*"none"', "\n".join(own)):
    fail("the page's start-up script does not turn Swagger UI's online validator off")
print(f"ok: the page's HTML and start-up script ({len(own)} files) name no other host")

with tempfile.TemporaryDirectory() as tmp:
    netlog = os.path.join(tmp, "netlog.json")
    cmd = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-dev-shm-usage", "--disable-domain-reliability",
        "--disable-client-side-phishing-detection", "--disable-default-apps", "--no-pings",
        "--disable-features=AutofillServerCommunication,OptimizationHints,MediaRouter",
        # No name resolves but the gateway's: neither the page nor Chromium's own services
        # (updater, sign-in, clock) reach off the machine; the page's attempts still show in
        # the network log below.
        f"--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE {ORIGIN.hostname}", f"--user-data-dir={tmp}/profile",
        f"--log-net-log={netlog}", "--virtual-time-budget=20000", "--dump-dom",
        f"{BASE}/api/docs",
    ]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    dom = run.stdout
    if run.returncode != 0 or "<html" not in dom:
        sys.stderr.write(run.stderr[-3000:])
        fail(f"chromium exited {run.returncode} without a page")
    with open(netlog, encoding="utf-8", errors="replace") as f:
        text = f.read()
# Chromium may stop before closing the log's JSON.
try:
    events = json.loads(text)["events"]
except ValueError:
    events = json.loads(text.rstrip().rstrip(",") + "]}")["events"]
# A request the page made names the gateway as its initiator; Chromium's own (its updater,
# sign-in, autofill: refused by a closed network) say "not an origin" and are not the page's.
page_origin = f"{ORIGIN.scheme}://{ORIGIN.netloc}"
requested = sorted({
    e["params"]["url"] for e in events
    if e.get("params", {}).get("initiator") == page_origin and "url" in e["params"]
})
elsewhere = [u for u in requested if off_machine(u)]
if elsewhere:
    fail(f"the page requested {elsewhere}")
if not any("/api/docs/openapi.json" in u for u in requested):
    fail(f"the network log shows no request of the document: {requested}")
print(f"ok: the page made {len(requested)} distinct requests, all to the gateway")

# `class="opblock opblock-get ..."`: one per operation and tag.
rendered = len(re.findall(r'class="opblock opblock-', dom))
print(f"document: {len(operations)} operations, {expected} with their tags; "
      f"rendered: {rendered} opblock elements")
if rendered != expected:
    sys.stderr.write(dom[:3000])
    fail(f"Swagger UI rendered {rendered} operations, the document has {expected}")
if doc["info"]["title"] not in dom:
    fail("the page does not show the document's title")
print("ok: the documentation page renders every operation")
