// Searches through the real `@retracedhq/retraced` client and makes the embedded viewer's
// calls: `node retraced_query.js <server url> <api key> <project id>`. Publishes 30 events
// for group `org-a` and 20 for `org-b`, pages through them with `query()`, fetches a viewer
// token for `org-a`, exchanges it for a session and searches as the viewer does. Prints what
// it saw as one JSON object.
"use strict";
const { Client } = require("@retracedhq/retraced");

const [url, apiKey, projectId] = process.argv.slice(2);

// Every field Retraced's GraphQL offers, as a mask.
const mask = {
  id: true,
  action: true,
  description: true,
  group: { id: true, name: true },
  actor: { id: true, name: true, href: true, fields: true },
  target: { id: true, name: true, href: true, type: true, fields: true },
  crud: true,
  display: { markdown: true },
  received: true,
  created: true,
  canonical_time: true,
  is_failure: true,
  is_anonymous: true,
  source_ip: true,
  loc_subdiv1: true,
  loc_subdiv2: true,
  component: true,
  version: true,
  fields: true,
  external_id: true,
  metadata: true,
};

// The viewer's own search (`@retracedhq/logs-viewer`'s query, with `source_ip`).
const viewerQuery = `query Search($query: String!, $last: Int, $before: String) {
  search(query: $query, last: $last, before: $before) {
    totalCount
    pageInfo { hasPreviousPage }
    edges { cursor node { id action crud description source_ip received created canonical_time
      is_failure is_anonymous country loc_subdiv1 loc_subdiv2
      group { id name } actor { id name href fields { key value } }
      target { id name href type fields { key value } } display { markdown }
      fields { key value } metadata { key value } } } } }`;

async function post(path, body, authorization) {
  const headers = { "Content-Type": "application/json" };
  if (authorization) headers.Authorization = authorization;
  const response = await fetch(url + path, { method: "POST", headers, body: JSON.stringify(body) });
  return { status: response.status, body: await response.json() };
}

async function main() {
  const client = new Client({ projectId, apiKey, endpoint: url });
  const published = { "org-a": [], "org-b": [] };
  for (const [group, count] of [["org-a", 30], ["org-b", 20]]) {
    const events = Array.from({ length: count }, (_, i) => ({
      action: "invoice.paid",
      crud: i % 2 ? "u" : "c",
      group: { id: group, name: group.toUpperCase() },
      actor: { id: `user${i}@${group}.example`, name: `User ${i}` },
      target: { id: `inv_${i}`, name: `Invoice ${i}`, type: "invoice" },
      description: `Invoice [${i}] paid`,
      fields: { amount: String(100 + i) },
      metadata: { batch: "b1" },
    }));
    published[group] = await client.reportEvents(events);
  }

  // The client's own paging: 50 events in pages of 7, newest first.
  const connection = await client.query({ action: "invoice.paid", crud: "c,u" }, mask, 7);
  const paged = [];
  const pages = [];
  for (;;) {
    pages.push(connection.currentResults.length);
    paged.push(...connection.currentResults);
    if (!connection.hasNextPage()) break;
    await connection.nextPage();
  }
  const updatesOnly = await client.query({ action: "invoice.paid", crud: "u" }, mask, 100);

  const token = await client.getViewerToken("org-a", "viewer@org-a.example", false);
  const session = await post("/viewer/v1/viewersession", { token });
  const viewer = session.body.token;
  const first = await post(
    "/viewer/v1/graphql",
    { query: viewerQuery, variables: { query: "crud:c,u,d", last: 20, before: "" } },
    viewer,
  );
  const edges = first.body.data.search.edges;
  const second = await post(
    "/viewer/v1/graphql",
    { query: viewerQuery, variables: { query: "crud:c,u,d", last: 20, before: edges[edges.length - 1].cursor } },
    viewer,
  );
  const widened = await post(
    "/viewer/v1/graphql",
    { query: viewerQuery, variables: { query: "crud:c,u,d actor.id:user1@org-b.example", last: 20 } },
    viewer,
  );
  const forged = await post(
    "/viewer/v1/graphql",
    { query: viewerQuery, variables: { query: "", last: 20 } },
    viewer.slice(0, -2) + (viewer.endsWith("AA") ? "BB" : "AA"),
  );
  const asSession = await post(
    "/viewer/v1/graphql",
    { query: viewerQuery, variables: { query: "", last: 20 } },
    token,
  );

  console.log(
    JSON.stringify({
      published,
      total: connection.totalCount,
      pages,
      paged: paged.map((e) => e.id),
      sample: paged[0],
      updates: updatesOnly.totalCount,
      session: { status: session.status, project_id: session.body.project_id },
      viewer: {
        total: first.body.data.search.totalCount,
        first: edges.map((e) => e.node),
        more: first.body.data.search.pageInfo.hasPreviousPage,
        second: second.body.data.search.edges.map((e) => e.node.id),
        widened: widened.body.data.search.totalCount,
        forged: forged.status,
        token_as_session: asSession.status,
      },
    }),
  );
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
