//! Rows into structs, by column name, without sqlx's procedural macro crate.
//!
//! `#[derive(sqlx::FromRow)]` lives in sqlx's macro crate, which links a second copy of sqlx and
//! of all three database drivers (bundled SQLite's C among them) for the compiler: about 74
//! CPU-seconds of a newcomer's first build (issue #21, docs/benchmarks.md "First build"). [`from_row!`](crate::from_row) writes the same decoding for the two row
//! types the stores read, PostgreSQL's and SQLite's.

/// Declares a struct and implements `sqlx::FromRow` for PostgreSQL's and SQLite's rows: each
/// field from the column of its name, as `#[derive(sqlx::FromRow)]` does. A field may say
/// `#[row(flatten)]` (the field's own `FromRow` reads the same row) or
/// `#[row(try_from = String)]` (the column decoded as that type, then converted with
/// `TryFrom`; a failure is a column decoding error). Field attributes other than doc comments
/// are not accepted.
///
/// ```ignore
/// service_kit::from_row! {
///     /// A stored tag.
///     #[derive(Debug)]
///     pub struct TagRecord {
///         pub tag_uuid: Uuid,
///         #[row(try_from = String)]
///         pub color: Color,
///     }
/// }
/// ```
#[macro_export]
macro_rules! from_row {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $(
                $(#[doc = $doc:literal])*
                $(#[row($($how:tt)+)])?
                $fvis:vis $field:ident : $ty:ty
            ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis struct $name {
            $( $(#[doc = $doc])* $fvis $field: $ty, )+
        }
        $crate::from_row!(@impl $name, $crate::__sqlx::postgres::PgRow,
            $( $field: $ty [$($($how)+)?]; )+);
        $crate::from_row!(@impl $name, $crate::__sqlx::sqlite::SqliteRow,
            $( $field: $ty [$($($how)+)?]; )+);
    };
    (@impl $name:ident, $row:ty, $( $field:ident : $ty:ty [$($how:tt)*]; )+) => {
        impl<'r> $crate::__sqlx::FromRow<'r, $row> for $name {
            fn from_row(row: &'r $row) -> ::std::result::Result<Self, $crate::__sqlx::Error> {
                ::std::result::Result::Ok(Self {
                    $( $field: $crate::from_row!(@get row, $field, $ty, [$($how)*]), )+
                })
            }
        }
    };
    (@get $row:ident, $field:ident, $ty:ty, []) => {
        $crate::__sqlx::Row::try_get($row, stringify!($field))?
    };
    (@get $row:ident, $field:ident, $ty:ty, [flatten]) => {
        <$ty as $crate::__sqlx::FromRow<'_, _>>::from_row($row)?
    };
    (@get $row:ident, $field:ident, $ty:ty, [try_from = $from:ty]) => {{
        let value: $from = $crate::__sqlx::Row::try_get($row, stringify!($field))?;
        <$ty as ::std::convert::TryFrom<$from>>::try_from(value).map_err(|e| {
            $crate::__sqlx::Error::ColumnDecode {
                index: stringify!($field).to_owned(),
                source: e.into(),
            }
        })?
    }};
}

#[cfg(test)]
mod tests {
    use sqlx::{Connection, SqliteConnection};

    crate::from_row! {
        /// A part of a row.
        #[derive(Debug, PartialEq)]
        struct Inner {
            /// A number.
            n: i64,
        }
    }

    crate::from_row! {
        #[derive(Debug, PartialEq)]
        struct Outer {
            name: String,
            maybe: Option<String>,
            #[row(flatten)]
            inner: Inner,
            #[row(try_from = i64)]
            small: u8,
        }
    }

    #[tokio::test]
    async fn columns_by_name_flattened_and_converted() {
        let mut c = SqliteConnection::connect("sqlite::memory:").await.unwrap();
        let row: Outer = sqlx::query_as("SELECT 7 AS n, 200 AS small, NULL AS maybe, 'a' AS name")
            .fetch_one(&mut c)
            .await
            .unwrap();
        let inner = Inner { n: 7 };
        let want = Outer {
            name: "a".into(),
            maybe: None,
            inner,
            small: 200,
        };
        assert_eq!(row, want);
        let err =
            sqlx::query_as::<_, Outer>("SELECT 1 AS n, 300 AS small, NULL AS maybe, 'a' AS name")
                .fetch_one(&mut c)
                .await
                .unwrap_err();
        assert!(
            matches!(&err, sqlx::Error::ColumnDecode { index, .. } if index == "small"),
            "{err}"
        );
        let missing = sqlx::query_as::<_, Outer>("SELECT 1 AS n, 3 AS small, 'a' AS name")
            .fetch_one(&mut c)
            .await
            .unwrap_err();
        assert!(
            matches!(&missing, sqlx::Error::ColumnNotFound(c) if c == "maybe"),
            "{missing}"
        );
    }
}
