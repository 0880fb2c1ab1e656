//! The one bounds-checked window onto a packet.

use bpf_abi::Reason;

/// Largest offset a header may start at. Bounding offsets lets the verifier prove every access
/// (a packet pointer with an unbounded variable offset is rejected); 4 KiB is deeper than any
/// header stack we parse.
pub const MAX_OFFSET: usize = 0x0fff;

/// A window `[data, data_end)` onto packet memory.
///
/// Every read and write of packet bytes goes through [`Cursor::get`] or [`Cursor::get_mut`],
/// which hold the only bounds check. After any helper that moves or resizes the packet
/// (adjust_head, adjust_tail, adjust_room, store_bytes) the cursor is stale: make a new one.
#[derive(Clone, Copy)]
pub struct Cursor {
    data: usize,
    data_end: usize,
}

impl Cursor {
    /// A cursor over `[data, data_end)`.
    ///
    /// # Safety
    /// The range must be readable and writable packet memory for as long as the cursor is used.
    #[inline(always)]
    pub unsafe fn new(data: usize, data_end: usize) -> Self {
        Self { data, data_end }
    }

    /// A cursor over an XDP frame.
    #[cfg(target_arch = "bpf")]
    #[inline(always)]
    pub fn from_xdp(ctx: &aya_ebpf::programs::XdpContext) -> Self {
        Self {
            data: ctx.data(),
            data_end: ctx.data_end(),
        }
    }

    /// A cursor over the linear part of a TC socket buffer.
    #[cfg(target_arch = "bpf")]
    #[inline(always)]
    pub fn from_tc(ctx: &aya_ebpf::programs::TcContext) -> Self {
        Self {
            data: ctx.data(),
            data_end: ctx.data_end(),
        }
    }

    /// A cursor over a host buffer (tests, userspace tools).
    #[cfg(not(target_arch = "bpf"))]
    pub fn from_slice(buf: &mut [u8]) -> Self {
        let data = buf.as_mut_ptr() as usize;
        Self {
            data,
            data_end: data + buf.len(),
        }
    }

    /// Bytes in the window.
    #[inline(always)]
    pub fn len(&self) -> usize {
        self.data_end - self.data
    }

    /// True when the window is empty.
    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.data_end == self.data
    }

    /// Address of `size_of::<T>()` bytes at `off`, or `err` if they are not all in the window.
    #[inline(always)]
    fn check<T>(&self, off: usize, err: Reason) -> Result<usize, Reason> {
        if off > MAX_OFFSET {
            return Err(err);
        }
        let start = self.data + off;
        // Verifier workaround (kernel 6.18, LLVM 22): for a 1-byte read LLVM rewrites
        // `start + 1 > data_end` as `start >= data_end`, from which the verifier derives no
        // range ("invalid access to packet, off=0 size=1"). Hiding the constant keeps the
        // `start + size > data_end` form, which the verifier understands for every size.
        let size = core::hint::black_box(size_of::<T>());
        if start + size > self.data_end {
            return Err(err);
        }
        Ok(start)
    }

    /// A view of the header `T` at `off`, or `err` when the packet is too short.
    ///
    /// `T` must be a header type of this crate: `repr(C)` byte arrays, alignment 1, valid for
    /// any bit pattern.
    #[inline(always)]
    pub fn get<T>(&self, off: usize, err: Reason) -> Result<&T, Reason> {
        const { assert!(align_of::<T>() == 1) };
        let p = self.check::<T>(off, err)?;
        // SAFETY: `check` proved [p, p + size_of::<T>()) lies inside the packet window, which
        // `new`'s contract makes valid memory; T has alignment 1 and any bit pattern is valid.
        Ok(unsafe { &*(p as *const T) })
    }

    /// A raw pointer for writing the header `T` at `off`, or `err` when the packet is too short.
    #[inline(always)]
    pub fn get_mut<T>(&self, off: usize, err: Reason) -> Result<*mut T, Reason> {
        const { assert!(align_of::<T>() == 1) };
        self.check::<T>(off, err).map(|p| p as *mut T)
    }

    /// The byte at `off`.
    #[inline(always)]
    pub fn u8_at(&self, off: usize, err: Reason) -> Result<u8, Reason> {
        self.get::<[u8; 1]>(off, err).map(|b| b[0])
    }

    /// The big-endian 16-bit word at `off`.
    #[inline(always)]
    pub fn be16_at(&self, off: usize, err: Reason) -> Result<u16, Reason> {
        self.get::<[u8; 2]>(off, err)
            .map(|b| u16::from_be_bytes(*b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_inside_and_refuses_outside() {
        let mut buf = [1u8, 2, 3, 4];
        let c = Cursor::from_slice(&mut buf);
        assert_eq!(c.len(), 4);
        assert_eq!(c.be16_at(2, Reason::EthTruncated), Ok(0x0304));
        assert_eq!(
            c.be16_at(3, Reason::EthTruncated),
            Err(Reason::EthTruncated)
        );
        assert_eq!(c.u8_at(4, Reason::UdpTruncated), Err(Reason::UdpTruncated));
        assert_eq!(
            c.u8_at(MAX_OFFSET + 1, Reason::UdpTruncated),
            Err(Reason::UdpTruncated)
        );
        assert!(c.get::<[u8; 4]>(0, Reason::EthTruncated).is_ok());
        assert!(c.get::<[u8; 5]>(0, Reason::EthTruncated).is_err());
    }
}
