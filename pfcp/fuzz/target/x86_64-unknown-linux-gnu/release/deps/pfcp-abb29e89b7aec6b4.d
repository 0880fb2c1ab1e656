/work/main/pfcp/fuzz/target/x86_64-unknown-linux-gnu/release/deps/pfcp-abb29e89b7aec6b4.d: /work/main/pfcp/src/lib.rs /work/main/pfcp/src/error.rs /work/main/pfcp/src/ie/mod.rs /work/main/pfcp/src/ie/addr.rs /work/main/pfcp/src/ie/grouped.rs /work/main/pfcp/src/ie/ohc.rs /work/main/pfcp/src/ie/sdf.rs /work/main/pfcp/src/ie/simple.rs /work/main/pfcp/src/ie/types.rs /work/main/pfcp/src/ie/usage.rs /work/main/pfcp/src/message/mod.rs /work/main/pfcp/src/message/node.rs /work/main/pfcp/src/message/session.rs /work/main/pfcp/src/validate.rs /work/main/pfcp/src/wire.rs

/work/main/pfcp/fuzz/target/x86_64-unknown-linux-gnu/release/deps/libpfcp-abb29e89b7aec6b4.rlib: /work/main/pfcp/src/lib.rs /work/main/pfcp/src/error.rs /work/main/pfcp/src/ie/mod.rs /work/main/pfcp/src/ie/addr.rs /work/main/pfcp/src/ie/grouped.rs /work/main/pfcp/src/ie/ohc.rs /work/main/pfcp/src/ie/sdf.rs /work/main/pfcp/src/ie/simple.rs /work/main/pfcp/src/ie/types.rs /work/main/pfcp/src/ie/usage.rs /work/main/pfcp/src/message/mod.rs /work/main/pfcp/src/message/node.rs /work/main/pfcp/src/message/session.rs /work/main/pfcp/src/validate.rs /work/main/pfcp/src/wire.rs

/work/main/pfcp/fuzz/target/x86_64-unknown-linux-gnu/release/deps/libpfcp-abb29e89b7aec6b4.rmeta: /work/main/pfcp/src/lib.rs /work/main/pfcp/src/error.rs /work/main/pfcp/src/ie/mod.rs /work/main/pfcp/src/ie/addr.rs /work/main/pfcp/src/ie/grouped.rs /work/main/pfcp/src/ie/ohc.rs /work/main/pfcp/src/ie/sdf.rs /work/main/pfcp/src/ie/simple.rs /work/main/pfcp/src/ie/types.rs /work/main/pfcp/src/ie/usage.rs /work/main/pfcp/src/message/mod.rs /work/main/pfcp/src/message/node.rs /work/main/pfcp/src/message/session.rs /work/main/pfcp/src/validate.rs /work/main/pfcp/src/wire.rs

/work/main/pfcp/src/lib.rs:
/work/main/pfcp/src/error.rs:
/work/main/pfcp/src/ie/mod.rs:
/work/main/pfcp/src/ie/addr.rs:
/work/main/pfcp/src/ie/grouped.rs:
/work/main/pfcp/src/ie/ohc.rs:
/work/main/pfcp/src/ie/sdf.rs:
/work/main/pfcp/src/ie/simple.rs:
/work/main/pfcp/src/ie/types.rs:
/work/main/pfcp/src/ie/usage.rs:
/work/main/pfcp/src/message/mod.rs:
/work/main/pfcp/src/message/node.rs:
/work/main/pfcp/src/message/session.rs:
/work/main/pfcp/src/validate.rs:
/work/main/pfcp/src/wire.rs:
