//! `rpc.discover`: the server's OpenRPC document, built from the methods as
//! [`crate::interface::LakhApi`] declares them (names, doc comments,
//! parameters and whether they are optional, answer types), with JSON
//! Schemas derived from the Rust types the server parses and answers, and
//! the error codes of [`crate::codes`] each method's doc names.

use crate::interface::{MethodDecl, declared_methods};
use crate::server::codes;
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// The method that answers the OpenRPC document.
pub const DISCOVER_METHOD: &str = "rpc.discover";
/// The OpenRPC version the document follows.
pub const OPENRPC_VERSION: &str = "1.3.2";

/// The JSON-RPC errors of this server: the name of their constant in
/// [`codes`], the code, and what it means.
const ERRORS: &[(&str, i32, &str)] = &[
    (
        "INVALID_PARAMS",
        codes::INVALID_PARAMS,
        "invalid params: the message names the parameter and why",
    ),
    (
        "TX_REFUSED",
        codes::TX_REFUSED,
        "transaction refused at ingest: `data.code` is the refusal's stable code",
    ),
    (
        "NODE_ERROR",
        codes::NODE_ERROR,
        "the node cannot answer now (e.g. state unavailable); the message says why",
    ),
    (
        "QUERY_FAILED",
        codes::QUERY_FAILED,
        "the module query has no answer: `data.code` is bad_request, not_found, unavailable or corrupt",
    ),
];

/// An OpenRPC document (the subset lakh fills in).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpenRpcDocument {
    pub openrpc: String,
    pub info: OpenRpcInfo,
    pub methods: Vec<OpenRpcMethod>,
    pub components: OpenRpcComponents,
}

/// What the document describes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpenRpcInfo {
    pub title: String,
    pub version: String,
    pub description: String,
}

/// One method.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpenRpcMethod {
    pub name: String,
    pub summary: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `"either"`: by position or by name.
    #[serde(rename = "paramStructure")]
    pub param_structure: String,
    pub params: Vec<ContentDescriptor>,
    pub result: ContentDescriptor,
    pub errors: Vec<OpenRpcError>,
}

/// A named value and its schema.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContentDescriptor {
    pub name: String,
    pub required: bool,
    pub schema: serde_json::Value,
}

/// An error a method may answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpenRpcError {
    pub code: i32,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
}

/// The schemas methods refer to (`#/components/schemas/<name>`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpenRpcComponents {
    pub schemas: serde_json::Map<String, serde_json::Value>,
}

/// The schema of an OpenRPC document, as `rpc.discover`'s answer.
struct DocumentSchema;

impl JsonSchema for DocumentSchema {
    fn schema_name() -> Cow<'static, str> {
        "OpenRpcDocument".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "object",
            "required": ["openrpc", "info", "methods"],
            "description": "this server's OpenRPC document (https://spec.open-rpc.org)"
        })
    }
}

/// Builds the document of every declared method plus `rpc.discover`.
pub fn openrpc_document() -> OpenRpcDocument {
    let mut generator = SchemaSettings::draft07()
        .with(|s| s.definitions_path = "/components/schemas".into())
        .into_generator();
    let mut methods: Vec<OpenRpcMethod> = declared_methods()
        .iter()
        .map(|m| describe(m, &mut generator))
        .collect();
    methods.push(describe(&discover_decl(), &mut generator));
    OpenRpcDocument {
        openrpc: OPENRPC_VERSION.to_string(),
        info: OpenRpcInfo {
            title: "lakh JSON-RPC".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            description: "A lakh node's JSON-RPC over HTTP and WebSocket. Amounts are \
                          base-unit decimal strings; bytes are hex."
                .to_string(),
        },
        methods,
        components: OpenRpcComponents {
            schemas: generator.take_definitions(true),
        },
    }
}

/// `rpc.discover` itself, declared like the others.
fn discover_decl() -> MethodDecl {
    MethodDecl {
        name: DISCOVER_METHOD,
        doc: &[" This document: every method, its parameters, answers and errors."],
        params: Vec::new(),
        result: |g: &mut SchemaGenerator| g.subschema_for::<DocumentSchema>(),
    }
}

fn describe(method: &MethodDecl, generator: &mut SchemaGenerator) -> OpenRpcMethod {
    let lines: Vec<&str> = method.doc.iter().map(|l| l.trim()).collect();
    let text = lines.join(" ");
    let (summary, description) = split_summary(&plain(&text));
    OpenRpcMethod {
        name: method.name.to_string(),
        summary: summary.unwrap_or_else(|| method.name.to_string()),
        description,
        param_structure: "either".to_string(),
        params: method
            .params
            .iter()
            .map(|p| ContentDescriptor {
                name: p.name.to_string(),
                required: p.required,
                schema: (p.schema)(generator).to_value(),
            })
            .collect(),
        result: ContentDescriptor {
            name: "result".to_string(),
            required: true,
            schema: (method.result)(generator).to_value(),
        },
        errors: errors_of(method, &text),
    }
}

/// Doc text without rustdoc's link syntax: "[`crate::codes::TX_REFUSED`]"
/// reads "`TX_REFUSED`".
fn plain(doc: &str) -> String {
    let mut out = String::with_capacity(doc.len());
    for (i, part) in doc.split('`').enumerate() {
        if i % 2 == 1 {
            out.push('`');
            out.push_str(part.rsplit("::").next().unwrap_or(part));
            out.push('`');
        } else {
            let part = if i > 0 {
                part.strip_prefix(']').unwrap_or(part)
            } else {
                part
            };
            out.push_str(part.strip_suffix('[').unwrap_or(part));
        }
    }
    out
}

/// The first sentence is the summary; the whole text, when longer, the
/// description.
fn split_summary(text: &str) -> (Option<String>, Option<String>) {
    let text = text.trim();
    if text.is_empty() {
        return (None, None);
    }
    match text.find(". ") {
        Some(end) => (Some(text[..=end].to_string()), Some(text.to_string())),
        None => (Some(text.to_string()), None),
    }
}

/// `INVALID_PARAMS` for a method with parameters, and every code of
/// [`ERRORS`] its doc names (`codes::TX_REFUSED`).
fn errors_of(method: &MethodDecl, doc: &str) -> Vec<OpenRpcError> {
    ERRORS
        .iter()
        .filter(|(name, code, _)| {
            (*code == codes::INVALID_PARAMS && !method.params.is_empty())
                || doc.contains(&format!("codes::{name}`"))
        })
        .map(|(name, code, message)| OpenRpcError {
            code: *code,
            message: (*message).to_string(),
            data: error_data(name),
        })
        .collect()
}

/// The schema of an error's `data`, for the errors that carry one.
fn error_data(name: &str) -> Option<serde_json::Value> {
    let codes: Vec<&str> = match name {
        "TX_REFUSED" => lakh_types::Refusal::CODES.to_vec(),
        "QUERY_FAILED" => crate::QueryFailureCode::ALL.map(|c| c.as_str()).to_vec(),
        _ => return None,
    };
    Some(serde_json::json!({
        "type": "object",
        "required": ["code"],
        "properties": { "code": { "enum": codes } },
    }))
}
