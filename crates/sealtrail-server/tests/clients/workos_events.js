// Creates audit events through the real `@workos-inc/node` SDK, unchanged, pointed at a
// Sealtrail server: `node workos_events.js <server url> <api key> <organization id>`.
//
// The SDK talks to Sealtrail through a small proxy started here, which for one idempotency
// key forwards the first attempt to Sealtrail and then answers the SDK 503 (with
// `Retry-After`), as a load balancer does when the response is lost after the server
// committed: the SDK must retry with the same key and Sealtrail must not store the event twice.
"use strict";
const http = require("node:http");
const { WorkOS } = require("@workos-inc/node");

const [url, apiKey, organization] = process.argv.slice(2);
const LOST_RESPONSE_KEY = "lost-response-1";

function startProxy() {
  const attempts = {};
  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const key = req.headers["idempotency-key"] || "";
    attempts[key] = (attempts[key] || 0) + 1;
    const headers = { ...req.headers };
    delete headers.host;
    delete headers["content-length"];
    const answer = await fetch(url + req.url, {
      method: req.method,
      headers,
      body: req.method === "GET" ? undefined : Buffer.concat(chunks),
    });
    const body = Buffer.from(await answer.arrayBuffer());
    if (key === LOST_RESPONSE_KEY && attempts[key] === 1) {
      res.writeHead(503, { "Content-Type": "application/json", "Retry-After": "0" });
      res.end(JSON.stringify({ message: "Service Unavailable", code: "overloaded" }));
      return;
    }
    const out = {};
    answer.headers.forEach((v, k) => {
      if (k !== "content-length" && k !== "transfer-encoding" && k !== "connection") out[k] = v;
    });
    res.writeHead(answer.status, out);
    res.end(body);
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ server, attempts })));
}

function event(i) {
  return {
    action: "document.shared",
    occurredAt: new Date(Date.now() - 60000),
    version: 1,
    actor: { id: `user_${i}`, type: "user", name: `User ${i}`, metadata: { role: "editor" } },
    targets: [{ id: `doc_${i}`, type: "document", name: `Doc ${i}`, metadata: { pages: 3 } }],
    context: { location: "203.0.113.7", userAgent: "Chrome/104" },
    metadata: { channel: "web", shared_with: 2, external: false },
  };
}

async function outcome(call) {
  try {
    await call();
    return "ok";
  } catch (e) {
    return `${e.constructor.name}: ${e.status || ""}`.trim();
  }
}

async function main() {
  const { server, attempts } = await startProxy();
  const workos = new WorkOS(apiKey, {
    apiHostname: "127.0.0.1",
    port: server.address().port,
    https: false,
  });
  const out = {};
  out.plain = await outcome(() => workos.auditLogs.createEvent(organization, event(1)));
  out.keyed = await outcome(() =>
    workos.auditLogs.createEvent(organization, event(2), { idempotencyKey: "k-2" }),
  );
  out.keyed_again = await outcome(() =>
    workos.auditLogs.createEvent(organization, event(2), { idempotencyKey: "k-2" }),
  );
  out.lost_response = await outcome(() =>
    workos.auditLogs.createEvent(organization, event(3), { idempotencyKey: LOST_RESPONSE_KEY }),
  );
  out.lost_response_attempts = attempts[LOST_RESPONSE_KEY];
  const bad = event(4);
  bad.targets = [{ id: "doc_4" }];
  out.invalid = await outcome(() => workos.auditLogs.createEvent(organization, bad));
  out.other_org = await outcome(() => workos.auditLogs.createEvent("org_unknown", event(5)));
  const stranger = new WorkOS(apiKey + "x", {
    apiHostname: "127.0.0.1",
    port: server.address().port,
    https: false,
  });
  out.bad_key = await outcome(() => stranger.auditLogs.createEvent(organization, event(6)));
  server.close();
  console.log(JSON.stringify(out));
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
