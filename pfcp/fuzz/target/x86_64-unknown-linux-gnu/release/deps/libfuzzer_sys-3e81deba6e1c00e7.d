/work/main/pfcp/fuzz/target/x86_64-unknown-linux-gnu/release/deps/libfuzzer_sys-3e81deba6e1c00e7.d: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/libfuzzer-sys-0.4.13/src/lib.rs

/work/main/pfcp/fuzz/target/x86_64-unknown-linux-gnu/release/deps/liblibfuzzer_sys-3e81deba6e1c00e7.rlib: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/libfuzzer-sys-0.4.13/src/lib.rs

/work/main/pfcp/fuzz/target/x86_64-unknown-linux-gnu/release/deps/liblibfuzzer_sys-3e81deba6e1c00e7.rmeta: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/libfuzzer-sys-0.4.13/src/lib.rs

/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/libfuzzer-sys-0.4.13/src/lib.rs:
