//! The OpenAPI 3.1 description of the server, served at `/openapi.json`,
//! generated from the code with utoipa: each handler carries its
//! `#[utoipa::path]` (summary, parameters, body, every status it answers),
//! and request and answer types derive `ToSchema`, so a field added to a
//! type is in the document without anyone remembering to write it down.
//!
//! The router is built with utoipa-axum's `OpenApiRouter` and `routes!`
//! (`app::api_routes`): one declaration both serves a handler and adds its
//! operation, at the path and method the handler's attribute names, so the
//! router and the document cannot disagree about which operations exist.
//! Only the web pages and their static files (HTML, scripts, the manifest)
//! are plain routes, left out of the document: they are not a JSON API.

use serde::Serialize;
use serde_json::Value;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ObjectBuilder, RefOr, Schema, Type};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::error::{Problem, ProblemType};

/// The parts of the document no handler declares: its title, the shared
/// error schemas, the security schemes.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "shenfen authority",
        description = "Population registry, face-verified enrollment and credential issuance of a shenfen authority."
    ),
    components(schemas(Problem, OAuthError)),
    modifiers(&SecuritySchemes)
)]
struct ApiDoc;

/// Every caller kind is a Bearer token; the schemes differ in who issues it.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for (name, what) in [
            ("operator_session", "the token of /operator/login"),
            ("counter_device", "a registered counter device's token, or a counter operator's session token"),
            ("relying_party_key", "a registered relying party's API key"),
            ("access_token", "an OpenID4VCI access token from /token"),
        ] {
            let scheme = HttpBuilder::new().scheme(HttpAuthScheme::Bearer).description(Some(what)).build();
            components.add_security_scheme(name, SecurityScheme::Http(scheme));
        }
    }
}

/// The problem `type`s: one of [`ProblemType::ALL`].
pub(crate) fn problem_types() -> impl Into<RefOr<Schema>> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(ProblemType::ALL.iter().map(|kind| kind.type_uri())))
}

/// An RFC 6749 §5.2 error object, as the OAuth and OpenID4VCI endpoints answer.
#[derive(Serialize, ToSchema)]
pub(crate) struct OAuthError {
    /// The OAuth error code (`invalid_grant`, `invalid_proof`, `invalid_nonce`, …).
    pub(crate) error: &'static str,
    /// Human-readable detail.
    pub(crate) error_description: String,
}

/// The generated document, as JSON.
pub fn openapi_document() -> Value {
    let (_, document) = crate::app::api_routes(ApiDoc::openapi()).split_for_parts();
    serde_json::to_value(document).unwrap_or_default()
}
