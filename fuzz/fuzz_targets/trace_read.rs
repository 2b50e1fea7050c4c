//! Any byte string, read as a loci trace, must decode or be rejected with
//! an error naming a byte offset, never panic; the whole-file, salvaging
//! and streaming readers must agree on the events before the damage.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let salvaged = loci_trace::read_salvage(data);
    let mut streamed = Vec::new();
    let mut stream_error = None;
    match loci_trace::Reader::new(data) {
        Ok(reader) => {
            for ev in reader {
                match ev {
                    Ok(ev) => streamed.push(ev),
                    Err(e) => {
                        stream_error = Some(e);
                        break;
                    }
                }
            }
        }
        Err(e) => stream_error = Some(e),
    }
    assert_eq!(salvaged.events, streamed);
    assert_eq!(
        salvaged.error.as_ref().map(|e| e.offset),
        stream_error.as_ref().map(|e| e.offset)
    );
    if let Some(e) = &salvaged.error {
        assert!(e.offset <= data.len() as u64);
        assert!(e.to_string().contains("byte offset"));
    }
    match loci_trace::read_all(data) {
        Ok(all) => assert!(salvaged.error.is_none() && all == salvaged.events),
        Err(_) => assert!(salvaged.error.is_some()),
    }
});
