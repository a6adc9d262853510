//! Template values, built to WeChat's limits: trimmed, without control characters or
//! newlines, and cut to each keyword type's length in characters.

use serde_json::{Map, Value, json};

/// A keyword type of a subscribe-message template, with its limit in characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keyword {
    /// ≤ 20 characters.
    Thing,
    /// ≤ 5 characters (Chinese).
    Phrase,
    /// 24-hour time such as `2026年12月1日 09:30`.
    Time,
    /// ≤ 32 characters.
    CharacterString,
}

impl Keyword {
    fn limit(self) -> usize {
        match self {
            Keyword::Thing => 20,
            Keyword::Phrase => 5,
            Keyword::Time => 64,
            Keyword::CharacterString => 32,
        }
    }
}

/// Cleans a value: control characters become spaces, runs of space fold, ends are
/// trimmed, and a value over the limit is cut with `…` (still within the limit).
pub fn value(kind: Keyword, raw: &str) -> String {
    let cleaned: String = raw.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let folded = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    let limit = kind.limit();
    if folded.chars().count() <= limit {
        return folded;
    }
    let mut cut: String = folded.chars().take(limit - 1).collect();
    cut = cut.trim_end().to_owned();
    cut.push('…');
    cut
}

/// `{"thing1": {"value": …}, …}` from (keyword name, type, raw value).
pub fn data(fields: &[(&str, Keyword, &str)]) -> Map<String, Value> {
    fields.iter().map(|(name, kind, raw)| ((*name).to_owned(), json!({ "value": value(*kind, raw) }))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_cleaned_and_cut_in_characters() {
        assert_eq!(value(Keyword::Thing, "  社区\n义诊\t活动  "), "社区 义诊 活动");
        let long = "金塔巷社区重阳节为独居老人上门包饺子并陪伴聊天的志愿服务活动";
        let cut = value(Keyword::Thing, long);
        assert_eq!(cut.chars().count(), 20);
        assert!(cut.ends_with('…'));
        assert_eq!(value(Keyword::Phrase, "候补转正成功了"), "候补转正…");
        assert_eq!(value(Keyword::Thing, "短"), "短");
    }

    #[test]
    fn data_has_the_wechat_shape() {
        let d = data(&[("thing1", Keyword::Thing, "义诊"), ("time2", Keyword::Time, "2026年12月1日 09:30")]);
        assert_eq!(Value::Object(d), json!({"thing1": {"value": "义诊"}, "time2": {"value": "2026年12月1日 09:30"}}));
    }
}
