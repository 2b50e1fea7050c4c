//! CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), computed by the
//! `crc32fast` crate: carry-less multiplication (PCLMULQDQ on x86-64, PMULL
//! on AArch64) when the CPU has it, detected at run time, and a table-driven
//! fallback otherwise. The checksum is the same either way; the unit tests
//! below check it against the bitwise definition.

/// The CRC-32 of `data` as used by zlib, PNG and Ethernet.
#[inline]
pub fn crc32(data: &[u8]) -> u32 {
    crc32fast::hash(data)
}

#[cfg(test)]
mod tests {
    use super::crc32;

    #[test]
    fn standard_check_values() {
        // The catalogued check value of CRC-32/ISO-HDLC.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
        assert_eq!(
            crc32(b"The quick brown fox jumps over the lazy dog"),
            0x414F_A339
        );
    }

    /// The bitwise definition, to check the tables on every length and
    /// alignment.
    fn reference(data: &[u8]) -> u32 {
        let mut c = 0xFFFF_FFFFu32;
        for &b in data {
            c ^= b as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
        }
        c ^ 0xFFFF_FFFF
    }

    #[test]
    fn equals_the_bitwise_definition_on_every_length_and_alignment() {
        let data: Vec<u8> = (0..300u32).map(|i| (i * 7919 % 251) as u8).collect();
        for start in 0..9 {
            for end in start..data.len() {
                if end - start < 40 || end % 17 == 0 {
                    assert_eq!(crc32(&data[start..end]), reference(&data[start..end]));
                }
            }
        }
    }
}
