//! The Block1/Block2 option value (RFC 7959 §2.2).

use coap_lite::{CoapOption, Packet};

/// The largest block number (20 bits).
// ref: RFC 7959 §2.2 (NUM is at most 20 bits in a 3-byte option value)
pub const MAX_NUM: u32 = (1 << 20) - 1;

/// A decoded Block1 or Block2 value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockValue {
    /// The block number.
    pub num: u32,
    /// More blocks follow.
    pub more: bool,
    /// Size exponent: the block size is 2^(szx + 4), 16 to 1024 bytes.
    pub szx: u8,
}

/// A Block option value that cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    /// More than 3 bytes.
    #[error("block option longer than 3 bytes")]
    TooLong,
    /// SZX 7 is reserved outside BERT (RFC 8323), which UDP does not have.
    #[error("reserved block size exponent 7")]
    ReservedSzx,
    /// NUM above 2^20 − 1.
    #[error("block number too large")]
    NumTooLarge,
}

impl BlockValue {
    /// The block size in bytes.
    pub fn size(self) -> usize {
        16usize << self.szx.min(6)
    }

    /// The byte offset of this block.
    pub fn offset(self) -> usize {
        usize::try_from(self.num).unwrap_or(usize::MAX).saturating_mul(self.size())
    }

    /// Decodes an option value (an unsigned integer of 0–3 bytes).
    ///
    /// # Errors
    /// [`BlockError`] for more than 3 bytes or SZX 7.
    // ref: RFC 7959 §2.2 (NUM | M | SZX, uint of 0-3 bytes; SZX 7 reserved)
    pub fn decode(value: &[u8]) -> Result<Self, BlockError> {
        if value.len() > 3 {
            return Err(BlockError::TooLong);
        }
        let v = value.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b));
        let szx = u8::try_from(v & 0x07).unwrap_or(7);
        if szx == 7 {
            return Err(BlockError::ReservedSzx);
        }
        Ok(Self { num: v >> 4, more: v & 0x08 != 0, szx })
    }

    /// Encodes as a minimal unsigned integer.
    ///
    /// # Errors
    /// [`BlockError`] for NUM above 2^20 − 1 or SZX above 6.
    pub fn encode(self) -> Result<Vec<u8>, BlockError> {
        if self.num > MAX_NUM {
            return Err(BlockError::NumTooLarge);
        }
        if self.szx > 6 {
            return Err(BlockError::ReservedSzx);
        }
        let v = (self.num << 4) | (u32::from(self.more) << 3) | u32::from(self.szx);
        Ok(encode_uint(v))
    }
}

/// A CoAP unsigned integer option value: big-endian without leading zeros.
pub fn encode_uint(v: u32) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    bytes.get(start..).map(<[u8]>::to_vec).unwrap_or_default()
}

/// Decodes a CoAP unsigned integer option value of at most 4 bytes.
pub fn decode_uint(value: &[u8]) -> Option<u32> {
    if value.len() > 4 {
        return None;
    }
    Some(value.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b)))
}

/// The Block option `opt` of a packet: `None` when absent.
///
/// # Errors
/// The option is present but malformed, or repeated.
pub fn get(packet: &Packet, opt: CoapOption) -> Result<Option<BlockValue>, BlockError> {
    match packet.get_option(opt) {
        None => Ok(None),
        Some(list) if list.is_empty() => Ok(None),
        Some(list) if list.len() > 1 => Err(BlockError::TooLong),
        Some(list) => list.front().map(|v| BlockValue::decode(v)).transpose(),
    }
}

/// Replaces the Block option `opt` of a packet.
///
/// # Errors
/// As [`BlockValue::encode`].
pub fn set(packet: &mut Packet, opt: CoapOption, value: BlockValue) -> Result<(), BlockError> {
    let bytes = value.encode()?;
    packet.clear_option(opt);
    packet.add_option(opt, bytes);
    Ok(())
}

/// The largest SZX whose block size fits in `size` bytes (at least 0).
pub fn szx_for(size: usize) -> u8 {
    let mut szx = 6u8;
    while szx > 0 && (16usize << szx) > size {
        szx -= 1;
    }
    szx
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_values() {
        assert_eq!(BlockValue::decode(&[]).unwrap(), BlockValue { num: 0, more: false, szx: 0 });
        assert_eq!(BlockValue::decode(&[0x0e]).unwrap(), BlockValue { num: 0, more: true, szx: 6 });
        assert_eq!(BlockValue::decode(&[0x1a]).unwrap(), BlockValue { num: 1, more: true, szx: 2 });
        assert_eq!(BlockValue::decode(&[0x07]), Err(BlockError::ReservedSzx));
        assert_eq!(BlockValue::decode(&[1, 2, 3, 4]), Err(BlockError::TooLong));
        assert_eq!(BlockValue { num: 2, more: false, szx: 6 }.encode().unwrap(), vec![0x26]);
        assert_eq!(BlockValue { num: 0, more: false, szx: 0 }.encode().unwrap(), Vec::<u8>::new());
        assert_eq!(szx_for(1024), 6);
        assert_eq!(szx_for(1000), 5);
        assert_eq!(szx_for(3), 0);
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..8)) {
            if let Ok(b) = BlockValue::decode(&bytes) {
                prop_assert!(b.num <= MAX_NUM && b.szx < 7);
                let re = BlockValue::decode(&b.encode().unwrap()).unwrap();
                prop_assert_eq!(re, b);
            }
        }

        #[test]
        fn round_trip(num in 0..=MAX_NUM, more in any::<bool>(), szx in 0u8..7) {
            let b = BlockValue { num, more, szx };
            prop_assert_eq!(BlockValue::decode(&b.encode().unwrap()).unwrap(), b);
        }
    }
}
