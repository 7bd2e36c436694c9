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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_convert() {
        let t = to_timestamp(1_500);
        assert_eq!((t.seconds, t.nanos), (1, 500_000_000));
        let t = to_timestamp(-1);
        assert_eq!((t.seconds, t.nanos), (-1, 999_000_000));
    }
}
