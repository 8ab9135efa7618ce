//! The OpenAPI 3.1 description of the HTTP API, served at [`PATH`].
//!
//! The routes and their description have one source. Each documented handler carries a
//! `#[utoipa::path]` attribute, and [`crate::app`] registers it with `utoipa_axum::routes!`,
//! which reads the path and the method from that attribute: a documented route cannot be
//! served elsewhere than documented, nor served undocumented. Bodies are the handlers' own
//! `serde` types deriving `ToSchema`; the list's parameters come from the table that
//! `sealtrail_core::filter::parse_query` checks names against. What no type can carry (the
//! error answers every operation shares) is added here, once, by [`complete`].

pub mod bodies;

use crate::error::ApiError;
use axum::body::Bytes;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use sealtrail_core::filter::{ParameterKind, PARAMETERS};
use std::sync::Arc;
use utoipa::openapi::path::{Operation, Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, Required, ResponseBuilder};
use utoipa::{IntoParams, OpenApi as _};

/// Where the document is served; unauthenticated, as it describes no tenant's data.
pub const PATH: &str = "/openapi.json";

/// The name of the security scheme of Sealtrail's own API: an API key as a bearer token.
pub const API_KEY: &str = "api_key";
/// Retraced's publisher key, sent as `Authorization: token=<key>`.
pub const RETRACED_TOKEN: &str = "retraced_token";
/// A Retraced viewer session, sent as the whole `Authorization` header.
pub const RETRACED_VIEWER: &str = "retraced_viewer";
/// A WorkOS API key as a bearer token.
pub const WORKOS_KEY: &str = "workos_key";

/// The document's fixed parts: title, version, tags and the security schemes.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Sealtrail",
        description = "An append-only, tamper-evident audit log. Sealtrail's own API is under `/v1`; \
            the Retraced publisher and viewer API and the WorkOS Audit Logs API are served \
            for their existing clients (see docs/compat.md).",
        license(name = "Apache-2.0", identifier = "Apache-2.0")
    ),
    tags(
        (name = "events", description = "Ingest, list, search and inspect entries."),
        (name = "exports", description = "Streamed exports and background export jobs."),
        (name = "integrity", description = "Signed checkpoints and Merkle proofs."),
        (name = "tenant", description = "The caller's tenant, its aliases and API keys."),
        (name = "settings", description = "Retention, legal hold, limits and other tenant settings."),
        (name = "schemas", description = "Per-action JSON Schemas checked at ingest."),
        (name = "lifecycle", description = "Pruning and GDPR erasure."),
        (name = "sinks", description = "Push delivery of the log to webhooks (docs/streaming.md)."),
        (name = "retraced", description = "Retraced's publisher and viewer API."),
        (name = "workos", description = "WorkOS's Audit Logs API."),
        (name = "operations", description = "Health and metrics for operators."),
    ),
    components(schemas(bodies::ErrorResponse, bodies::RetracedErrorBody, bodies::WorkosErrorBody))
)]
struct Fixed;

/// The whole document: the routes `router_api` collected, completed with the fixed parts, the
/// security schemes and the error answers every operation shares. The operations at
/// `untimed_paths` run outside the request timeout, so they are not described with its 408.
pub fn complete(router_api: OpenApi, untimed_paths: &[String]) -> OpenApi {
    let mut api = Fixed::openapi();
    api.paths = router_api.paths;
    if let (Some(ours), Some(theirs)) = (api.components.as_mut(), router_api.components) {
        ours.schemas.extend(theirs.schemas);
    }
    if let Some(components) = api.components.as_mut() {
        components.add_security_scheme(
            API_KEY,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("st_… API key")
                    .description(Some("A tenant's API key: `Authorization: Bearer st_…`."))
                    .build(),
            ),
        );
        components.add_security_scheme(
            RETRACED_TOKEN,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "`token=<API key>` (or `Token token=<API key>`), as the Retraced clients send it.",
            ))),
        );
        components.add_security_scheme(
            RETRACED_VIEWER,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "The session token `POST /viewer/v1/viewersession` returned.",
            ))),
        );
        components.add_security_scheme(
            WORKOS_KEY,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A Sealtrail API key given to the WorkOS SDK as its API key.",
                    ))
                    .build(),
            ),
        );
    }
    for (path, item) in api.paths.paths.iter_mut() {
        let family = Family::of(path);
        let with_params = path.contains('{');
        let timed = !untimed_paths.contains(path);
        for (operation, has_body) in [
            (item.get.as_mut(), false),
            (item.put.as_mut(), true),
            (item.post.as_mut(), true),
            (item.delete.as_mut(), false),
        ] {
            if let Some(operation) = operation {
                family.add_shared_errors(operation, has_body, with_params, timed);
                family.errors_as_problems(operation);
            }
        }
    }
    api
}

/// Which error shape a path answers with: each compatible API answers in its clients' shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Sealtrail,
    Retraced,
    Workos,
    Operations,
}

impl Family {
    fn of(path: &str) -> Family {
        if path.starts_with("/v1/") {
            Family::Sealtrail
        } else if path.starts_with("/publisher/") || path.starts_with("/viewer/") {
            Family::Retraced
        } else if path.starts_with("/audit_logs") || path.starts_with("/organizations/") {
            Family::Workos
        } else {
            Family::Operations
        }
    }

    /// The media type of the family's error answers: RFC 9457 for Sealtrail's own API and
    /// the operational endpoints, plain JSON in the compatible APIs' shapes.
    fn error_media_type(self) -> &'static str {
        match self {
            Family::Sealtrail | Family::Operations => crate::error::PROBLEM_JSON,
            Family::Retraced | Family::Workos => "application/json",
        }
    }

    /// Moves the error answers an operation describes itself (`body = ErrorResponse`, which
    /// the attribute files under `application/json`) to the family's error media type.
    fn errors_as_problems(self, operation: &mut Operation) {
        let media = self.error_media_type();
        if media == "application/json" {
            return;
        }
        for (status, response) in operation.responses.responses.iter_mut() {
            let error = status.starts_with('4') || status.starts_with('5');
            let RefOr::T(response) = response else {
                continue;
            };
            if !error {
                continue;
            }
            if let Some(content) = response.content.shift_remove("application/json") {
                response.content.insert(media.to_string(), content);
            }
        }
    }

    fn error_schema(self) -> Option<&'static str> {
        match self {
            Family::Sealtrail => Some("ErrorResponse"),
            Family::Retraced => Some("RetracedErrorBody"),
            Family::Workos => Some("WorkosErrorBody"),
            Family::Operations => None,
        }
    }

    /// The answers any authenticated request may get whatever the operation: a refused key,
    /// scope or address; a limit; the request timeout; the server at capacity or failing.
    /// Each is added only where the operation does not describe it itself.
    fn add_shared_errors(
        self,
        operation: &mut Operation,
        has_body: bool,
        with_params: bool,
        timed: bool,
    ) {
        let Some(schema) = self.error_schema() else {
            return;
        };
        if timed && !operation.responses.responses.contains_key("408") {
            // The timeout answers before any handler could write a body.
            let timeout = ResponseBuilder::new()
                .description("The request took longer than the server's request timeout (no body).")
                .build();
            operation
                .responses
                .responses
                .insert("408".to_string(), RefOr::T(timeout));
        }
        let mut shared = vec![
            ("400", "A malformed parameter, header or body, named in the answer."),
            ("401", "No API key, or an unknown or revoked one."),
            ("403", "The key lacks the scope this needs, or the address is not on the tenant's allowlist."),
            ("429", "Over the key's request rate or the tenant's ingest rate or quota; see `Retry-After`."),
            ("500", "The server failed; nothing acknowledged was lost."),
            ("503", "The server is at capacity and did nothing; see `Retry-After`."),
        ];
        if has_body {
            shared.push(("413", "The body is larger than the server accepts."));
            shared.push((
                "415",
                "The body is not JSON (or is not the content type named).",
            ));
        }
        if with_params {
            shared.push(("404", "Nothing of that name in the caller's tenant."));
        } else if self == Family::Workos {
            shared.push((
                "404",
                "No organization of that id (a tenant's name or alias).",
            ));
        }
        for (status, description) in shared {
            if operation.responses.responses.contains_key(status) {
                continue;
            }
            let response = ResponseBuilder::new()
                .description(description)
                .content(
                    self.error_media_type(),
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name(schema)))
                        .build(),
                )
                .build();
            operation
                .responses
                .responses
                .insert(status.to_string(), RefOr::T(response));
        }
    }
}

/// The list's filter and paging parameters, as the operations that take them declare
/// (`params(FilterParameters)`), written from [`PARAMETERS`].
pub struct FilterParameters;

impl IntoParams for FilterParameters {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        PARAMETERS
            .iter()
            .map(|p| {
                let schema = match p.kind {
                    ParameterKind::RepeatableText => ArrayBuilder::new()
                        .items(string(None))
                        .max_items(Some(sealtrail_core::filter::MAX_VALUES))
                        .into(),
                    ParameterKind::Text | ParameterKind::Cursor => {
                        string(Some(sealtrail_core::filter::MAX_PARAM_LEN))
                    }
                    ParameterKind::OneOf(values) => ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some(values.iter().copied()))
                        .into(),
                    ParameterKind::Integer { min, max } => ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(min as f64))
                        .maximum(Some(max as f64))
                        .into(),
                    ParameterKind::Instant => ObjectBuilder::new()
                        .schema_type(Type::String)
                        .description(Some("RFC 3339 instant or YYYY-MM-DD"))
                        .into(),
                    ParameterKind::IpAddress => ObjectBuilder::new()
                        .schema_type(Type::String)
                        .description(Some("IPv4 or IPv6"))
                        .into(),
                };
                ParameterBuilder::new()
                    .name(p.name)
                    .parameter_in(ParameterIn::Query)
                    .required(Required::False)
                    .description(Some(p.description))
                    .explode(Some(true))
                    .schema(Some(schema))
                    .build()
            })
            .collect()
    }
}

fn string(max_length: Option<usize>) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(max_length)
        .into()
}

/// The document as served: built once when the router is, then answered from memory.
#[derive(Clone)]
pub struct Served(Result<Bytes, Arc<str>>);

impl Served {
    /// Serialises the completed document; a failure (which would be a bug in a schema) is
    /// logged and answered as a 500 rather than served as an empty document.
    pub fn new(api: &OpenApi) -> Served {
        Served(serde_json::to_vec(api).map(Bytes::from).map_err(|e| {
            tracing::error!(error = %e, "the OpenAPI document does not serialise");
            Arc::from(e.to_string())
        }))
    }

    /// The answer to `GET /openapi.json`.
    pub fn respond(&self) -> Response {
        match &self.0 {
            Ok(document) => (
                [(header::CONTENT_TYPE, "application/json")],
                document.clone(),
            )
                .into_response(),
            Err(e) => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                format!("the API description could not be written: {e}"),
            )
            .into_response(),
        }
    }
}
