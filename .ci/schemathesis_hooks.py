"""schemathesis hooks (.ci/schemathesis.toml): Luzmo's credentials are the body's `key` (a
personal access token's uuid) and `token` (its secret), which no OpenAPI security scheme can
carry. A generated body whose `key` is a well-formed uuid and whose `token` is a string gets the
run's own token instead, so that the Luzmo operations are tested past their 401; a body whose
credentials are themselves the malformed part (another type, not a uuid, missing) is left as
generated, so negative cases stay negative."""

import os
import uuid

import schemathesis


def _a_uuid(value):
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


@schemathesis.hook
def map_body(context, body):
    operation = context.operation
    if (
        operation is not None
        and operation.path.startswith("/0.1.0/")
        and isinstance(body, dict)
        and _a_uuid(body.get("key"))
        and isinstance(body.get("token"), str)
    ):
        return {**body, "key": os.environ["ST_PAT_UUID"], "token": os.environ["ST_PAT"]}
    return body
