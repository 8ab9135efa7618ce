// Bundles the vendor page's script (logs_viewer_page.js: the real `@retracedhq/logs-viewer`
// with React) into one file for the browser: `node build_logs_viewer.js <out file>`.
"use strict";
const esbuild = require("esbuild");

esbuild.buildSync({
  entryPoints: [__dirname + "/logs_viewer_page.js"],
  bundle: true,
  format: "iife",
  minify: true,
  logLevel: "warning",
  define: { "process.env.NODE_ENV": '"production"' },
  outfile: process.argv[2],
});
