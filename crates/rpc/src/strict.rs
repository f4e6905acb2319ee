//! The shape check of every call's parameter list, run before jsonrpsee's
//! generated code parses the values: too many values, an unknown name or a
//! missing required value are refused naming the parameter (the generated
//! parser would ignore the first two). Named parameters are turned into a
//! positional list, so the generated code sees one form.

use crate::server::{invalid_param, invalid_params};
use jsonrpsee::server::middleware::rpc::{
    Batch, BatchEntry, BatchEntryErr, MethodResponse, Notification, RpcServiceT,
};
use jsonrpsee::types::{ErrorObjectOwned, Request};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::LazyLock;

/// A parameter as the check knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ParamName {
    pub name: &'static str,
    pub required: bool,
}

/// The parameters of each method, in order, as `LakhApi` declares them
/// ([`crate::interface::declared_methods`]), and `rpc.discover`'s none.
pub(crate) static PARAMS: LazyLock<Vec<(&'static str, Vec<ParamName>)>> = LazyLock::new(|| {
    let mut table: Vec<(&'static str, Vec<ParamName>)> = crate::interface::declared_methods()
        .into_iter()
        .map(|m| {
            let params = m
                .params
                .iter()
                .map(|p| ParamName {
                    name: p.name,
                    required: p.required,
                })
                .collect();
            (m.name, params)
        })
        .collect();
    table.push((crate::discover::DISCOVER_METHOD, Vec::new()));
    table
});

/// RPC middleware applying [`check_params`] to calls, alone or in a batch.
#[derive(Clone, Debug)]
pub(crate) struct StrictParams<S> {
    service: S,
}

impl<S> StrictParams<S> {
    pub(crate) fn new(service: S) -> Self {
        StrictParams { service }
    }
}

impl<S> RpcServiceT for StrictParams<S>
where
    S: RpcServiceT<
            MethodResponse = MethodResponse,
            BatchResponse = MethodResponse,
            NotificationResponse = MethodResponse,
        > + Send
        + Sync
        + Clone
        + 'static,
{
    type MethodResponse = MethodResponse;
    type NotificationResponse = MethodResponse;
    type BatchResponse = MethodResponse;

    fn call<'a>(&self, mut req: Request<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let service = self.service.clone();
        async move {
            match check_params(&mut req) {
                Ok(()) => service.call(req).await,
                Err(e) => MethodResponse::error(req.id, e).with_extensions(req.extensions),
            }
        }
    }

    fn batch<'a>(&self, mut batch: Batch<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        for entry in batch.iter_mut() {
            let refused = match entry {
                Ok(BatchEntry::Call(req)) => check_params(req).err().map(|e| (req.id.clone(), e)),
                _ => None,
            };
            if let Some((id, e)) = refused {
                *entry = Err(BatchEntryErr::new(id, e));
            }
        }
        self.service.batch(batch)
    }

    fn notification<'a>(
        &self,
        n: Notification<'a>,
    ) -> impl Future<Output = MethodResponse> + Send + 'a {
        self.service.notification(n)
    }
}

/// Checks the request's parameter list against [`PARAMS`] and rewrites named
/// parameters as a positional list. Methods not listed (unsubscribe) pass.
fn check_params(req: &mut Request<'_>) -> Result<(), ErrorObjectOwned> {
    let Some((_, names)) = PARAMS.iter().find(|(m, _)| *m == req.method) else {
        return Ok(());
    };
    let names = names.as_slice();
    let json = req.params.as_deref().map_or("[]", RawValue::get);
    let (values, named) = split_params(json, names)?;
    for (name, value) in names.iter().zip(&values) {
        let given = value.is_some_and(|v| v.get() != "null");
        if !given && name.required {
            return Err(invalid_param(name.name, "missing"));
        }
    }
    if named {
        let list: Vec<&str> = values
            .iter()
            .map(|v| v.map_or("null", |v| v.get()))
            .collect();
        let positional = RawValue::from_string(format!("[{}]", list.join(",")))
            .map_err(|e| invalid_params(format!("cannot rewrite named params: {e}")))?;
        req.params = Some(Cow::Owned(positional));
    }
    Ok(())
}

/// The names of the methods whose parameters are checked.
pub fn checked_methods() -> impl Iterator<Item = &'static str> {
    PARAMS.iter().map(|(method, _)| *method)
}

/// The shape check of one call on its own (what the fuzzer drives): the
/// positional list the generated parser then sees, or the refusal.
pub fn positional_params(method: &str, params_json: &str) -> Result<String, ErrorObjectOwned> {
    if !checked_methods().any(|m| m == method) {
        return Ok(params_json.to_string());
    }
    let raw = RawValue::from_string(params_json.to_string())
        .map_err(|e| invalid_params(format!("params are not JSON: {e}")))?;
    let mut req = Request::owned(
        method.to_string(),
        Some(raw),
        jsonrpsee::types::Id::Number(0),
    );
    check_params(&mut req)?;
    Ok(req
        .params
        .as_deref()
        .map_or("[]", RawValue::get)
        .to_string())
}

/// The values of `names` (`None` when absent), positional (`[a, b]`) or by
/// name (`{"a": .., "b": ..}`), refusing unknown names and extra values.
/// The flag says whether they were named.
fn split_params<'a>(
    json: &'a str,
    names: &[ParamName],
) -> Result<(Vec<Option<&'a RawValue>>, bool), ErrorObjectOwned> {
    let malformed =
        |e: serde_json::Error| invalid_params(format!("params must be an array or an object: {e}"));
    let names_only: Vec<&str> = names.iter().map(|n| n.name).collect();
    if json.trim_start().starts_with('{') {
        let map: BTreeMap<String, &'a RawValue> = serde_json::from_str(json).map_err(malformed)?;
        let mut out = vec![None; names.len()];
        for (name, value) in map {
            let Some(i) = names_only.iter().position(|n| *n == name) else {
                return Err(invalid_params(format!(
                    "unknown param `{name}`; expected {}",
                    describe(&names_only)
                )));
            };
            out[i] = Some(value);
        }
        return Ok((out, true));
    }
    let list: Vec<&'a RawValue> = serde_json::from_str(json).map_err(malformed)?;
    if list.len() > names.len() {
        return Err(invalid_params(format!(
            "expected at most {} params ({}), got {}",
            names.len(),
            describe(&names_only),
            list.len()
        )));
    }
    let mut out: Vec<Option<&RawValue>> = list.into_iter().map(Some).collect();
    out.resize(names.len(), None);
    Ok((out, false))
}

/// A method of `module` that [`PARAMS`] does not list, if any.
pub(crate) fn unlisted_method<C>(module: &jsonrpsee::RpcModule<C>) -> Option<&'static str> {
    module
        .method_names()
        .find(|m| !PARAMS.iter().any(|(listed, _)| listed == m))
}

fn describe(names: &[&str]) -> String {
    if names.is_empty() {
        return "none".to_string();
    }
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_params_become_positional() {
        let param = |name, required| ParamName { name, required };
        let names = [
            param("module", true),
            param("method", true),
            param("params", false),
        ];
        let (values, named) = split_params(r#"{"method": "m", "module": "x"}"#, &names).unwrap();
        assert!(named);
        let got: Vec<_> = values.iter().map(|v| v.map(|v| v.get())).collect();
        assert_eq!(got, vec![Some(r#""x""#), Some(r#""m""#), None]);
        let e = split_params(r#"[1, 2, 3, 4]"#, &names).unwrap_err();
        assert!(e.message().contains("at most 3"), "{}", e.message());
    }
}
