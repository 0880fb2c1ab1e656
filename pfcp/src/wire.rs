//! The TLV layer: a bounds-checked reader, a writer that cannot overrun, the IE iterator
//! (TS 29.244 8.1.1), raw IEs kept intact, and the [`Ie`] trait every IE implements.

use crate::error::{Error, ErrorKind};

/// Reads fields from an IE value; every read is bounds-checked and errors carry the absolute
/// offset in the message.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Reader<'a> {
    /// A reader over `buf`, which starts at offset `base` of the message.
    pub fn new(buf: &'a [u8], base: usize) -> Self {
        Reader { buf, pos: 0, base }
    }

    /// Offset in the message of the next byte.
    pub fn offset(&self) -> usize {
        self.base + self.pos
    }

    /// Bytes left.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The next `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.buf.len());
        match end {
            Some(end) => {
                let s = &self.buf[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(Error::short(self.pos + n, self.buf.len(), self.offset())),
        }
    }

    /// The next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let s = self.bytes(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    /// A byte.
    pub fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.array::<1>()?[0])
    }

    /// A big-endian u16.
    pub fn u16(&mut self) -> Result<u16, Error> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    /// A big-endian 24-bit value.
    pub fn u24(&mut self) -> Result<u32, Error> {
        let a = self.array::<3>()?;
        Ok(u32::from_be_bytes([0, a[0], a[1], a[2]]))
    }

    /// A big-endian u32.
    pub fn u32(&mut self) -> Result<u32, Error> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// A big-endian 40-bit value (bit rates in kbps).
    pub fn u40(&mut self) -> Result<u64, Error> {
        let a = self.array::<5>()?;
        Ok(u64::from_be_bytes([0, 0, 0, a[0], a[1], a[2], a[3], a[4]]))
    }

    /// A big-endian u64.
    pub fn u64(&mut self) -> Result<u64, Error> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        let s = &self.buf[self.pos..];
        self.pos = self.buf.len();
        s
    }
}

/// Writes into a caller's buffer. A write past the end is not performed and marks the writer as
/// overrun (callers size buffers with `buffer_len`, so it only signals a codec bug, never a panic).
pub struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
    overrun: bool,
}

impl<'a> Writer<'a> {
    /// A writer at the start of `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Writer {
            buf,
            pos: 0,
            overrun: false,
        }
    }

    /// Bytes written.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// True if a write did not fit.
    pub fn overrun(&self) -> bool {
        self.overrun
    }

    /// Writes `s`.
    pub fn put(&mut self, s: &[u8]) {
        match self.buf.get_mut(self.pos..self.pos + s.len()) {
            Some(d) => {
                d.copy_from_slice(s);
                self.pos += s.len();
            }
            None => self.overrun = true,
        }
    }

    /// Writes a byte.
    pub fn u8(&mut self, v: u8) {
        self.put(&[v]);
    }

    /// Writes a big-endian u16.
    pub fn u16(&mut self, v: u16) {
        self.put(&v.to_be_bytes());
    }

    /// Writes a big-endian 24-bit value.
    pub fn u24(&mut self, v: u32) {
        self.put(&v.to_be_bytes()[1..]);
    }

    /// Writes a big-endian u32.
    pub fn u32(&mut self, v: u32) {
        self.put(&v.to_be_bytes());
    }

    /// Writes a big-endian 40-bit value.
    pub fn u40(&mut self, v: u64) {
        self.put(&v.to_be_bytes()[3..]);
    }

    /// Writes a big-endian u64.
    pub fn u64(&mut self, v: u64) {
        self.put(&v.to_be_bytes());
    }

    /// Overwrites a big-endian u16 at `at` (a length filled in after its content).
    pub fn patch_u16(&mut self, at: usize, v: u16) {
        match self.buf.get_mut(at..at + 2) {
            Some(d) => d.copy_from_slice(&v.to_be_bytes()),
            None => self.overrun = true,
        }
    }

    /// Writes an IE header and value: Type, Length, then `ie`'s value.
    pub fn ie<T: Ie>(&mut self, ty: u16, ie: &T) {
        self.u16(ty);
        self.u16(ie.value_len() as u16);
        ie.encode_value(self);
    }
}

/// An IE: decoded from its value (the bytes after Type and Length), encoded back exactly.
///
/// The IE type is not part of the trait: the grouped IE or message that holds a field knows
/// which type it has there (one structure can serve several types, as the three Usage Report
/// IEs do).
pub trait Ie: Sized {
    /// Decodes from the value; `at` is the value's offset in the message (for errors).
    fn decode(value: &[u8], at: usize) -> Result<Self, Error>;
    /// Exact length of the encoded value.
    fn value_len(&self) -> usize;
    /// Writes the value: exactly `value_len()` bytes.
    fn encode_value(&self, w: &mut Writer<'_>);
}

/// One TLV as found in a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IeRef<'a> {
    /// IE type.
    pub ty: u16,
    /// The value (for a vendor IE, after the Enterprise ID).
    pub value: &'a [u8],
    /// Enterprise ID of a vendor-specific IE (type bit 16 set).
    pub enterprise: Option<u16>,
    /// Offset of the IE's Type field in the message.
    pub offset: usize,
    /// Offset of the value in the message.
    pub value_offset: usize,
}

/// True for vendor-specific IE types (bit 8 of octet 1 set, TS 29.244 8.1.1).
pub const fn is_vendor(ty: u16) -> bool {
    ty & 0x8000 != 0
}

/// Iterates the IEs of a buffer; stops after the first error.
pub struct IeIter<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
    failed: bool,
}

impl<'a> IeIter<'a> {
    /// Iterates `buf`, which sits at offset `base` of the message.
    pub fn new(buf: &'a [u8], base: usize) -> Self {
        IeIter {
            buf,
            pos: 0,
            base,
            failed: false,
        }
    }
}

impl<'a> IeIter<'a> {
    #[cold]
    #[inline(never)]
    fn fail(&mut self, e: Error) -> Option<Result<IeRef<'a>, Error>> {
        self.failed = true;
        Some(Err(e))
    }
}

impl<'a> Iterator for IeIter<'a> {
    type Item = Result<IeRef<'a>, Error>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.buf.len() {
            return None;
        }
        let at = self.base + self.pos;
        let rest = &self.buf[self.pos..];
        let Some(&[t0, t1, l0, l1]) = rest.first_chunk::<4>() else {
            return self.fail(Error::new(
                ErrorKind::Truncated {
                    need: 4,
                    have: rest.len(),
                },
                at,
            ));
        };
        let ty = u16::from_be_bytes([t0, t1]);
        let len = usize::from(u16::from_be_bytes([l0, l1]));
        let Some(mut value) = rest.get(4..4 + len) else {
            let e = Error::new(
                ErrorKind::Truncated {
                    need: 4 + len,
                    have: rest.len(),
                },
                at,
            );
            return self.fail(e.in_ie(ty));
        };
        let mut value_offset = at + 4;
        let mut enterprise = None;
        if is_vendor(ty) {
            let Some((e, v)) = value.split_first_chunk::<2>() else {
                return self.fail(Error::short(2, len, at + 4).in_ie(ty));
            };
            enterprise = Some(u16::from_be_bytes(*e));
            value = v;
            value_offset += 2;
        }
        self.pos += 4 + len;
        Some(Ok(IeRef {
            ty,
            value,
            enterprise,
            offset: at,
            value_offset,
        }))
    }
}

/// An IE kept as bytes: unknown and vendor-specific IEs, re-emitted exactly as received.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RawIe {
    /// IE type.
    pub ty: u16,
    /// Enterprise ID, for vendor-specific IEs.
    pub enterprise: Option<u16>,
    /// The value (after the Enterprise ID).
    pub value: Vec<u8>,
}

impl RawIe {
    /// Copies a found IE.
    pub fn from_ref(r: &IeRef<'_>) -> RawIe {
        RawIe {
            ty: r.ty,
            enterprise: r.enterprise,
            value: r.value.to_vec(),
        }
    }

    /// Encoded length with Type and Length.
    pub fn buffer_len(&self) -> usize {
        4 + self.enterprise.map_or(0, |_| 2) + self.value.len()
    }

    /// Writes the IE.
    pub fn encode(&self, w: &mut Writer<'_>) {
        w.u16(self.ty);
        w.u16((self.buffer_len() - 4) as u16);
        if let Some(e) = self.enterprise {
            w.u16(e);
        }
        w.put(&self.value);
    }
}

/// An IE whose value the codec keeps as bytes on purpose (known, but nothing in the user plane
/// reads inside it: Redirect Information, Header Enrichment, Trace Information, ...).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Opaque(pub Vec<u8>);

impl Ie for Opaque {
    fn decode(value: &[u8], _at: usize) -> Result<Self, Error> {
        Ok(Opaque(value.to_vec()))
    }
    fn value_len(&self) -> usize {
        self.0.len()
    }
    fn encode_value(&self, w: &mut Writer<'_>) {
        w.put(&self.0);
    }
}

/// Defines a grouped IE (or a message body): a struct with one field per IE it may hold, each
/// mandatory (`one`), optional or conditional (`opt`) or repeated (`many`), with its IE type.
/// Decoding dispatches on the type, names a missing mandatory IE, keeps unknown, vendor and
/// surplus IEs in `unknown`; encoding writes the fields in declaration order (the order of the
/// spec's table), then `unknown`.
#[macro_export]
macro_rules! group {
    (
        $(#[$m:meta])*
        pub struct $name:ident ($self_ty:expr) {
            $( $(#[$fm:meta])* $field:ident : $kind:ident $ty:ty = $code:expr ),* $(,)?
        }
    ) => {
        $(#[$m])*
        #[derive(Clone, Debug, PartialEq)]
        pub struct $name {
            $( $(#[$fm])* pub $field: $crate::group!(@ty $kind $ty), )*
            /// Unknown, vendor-specific and surplus IEs, kept and re-emitted as received.
            pub unknown: Vec<$crate::wire::RawIe>,
        }

        impl $crate::wire::Ie for $name {
            fn decode(value: &[u8], at: usize) -> Result<Self, $crate::error::Error> {
                $( let mut $field: $crate::group!(@slot $kind $ty) = Default::default(); )*
                let mut unknown = Vec::new();
                for ie in $crate::wire::IeIter::new(value, at) {
                    let ie = ie?;
                    if ie.enterprise.is_some() {
                        unknown.push($crate::wire::RawIe::from_ref(&ie));
                        continue;
                    }
                    $(
                        if ie.ty == $code {
                            $crate::group!(@take $kind $field, $ty, ie, unknown);
                            continue;
                        }
                    )*
                    unknown.push($crate::wire::RawIe::from_ref(&ie));
                }
                let parent: Option<u16> = $self_ty;
                let _ = parent;
                Ok($name {
                    $( $field: $crate::group!(@finish $kind $field, $code, parent, at), )*
                    unknown,
                })
            }

            fn value_len(&self) -> usize {
                let mut n = 0;
                $( n += $crate::group!(@len $kind self.$field); )*
                for u in &self.unknown {
                    n += u.buffer_len();
                }
                n
            }

            fn encode_value(&self, w: &mut $crate::wire::Writer<'_>) {
                $( $crate::group!(@enc $kind self.$field, $code, w); )*
                for u in &self.unknown {
                    u.encode(w);
                }
            }
        }
    };

    (@ty one $ty:ty) => { $ty };
    (@ty opt $ty:ty) => { Option<$ty> };
    (@ty many $ty:ty) => { Vec<$ty> };

    (@slot one $ty:ty) => { Option<$ty> };
    (@slot opt $ty:ty) => { Option<$ty> };
    (@slot many $ty:ty) => { Vec<$ty> };

    (@take many $field:ident, $ty:ty, $ie:ident, $unknown:ident) => {
        $field.push(
            <$ty as $crate::wire::Ie>::decode($ie.value, $ie.value_offset)
                .map_err(|e| e.in_ie($ie.ty))?,
        )
    };
    (@take $kind:ident $field:ident, $ty:ty, $ie:ident, $unknown:ident) => {
        if $field.is_some() {
            // A second instance of a single-instance IE: kept as received, not interpreted.
            $unknown.push($crate::wire::RawIe::from_ref(&$ie));
        } else {
            $field = Some(
                <$ty as $crate::wire::Ie>::decode($ie.value, $ie.value_offset)
                    .map_err(|e| e.in_ie($ie.ty))?,
            );
        }
    };

    (@finish one $field:ident, $code:expr, $parent:ident, $at:ident) => {
        match $field {
            Some(v) => v,
            None => {
                return Err($crate::error::Error::new(
                    $crate::error::ErrorKind::MissingMandatory { parent: $parent },
                    $at,
                )
                .in_ie($code))
            }
        }
    };
    (@finish $kind:ident $field:ident, $code:expr, $parent:ident, $at:ident) => { $field };

    (@len one $f:expr) => { 4 + $crate::wire::Ie::value_len(&$f) };
    (@len opt $f:expr) => { $f.as_ref().map_or(0, |v| 4 + $crate::wire::Ie::value_len(v)) };
    (@len many $f:expr) => { $f.iter().map(|v| 4 + $crate::wire::Ie::value_len(v)).sum::<usize>() };

    (@enc one $f:expr, $code:expr, $w:ident) => { $w.ie($code, &$f) };
    (@enc opt $f:expr, $code:expr, $w:ident) => { if let Some(v) = &$f { $w.ie($code, v) } };
    (@enc many $f:expr, $code:expr, $w:ident) => { for v in &$f { $w.ie($code, v) } };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iterator_stops_after_the_first_error_and_names_the_ie() {
        // IE 96 with 4 bytes, then IE 60 claiming 9 bytes with 2 present.
        let b = [0, 96, 0, 4, 1, 2, 3, 4, 0, 60, 0, 9, 0, 1];
        let v: Vec<_> = IeIter::new(&b, 16).collect();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].as_ref().unwrap().value, &[1, 2, 3, 4]);
        let e = v[1].as_ref().unwrap_err();
        assert_eq!(e.ie_type, Some(60));
        assert_eq!(e.offset, 16 + 8);
        assert_eq!(e.kind, ErrorKind::Truncated { need: 13, have: 6 });
    }

    #[test]
    fn vendor_ie_keeps_its_enterprise_id() {
        let b = [0x80, 0x01, 0, 5, 0x12, 0x34, 9, 8, 7];
        let ie = IeIter::new(&b, 0).next().unwrap().unwrap();
        assert_eq!((ie.enterprise, ie.value), (Some(0x1234), &[9u8, 8, 7][..]));
        let raw = RawIe::from_ref(&ie);
        let mut out = [0u8; 9];
        let mut w = Writer::new(&mut out);
        raw.encode(&mut w);
        assert_eq!(out, b);
        // A vendor IE too short for its Enterprise ID.
        let e = IeIter::new(&[0x80, 1, 0, 1, 0], 0)
            .next()
            .unwrap()
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidLength { need: 2, have: 1 });
    }

    #[test]
    fn writer_never_overruns() {
        let mut out = [0u8; 3];
        let mut w = Writer::new(&mut out);
        w.u16(0x0102);
        w.u16(0x0304);
        assert!(w.overrun());
        assert_eq!(w.position(), 2);
    }

    #[test]
    fn reader_offsets_are_absolute() {
        let mut r = Reader::new(&[1, 2, 3], 100);
        assert_eq!(r.u16(), Ok(0x0102));
        let e = r.u16().unwrap_err();
        assert_eq!(
            (e.offset, e.kind),
            (102, ErrorKind::InvalidLength { need: 4, have: 3 })
        );
    }
}
