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

#[test]
fn every_operation_declares_what_it_can_answer() -> TestResult {
    let spec = linli_server::api::docs::spec();
    for (path, item) in spec["paths"].as_object().into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            let security = op["security"].as_array().ok_or_else(|| anyhow::anyhow!("{method} {path}: no security"))?;
            let mut expected = vec!["429", "503", "default"];
            if security.iter().any(|r| r.get("bearer").is_some()) {
                expected.push("401");
            }
            if op.get("requestBody").is_some() {
                expected.extend(["400", "413", "415", "422"]);
            }
            for status in expected {
                anyhow::ensure!(op["responses"].get(status).is_some(), "{method} {path} does not declare {status}");
            }
        }
    }
    Ok(())
}

#[test]
fn fields_always_sent_are_required() -> TestResult {
    let spec = linli_server::api::docs::spec();
    let schemas = &spec["components"]["schemas"];
    for (schema, field) in [
        ("RegionResponse", "parent_id"),
        ("Inbox", "next_cursor"),
        ("NotificationResponse", "read_at"),
        ("SignupResponse", "waitlist_position"),
        ("RosterEntryResponse", "nickname"),
        ("Page_ActivityResponse", "next_cursor"),
    ] {
        let required = schemas[schema]["required"].as_array().cloned().unwrap_or_default();
        anyhow::ensure!(required.contains(&serde_json::json!(field)), "{schema}.{field} is not required");
    }
    // Left out when empty: optional, and never null.
    for (schema, field) in [("Problem", "errors"), ("SignupResponse", "note")] {
        let required = schemas[schema]["required"].as_array().cloned().unwrap_or_default();
        anyhow::ensure!(!required.contains(&serde_json::json!(field)), "{schema}.{field} is required");
        anyhow::ensure!(
            !schemas[schema]["properties"][field].to_string().contains("null"),
            "{schema}.{field} is nullable"
        );
    }
    anyhow::ensure!(
        schemas["Page_ActivityResponse"]["properties"]["items"]["items"]["$ref"]
            == "#/components/schemas/ActivityResponse",
        "page items are inlined"
    );
    Ok(())
}

/// Every schema name is given once: utoipa keys components by the type's bare name, so two
/// types of one name (two `SeriesResponse`s in different modules) silently become one in
/// the spec and the other's answers violate it. Types deriving `ToSchema` and the
/// `string_enum!`s (which derive it) are collected from the server's source; `#[schema(as
/// = …)]` renames count by their new name.
#[test]
fn schema_names_are_unique() -> TestResult {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) -> std::io::Result<()> {
        for e in std::fs::read_dir(dir)? {
            let p = e?.path();
            if p.is_dir() {
                walk(&p, out)?;
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
        Ok(())
    }
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../server/src");
    let mut files = Vec::new();
    walk(&src, &mut files)?;
    let mut seen: std::collections::BTreeMap<String, Vec<String>> = std::collections::BTreeMap::new();
    for f in files {
        let text = std::fs::read_to_string(&f)?;
        let lines: Vec<&str> = text.lines().collect();
        for (n, line) in lines.iter().enumerate() {
            let t = line.trim();
            let in_enum_macro = n > 0 && lines[..n].iter().rev().take(4).any(|l| l.trim() == "string_enum! {");
            let named = if in_enum_macro && t.ends_with('{') && !t.starts_with("//") && !t.contains("macro_rules") {
                t.split_whitespace().next().map(str::to_owned)
            } else if t.starts_with("#[derive(") && t.contains("ToSchema") {
                let mut name = None;
                let mut alias = None;
                for next in lines.iter().skip(n + 1).take(8) {
                    let x = next.trim();
                    if let Some(rest) = x.strip_prefix("#[schema(as = ") {
                        alias = rest.split([')', ',']).next().map(|s| s.trim().to_owned());
                    }
                    if let Some(rest) = x.strip_prefix("pub struct ").or_else(|| x.strip_prefix("pub enum ")) {
                        name = rest.split(|c: char| !c.is_alphanumeric() && c != '_').next().map(str::to_owned);
                        break;
                    }
                }
                alias.or(name)
            } else {
                None
            };
            if let Some(name) = named.filter(|n| n.chars().next().is_some_and(char::is_uppercase)) {
                seen.entry(name).or_default().push(format!("{}:{}", f.display(), n + 1));
            }
        }
    }
    let twice: Vec<String> =
        seen.into_iter().filter(|(_, at)| at.len() > 1).map(|(n, at)| format!("{n}: {at:?}")).collect();
    assert!(twice.is_empty(), "schema names given twice:\n{}", twice.join("\n"));
    Ok(())
}
