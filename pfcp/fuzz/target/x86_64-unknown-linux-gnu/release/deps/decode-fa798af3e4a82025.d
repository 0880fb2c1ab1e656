/work/main/pfcp/fuzz/target/x86_64-unknown-linux-gnu/release/deps/decode-fa798af3e4a82025.d: fuzz_targets/decode.rs

/work/main/pfcp/fuzz/target/x86_64-unknown-linux-gnu/release/deps/decode-fa798af3e4a82025: fuzz_targets/decode.rs

fuzz_targets/decode.rs:
