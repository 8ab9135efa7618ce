// The page a vendor embeds Retraced's viewer in, reduced to the viewer itself: the real
// `@retracedhq/logs-viewer` component, rendered with React into #viewer, pointed at the
// Sealtrail server and given a viewer token, both from `window.SEALTRAIL_VIEWER`.
import React from "react";
import { createRoot } from "react-dom/client";
import RetracedEventsBrowser from "@retracedhq/logs-viewer";

const { host, token } = window.SEALTRAIL_VIEWER;
createRoot(document.getElementById("viewer")).render(
  React.createElement(RetracedEventsBrowser, { host, auditLogToken: token, header: "Audit Logs" }),
);
