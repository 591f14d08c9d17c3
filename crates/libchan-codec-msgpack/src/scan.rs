//! A structural pre-check of one MessagePack value, so that well-formed
//! messages can be decoded straight from the slice.
//!
//! The slice decoder borrows strings and bins instead of copying them
//! through a reader, but it cannot tell [`crate::guard`] how many bytes are
//! left. [`one_value`] walks the message first, without allocating: every
//! declared length and element count must fit in the bytes that follow it
//! (each element takes at least one byte), and the value must end exactly
//! at the end of the message. A message that passes holds no count a
//! `Deserialize` impl could over-allocate from and no trailing bytes; one
//! that fails goes through the guarded reader, which reports the fault.

/// True when `bytes` is exactly one MessagePack value whose every declared
/// length and element count fits in the bytes after it.
pub(crate) fn one_value(bytes: &[u8]) -> bool {
    let mut rest = bytes;
    // Values still to read: the message, then every element declared.
    let mut pending: usize = 1;
    while pending > 0 {
        pending -= 1;
        let Some((&marker, tail)) = rest.split_first() else {
            return false;
        };
        rest = tail;
        let (skip, elements) = match marker {
            0x00..=0x7f | 0xc0 | 0xc2 | 0xc3 | 0xe0..=0xff => (0, 0),
            0x80..=0x8f => (0, 2 * usize::from(marker & 0x0f)),
            0x90..=0x9f => (0, usize::from(marker & 0x0f)),
            0xa0..=0xbf => (usize::from(marker & 0x1f), 0),
            0xc4 | 0xd9 => match length(&mut rest, 1) {
                Some(n) => (n, 0),
                None => return false,
            },
            0xc5 | 0xda => match length(&mut rest, 2) {
                Some(n) => (n, 0),
                None => return false,
            },
            0xc6 | 0xdb => match length(&mut rest, 4) {
                Some(n) => (n, 0),
                None => return false,
            },
            // ext 8/16/32: the length, then a type byte and the data.
            0xc7 => match length(&mut rest, 1) {
                Some(n) => (n.saturating_add(1), 0),
                None => return false,
            },
            0xc8 => match length(&mut rest, 2) {
                Some(n) => (n.saturating_add(1), 0),
                None => return false,
            },
            0xc9 => match length(&mut rest, 4) {
                Some(n) => (n.saturating_add(1), 0),
                None => return false,
            },
            0xcc | 0xd0 => (1, 0),
            0xcd | 0xd1 => (2, 0),
            0xca | 0xce | 0xd2 => (4, 0),
            0xcb | 0xcf | 0xd3 => (8, 0),
            // fixext 1/2/4/8/16: a type byte and the data.
            0xd4 => (2, 0),
            0xd5 => (3, 0),
            0xd6 => (5, 0),
            0xd7 => (9, 0),
            0xd8 => (17, 0),
            0xdc => match length(&mut rest, 2) {
                Some(n) => (0, n),
                None => return false,
            },
            0xdd => match length(&mut rest, 4) {
                Some(n) => (0, n),
                None => return false,
            },
            0xde => match length(&mut rest, 2) {
                Some(n) => (0, n.saturating_mul(2)),
                None => return false,
            },
            0xdf => match length(&mut rest, 4) {
                Some(n) => (0, n.saturating_mul(2)),
                None => return false,
            },
            // 0xc1 is never used.
            _ => return false,
        };
        let Some(tail) = rest.get(skip..) else {
            return false;
        };
        rest = tail;
        // Each element needs a byte: a count past what is left is hostile
        // (or truncated), and the guarded reader reports it.
        pending = pending.saturating_add(elements);
        if pending > rest.len() {
            return false;
        }
    }
    rest.is_empty()
}

/// Reads a big-endian length of `width` bytes.
fn length(rest: &mut &[u8], width: usize) -> Option<usize> {
    let (head, tail) = rest.split_at_checked(width)?;
    *rest = tail;
    let n = head.iter().fold(0u64, |n, &b| (n << 8) | u64::from(b));
    usize::try_from(n).ok()
}

#[cfg(test)]
mod tests {
    use super::one_value;

    #[test]
    fn well_formed_values_pass() {
        for ok in [
            &b"\x07"[..],
            b"\xc0",
            b"\x93\x01\x02\x03",
            b"\x82\xa1x\x01\xa1y\xff",
            b"\xc4\x03abc",
            b"\xd9\x02hi",
            b"\xcd\x01\x00",
            b"\xd4\x01\x02",
            b"\xc7\x02\x05ab",
            b"\x91\x90",
        ] {
            assert!(one_value(ok), "{ok:x?}");
        }
    }

    #[test]
    fn hostile_or_malformed_values_fail() {
        for bad in [
            &b""[..],
            b"\x07\x08",
            b"\xc1",
            b"\x93\x01\x02",
            b"\xdd\xff\xff\xff\xff\x01\x02\x03",
            b"\xdb\xff\xff\xff\xff\x01abc",
            b"\xc6\xff\xff\xff\xff\x01abc",
            b"\xc9\xff\xff\xff\xff\x01abc",
            b"\xdf\x00\x00\x00\x02\x01\x02\x03",
            b"\xd9\x05hi",
            b"\xcf\x01",
            b"\xd8\x01",
        ] {
            assert!(!one_value(bad), "{bad:x?}");
        }
    }

    use proptest::prelude::Strategy as _;

    proptest::proptest! {
        /// Whatever the encoder writes takes the slice path.
        #[test]
        fn everything_the_encoder_writes_passes(
            value in proptest::collection::vec(
                (
                    proptest::prelude::any::<String>(),
                    proptest::collection::vec(proptest::prelude::any::<i64>(), 0..20),
                    proptest::prelude::any::<Option<bool>>(),
                    proptest::prelude::any::<f64>(),
                    proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)
                        .prop_map(bytes::Bytes::from),
                ),
                0..20,
            )
        ) {
            let encoded = rmp_serde::to_vec_named(&value).expect("encodes");
            proptest::prop_assert!(one_value(&encoded));
            let mut longer = encoded.clone();
            longer.push(0);
            proptest::prop_assert!(!one_value(&longer));
            proptest::prop_assert!(!one_value(&encoded[..encoded.len() - 1]));
        }
    }
}
