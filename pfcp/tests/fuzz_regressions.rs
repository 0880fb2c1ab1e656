//! Replays the fuzzing seeds and every input the fuzzer ever found a problem with
//! (pfcp/fuzz/regressions): each decodes or fails cleanly, and what decodes re-encodes stably.

use pfcp::Message;
use std::path::Path;

#[test]
fn seeds_and_regressions_decode_or_fail_cleanly() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut n = 0;
    for dir in ["seeds", "regressions"] {
        for entry in std::fs::read_dir(root.join(dir)).expect("fuzz folder") {
            let path = entry.unwrap().path();
            if path
                .file_name()
                .is_some_and(|f| f.to_string_lossy().starts_with('.'))
            {
                continue;
            }
            let b = std::fs::read(&path).unwrap();
            if let Ok((m, _)) = Message::decode(&b) {
                let again = m.to_vec();
                let (m2, _) =
                    Message::decode(&again).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                assert_eq!(m2, m, "{}", path.display());
            }
            n += 1;
        }
    }
    assert!(n >= 19, "only {n} inputs");
}
