//! Decode and encode cost of a typical Session Establishment Request: 3 Create PDR with SDF
//! filters, 3 Create FAR, 2 Create QER, 2 Create URR (the scapy golden vector).
//! Run: `cargo bench -p pfcp`. Prints the median of 5 rounds, ns per message.

#[path = "../tests/golden/vectors.rs"]
mod vectors;

use pfcp::Message;
use std::{hint::black_box, time::Instant};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let h = vectors::GOLDEN
        .iter()
        .find(|(n, _)| *n == "session_establishment_request")
        .unwrap()
        .1;
    let bytes: Vec<u8> = (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
        .collect();
    let (msg, _) = Message::decode(&bytes).expect("golden decodes");
    let mut out = vec![0u8; msg.buffer_len()];
    let iters: u32 = std::env::var("PFCP_BENCH_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let (mut dec, mut enc) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        let t = Instant::now();
        for _ in 0..iters {
            black_box(Message::decode(black_box(&bytes)).unwrap());
        }
        dec.push(t.elapsed().as_nanos() as f64 / f64::from(iters));
        let t = Instant::now();
        for _ in 0..iters {
            black_box(black_box(&msg).encode(&mut out).unwrap());
        }
        enc.push(t.elapsed().as_nanos() as f64 / f64::from(iters));
    }
    assert_eq!(out, bytes);
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "PFCP Session Establishment Request, {} bytes (3 PDR, 3 FAR, 2 QER, 2 URR), {cpus} CPUs",
        bytes.len()
    );
    println!(
        "decode: {:>8.0} ns/message  (median of 5 x {iters})",
        median(dec)
    );
    println!(
        "encode: {:>8.0} ns/message  (median of 5 x {iters}, into a caller's buffer)",
        median(enc)
    );
}
