//! Pure types and rules: no I/O. Each newtype parses its input once, at the edge.

/// A closed vocabulary sent as snake_case strings, with `as_str`, `parse` and `list`.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }
            /// The accepted values, for error messages.
            pub fn list() -> String {
                Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
            }
        }
    };
}

pub mod abnormal;
pub mod activity;
pub mod annual_report;
pub mod calendar;
pub mod certificate;
pub mod clock;
pub mod console;
pub mod download;
pub mod funding;
pub mod hub;
pub mod incubation;
pub mod invitation;
pub mod notification;
pub mod organization;
pub mod pagination;
pub mod proxy;
pub mod random_check;
pub mod rating;
pub mod recurrence;
pub mod region;
pub mod region_codes;
pub mod role;
pub mod series;
pub mod signup;
pub mod text;
pub mod time;
pub mod time_bank;
pub mod venue;
