//! The National Bureau of Statistics' statistical division codes (统计用区划代码) and
//! urban–rural classification codes (城乡分类代码), as `linli import-regions` reads them.
//!
//! A code has 12 digits: province 2, city (地级) 2, county (县级) 2, street or township
//! (乡级) 3, community or village (村级) 3; a unit's code is its own digits followed by
//! zeros, and starts with its parent's. The file is CSV, one unit a line:
//!
//! ```text
//! code,name,parent_code,level[,urban_rural_code]
//! 620000000000,甘肃省,,province,
//! 620102002006,金塔巷社区居委会,620102002000,community,111
//! ```
//!
//! The header line is optional. `level` is one of `province`, `city`, `county`, `street`,
//! `community`; `urban_rural_code` (communities only, may be empty) is the three-digit
//! 城乡分类代码: 1xx urban (111 主城区 … 123 特殊区域), 2xx rural (210 乡中心区, 220 村庄).

use std::fmt;

use crate::domain::region::{RegionKind, RegionLevel};

/// The longest name the `regions` table holds, in characters.
pub const MAX_NAME_CHARS: usize = 64;

/// One unit read from a file line, checked on its own (not yet against its parent).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegionRecord {
    /// The 1-based line of the file it came from, for error messages.
    pub line: usize,
    /// 12 digits.
    pub code: String,
    pub name: String,
    /// 12 digits; `None` for a province.
    pub parent_code: Option<String>,
    pub level: RegionLevel,
    /// Urban or rural, for communities: see [`classify`].
    pub kind: Option<RegionKind>,
}

/// A line the importer refuses, with the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for LineError {}

fn at(line: usize, message: impl Into<String>) -> LineError {
    LineError { line, message: message.into() }
}

/// How many leading digits of the 12 are a level's own and its ancestors'.
pub fn significant_digits(level: RegionLevel) -> usize {
    match level {
        RegionLevel::Province => 2,
        RegionLevel::City => 4,
        RegionLevel::County => 6,
        RegionLevel::Street => 9,
        RegionLevel::Community => 12,
    }
}

/// The levels a unit of `level` may hang from. A street or township hangs from a county,
/// or straight from a city without districts (不设区的市, e.g. 东莞市, 嘉峪关市 in some
/// years), whose county digits are `00`.
pub fn parent_levels(level: RegionLevel) -> &'static [RegionLevel] {
    match level {
        RegionLevel::Province => &[],
        RegionLevel::City => &[RegionLevel::Province],
        RegionLevel::County => &[RegionLevel::City],
        RegionLevel::Street => &[RegionLevel::County, RegionLevel::City],
        RegionLevel::Community => &[RegionLevel::Street],
    }
}

/// The level a 12-digit code has by its shape (its last non-zero segment), if any.
pub fn level_of_code(code: &str) -> Option<RegionLevel> {
    if code.len() != 12 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let segment = |from: usize, to: usize| code[from..to].bytes().any(|b| b != b'0');
    if !segment(0, 2) {
        return None;
    }
    Some(if segment(9, 12) {
        RegionLevel::Community
    } else if segment(6, 9) {
        RegionLevel::Street
    } else if segment(4, 6) {
        RegionLevel::County
    } else if segment(2, 4) {
        RegionLevel::City
    } else {
        RegionLevel::Province
    })
}

/// Urban (城镇) or rural (乡村) for a community or village.
///
/// The urban–rural classification code (城乡分类代码), when the file carries one, wins:
/// 1xx is urban, 2xx rural. Otherwise the unit's name tells: a residents' committee
/// (居民委员会, 居委会) or 社区 is urban; a villagers' committee (村民委员会, 村委会), 村,
/// or a pastoral 嘎查 / 牧委会 is rural. The ending is read first (`XX社区村委会` is a
/// village), then what the name contains; a name that says neither (生活区, 管理区…) has
/// no kind. Returns `None` for a code that is not 1xx or 2xx too: [`check_urban_rural`]
/// refuses those before this is asked.
pub fn classify(name: &str, urban_rural_code: Option<&str>) -> Option<RegionKind> {
    if let Some(code) = urban_rural_code.map(str::trim).filter(|c| !c.is_empty()) {
        return match code.as_bytes().first() {
            Some(b'1') => Some(RegionKind::Urban),
            Some(b'2') => Some(RegionKind::Rural),
            _ => None,
        };
    }
    // Names sometimes end with a note in brackets: 「…社区（筹）」.
    let name = name.trim().trim_end_matches([')', '）']);
    let name = name.rsplit_once(['(', '（']).map_or(name, |(head, _)| head);
    const URBAN: [&str; 3] = ["居民委员会", "居委会", "社区"];
    const RURAL: [&str; 6] = ["村民委员会", "村委会", "村", "嘎查", "牧委会", "村委"];
    if URBAN.iter().any(|s| name.ends_with(s)) {
        Some(RegionKind::Urban)
    } else if RURAL.iter().any(|s| name.ends_with(s)) {
        Some(RegionKind::Rural)
    } else if name.contains("社区") || name.contains("居委") {
        Some(RegionKind::Urban)
    } else if name.contains('村') || name.contains("嘎查") {
        Some(RegionKind::Rural)
    } else {
        None
    }
}

/// A 城乡分类代码 must be three digits starting with 1 (urban) or 2 (rural).
pub fn check_urban_rural(code: &str) -> Result<(), String> {
    let b = code.as_bytes();
    if b.len() == 3 && b.iter().all(u8::is_ascii_digit) && matches!(b[0], b'1' | b'2') {
        Ok(())
    } else {
        Err(format!("urban_rural_code {code:?} is not a 城乡分类代码 (three digits, 1xx urban or 2xx rural)"))
    }
}

/// Checks one line's fields on their own: the code's shape against the level, the
/// parent's code as a prefix of it at a level the unit may hang from, the name, and the
/// classification code. `fields` are the CSV fields of line `line` (1-based).
pub fn parse_record(line: usize, fields: &[&str]) -> Result<RegionRecord, LineError> {
    if !(4..=5).contains(&fields.len()) {
        return Err(at(
            line,
            format!(
                "expected 4 or 5 fields (code, name, parent_code, level[, urban_rural_code]), found {}",
                fields.len()
            ),
        ));
    }
    let code = fields[0].trim();
    let name = fields[1].trim();
    let parent = fields[2].trim();
    let level_text = fields[3].trim();
    let urban_rural = fields.get(4).map(|s| s.trim()).filter(|s| !s.is_empty());

    let level = RegionLevel::parse(level_text)
        .ok_or_else(|| at(line, format!("level {level_text:?} is not one of {}", RegionLevel::list())))?;
    let shape =
        level_of_code(code).ok_or_else(|| at(line, format!("code {code:?} is not a 12-digit 统计用区划代码")))?;
    if shape != level {
        return Err(at(
            line,
            format!("code {code} is a {} code, but the line says {}", shape.as_str(), level.as_str()),
        ));
    }
    if name.is_empty() {
        return Err(at(line, format!("code {code}: the name is empty")));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(at(line, format!("code {code}: the name is longer than {MAX_NAME_CHARS} characters")));
    }
    let parent_code = if level == RegionLevel::Province {
        if !parent.is_empty() {
            return Err(at(line, format!("province {code} has a parent code ({parent})")));
        }
        None
    } else {
        let parent_level = level_of_code(parent)
            .ok_or_else(|| at(line, format!("parent code {parent:?} is not a 12-digit 统计用区划代码")))?;
        if !parent_levels(level).contains(&parent_level) {
            return Err(at(
                line,
                format!("a {} cannot hang from a {} ({parent})", level.as_str(), parent_level.as_str()),
            ));
        }
        let digits = significant_digits(parent_level);
        if code[..digits] != parent[..digits] {
            return Err(at(line, format!("code {code} does not start with its parent's code {parent}")));
        }
        Some(parent.to_owned())
    };
    if let Some(ur) = urban_rural {
        check_urban_rural(ur).map_err(|m| at(line, m))?;
        if level != RegionLevel::Community {
            return Err(at(line, format!("code {code}: an urban_rural_code is for communities and villages only")));
        }
    }
    let kind = (level == RegionLevel::Community).then(|| classify(name, urban_rural)).flatten();
    Ok(RegionRecord { line, code: code.to_owned(), name: name.to_owned(), parent_code, level, kind })
}

/// Reads a whole file: every line checked on its own, duplicates refused. Stops at the
/// first bad line. A first line whose first field is `code` is a header and skipped;
/// blank lines are skipped.
pub fn parse_csv(mut input: impl std::io::Read) -> Result<Vec<RegionRecord>, LineError> {
    let mut data = Vec::new();
    input.read_to_end(&mut data).map_err(|e| at(1, format!("not readable: {e}")))?;
    // Line numbers from byte offsets: the reader's own count skips blank lines.
    let (mut counted_to, mut counted_line) = (0usize, 1usize);
    let mut line_at = |byte: u64| {
        let byte = (byte as usize).min(data.len());
        if byte >= counted_to {
            counted_line += data[counted_to..byte].iter().filter(|b| **b == b'\n').count();
            counted_to = byte;
        }
        counted_line
    };
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(data.as_slice());
    let mut records = Vec::new();
    let mut seen = std::collections::HashMap::new();
    let mut row = csv::StringRecord::new();
    let mut header_done = false;
    loop {
        let before = reader.position().byte();
        match reader.read_record(&mut row) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let byte = e.position().map_or(before, |p| p.byte());
                return Err(at(line_at(byte), format!("not readable as CSV: {e}")));
            }
        }
        // A record's position is where the reader began, before the blank lines it skipped.
        let mut start = row.position().map_or(before, |p| p.byte()) as usize;
        while data.get(start).is_some_and(|b| *b == b'\n' || *b == b'\r') {
            start += 1;
        }
        let line = line_at(start as u64);
        let mut fields: Vec<&str> = row.iter().collect();
        if fields.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        if let Some(first) = fields.first_mut() {
            *first = first.trim_start_matches('\u{feff}');
        }
        if !header_done && fields[0].trim() == "code" {
            header_done = true;
            continue;
        }
        header_done = true;
        let record = parse_record(line, &fields)?;
        if let Some(first) = seen.insert(record.code.clone(), line) {
            return Err(at(line, format!("code {} appears twice (first on line {first})", record.code)));
        }
        records.push(record);
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_tell_urban_from_rural() {
        use RegionKind::*;
        assert_eq!(classify("金塔巷社区居委会", None), Some(Urban));
        assert_eq!(classify("雷坛河西街社区居民委员会", None), Some(Urban));
        assert_eq!(classify("牡丹园社区", None), Some(Urban));
        assert_eq!(classify("袁家营村委会", None), Some(Rural));
        assert_eq!(classify("北关村民委员会", None), Some(Rural));
        assert_eq!(classify("北关村", None), Some(Rural));
        assert_eq!(classify("巴彦嘎查", None), Some(Rural));
        assert_eq!(classify("新村社区村委会", None), Some(Rural), "the ending first");
        assert_eq!(classify("幸福社区（筹）", None), Some(Urban), "a bracketed note");
        assert_eq!(classify("农场生活区", None), None);
    }

    #[test]
    fn the_classification_code_wins() {
        assert_eq!(classify("袁家营村委会", Some("111")), Some(RegionKind::Urban));
        assert_eq!(classify("金塔巷社区居委会", Some("220")), Some(RegionKind::Rural));
        assert_eq!(classify("农场生活区", Some("123")), Some(RegionKind::Urban));
        assert_eq!(classify("金塔巷社区居委会", Some(" ")), Some(RegionKind::Urban), "blank is absent");
        assert!(check_urban_rural("111").is_ok() && check_urban_rural("220").is_ok());
        assert!(check_urban_rural("311").is_err() && check_urban_rural("11").is_err());
    }

    #[test]
    fn codes_have_the_shape_of_their_level() {
        assert_eq!(level_of_code("620000000000"), Some(RegionLevel::Province));
        assert_eq!(level_of_code("620100000000"), Some(RegionLevel::City));
        assert_eq!(level_of_code("620102000000"), Some(RegionLevel::County));
        assert_eq!(level_of_code("620102002000"), Some(RegionLevel::Street));
        assert_eq!(level_of_code("620102002006"), Some(RegionLevel::Community));
        assert_eq!(level_of_code("000000000000"), None);
        assert_eq!(level_of_code("62010200200"), None);
        assert_eq!(level_of_code("6201020020a6"), None);
    }

    #[test]
    fn lines_are_checked_on_their_own() {
        let ok = parse_record(3, &["620102002006", "金塔巷社区居委会", "620102002000", "community", ""]);
        let ok = ok.ok();
        assert_eq!(ok.as_ref().map(|r| r.kind), Some(Some(RegionKind::Urban)));
        assert_eq!(ok.and_then(|r| r.parent_code), Some("620102002000".into()));
        // A street of a city without districts hangs from the city.
        assert!(parse_record(1, &["441900003000", "东城街道", "441900000000", "street"]).is_ok());
        let err = |fields: &[&str]| parse_record(7, fields).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err(&["620102002006", "金塔巷", "620102002000", "street"]).contains("is a community code"));
        assert!(err(&["62010200200X", "金塔巷", "620102002000", "community"]).starts_with("line 7: code"));
        assert!(err(&["620102002006", "金塔巷", "620103002000", "community"]).contains("does not start with"));
        assert!(err(&["620102002006", "金塔巷", "620102000000", "community"]).contains("cannot hang from a county"));
        assert!(err(&["620102002006", "金塔巷", "620102002000", "village"]).contains("level \"village\""));
        assert!(err(&["620102002006", "", "620102002000", "community"]).contains("name is empty"));
        assert!(err(&["620102002006", "金塔巷"]).contains("expected 4 or 5 fields"));
        assert!(err(&["620000000000", "甘肃省", "610000000000", "province"]).contains("has a parent"));
        assert!(err(&["620102002006", "金塔巷", "620102002000", "community", "3"]).contains("城乡分类代码"));
        assert!(err(&["620102002000", "张掖路街道", "620102000000", "street", "111"]).contains("communities"));
    }

    #[test]
    fn a_file_reads_with_or_without_its_header() {
        let text = "code,name,parent_code,level,urban_rural_code\n\
                    620000000000,甘肃省,,province,\n\
                    \n\
                    620100000000,兰州市,620000000000,city,\n";
        let rows = parse_csv(text.as_bytes()).unwrap_or_default();
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].line, rows[1].line), (2, 4));
        let rows = parse_csv("620000000000,甘肃省,,province\n".as_bytes()).unwrap_or_default();
        assert_eq!(rows.len(), 1);
    }

    #[test]
    fn a_bad_file_names_its_line() {
        let twice = "620000000000,甘肃省,,province\n620000000000,甘肃,,province\n";
        assert_eq!(
            parse_csv(twice.as_bytes()).err().map(|e| e.to_string()),
            Some("line 2: code 620000000000 appears twice (first on line 1)".into())
        );
        let quote = "620000000000,甘肃省,,province\n620100000000,\"兰州市,620000000000,city\n";
        assert!(parse_csv(quote.as_bytes()).is_err());
    }
}
