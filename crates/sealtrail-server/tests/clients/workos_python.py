"""The real `workos` Python SDK (10.8.0, installed by .ci/run), unchanged, against a Sealtrail
server: `python3 workos_python.py <server url> <api key> <organization id>`. Creates events
(one retried with the same idempotency key), registers and lists an action schema, lists the
actions, exports a range and downloads it by its link. Prints what it saw as one JSON object.
"""

import json
import sys
import time
import urllib.request
from datetime import datetime, timedelta, timezone

from workos import WorkOSClient
from workos.types.audit_logs import (
    AuditLogEvent,
    AuditLogEventActor,
    AuditLogEventContext,
    AuditLogEventTarget,
    AuditLogSchemaTargetInput,
)

url, api_key, organization = sys.argv[1:4]
client = WorkOSClient(api_key=api_key, client_id="client_sealtrail", base_url=url)
now = datetime.now(timezone.utc)


def event(i, rows=None):
    return AuditLogEvent(
        action="report.downloaded",
        occurred_at=now - timedelta(minutes=i + 1),
        version=1,
        actor=AuditLogEventActor(id=f"user_{i}", type="user", name=f"User {i}"),
        targets=[AuditLogEventTarget(id=f"report_{i}", type="report")],
        context=AuditLogEventContext(location="198.51.100.7", user_agent="python"),
        metadata={"rows": 10 + i if rows is None else rows},
    )


out = {}
out["created"] = [
    client.audit_logs.create_event(organization_id=organization, event=event(i)).success
    for i in range(3)
]
first = client.audit_logs.create_event(
    organization_id=organization, event=event(9), idempotency_key="py-once"
)
again = client.audit_logs.create_event(
    organization_id=organization, event=event(9), idempotency_key="py-once"
)
out["idempotent"] = [first.success, again.success]

schema = client.audit_logs.create_schema(
    "report.downloaded",
    targets=[AuditLogSchemaTargetInput(type="report")],
    # Python takes the metadata's JSON Schema itself (Node builds it from `{rows: "number"}`).
    metadata={"type": "object", "properties": {"rows": {"type": "number"}}},
)
out["schema_version"] = schema.version
out["schemas"] = [s.version for s in client.audit_logs.list_action_schemas("report.downloaded").data]
out["actions"] = [a.name for a in client.audit_logs.list_actions().data]
try:
    client.audit_logs.create_event(organization_id=organization, event=event(20, "many"))
    out["refused"] = "accepted"
except Exception as e:  # the SDK's exception for a 422
    out["refused"] = type(e).__name__

export = client.audit_logs.create_export(
    organization_id=organization,
    range_start=(now - timedelta(hours=1)).isoformat(),
    range_end=(now + timedelta(minutes=1)).isoformat(),
    actions=["report.downloaded"],
)
current = export
for _ in range(100):
    if current.state != "pending":
        break
    time.sleep(0.1)
    current = client.audit_logs.get_export(export.id)
out["export_state"] = current.state
with urllib.request.urlopen(current.url) as response:
    out["csv_rows"] = len(response.read().decode("utf-8-sig").strip().splitlines()) - 1

print(json.dumps(out))
