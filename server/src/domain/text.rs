//! Text rules: Chinese text is measured in characters, never bytes.

/// Trims, and refuses empty or over-long text (counted in characters).
pub fn bounded(value: &str, min: usize, max: usize) -> Result<String, (usize, usize)> {
    let trimmed = value.trim();
    let n = trimmed.chars().count();
    if n < min || n > max || trimmed.chars().any(|c| c.is_control()) {
        return Err((min, max));
    }
    Ok(trimmed.to_owned())
}

/// Escapes `%`, `_` and the escape character itself so user input matches literally in
/// `LIKE ... ESCAPE '\'`.
pub fn like_literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    for c in value.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_is_counted_in_characters() {
        // 16 characters, 48 bytes.
        let name = "幸福里社区老年人志愿服务队伍十六";
        assert_eq!(bounded(name, 1, 16).ok().as_deref(), Some(name));
        assert!(bounded(name, 1, 15).is_err());
        assert!(bounded("   ", 1, 10).is_err());
        assert!(bounded("a\u{0}b", 1, 10).is_err());
        assert_eq!(bounded("  邻里  ", 1, 2).ok().as_deref(), Some("邻里"));
    }

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(like_literal("50%_off\\"), "50\\%\\_off\\\\");
        assert_eq!(like_literal("幸福"), "幸福");
    }
}
