//! The committed spec must be what the code generates. `UPDATE_OPENAPI=1` rewrites it.

use linli_tests::TestResult;

#[test]
fn committed_spec_matches_the_code() -> TestResult {
    let generated = linli_server::api::docs::spec_json();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi/openapi.json");
    if std::env::var("UPDATE_OPENAPI").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &generated)?;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    anyhow::ensure!(
        committed == generated,
        "openapi/openapi.json drifts from the code: run `UPDATE_OPENAPI=1 cargo test -p linli-tests openapi` and commit it"
    );
    Ok(())
}

#[test]
fn every_error_response_is_problem_json() -> TestResult {
    let spec = linli_server::api::docs::spec();
    let paths = spec["paths"].as_object().ok_or_else(|| anyhow::anyhow!("no paths"))?;
    for (path, item) in paths {
        for (method, op) in item.as_object().into_iter().flatten() {
            for (status, resp) in op["responses"].as_object().into_iter().flatten() {
                let resp = resolve(&spec, resp);
                anyhow::ensure!(
                    resp["description"].as_str().is_some_and(|d| !d.is_empty()),
                    "{method} {path} {status} has no description"
                );
                let error = status.starts_with('4') || status.starts_with('5') || status == "default";
                if error && path != "/readyz" {
                    anyhow::ensure!(
                        resp["content"]["application/problem+json"].is_object(),
                        "{method} {path} {status} is not problem+json"
                    );
                }
            }
        }
    }
    Ok(())
}

#[test]
fn operation_ids_are_unique_and_camel_case() -> TestResult {
    let spec = linli_server::api::docs::spec();
    let mut seen = std::collections::BTreeSet::new();
    for item in spec["paths"].as_object().into_iter().flat_map(|m| m.values()) {
        for op in item.as_object().into_iter().flat_map(|m| m.values()) {
            let id = op["operationId"].as_str().unwrap_or_default();
            anyhow::ensure!(
                id.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                    && id.chars().all(|c| c.is_ascii_alphanumeric()),
                "operationId {id:?} is not camelCase"
            );
            anyhow::ensure!(seen.insert(id.to_owned()), "operationId {id} is used twice");
        }
    }
    Ok(())
}

/// A response object, or the shared one its `$ref` names.
fn resolve<'a>(spec: &'a serde_json::Value, resp: &'a serde_json::Value) -> &'a serde_json::Value {
    match resp["$ref"].as_str().and_then(|r| r.strip_prefix('#')) {
        Some(pointer) => spec.pointer(pointer).unwrap_or(resp),
        None => resp,
    }
}
