//! IEs of usage measurement and reporting: volumes, Downlink Data Service Information, Failed
//! Rule ID.

use crate::{
    error::Error,
    wire::{Ie, Reader, Writer},
};

/// Volume Threshold, Volume Quota, Subsequent Volume Threshold/Quota: octets, per flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Volume {
    /// Total Volume (TOVOL).
    pub total: Option<u64>,
    /// Uplink Volume (ULVOL).
    pub uplink: Option<u64>,
    /// Downlink Volume (DLVOL).
    pub downlink: Option<u64>,
}

impl Ie for Volume {
    fn decode(value: &[u8], at: usize) -> Result<Self, Error> {
        let mut r = Reader::new(value, at);
        let f = r.u8()?;
        let mut v = Volume::default();
        if f & 0x01 != 0 {
            v.total = Some(r.u64()?);
        }
        if f & 0x02 != 0 {
            v.uplink = Some(r.u64()?);
        }
        if f & 0x04 != 0 {
            v.downlink = Some(r.u64()?);
        }
        Ok(v)
    }
    fn value_len(&self) -> usize {
        1 + 8
            * (usize::from(self.total.is_some())
                + usize::from(self.uplink.is_some())
                + usize::from(self.downlink.is_some()))
    }
    fn encode_value(&self, w: &mut Writer<'_>) {
        w.u8(u8::from(self.total.is_some())
            | u8::from(self.uplink.is_some()) << 1
            | u8::from(self.downlink.is_some()) << 2);
        for v in [self.total, self.uplink, self.downlink]
            .into_iter()
            .flatten()
        {
            w.u64(v);
        }
    }
}

/// Volume Measurement: octets and, when flagged, packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct VolumeMeasurement {
    /// Total Volume.
    pub total: Option<u64>,
    /// Uplink Volume.
    pub uplink: Option<u64>,
    /// Downlink Volume.
    pub downlink: Option<u64>,
    /// Total Number of Packets (TONOP).
    pub total_packets: Option<u64>,
    /// Uplink Number of Packets (ULNOP).
    pub uplink_packets: Option<u64>,
    /// Downlink Number of Packets (DLNOP).
    pub downlink_packets: Option<u64>,
}

impl VolumeMeasurement {
    fn fields(&self) -> [Option<u64>; 6] {
        [
            self.total,
            self.uplink,
            self.downlink,
            self.total_packets,
            self.uplink_packets,
            self.downlink_packets,
        ]
    }
}

impl Ie for VolumeMeasurement {
    fn decode(value: &[u8], at: usize) -> Result<Self, Error> {
        let mut r = Reader::new(value, at);
        let f = r.u8()?;
        let mut vals = [None; 6];
        for (i, v) in vals.iter_mut().enumerate() {
            if f & (1 << i) != 0 {
                *v = Some(r.u64()?);
            }
        }
        let [
            total,
            uplink,
            downlink,
            total_packets,
            uplink_packets,
            downlink_packets,
        ] = vals;
        Ok(VolumeMeasurement {
            total,
            uplink,
            downlink,
            total_packets,
            uplink_packets,
            downlink_packets,
        })
    }
    fn value_len(&self) -> usize {
        1 + 8 * self.fields().iter().filter(|v| v.is_some()).count()
    }
    fn encode_value(&self, w: &mut Writer<'_>) {
        let f = self.fields();
        w.u8(f
            .iter()
            .enumerate()
            .fold(0, |a, (i, v)| a | (u8::from(v.is_some()) << i)));
        for v in f.into_iter().flatten() {
            w.u64(v);
        }
    }
}

/// Downlink Data Service Information: the PPI and the QFI of the buffered packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct DownlinkDataServiceInformation {
    /// Paging Policy Indication value (PPI flag).
    pub ppi: Option<u8>,
    /// QFI (QFII flag).
    pub qfi: Option<u8>,
}

impl Ie for DownlinkDataServiceInformation {
    fn decode(value: &[u8], at: usize) -> Result<Self, Error> {
        let mut r = Reader::new(value, at);
        let f = r.u8()?;
        let ppi = if f & 0x01 != 0 {
            Some(r.u8()? & 0x3f)
        } else {
            None
        };
        let qfi = if f & 0x02 != 0 {
            Some(r.u8()? & 0x3f)
        } else {
            None
        };
        Ok(DownlinkDataServiceInformation { ppi, qfi })
    }
    fn value_len(&self) -> usize {
        1 + usize::from(self.ppi.is_some()) + usize::from(self.qfi.is_some())
    }
    fn encode_value(&self, w: &mut Writer<'_>) {
        w.u8(u8::from(self.ppi.is_some()) | u8::from(self.qfi.is_some()) << 1);
        if let Some(p) = self.ppi {
            w.u8(p & 0x3f);
        }
        if let Some(q) = self.qfi {
            w.u8(q & 0x3f);
        }
    }
}

/// Rule ID types of Failed Rule ID.
pub mod rule_type {
    /// PDR.
    pub const PDR: u8 = 0;
    /// FAR.
    pub const FAR: u8 = 1;
    /// QER.
    pub const QER: u8 = 2;
    /// URR.
    pub const URR: u8 = 3;
    /// BAR.
    pub const BAR: u8 = 4;
}

/// Failed Rule ID: which rule could not be created or modified.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FailedRuleId {
    /// Rule ID Type ([`rule_type`]).
    pub rule_type: u8,
    /// Rule ID (PDR: 16 bits; BAR: 8 bits; FAR/QER/URR: 32 bits).
    pub id: u32,
}

impl FailedRuleId {
    fn id_len(&self) -> usize {
        match self.rule_type {
            rule_type::PDR => 2,
            rule_type::BAR => 1,
            _ => 4,
        }
    }
}

impl Ie for FailedRuleId {
    fn decode(value: &[u8], at: usize) -> Result<Self, Error> {
        let mut r = Reader::new(value, at);
        let rule_type = r.u8()? & 0x1f;
        let id = match rule_type {
            rule_type::PDR => u32::from(r.u16()?),
            rule_type::BAR => u32::from(r.u8()?),
            rule_type::FAR | rule_type::QER | rule_type::URR => r.u32()?,
            _ => return Err(Error::invalid("Failed Rule ID type", at)),
        };
        Ok(FailedRuleId { rule_type, id })
    }
    fn value_len(&self) -> usize {
        1 + self.id_len()
    }
    fn encode_value(&self, w: &mut Writer<'_>) {
        w.u8(self.rule_type);
        match self.id_len() {
            2 => w.u16(self.id as u16),
            1 => w.u8(self.id as u8),
            _ => w.u32(self.id),
        }
    }
}
