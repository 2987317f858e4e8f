"""Credentials for schemathesis (issue #19 item 4), printed as shell assignments.

Run by .ci/run against a running platform: python3 api_credentials.py http://127.0.0.1:PORT
Registers a user over HTTP (which signs it in with a session cookie), names its organization,
creates a personal access token and logs in as an API client for an access JWT; prints ST_PAT and ST_JWT,
which .ci/schemathesis.toml gives each security scheme. Standard library only.
"""

import http.cookiejar
import json
import shlex
import sys
import urllib.request
import uuid

BASE = sys.argv[1].rstrip("/")
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))


def call(method, path, body=None, headers=None):
    req = urllib.request.Request(
        f"{BASE}{path}", method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with opener.open(req, timeout=30) as r:
            return (json.loads(r.read() or b"null") or {}).get("results")
    except urllib.error.HTTPError as e:
        raise SystemExit(f"FAILED: {method} {path}: {e.code} {e.read()[:500]!r}")


email = f"schemathesis-{uuid.uuid4().hex}@example.com"
password = "correct horse battery staple"
call("POST", "/api/v1/user", {"email": email, "password": password,
                              "firstName": "Schema", "lastName": "Thesis"})
call("PUT", "/api/v1/org", {"name": "Schemathesis"})
created = call("POST", "/api/v1/user/me/personal-access-tokens", {"description": "schemathesis"})
pat, pat_uuid = created["token"], created["uuid"]
# A logged-in API client's access JWT (the password grant): unlike one exchanged for the personal
# access token, it may manage personal access tokens.
jwt = call("POST", "/api/v1/auth/token",
           {"grantType": "password", "email": email, "password": password})["accessToken"]
print(f"ST_PAT={shlex.quote(pat)}")
print(f"ST_PAT_UUID={shlex.quote(pat_uuid)}")
print(f"ST_JWT={shlex.quote(jwt)}")
