//! The console's templates, embedded in the binary and autoescaped (names end `.html`).

use std::sync::LazyLock;

use minijinja::Environment;

use crate::error::AppError;

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../console/templates/base.html")),
    ("error.html", include_str!("../../console/templates/error.html")),
    ("login.html", include_str!("../../console/templates/login.html")),
    ("overview.html", include_str!("../../console/templates/overview.html")),
    ("queue.html", include_str!("../../console/templates/queue.html")),
    ("organizations.html", include_str!("../../console/templates/organizations.html")),
    ("organization.html", include_str!("../../console/templates/organization.html")),
    ("activities.html", include_str!("../../console/templates/activities.html")),
    ("exports.html", include_str!("../../console/templates/exports.html")),
    ("grants.html", include_str!("../../console/templates/grants.html")),
    ("invitation.html", include_str!("../../console/templates/invitation.html")),
];

static ENV: LazyLock<Result<Environment<'static>, String>> = LazyLock::new(|| {
    let mut env = Environment::new();
    for (name, source) in TEMPLATES {
        env.add_template(name, source).map_err(|e| format!("template {name}: {e}"))?;
    }
    Ok(env)
});

/// Renders template `name` with `ctx`.
pub fn render(name: &str, ctx: minijinja::Value) -> Result<String, AppError> {
    let env = ENV.as_ref().map_err(|e| AppError::Internal(anyhow::anyhow!("{e}")))?;
    env.get_template(name)
        .and_then(|t| t.render(ctx))
        .map_err(|e| AppError::Internal(anyhow::anyhow!("rendering {name}: {e:#}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses() {
        assert!(ENV.is_ok(), "{:?}", ENV.as_ref().err());
    }

    #[test]
    fn every_template_file_is_embedded() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("console/templates");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        files.sort();
        let mut embedded: Vec<String> = TEMPLATES.iter().map(|(name, _)| (*name).to_owned()).collect();
        embedded.sort();
        assert_eq!(files, embedded);
    }

    #[test]
    fn text_is_escaped() {
        let html = render("error.html", minijinja::context! { status => 404, messages => vec!["<script>"] });
        assert!(html.is_ok_and(|h| h.contains("&lt;script&gt;") && !h.contains("<script>")));
    }
}
