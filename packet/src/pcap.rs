//! Reading pcap and pcapng files of Ethernet frames, and writing pcap.

use anyhow::{Context, ensure};
use pcap_file::{
    DataLink,
    pcap::{PcapHeader, PcapPacket, PcapReader, PcapWriter},
    pcapng::{Block, PcapNgReader},
};
use std::{fs::File, io::Read, path::Path, time::Duration};

/// First four bytes of a pcapng file (the Section Header Block type).
const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

/// Writes `frames` as an Ethernet pcap at `path`, one microsecond apart.
pub fn write_frames(path: &Path, frames: &[&[u8]]) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let header = PcapHeader {
        datalink: DataLink::ETHERNET,
        ..Default::default()
    };
    let mut w = PcapWriter::with_header(File::create(path)?, header)?;
    for (i, f) in frames.iter().enumerate() {
        let ts = Duration::from_micros(i as u64);
        w.write_packet(&PcapPacket::new(ts, f.len() as u32, f))?;
    }
    Ok(())
}

/// Reads every frame of an Ethernet capture, pcap or pcapng (told apart by the magic number).
pub fn read_frames(path: &Path) -> anyhow::Result<Vec<Vec<u8>>> {
    let ctx = || format!("reading {}", path.display());
    let mut magic = [0u8; 4];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .with_context(ctx)?;
    let file = File::open(path).with_context(ctx)?;
    let mut out = Vec::new();
    if magic == PCAPNG_MAGIC {
        let mut r = PcapNgReader::new(file).with_context(ctx)?;
        while let Some(block) = r.next_block() {
            let (iface, data) = match block.with_context(ctx)? {
                Block::EnhancedPacket(p) => (p.interface_id, p.data.into_owned()),
                Block::SimplePacket(p) => (0, p.data.into_owned()),
                Block::Packet(p) => (u32::from(p.interface_id), p.data.into_owned()),
                _ => continue,
            };
            let link = r.interfaces().get(iface as usize).map(|i| i.linktype);
            ensure!(
                link == Some(DataLink::ETHERNET),
                "{}: frame {} on link type {link:?}, expected Ethernet",
                path.display(),
                out.len() + 1
            );
            out.push(data);
        }
    } else {
        let mut r = PcapReader::new(file).with_context(ctx)?;
        ensure!(
            r.header().datalink == DataLink::ETHERNET,
            "{}: link type {:?}, expected Ethernet",
            path.display(),
            r.header().datalink
        );
        while let Some(p) = r.next_packet() {
            out.push(p.with_context(ctx)?.data.into_owned());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcap_round_trip() {
        let dir = std::env::temp_dir().join(format!("upf-lb-pcap-{}", std::process::id()));
        let path = dir.join("rt.pcap");
        let frames: [&[u8]; 2] = [&[1, 2, 3], &[4; 70]];
        write_frames(&path, &frames).unwrap();
        let back = read_frames(&path).unwrap();
        assert_eq!(back, vec![vec![1, 2, 3], vec![4; 70]]);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn not_a_capture_is_an_error_naming_the_file() {
        let dir = std::env::temp_dir().join(format!("upf-lb-pcap-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bad.pcap");
        std::fs::write(&path, b"not a capture at all").unwrap();
        let e = read_frames(&path).unwrap_err();
        assert!(format!("{e:#}").contains("bad.pcap"), "{e:#}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
