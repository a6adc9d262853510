//! Social-work certificates (社会工作者职业资格) of organizations' staff. The policy asks
//! that the share of staff holding them rise; a certificate counts once its street
//! office verified it.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

string_enum! {
    /// 助理社会工作师, 社会工作师, 高级社会工作师.
    CertificateLevel {
        Assistant = "assistant",
        Intermediate = "intermediate",
        Senior = "senior",
    }
}

string_enum! {
    /// `pending → verified | rejected`.
    CertificateStatus {
        Pending = "pending",
        Verified = "verified",
        Rejected = "rejected",
    }
}

/// The share of staff holding a verified certificate, rounded to 3 places; `None`
/// without staff.
pub fn share(certified: i64, staff: i64) -> Option<f64> {
    (staff > 0).then(|| (certified.min(staff) as f64 / staff as f64 * 1000.0).round() / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_share_is_within_0_and_1() {
        assert_eq!(share(1, 3), Some(0.333));
        assert_eq!(share(5, 3), Some(1.0));
        assert_eq!(share(0, 0), None);
        assert_eq!(CertificateLevel::parse("senior"), Some(CertificateLevel::Senior));
    }
}
