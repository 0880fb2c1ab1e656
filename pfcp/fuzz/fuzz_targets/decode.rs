//! Fuzz target: any bytes through the PFCP decoder. It must never panic; whatever decodes must
//! re-encode to bytes that decode to the same message, and the message-level validation must
//! not panic either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pfcp::{Body, Message};

fuzz_target!(|data: &[u8]| {
    match Message::decode(data) {
        Ok((m, used)) => {
            assert!(used <= data.len());
            let bytes = m.to_vec();
            assert_eq!(bytes.len(), m.buffer_len());
            let (again, _) = Message::decode(&bytes).expect("re-encoded message decodes");
            assert_eq!(again, m);
            match &m.body {
                Body::SessionEstablishmentRequest(r) => {
                    let _ = pfcp::validate::session_establishment(r);
                }
                Body::SessionModificationRequest(r) => {
                    let _ = pfcp::validate::session_modification(r);
                }
                _ => {}
            }
        }
        Err(e) => {
            let _ = (e.cause(), e.offending_ie(), e.to_string());
        }
    }
});
