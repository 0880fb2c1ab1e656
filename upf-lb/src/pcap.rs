//! Reading and writing classic pcap files of Ethernet frames.

use pcap_file::{
    DataLink,
    pcap::{PcapHeader, PcapPacket, PcapReader, PcapWriter},
};
use std::{fs::File, path::Path, time::Duration};

/// Writes `frames` as an Ethernet pcap at `path`, one microsecond apart.
pub fn write_frames(path: &Path, frames: &[&[u8]]) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let header = PcapHeader { datalink: DataLink::ETHERNET, ..Default::default() };
    let mut w = PcapWriter::with_header(File::create(path)?, header)?;
    for (i, f) in frames.iter().enumerate() {
        let ts = Duration::from_micros(i as u64);
        w.write_packet(&PcapPacket::new(ts, f.len() as u32, f))?;
    }
    Ok(())
}

/// Reads every frame of an Ethernet pcap.
pub fn read_frames(path: &Path) -> anyhow::Result<Vec<Vec<u8>>> {
    let mut r = PcapReader::new(File::open(path)?)?;
    anyhow::ensure!(
        r.header().datalink == DataLink::ETHERNET,
        "{}: link type {:?}, expected Ethernet",
        path.display(),
        r.header().datalink
    );
    let mut out = Vec::new();
    while let Some(p) = r.next_packet() {
        out.push(p?.data.into_owned());
    }
    Ok(out)
}
