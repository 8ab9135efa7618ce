// Exports through the real `@workos-inc/node` SDK: `node workos_exports.js <server url>
// <api key> <organization id>`. Creates events, asks for a CSV export of a range filtered by
// action, polls until it is ready, downloads `url` without credentials (as SDK users do), and
// checks that a tampered link is refused. Prints what it saw as one JSON object.
"use strict";
const { WorkOS } = require("@workos-inc/node");

const [url, apiKey, organization] = process.argv.slice(2);
const server = new URL(url);

async function main() {
  const workos = new WorkOS(apiKey, {
    apiHostname: server.hostname,
    port: Number(server.port),
    https: false,
  });
  const now = Date.now();
  for (let i = 0; i < 6; i++) {
    await workos.auditLogs.createEvent(organization, {
      action: i % 2 ? "invoice.paid" : "invoice.viewed",
      occurredAt: new Date(now - (i + 1) * 60000),
      actor: { id: `user_${i}`, type: "user", name: `User ${i}` },
      targets: [{ id: `inv_${i}`, type: "invoice" }],
      context: { location: "198.51.100.4" },
      metadata: { amount: 100 + i },
    });
  }
  const created = await workos.auditLogs.createExport({
    organizationId: organization,
    rangeStart: new Date(now - 3600000),
    rangeEnd: new Date(now + 60000),
    actions: ["invoice.paid"],
  });
  let current = created;
  for (let i = 0; i < 100 && current.state === "pending"; i++) {
    await new Promise((r) => setTimeout(r, 100));
    current = await workos.auditLogs.getExport(created.id);
  }
  const download = await fetch(current.url);
  const csv = await download.text();
  const tampered = await fetch(current.url.replace(/signature=([0-9a-f])/, (_, c) => `signature=${c === "0" ? "1" : "0"}`));
  let refused;
  try {
    await workos.auditLogs.createExport({
      organizationId: organization,
      rangeStart: new Date(now - 3600000),
      rangeEnd: new Date(now),
      actorNames: ["User 1"],
    });
    refused = "accepted";
  } catch (e) {
    refused = `${e.constructor.name}: ${e.status}`;
  }
  console.log(
    JSON.stringify({
      created: { object: created.object, state: created.state, url: created.url },
      state: current.state,
      url: current.url,
      status: download.status,
      content_type: download.headers.get("content-type"),
      csv,
      tampered: tampered.status,
      by_name: refused,
    }),
  );
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
