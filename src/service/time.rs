//! Time on the wire: the core counts Unix milliseconds (`i64`); only a door
//! turns them into its wire type, here the protobuf `Timestamp`.

/// Converts Unix milliseconds to a protobuf timestamp.
pub fn to_timestamp(ms: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: ms.div_euclid(1000),
        // rem_euclid(1000) is 0..=999, so the product fits an i32.
        nanos: i32::try_from(ms.rem_euclid(1000) * 1_000_000).unwrap_or(0),
    }
}

/// Converts a protobuf timestamp to Unix milliseconds; `None` when it is
/// out of range (nanos outside 0..1e9, or beyond what `i64` ms holds).
pub fn from_timestamp(t: &prost_types::Timestamp) -> Option<i64> {
    if !(0..1_000_000_000).contains(&t.nanos) {
        return None;
    }
    t.seconds
        .checked_mul(1000)?
        .checked_add(i64::from(t.nanos / 1_000_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_convert() {
        let t = to_timestamp(1_500);
        assert_eq!((t.seconds, t.nanos), (1, 500_000_000));
        let t = to_timestamp(-1);
        assert_eq!((t.seconds, t.nanos), (-1, 999_000_000));
        assert_eq!(from_timestamp(&to_timestamp(1_500)), Some(1_500));
        assert_eq!(from_timestamp(&to_timestamp(-1)), Some(-1));
        let bad = prost_types::Timestamp {
            seconds: 1,
            nanos: -1,
        };
        assert_eq!(from_timestamp(&bad), None);
        let huge = prost_types::Timestamp {
            seconds: i64::MAX,
            nanos: 0,
        };
        assert_eq!(from_timestamp(&huge), None);
    }
}
