//! The one bounds-checked window onto a packet.

use bpf_abi::Reason;

/// Largest offset a header may start at. Bounding offsets lets the verifier prove every access
/// (a packet pointer with an unbounded variable offset is rejected); 4 KiB is deeper than any
/// header stack we parse.
pub const MAX_OFFSET: usize = 0x0fff;

/// An offset read back from map memory (a stage's hand-over to the next), as the offset the
/// writer stored: one the cursor had proven, so at most [`MAX_OFFSET`], which the mask only
/// tells the verifier.
///
/// Verifier workaround (Linux 6.1): a value read from a map is known only by its width, and a
/// packet pointer plus a variable offset of up to 32 (or 16) bits is never given a range
/// ("offset is outside of the packet"), whatever check follows; masked to [`MAX_OFFSET`] it
/// is, in every register and stack slot it goes to.
#[inline(always)]
pub fn stored_offset(v: u32) -> usize {
    v as usize & MAX_OFFSET
}

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

    /// The first `N` bytes of the packet as one [`Head`], proven present by one bounds check,
    /// or `None` when the packet is shorter.
    #[inline(always)]
    pub fn head<const N: usize>(&self) -> Option<Head<N>> {
        let data = self.check::<[u8; N]>(0, Reason::EthTruncated).ok()?;
        Some(Head { data })
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

/// The load (`$get`: the bytes at `OFF` as they lie in memory, to compare with
/// `from_ne_bytes` of the wire bytes) and the store (`$set`: `v`'s bytes as they lie in memory,
/// `x.to_be()` of a host-order value) of one word width of a [`Head`]: one BPF instruction of
/// that width each; plain unaligned accesses on the host, where the tests run.
macro_rules! words {
    ($get:ident, $set:ident, $t:ty, $w:literal) => {
        #[doc = concat!("The ", $w, " at `OFF` as its bytes lie in memory.")]
        #[inline(always)]
        pub fn $get<const OFF: usize>(&self) -> $t {
            const { assert!(OFF + size_of::<$t>() <= N) };
            #[cfg(target_arch = "bpf")]
            {
                let v: u64;
                // SAFETY: `Cursor::head` proved N bytes at `data` and the word lies inside
                // them; the load only reads them.
                unsafe {
                    core::arch::asm!(
                        concat!("{v} = *(", $w, " *)({p} + {o})"),
                        p = in(reg) self.data,
                        o = const OFF,
                        v = lateout(reg) v,
                        options(pure, readonly, nostack, preserves_flags)
                    )
                };
                v as $t
            }
            #[cfg(not(target_arch = "bpf"))]
            // SAFETY: as above; an unaligned read of plain bytes.
            unsafe {
                core::ptr::read_unaligned((self.data + OFF) as *const $t)
            }
        }

        #[doc = concat!("Writes the ", $w, " `v` at `OFF`, its bytes as they lie in memory.")]
        #[inline(always)]
        pub fn $set<const OFF: usize>(&self, v: $t) {
            const { assert!(OFF + size_of::<$t>() <= N) };
            #[cfg(target_arch = "bpf")]
            // SAFETY: `Cursor::head` proved N writable bytes at `data` and the word lies
            // inside them.
            unsafe {
                core::arch::asm!(
                    concat!("*(", $w, " *)({p} + {o}) = {v}"),
                    p = in(reg) self.data,
                    o = const OFF,
                    v = in(reg) u64::from(v),
                    options(nostack, preserves_flags)
                )
            };
            #[cfg(not(target_arch = "bpf"))]
            // SAFETY: as above; an unaligned write of plain bytes.
            unsafe {
                core::ptr::write_unaligned((self.data + OFF) as *mut $t, v)
            }
        }
    };
}

/// The first `N` bytes of a packet, proven present by one bounds check ([`Cursor::head`]), read
/// and written at constant offsets a whole word at a time.
///
/// Why it exists: the header views of this crate have alignment 1, and for those LLVM's BPF
/// backend reads a 16- or 32-bit field as single bytes, shifted and or-ed (it may not assume a
/// packet field is aligned). Its `allows-misaligned-mem-access` feature would lift that for
/// every load, but it also makes misaligned stack accesses, which the verifier always rejects.
/// A `Head` reads (and writes) with one instruction of the word's size (inline assembly, so the
/// compiler assumes nothing about alignment): the verifier checks the alignment of packet
/// accesses only under strict alignment, which the kernel uses only on architectures without
/// efficient misaligned loads. Fast paths that know their layout use it; parsers of variable
/// layouts keep the [`Cursor`] views.
#[derive(Clone, Copy)]
pub struct Head<const N: usize> {
    data: usize,
}

impl<const N: usize> Head<N> {
    /// The `M` bytes at `OFF` as a [`Head`] of their own (a header at a known offset, read at
    /// offsets from its start).
    #[inline(always)]
    pub fn sub<const OFF: usize, const M: usize>(&self) -> Head<M> {
        const { assert!(OFF + M <= N) };
        Head {
            data: self.data + OFF,
        }
    }

    /// The byte at `OFF`.
    #[inline(always)]
    pub fn u8<const OFF: usize>(&self) -> u8 {
        const { assert!(OFF < N) };
        // SAFETY: `Cursor::head` proved N bytes at `data`; OFF < N.
        unsafe { *((self.data + OFF) as *const u8) }
    }

    words!(ne16, set_ne16, u16, "u16");
    words!(ne32, set_ne32, u32, "u32");

    /// Writes `v` at `OFF`.
    #[inline(always)]
    pub fn set_u8<const OFF: usize>(&self, v: u8) {
        const { assert!(OFF < N) };
        // SAFETY: `Cursor::head` proved N bytes of writable packet at `data`; OFF < N.
        unsafe { core::ptr::write_volatile((self.data + OFF) as *mut u8, v) }
    }

    /// The big-endian 16-bit word at `OFF`.
    #[inline(always)]
    pub fn be16<const OFF: usize>(&self) -> u16 {
        u16::from_be(self.ne16::<OFF>())
    }

    /// The big-endian 32-bit word at `OFF`.
    #[inline(always)]
    pub fn be32<const OFF: usize>(&self) -> u32 {
        u32::from_be(self.ne32::<OFF>())
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

    #[test]
    fn head_reads_words_at_any_offset() {
        let mut buf = [0x45u8, 0x00, 0x08, 0x68, 0xc0, 0x00, 0x02, 0x01, 9];
        let c = Cursor::from_slice(&mut buf);
        assert!(c.head::<10>().is_none());
        let h = c.head::<9>().unwrap();
        assert_eq!(h.u8::<8>(), 9);
        assert_eq!(h.be16::<2>(), 2152);
        assert_eq!(h.ne16::<2>(), u16::from_ne_bytes([0x08, 0x68]));
        assert_eq!(h.be32::<4>(), 0xc000_0201);
        assert_eq!(h.be32::<3>(), 0x68c0_0002);
        h.set_ne32::<3>(u32::from_ne_bytes([1, 2, 3, 4]));
        h.set_ne16::<7>(0x0a0b_u16.to_be());
        h.set_u8::<0>(0x46);
        assert_eq!(buf, [0x46, 0x00, 0x08, 1, 2, 3, 4, 0x0a, 0x0b]);
    }
}
