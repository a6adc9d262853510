//! Downloads: the files a caller may fetch, their formats, and the signed link that opens
//! one without an `Authorization` header. Pure: the key is handed in.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use utoipa::ToSchema;

string_enum! {
    /// What a download holds.
    DownloadKind {
        RegionMetrics = "region_metrics",
        ParticipationRecord = "participation_record",
        ActivityRoster = "activity_roster",
        OrganizationMetrics = "organization_metrics",
    }
}

string_enum! {
    /// A download's format: an Excel workbook, UTF-8 CSV with a BOM, or a printable page.
    FileFormat {
        Xlsx = "xlsx",
        Csv = "csv",
        Html = "html",
    }
}

impl DownloadKind {
    /// The formats this kind comes in; the first is the default.
    pub fn formats(self) -> &'static [FileFormat] {
        match self {
            DownloadKind::ParticipationRecord => &[FileFormat::Html],
            _ => &[FileFormat::Xlsx, FileFormat::Csv],
        }
    }
}

impl FileFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            FileFormat::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            FileFormat::Csv => "text/csv; charset=utf-8",
            FileFormat::Html => "text/html; charset=utf-8",
        }
    }
}

/// A file ready to send.
pub struct File {
    /// Without the extension; ASCII, safe in `content-disposition`.
    pub stem: String,
    pub format: FileFormat,
    pub bytes: Vec<u8>,
}

/// What a signed link names: who may open it, what, until when. `from` and `to` are the
/// period as given (for the figures), passed through unchanged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkClaims {
    pub user_id: i64,
    /// The user's token version when the link was made: signing out everywhere or
    /// deleting the account ends the user's links too.
    pub token_version: i32,
    pub kind: DownloadKind,
    pub id: i64,
    pub format: FileFormat,
    pub from: Option<String>,
    pub to: Option<String>,
    pub expires: i64,
}

/// Why a link does not open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkError {
    /// Altered, made with another key, or not a link at all.
    Invalid,
    Expired,
}

impl LinkClaims {
    /// The signed text: every field, in a fixed order, one a line (`verify` refuses a
    /// period holding a line break, so no two claims share a text).
    fn message(&self) -> String {
        let enc = |s: &Option<String>| s.as_deref().map(|s| format!("={s}")).unwrap_or_default();
        format!(
            "{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}",
            self.user_id,
            self.token_version,
            self.kind.as_str(),
            self.id,
            self.format.as_str(),
            enc(&self.from),
            enc(&self.to),
            self.expires
        )
    }

    fn mac(&self, key: &[u8]) -> Option<Hmac<Sha256>> {
        let mut m = Hmac::<Sha256>::new_from_slice(key).ok()?;
        m.update(b"download\n");
        m.update(self.message().as_bytes());
        Some(m)
    }

    /// The link's signature, hex.
    pub fn sign(&self, key: &[u8]) -> String {
        self.mac(key).map(|m| hex::encode(m.finalize().into_bytes())).unwrap_or_default()
    }

    /// Checks the signature (in constant time), then the expiry against `now`.
    pub fn verify(&self, key: &[u8], signature: &str, now: DateTime<Utc>) -> Result<(), LinkError> {
        if [&self.from, &self.to].iter().any(|s| s.as_deref().is_some_and(|s| s.contains('\n'))) {
            return Err(LinkError::Invalid);
        }
        let sig = hex::decode(signature).map_err(|_| LinkError::Invalid)?;
        self.mac(key).ok_or(LinkError::Invalid)?.verify_slice(&sig).map_err(|_| LinkError::Invalid)?;
        if now.timestamp() > self.expires {
            return Err(LinkError::Expired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> LinkClaims {
        LinkClaims {
            user_id: 7,
            token_version: 0,
            kind: DownloadKind::ActivityRoster,
            id: 42,
            format: FileFormat::Csv,
            from: Some("2026-01-01".into()),
            to: None,
            expires: 1_000,
        }
    }

    fn at(t: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(t, 0).unwrap_or_default()
    }

    #[test]
    fn a_link_opens_until_it_expires_and_only_as_signed() {
        let key = b"k".as_slice();
        let c = claims();
        let sig = c.sign(key);
        assert_eq!(c.verify(key, &sig, at(1_000)), Ok(()));
        assert_eq!(c.verify(key, &sig, at(1_001)), Err(LinkError::Expired));
        assert_eq!(c.verify(b"other", &sig, at(0)), Err(LinkError::Invalid));
        assert_eq!(c.verify(key, "zz", at(0)), Err(LinkError::Invalid));
        for changed in [
            LinkClaims { user_id: 8, ..claims() },
            LinkClaims { token_version: 1, ..claims() },
            LinkClaims { kind: DownloadKind::OrganizationMetrics, ..claims() },
            LinkClaims { id: 43, ..claims() },
            LinkClaims { format: FileFormat::Xlsx, ..claims() },
            LinkClaims { from: None, ..claims() },
            LinkClaims { from: Some(String::new()), ..claims() },
            LinkClaims { to: Some("2026-02-01".into()), ..claims() },
            LinkClaims { expires: 2_000, ..claims() },
        ] {
            assert_eq!(changed.verify(key, &sig, at(0)), Err(LinkError::Invalid), "{changed:?}");
        }
    }

    #[test]
    fn each_kind_has_its_formats() {
        assert_eq!(DownloadKind::ParticipationRecord.formats(), [FileFormat::Html]);
        assert_eq!(DownloadKind::ActivityRoster.formats()[0], FileFormat::Xlsx);
    }
}
