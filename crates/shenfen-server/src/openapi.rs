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

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use utoipa::openapi::Required;
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, ObjectBuilder, Ref, RefOr, Response, ResponseBuilder, Schema, Type};
use utoipa::{IntoResponses, Modify, OpenApi, ToSchema};

use crate::error::{PROBLEM, Problem, ProblemType};

/// The media type of a form body.
const FORM: &str = "application/x-www-form-urlencoded";

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
            ("access_token", "an access token from /token: OpenID4VCI for /credential, OpenID Connect for /userinfo"),
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

/// Problem answers as responses of the document, one per problem: its
/// status and code from [`ProblemType`], so the document cannot give a
/// problem another status than the server answers, and what it means.
fn problem_responses(answers: &[(ProblemType, &str)]) -> BTreeMap<String, RefOr<Response>> {
    let problem = || ContentBuilder::new().schema(Some(Ref::from_schema_name(Problem::name()))).build();
    answers
        .iter()
        .map(|(kind, meaning)| {
            let response =
                ResponseBuilder::new().description(format!("{}: {meaning}", kind.code())).content(PROBLEM, problem());
            (kind.status().as_str().to_owned(), RefOr::T(response.build()))
        })
        .collect()
}

/// The problems of every endpoint that reads a body, named once for the
/// `responses(…)` of their `#[utoipa::path]`s.
pub(crate) struct BodyProblems;

impl IntoResponses for BodyProblems {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        problem_responses(&[
            (ProblemType::InvalidRequest, "the body or a field is not what the endpoint reads"),
            (ProblemType::PayloadTooLarge, "the body is over the endpoint limit"),
        ])
    }
}

/// The problem of every endpoint that queues work for the CPU pool.
pub(crate) struct BusyProblem;

impl IntoResponses for BusyProblem {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        problem_responses(&[(ProblemType::Busy, "the CPU pool is full; retry after Retry-After")])
    }
}

/// The problems of every endpoint an operator of a role calls.
pub(crate) struct OperatorProblems;

impl IntoResponses for OperatorProblems {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        problem_responses(&[
            (ProblemType::OperatorUnauthenticated, "no session token, or one unknown, expired or ended"),
            (ProblemType::OperatorForbidden, "the role does not include this"),
        ])
    }
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
    let (_, mut document) = crate::app::api_routes(ApiDoc::openapi()).split_for_parts();
    form_posts(&mut document);
    serde_json::to_value(document).unwrap_or_default()
}

/// An operation served for GET and POST alike (OpenID Connect's
/// authorization and UserInfo requests, §3.1.2.1 and §5.3.1) is declared
/// once, by one handler, so utoipa gives both methods the same operation.
/// The POST one gets an operationId of its own, and the query parameters
/// become what POST sends them as: a form body, which it must have.
fn form_posts(document: &mut utoipa::openapi::OpenApi) {
    for item in document.paths.paths.values_mut() {
        let (Some(get), Some(post)) = (&item.get, &mut item.post) else { continue };
        if get.operation_id != post.operation_id {
            continue;
        }
        post.operation_id = post.operation_id.take().map(|id| format!("{id}_post"));
        let (query, others): (Vec<Parameter>, Vec<Parameter>) =
            post.parameters.take().unwrap_or_default().into_iter().partition(|p| p.parameter_in == ParameterIn::Query);
        post.parameters = (!others.is_empty()).then_some(others);
        if query.is_empty() {
            continue;
        }
        let form = query.into_iter().fold(ObjectBuilder::new(), |form, parameter| {
            let form = match parameter.required {
                Required::True => form.required(parameter.name.clone()),
                Required::False => form,
            };
            form.property(parameter.name, parameter.schema.unwrap_or_default())
        });
        let content = ContentBuilder::new().schema(Some(form.build())).build();
        post.request_body =
            Some(RequestBodyBuilder::new().content(FORM, content).required(Some(Required::True)).build());
    }
}
