//! Network-byte-order newtypes: the byte order of a wire value lives in its type.

/// A 16-bit value in network byte order, as it is on the wire (ports, EtherTypes, lengths).
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Debug)]
pub struct Be16(pub [u8; 2]);

/// A 32-bit value in network byte order, as it is on the wire (TEIDs, IPv4 addresses).
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Debug)]
pub struct Be32(pub [u8; 4]);

impl Be16 {
    /// From a host-order value.
    #[inline(always)]
    pub const fn new(v: u16) -> Self {
        Self(v.to_be_bytes())
    }
    /// The host-order value.
    #[inline(always)]
    pub const fn get(self) -> u16 {
        u16::from_be_bytes(self.0)
    }
}

impl Be32 {
    /// From a host-order value.
    #[inline(always)]
    pub const fn new(v: u32) -> Self {
        Self(v.to_be_bytes())
    }
    /// The host-order value.
    #[inline(always)]
    pub const fn get(self) -> u32 {
        u32::from_be_bytes(self.0)
    }
}

const _: () = assert!(size_of::<Be16>() == 2 && align_of::<Be16>() == 1);
const _: () = assert!(size_of::<Be32>() == 4 && align_of::<Be32>() == 1);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn be_types_keep_network_order() {
        assert_eq!(Be16::new(2152).0, [0x08, 0x68]);
        assert_eq!(Be16([0x08, 0x68]).get(), 2152);
        assert_eq!(Be32::new(0x0102_0304).0, [1, 2, 3, 4]);
        assert_eq!(Be32([1, 2, 3, 4]).get(), 0x0102_0304);
    }
}
