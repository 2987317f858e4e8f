"""The Luzmo face against Luzmo's own Python client (luzmo-sdk from PyPI), issue #17 item 2.

Run by .ci/run against a running platform: python luzmo_sdk.py http://127.0.0.1:PORT
Sets up two members of one organization through the Lightdash API, then drives
/0.1.0/account with the real SDK: create with every property of the seed, get with a where
filter, update, associate, dissociate, delete; and with raw HTTP the SEARCH, LINK and UNLINK
methods Luzmo's Node client sends. Exits non-zero on the first mismatch.
"""

import sys
import uuid

import requests
from luzmo.luzmo import Luzmo

BASE = sys.argv[1].rstrip("/")
PASSWORD = "correct horse battery staple"
SECRET = "ci-luzmo-secret-" + uuid.uuid4().hex


def check(cond, what):
    if not cond:
        raise SystemExit(f"FAILED: {what}")
    print(f"ok: {what}")


def results(r):
    if r.status_code >= 400 or r.json().get("status") != "ok":
        raise SystemExit(f"FAILED: {r.request.method} {r.url}: {r.status_code} {r.text}")
    return r.json().get("results")


def register(session, email, invite=None):
    body = {"email": email, "password": PASSWORD, "firstName": "Ci", "lastName": "User"}
    if invite:
        body = {"inviteCode": invite, "password": PASSWORD, "firstName": "Ci", "lastName": "Reader"}
    return results(session.post(f"{BASE}/api/v1/user", json=body))["userUuid"]


def pat(session):
    r = results(session.post(f"{BASE}/api/v1/user/me/personal-access-tokens",
                             json={"description": "luzmo-sdk"}))
    return r["uuid"], r["token"]


admin = requests.Session()
register(admin, f"admin-{uuid.uuid4().hex}@example.com")
results(admin.put(f"{BASE}/api/v1/org", json={"name": "Luzmo SDK"}))
reader_email = f"reader-{uuid.uuid4().hex}@example.com"
code = results(admin.post(f"{BASE}/api/v1/invite-links",
                          json={"email": reader_email, "role": "viewer"}))["inviteCode"]
reader = requests.Session()
reader_uuid = register(reader, reader_email, invite=code)

key, token = pat(admin)
client = Luzmo(key, token, BASE)
reader_key, reader_token = pat(reader)
reader_client = Luzmo(reader_key, reader_token, BASE)

properties = {
    "description": {"en": "CI warehouse", "nl": "CI magazijn"},
    "provider": "postgresql",
    "date": "2024-01-13T13:42:05.736Z",
    "expiry": "2030-01-01T00:00:00.000Z",
    "scope": "demo",
    "host": "db.example.test",
    "name": "SDK connection",
    "active": True,
    "identifier": "demo-user",
    "port": "5432",
    "cache": 30,
    "token": SECRET,
    "datasets_meta_sync_enabled": True,
    "datasets_meta_sync_interval": 3,
}
created = client.create("account", properties)
for field, value in properties.items():
    if field != "token":
        check(created[field] == value, f"create answers {field}")
check("token" not in created and SECRET not in str(created), "create never answers the token")
check(created["invalid"] is False, "invalid is false")
account = created["id"]
client.create("account", dict(properties, name="Other connection"))

got = client.get("account", {"where": {"name": "SDK connection"}})
check(got["count"] == 1 and got["rows"][0]["id"] == account, "get with a where filter")
got = client.get("account", {"where": {"cache": {"gte": 30}}, "order": [["name", "desc"]],
                             "attributes": ["id", "name"], "limit": 1})
check(got["count"] == 2 and got["rows"] == [{"id": account, "name": "SDK connection"}],
      "get with operators, order, attributes, limit")

updated = client.update("account", account, {"name": "SDK renamed", "cache": 0,
                                              "expiry": None})
check(updated["name"] == "SDK renamed" and updated["cache"] == 0 and updated["expiry"] is None,
      "update")

check(reader_client.get("account", {})["count"] == 0, "a member it is not shared with sees none")
client.associate("account", account, "Users", reader_uuid)
seen = reader_client.get("account", {})
check(seen["count"] == 1 and seen["rows"][0]["id"] == account, "associate shares it")
client.dissociate("account", account, "Users", reader_uuid)
check(reader_client.get("account", {})["count"] == 0, "dissociate takes it back")

try:
    client.update("account", account, {"port": "not a port"})
    raise SystemExit("FAILED: a bad port was accepted")
except RuntimeError as err:
    check("port" in str(err.__cause__), "an error names the field (validation)")

# The methods of Luzmo's Node client, as raw HTTP.
url = f"{BASE}/0.1.0/account"
creds = {"key": key, "token": token, "version": "0.1.0"}
r = requests.request("SEARCH", url, json=dict(creds, action="get", find={"where": {"id": account}}))
check(r.status_code == 200 and r.json()["count"] == 1, "SEARCH gets")
link = dict(creds, action="associate", id=account, resource={"role": "Users", "id": reader_uuid})
check(requests.request("LINK", url, json=link).status_code == 200, "LINK associates")
check(reader_client.get("account", {})["count"] == 1, "LINK shared it")
unlink = dict(creds, action="dissociate", id=account, resource={"role": "Users", "id": reader_uuid})
check(requests.request("UNLINK", url, json=unlink).status_code == 200, "UNLINK dissociates")
check(reader_client.get("account", {})["count"] == 0, "UNLINK took it back")

client.delete("account", account)
check(client.get("account", {"where": {"id": account}})["count"] == 0, "delete")
print("luzmo-sdk: every check passed")
