//! The typed filter: what the store backends compile to their own queries.
//!
//! A [`TypedExpr`] has passed [`typecheck`](super::typecheck): every field
//! exists and may be filtered, every value has the field's type and is
//! normalised the way stored values are. A compiler only translates; it
//! never needs to reject anything. Values must be bound as parameters,
//! never spliced into query text.
//!
//! # How to compile each node
//!
//! Data fields live in the record's JSON document, system fields in columns
//! of their own. `NULL` below means "the field is absent from the document
//! or is JSON null": validation stores both the same way (absent).
//!
//! - **`And`, `Or`, `Not`**: the boolean operators. A comparison with an
//!   absent field is unknown (`NULL`) in SQL, and `NOT NULL` is still
//!   unknown, so `!(a = 1)` does not match records lacking `a`, just as
//!   `a != 1` does not. That three-valued behaviour is intended and the same
//!   on both backends.
//! - **`IsNull`**: `IS NULL` / `IS NOT NULL` on the extracted value
//!   (PostgreSQL `data->'f'` with `jsonb_typeof` or `data ? 'f'`; SQLite
//!   `json_type(data, '$.f') IS NULL`).
//! - **`Compare`/`In` by the field's type**:
//!   - **text, select**: compare the extracted text (`data->>'f'`,
//!     `json_extract(data, '$.f')`) with bytewise collation (PostgreSQL
//!     `COLLATE "C"`; SQLite's default `BINARY`), so both backends order
//!     alike. `~` ([`CompareOp::Contains`], text only) is a *literal*
//!     substring test: `strpos(x, $1) > 0` on PostgreSQL, `instr(x, ?) > 0`
//!     on SQLite; if `LIKE` is used instead, escape `%`, `_` and the escape
//!     character in the value and add an `ESCAPE` clause. SQLite's `LIKE`
//!     also ignores ASCII case, which `~` must not.
//!   - **number**: compare as double precision (`(data->>'f')::float8`;
//!     SQLite compares JSON numbers as numbers already).
//!   - **integer**: compare as `bigint` (`(data->>'f')::bigint`).
//!   - **decimal**: compare *numerically and exactly*: PostgreSQL
//!     `(data->>'f')::numeric` against `$1::numeric`. The value is canonical
//!     text, as stored values are, so equality and `in` may also compare the
//!     texts, which is what SQLite must do (it has no exact decimal type);
//!     SQLite ordering through `CAST(x AS REAL)` is exact only up to 15
//!     significant digits. Stored values may be JSON numbers rather than
//!     strings after an integer-to-decimal schema change; `->>` and
//!     `json_extract` yield the same canonical text for both.
//!   - **bool**: compare the JSON boolean (`(data->'f') = 'true'::jsonb`;
//!     SQLite `json_extract` yields 1 or 0).
//!   - **datetime** (data fields): stored as fixed-width UTC text, so
//!     comparing [`format_datetime`](crate::collection::format_datetime) of
//!     the value with the stored text orders correctly on both backends.
//!     For `created_at`/`updated_at`, compare with the columns in their own
//!     type.
//!   - **relation, `id`, `owner_id`**: [`TypedValue::Uuid`]. Relations are
//!     stored as lower-case hyphenated text, which orders as the uuid's
//!     bytes do, so compare with `uuid.hyphenated().to_string()`; the id
//!     columns compare in their native uuid type. Ordering operators are
//!     allowed so clients can page by id.

use time::OffsetDateTime;
use uuid::Uuid;

use super::ast::CompareOp;
use crate::collection::{FieldName, FieldType};

/// A filter over one collection's records, checked against its schema.
#[derive(Debug, Clone, PartialEq)]
pub enum TypedExpr {
    And(Vec<TypedExpr>),
    Or(Vec<TypedExpr>),
    Not(Box<TypedExpr>),
    /// `field op value`. `op` is [`CompareOp::Contains`] only on text fields,
    /// and only `Eq`/`Ne` on bool fields.
    Compare {
        field: FieldRef,
        op: CompareOp,
        value: TypedValue,
    },
    /// The field equals one of `values` (1 to 100 of them, never null).
    In {
        field: FieldRef,
        values: Vec<TypedValue>,
    },
    /// `field = null` (`negated: false`) or `field != null` (`negated:
    /// true`); only on optional data fields.
    IsNull {
        field: FieldRef,
        negated: bool,
    },
}

/// A field a filter or sort refers to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FieldRef {
    System(SystemField),
    Data {
        name: FieldName,
        field_type: FieldType,
    },
}

impl FieldRef {
    /// The field's name as written in a filter.
    pub fn name(&self) -> &str {
        match self {
            Self::System(field) => field.as_str(),
            Self::Data { name, .. } => name.as_str(),
        }
    }
}

/// The system fields a filter or sort may use. (`version` is a system field
/// too, but only for optimistic concurrency, not for queries.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SystemField {
    /// The record's id, a uuid.
    Id,
    /// The id of the user who owns the record, a uuid.
    OwnerId,
    /// When the record was created, a datetime.
    CreatedAt,
    /// When the record was last written, a datetime.
    UpdatedAt,
}

impl SystemField {
    pub const ALL: [Self; 4] = [Self::Id, Self::OwnerId, Self::CreatedAt, Self::UpdatedAt];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Id => "id",
            Self::OwnerId => "owner_id",
            Self::CreatedAt => "created_at",
            Self::UpdatedAt => "updated_at",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|field| field.as_str() == text)
    }
}

/// A literal converted to its field's type.
#[derive(Debug, Clone, PartialEq)]
pub enum TypedValue {
    /// For text and select fields.
    Text(String),
    Integer(i64),
    /// Always finite.
    Number(f64),
    /// Canonical decimal text (see
    /// [`normalize_decimal`](crate::collection::normalize_decimal)): exact,
    /// never passed through a float.
    Decimal(String),
    Bool(bool),
    /// In UTC, truncated to the microsecond like stored datetimes.
    Datetime(OffsetDateTime),
    /// For `id`, `owner_id` and relation fields.
    Uuid(Uuid),
}

/// One key of a sort order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SortKey {
    pub field: FieldRef,
    pub descending: bool,
}
