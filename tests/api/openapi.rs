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
    let spec: serde_json::Value = serde_json::from_str(&linli_server::api::docs::spec_json())?;
    let paths = spec["paths"].as_object().ok_or_else(|| anyhow::anyhow!("no paths"))?;
    for (path, item) in paths {
        for (method, op) in item.as_object().into_iter().flatten() {
            for (status, resp) in op["responses"].as_object().into_iter().flatten() {
                if status.starts_with('4') || (status.starts_with('5') && path != "/readyz") {
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
