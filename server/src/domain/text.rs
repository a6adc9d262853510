//! Text rules: Chinese text is measured in characters, never bytes, and text that
//! renders as nothing is not a name.
//!
//! Every bounded text field goes through [`bounded`]: it is normalised to NFC (Unicode
//! UAX #15, so `Cafe\u{301}` and `Café` are one name), stripped of characters that are
//! never wanted in a name or a sentence (zero-width space, word joiner, BOM, soft hyphen,
//! the bidirectional controls U+202A–202E, U+2066–2069, U+200E/F, U+061C — the last allow
//! a right-to-left override to disguise a name), trimmed of whitespace of any script and of
//! invisible characters at both ends, and refused when nothing visible is left. Joiners
//! and variation selectors inside the text stay: emoji sequences need them, and each emoji
//! still counts as its characters (`😀` is one).

use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// Why a text is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextError {
    /// Nothing visible (empty, only spaces, only format characters).
    Blank,
    /// Shorter than `min` or longer than `max` characters, counted after normalising.
    Length { min: usize, max: usize },
    /// A control character (newlines included) where none may be.
    Control,
}

/// Characters removed wherever they appear: they render as nothing and only hide or
/// reorder what a reader sees.
fn is_stripped(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}' // soft hyphen
            | '\u{061C}' // Arabic letter mark
            | '\u{180E}' // Mongolian vowel separator
            | '\u{200B}' // zero-width space
            | '\u{200E}' | '\u{200F}' // left-to-right / right-to-left marks
            | '\u{202A}'..='\u{202E}' // bidi embeddings and overrides
            | '\u{2060}'..='\u{2064}' // word joiner, invisible operators
            | '\u{2066}'..='\u{2069}' // bidi isolates
            | '\u{206A}'..='\u{206F}' // deprecated format characters
            | '\u{FEFF}' // byte-order mark / zero-width no-break space
            | '\u{FFF9}'..='\u{FFFB}' // interlinear annotation
    )
}

/// Renders as nothing on its own: whitespace, format characters (Cf), marks with no base,
/// variation selectors, unassigned or private code points, and the blank-looking letters
/// some fonts draw empty (Hangul fillers, the braille blank, the ideographic half fill
/// space, the object replacement character).
fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' | '\u{2800}' | '\u{034F}' | '\u{303F}' | '\u{FFFC}'
        )
        || matches!(
            c.general_category(),
            GeneralCategory::Format
                | GeneralCategory::Control
                | GeneralCategory::NonspacingMark
                | GeneralCategory::EnclosingMark
                | GeneralCategory::SpaceSeparator
                | GeneralCategory::LineSeparator
                | GeneralCategory::ParagraphSeparator
                | GeneralCategory::Unassigned
                | GeneralCategory::PrivateUse
                | GeneralCategory::Surrogate
        )
}

/// Marks (combining, enclosing, variation selectors) render with the character before
/// them: at the end of a text they belong to it and stay; at the start they have no base.
fn is_mark(c: char) -> bool {
    matches!(c.general_category(), GeneralCategory::NonspacingMark | GeneralCategory::EnclosingMark)
}

/// Normalises a text as every field stores it: NFC, stripped of the characters above,
/// trimmed of invisible characters at both ends (marks only at the start).
pub fn normalize(value: &str) -> String {
    let nfc: String = value.nfc().filter(|c| !is_stripped(*c)).collect();
    nfc.trim_start_matches(is_invisible).trim_end_matches(|c| is_invisible(c) && !is_mark(c)).to_owned()
}

/// Whether a text has at least one visible character.
pub fn is_visible(value: &str) -> bool {
    value.chars().any(|c| !is_invisible(c))
}

/// Normalises (see the module docs) and refuses text with no visible character, with a
/// control character, or with fewer than `min` or more than `max` characters.
pub fn parse(value: &str, min: usize, max: usize) -> Result<String, TextError> {
    let text = normalize(value);
    // Line and paragraph separators break a line as a newline does.
    if text.chars().any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')) {
        return Err(TextError::Control);
    }
    let n = text.chars().count();
    if n < min || n > max {
        return Err(TextError::Length { min, max });
    }
    if min > 0 && !is_visible(&text) {
        return Err(TextError::Blank);
    }
    Ok(text)
}

/// An optional remark that goes with a decision (a refusal's reason, a review comment, an
/// appeal's answer, an invitation's note): normalised; a text with nothing visible is no
/// remark at all (so "a refusal needs a reason" sees it missing); longer than `max`
/// characters, or with a control character, is refused.
pub fn remark(value: Option<&str>, max: usize) -> Result<Option<String>, TextError> {
    match value.map(normalize) {
        Some(text) if is_visible(&text) => parse(&text, 1, max).map(Some),
        _ => Ok(None),
    }
}

/// [`parse`] with the bounds as the error (the shape every caller reports).
pub fn bounded(value: &str, min: usize, max: usize) -> Result<String, (usize, usize)> {
    parse(value, min, max).map_err(|_| (min, max))
}

/// The key two names are compared by: normalised, then NFKC (full-width `ＡＢＣ` and
/// half-width `ABC`, compatibility ideographs, are one), without whitespace, case-folded
/// (Latin letters in Chinese names are often typed in either case).
pub fn name_key(value: &str) -> String {
    normalize(value).nfkc().filter(|c| !is_invisible(*c)).flat_map(char::to_lowercase).collect()
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
    fn a_remark_that_shows_nothing_is_none() {
        assert_eq!(remark(Some(" \u{200b}\u{2060} "), 10), Ok(None));
        assert_eq!(remark(None, 10), Ok(None));
        assert_eq!(remark(Some(" 材料齐全 "), 10), Ok(Some("材料齐全".to_owned())));
        assert_eq!(remark(Some(&"理".repeat(11)), 10), Err(TextError::Length { min: 1, max: 10 }));
        assert_eq!(remark(Some("一\n二"), 10), Err(TextError::Control));
    }

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
    fn text_that_renders_empty_is_refused() {
        for blank in [
            "\u{200b}",
            "\u{200d}\u{2060}",
            "\u{feff}",
            "\u{3000}\u{3000}", // ideographic spaces
            "\u{202e}",
            "\u{fe0f}",
            "\u{00a0}\u{2003}",
            "\u{3164}",
            "\u{2800}",
            "\u{e0020}\u{e007f}", // tag characters
            "\u{0301}",
            "\u{115f}\u{1160}",
        ] {
            assert!(matches!(parse(blank, 1, 50), Err(TextError::Blank | TextError::Length { .. })), "{blank:?}");
        }
    }

    #[test]
    fn invisible_characters_are_stripped_at_the_ends_and_format_characters_everywhere() {
        assert_eq!(parse("\u{200b}邻里\u{feff}", 1, 10), Ok("邻里".into()));
        assert_eq!(parse("\u{3000}邻\u{200b}里\u{2060}", 1, 10), Ok("邻里".into()));
        assert_eq!(parse("abc\u{202e}def", 1, 10), Ok("abcdef".into()), "a right-to-left override");
        // A family emoji keeps its joiners; a keycap its variation selector.
        assert_eq!(parse("👨\u{200d}👩\u{200d}👧", 1, 10), Ok("👨\u{200d}👩\u{200d}👧".into()));
        assert_eq!(parse("1\u{fe0f}\u{20e3}", 1, 10), Ok("1\u{fe0f}\u{20e3}".into()));
    }

    #[test]
    fn text_is_nfc_and_emoji_count_as_one_character() {
        assert_eq!(parse("Cafe\u{0301}", 1, 10), Ok("Café".into()));
        assert_eq!(name_key("Cafe\u{0301}"), name_key("café"));
        assert_eq!(name_key("金塔巷 棋牌组"), name_key("金塔巷棋牌组"));
        assert_eq!(name_key("ＡＢＣ互助"), name_key("abc互助"), "full-width Latin is one name with half-width");
        assert!(parse("\u{303f}", 1, 10).is_err() && parse("\u{fffc}", 1, 10).is_err());
        assert_eq!(parse("小\u{2028}王", 1, 10), Err(TextError::Control));
        let fifty = "😀".repeat(50);
        assert_eq!(parse(&fifty, 1, 50), Ok(fifty.clone()));
        assert_eq!(parse(&"😀".repeat(51), 1, 50), Err(TextError::Length { min: 1, max: 50 }));
    }

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(like_literal("50%_off\\"), "50\\%\\_off\\\\");
        assert_eq!(like_literal("幸福"), "幸福");
    }
}
