//! The web page over real HTTP against a real server on a real SQLite file: roles on every
//! page, the IP allowlist on pages and API (with and without a trusted proxy), sign-in and its
//! throttle, sessions and cookies, CSRF and origin checks, the settings actions, hostile stored
//! content, and the audit page's filters, pagination and exports.
//!
//! The client follows no redirects and keeps the session cookie by hand, so every `303`, every
//! `Set-Cookie` attribute and every reuse of an old cookie is visible to the tests.

mod allowlist;
mod audit_page;
mod content;
mod csrf;
mod exports;
mod roles;
mod sessions;
mod settings;
mod tenants;
