// Publishes through the real `@retracedhq/retraced` client, unchanged, pointed at a Sealtrail
// server: `node retraced_publish.js <server url> <api key> <project id>`. The client itself
// recomputes the hash of every event it sent and throws on a mismatch, so each accepted call
// is also a hash check. Prints what happened as one JSON object.
"use strict";
const { Client } = require("@retracedhq/retraced");

const [url, apiKey, projectId] = process.argv.slice(2);

// A seeded generator, so a failure names an input that can be replayed.
let seed = 20261205;
const random = () => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
};
const pick = (items) => items[Math.floor(random() * items.length)];
// Characters that matter to the canonical string: its separators, the escape character, and
// characters on both sides of the UTF-16 / UTF-8 sort-order split.
const alphabet = [":", "%", "=", ";", "a", "Z", "9", "\uff5e", "\u{1f600}", "\u00e9", " ", "\\"];
const text = (min, max) => {
  const n = min + Math.floor(random() * (max - min + 1));
  let s = "";
  for (let i = 0; i < n; i++) s += pick(alphabet);
  return s;
};
const pairs = () => {
  const out = {};
  const n = Math.floor(random() * 4);
  for (let i = 0; i < n; i++) out["k" + text(0, 4)] = text(0, 6);
  return out;
};

function randomEvent(i) {
  const event = {
    action: "record.updated",
    crud: pick(["c", "r", "u", "d"]),
    description: "event " + i + " " + text(0, 8),
    source_ip: pick(["192.0.2.1", "::1", "2001:db8::7", undefined]),
    is_failure: random() < 0.3,
  };
  if (random() < 0.15) {
    event.is_anonymous = true;
  } else {
    event.actor = { id: "u" + text(0, 6), name: text(0, 5) || undefined };
  }
  if (random() < 0.7) event.target = { id: "t" + text(0, 5), type: pick(["document", undefined]) };
  if (random() < 0.6) event.group = { id: "g" + text(0, 4), name: "Group " + i };
  if (random() < 0.7) event.fields = pairs();
  if (random() < 0.5) event.metadata = pairs();
  if (random() < 0.5) event.external_id = text(0, 5);
  return event;
}

async function refusal(call) {
  try {
    await call();
    return "accepted";
  } catch (e) {
    return e.message;
  }
}

async function main() {
  const config = { projectId, apiKey, endpoint: url, component: "billing", version: "1.2" };
  const client = new Client(config);
  const out = {};
  out.single = await client.reportEvent({
    action: "document.updated",
    crud: "u",
    group: { id: "org-7", name: "Acme" },
    created: new Date("2026-11-20T10:00:00.000Z"),
    actor: { id: "ada@example.com", name: "Ada", href: "https://app.example/u/1" },
    target: { id: "doc_1", name: "Plan", type: "document", href: "https://app.example/d/1" },
    source_ip: "203.0.113.7",
    description: "Ada updated Plan",
    is_failure: true,
    fields: { site: "Berlin" },
    external_id: "ext-1",
    metadata: { trace: "t-1", password: "hunter2" },
  });
  const events = Array.from({ length: 200 }, (_, i) => randomEvent(i));
  // Keys whose JavaScript (UTF-16) order differs from their UTF-8 order.
  events[7].fields = { "\uff5e": "b", "\u{1f600}": "a", Z: "z", a: "y" };
  out.bulk = [];
  for (let i = 0; i < events.length; i += 50) {
    out.bulk.push(...(await client.reportEvents(events.slice(i, i + 50))));
  }
  const prefixed = new Client({ ...config, endpoint: url + "/auditlog" });
  out.prefixed = await prefixed.reportEvent({ action: "user.login", crud: "c", actor: { id: "u1" } });
  out.refusals = {
    no_crud: await refusal(() => client.reportEvent({ action: "user.login", actor: { id: "u1" } })),
    bad_bulk: await refusal(() =>
      client.reportEvents([
        { action: "user.login", crud: "c", actor: { id: "u1" } },
        { action: "user login", crud: "c", actor: { id: "u1" } },
      ]),
    ),
    other_project: await refusal(() =>
      new Client({ ...config, projectId: projectId + "-other" }).reportEvent({
        action: "user.login",
        crud: "c",
        actor: { id: "u1" },
      }),
    ),
    bad_key: await refusal(() =>
      new Client({ ...config, apiKey: apiKey + "x" }).reportEvent({
        action: "user.login",
        crud: "c",
        actor: { id: "u1" },
      }),
    ),
  };
  console.log(JSON.stringify(out));
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
