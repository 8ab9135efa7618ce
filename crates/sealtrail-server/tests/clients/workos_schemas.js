// Registers and lists action schemas through the real `@workos-inc/node` SDK, then creates
// events that match and that do not: `node workos_schemas.js <server url> <api key>
// <organization id>`. Prints what happened as one JSON object.
"use strict";
const { WorkOS } = require("@workos-inc/node");

const [url, apiKey, organization] = process.argv.slice(2);
const server = new URL(url);

async function outcome(call) {
  try {
    await call();
    return "ok";
  } catch (e) {
    // The SDK's 422 exception lists the failed requirements' codes in its message.
    const codes = (e.message.match(/\t\S+/g) || []).map((c) => c.trim()).join(",");
    return `${e.constructor.name}: ${e.status}${codes ? " " + codes : ""}`;
  }
}

function event(amount, target, version) {
  return {
    action: "invoice.paid",
    occurredAt: new Date(Date.now() - 1000),
    version,
    actor: { id: "user_1", type: "user", metadata: { role: "billing" } },
    targets: [{ id: "inv_1", type: target }],
    context: { location: "192.0.2.10" },
    metadata: { amount },
  };
}

async function main() {
  const workos = new WorkOS(apiKey, {
    apiHostname: server.hostname,
    port: Number(server.port),
    https: false,
  });
  const first = await workos.auditLogs.createSchema({
    action: "invoice.paid",
    targets: [{ type: "invoice" }],
    metadata: { amount: "number" },
  });
  const second = await workos.auditLogs.createSchema({
    action: "invoice.paid",
    actor: { metadata: { role: "string" } },
    targets: [{ type: "invoice", metadata: { currency: "string" } }],
    metadata: { amount: "number" },
  });
  const listed = await workos.auditLogs.listSchemas("invoice.paid");
  const out = {
    versions: [first.version, second.version],
    listed: listed.data.map((s) => ({ version: s.version, targets: s.targets, metadata: s.metadata })),
    matching: await outcome(() => workos.auditLogs.createEvent(organization, event(250, "invoice"))),
    wrong_type: await outcome(() => workos.auditLogs.createEvent(organization, event("250", "invoice"))),
    wrong_target: await outcome(() => workos.auditLogs.createEvent(organization, event(250, "receipt"))),
    old_version: await outcome(() => workos.auditLogs.createEvent(organization, event(250, "invoice", 1))),
    unknown_version: await outcome(() => workos.auditLogs.createEvent(organization, event(250, "invoice", 9))),
    bad_schema: await outcome(() => workos.auditLogs.createSchema({ action: "invoice.paid", targets: [] })),
  };
  const retention = (period) =>
    workos.auditLogs.updateOrganizationAuditLogsRetention({ id: organization, retentionPeriod: period });
  out.retention = {
    initial: (await workos.auditLogs.getOrganizationAuditLogsRetention({ id: organization })).retentionPeriodInDays,
    two_years: (await retention("2_YEARS")).retentionPeriodInDays,
    one_month: (await retention("1_MONTH")).retentionPeriodInDays,
    bad: await outcome(() => retention("12_MONTHS")),
    other_org: await outcome(() => workos.auditLogs.getOrganizationAuditLogsRetention({ id: "org_other" })),
  };
  console.log(JSON.stringify(out));
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
