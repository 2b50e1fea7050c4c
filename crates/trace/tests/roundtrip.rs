//! Round-trip, truncation and corruption tests of the trace format.

use loci_trace::{
    read_all, read_salvage, Error, ErrorKind, Event, FenceKind, Reader, Writer, HEADER_LEN,
};
use proptest::prelude::*;

fn arb_event() -> impl Strategy<Value = Event> {
    let fence = (0u8..9).prop_map(|c| FenceKind::from_code(c).unwrap_or(FenceKind::DmbIsh));
    prop_oneof![
        (any::<u32>(), any::<Option<u32>>())
            .prop_map(|(thread, parent)| Event::ThreadStart { thread, parent }),
        any::<u32>().prop_map(|thread| Event::ThreadExit { thread }),
        (
            any::<u32>(),
            any::<u64>(),
            any::<u32>(),
            any::<bool>(),
            any::<bool>(),
            any::<Option<u32>>()
        )
            .prop_map(|(thread, addr, size, write, atomic, site)| Event::Access {
                thread,
                addr,
                size,
                write,
                atomic,
                site
            }),
        (any::<u32>(), any::<u64>(), any::<u64>(), any::<u32>()).prop_map(
            |(thread, addr, size, site)| Event::Alloc {
                thread,
                addr,
                size,
                site
            }
        ),
        (any::<u32>(), any::<u64>(), any::<u64>(), any::<u32>()).prop_map(
            |(thread, addr, size, site)| Event::Free {
                thread,
                addr,
                size,
                site
            }
        ),
        (any::<u32>(), fence).prop_map(|(thread, kind)| Event::Fence { thread, kind }),
        (any::<u32>(), any::<u64>()).prop_map(|(thread, object)| Event::Acquire { thread, object }),
        (any::<u32>(), any::<u64>()).prop_map(|(thread, object)| Event::Release { thread, object }),
    ]
}

fn encode(events: &[Event], block_len: usize) -> Vec<u8> {
    let mut w = Writer::with_block_len(Vec::new(), block_len).expect("header");
    for e in events {
        w.write(e).expect("write");
    }
    w.finish().expect("finish")
}

/// Byte offsets of every block header in a well-formed trace.
fn block_offsets(bytes: &[u8]) -> Vec<usize> {
    let mut offs = Vec::new();
    let mut at = HEADER_LEN;
    while at < bytes.len() {
        offs.push(at);
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        at += 12 + len;
    }
    offs
}

proptest! {
    #[test]
    fn round_trip(events in prop::collection::vec(arb_event(), 0..300), block_len in 1usize..2000) {
        let bytes = encode(&events, block_len);
        prop_assert_eq!(&read_all(&bytes).expect("read"), &events);
        let streamed: Result<Vec<Event>, Error> = Reader::new(&bytes[..]).expect("header").collect();
        prop_assert_eq!(streamed.expect("stream"), events);
    }

    #[test]
    fn truncation_keeps_whole_blocks(events in prop::collection::vec(arb_event(), 1..200),
                                     block_len in 1usize..500, cut in any::<prop::sample::Index>()) {
        let bytes = encode(&events, block_len);
        let cut = HEADER_LEN + cut.index(bytes.len() - HEADER_LEN);
        let offsets = block_offsets(&bytes);
        let s = read_salvage(&bytes[..cut]);
        // Whole blocks before the cut: their events survive, nothing else.
        let whole = offsets.iter().filter(|&&o| o < cut).count();
        let cut_at_boundary = offsets.contains(&cut);
        if cut_at_boundary {
            prop_assert!(s.error.is_none());
        } else {
            let err = s.error.expect("a cut inside a block is an error");
            let truncated = matches!(err.kind, ErrorKind::Truncated { .. });
            prop_assert!(truncated, "{}", err);
            prop_assert_eq!(err.offset as usize, offsets[whole - 1]);
        }
        prop_assert!(events.starts_with(&s.events));
        prop_assert!(s.events.len() < events.len());
    }

    /// `next_events`, alone or after some `next` calls, hands out the
    /// iterator's events in the same order and stops at the same error
    /// (same offset), whole or cut, intact or with a flipped byte.
    #[test]
    fn next_events_hands_out_the_iterators_events(
        events in prop::collection::vec(arb_event(), 0..200),
        block_len in 1usize..500,
        cut in any::<prop::sample::Index>(),
        flip in any::<Option<(prop::sample::Index, u8)>>(),
        steps in 0usize..5,
    ) {
        let mut bytes = encode(&events, block_len);
        if let Some((at, x)) = flip {
            let at = HEADER_LEN + at.index(bytes.len() - HEADER_LEN + 1).min(bytes.len() - HEADER_LEN);
            if at < bytes.len() {
                bytes[at] ^= x | 1;
            }
        }
        let bytes = &bytes[..HEADER_LEN + cut.index(bytes.len() - HEADER_LEN + 1)];
        let mut want = Vec::new();
        let mut want_err = None;
        for ev in Reader::new(bytes).expect("header") {
            match ev {
                Ok(ev) => want.push(ev),
                Err(e) => want_err = Some(e.offset),
            }
        }
        let mut r = Reader::new(bytes).expect("header");
        let mut got = Vec::new();
        let mut got_err = None;
        for _ in 0..steps {
            match r.next() {
                Some(Ok(ev)) => got.push(ev),
                Some(Err(e)) => got_err = Some(e.offset),
                None => break,
            }
        }
        if got_err.is_none() {
            loop {
                match r.next_events() {
                    Ok(Some(block)) => {
                        prop_assert!(!block.is_empty());
                        got.extend_from_slice(block);
                    }
                    Ok(None) => break,
                    Err(e) => {
                        got_err = Some(e.offset);
                        break;
                    }
                }
            }
        }
        prop_assert!(matches!(r.next_events(), Ok(None)));
        prop_assert!(r.next().is_none());
        prop_assert_eq!(got, want);
        prop_assert_eq!(got_err, want_err);
    }

    #[test]
    fn any_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = read_all(&bytes);
        let mut with_header = b"LOCITRC\0\x01\0\0\0".to_vec();
        with_header.extend_from_slice(&bytes);
        let _ = read_salvage(&with_header);
    }
}

fn sample() -> Vec<Event> {
    (0..100u32)
        .map(|i| Event::Access {
            thread: i % 3,
            addr: 0x1000 + 8 * i as u64,
            size: 8,
            write: i % 2 == 0,
            atomic: i % 5 == 0,
            site: (i % 7 == 0).then_some(i),
        })
        .collect()
}

#[test]
fn corrupt_payload_byte_names_the_block_offset() {
    let events = sample();
    let mut bytes = encode(&events, 200);
    let offsets = block_offsets(&bytes);
    assert!(offsets.len() >= 3, "want several blocks");
    // Flip one bit in the payload of the third block.
    bytes[offsets[2] + 12 + 5] ^= 0x10;
    let s = read_salvage(&bytes);
    let err = s.error.expect("corruption detected");
    assert!(matches!(err.kind, ErrorKind::Checksum { .. }), "{err}");
    assert_eq!(err.offset, offsets[2] as u64);
    assert!(err.to_string().contains(&format!("offset {}", offsets[2])));
    // The first two blocks are intact and fully recovered.
    let per_block = events.len().div_ceil(offsets.len());
    assert!(!s.events.is_empty());
    assert_eq!(&events[..s.events.len()], &s.events[..]);
    assert!(s.events.len() <= 2 * per_block);
    assert!(read_all(&bytes).is_err());
}

#[test]
fn bad_header_is_rejected() {
    let bytes = encode(&sample(), 200);
    let mut bad = bytes.clone();
    bad[0] = b'X';
    assert!(matches!(
        read_all(&bad).unwrap_err().kind,
        ErrorKind::BadMagic
    ));
    let mut v2 = bytes.clone();
    v2[8] = 2;
    assert!(matches!(
        read_all(&v2).unwrap_err().kind,
        ErrorKind::UnsupportedVersion(2)
    ));
    assert!(matches!(
        read_all(&bytes[..10]).unwrap_err().kind,
        ErrorKind::Truncated { .. }
    ));
    assert!(read_all(&bytes[..HEADER_LEN]).unwrap().is_empty());
}

#[test]
fn huge_block_length_is_an_error_not_an_allocation() {
    let mut bytes = encode(&sample(), 1 << 20);
    bytes[HEADER_LEN..HEADER_LEN + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    let err = read_all(&bytes).unwrap_err();
    assert!(matches!(err.kind, ErrorKind::BlockTooLarge(_)));
    assert_eq!(err.offset, HEADER_LEN as u64);
}

#[test]
fn wrong_event_count_with_valid_checksum_is_bad_event() {
    let mut bytes = encode(&sample()[..4], 1 << 20);
    // Claim 3 events where there are 4: the checksum still matches.
    bytes[HEADER_LEN + 4..HEADER_LEN + 8].copy_from_slice(&3u32.to_le_bytes());
    let err = read_all(&bytes).unwrap_err();
    assert!(matches!(err.kind, ErrorKind::BadEvent(_)), "{err}");
}

#[test]
fn encoding_matches_documented_layout() {
    let bytes = encode(
        &[Event::Fence {
            thread: 0x0102_0304,
            kind: FenceKind::Mfence,
        }],
        1 << 20,
    );
    assert_eq!(&bytes[..12], b"LOCITRC\0\x01\x00\x00\x00");
    assert_eq!(&bytes[12..20], &[6, 0, 0, 0, 1, 0, 0, 0]);
    assert_eq!(&bytes[24..], &[0x06, 0x04, 0x03, 0x02, 0x01, 5]);
}

#[test]
fn a_bad_event_in_a_block_with_a_valid_checksum_hands_out_nothing_of_it() {
    // Block 1: sample()[..2]; block 2: sample()[2..4], whose second event
    // gets an unknown tag (and a recomputed checksum).
    let events = sample();
    let first = encode(&events[..2], 1 << 20);
    let second = encode(&events[2..4], 1 << 20);
    let mut bytes = first.clone();
    let at = bytes.len();
    bytes.extend_from_slice(&second[HEADER_LEN..]);
    let payload = at + 12;
    let mut probe = Vec::new();
    let probe_bytes = encode(&events[2..3], 1 << 20);
    probe.extend_from_slice(&probe_bytes[HEADER_LEN + 12..]);
    bytes[payload + probe.len()] = 0x7f;
    let crc = loci_trace::crc32(&bytes[payload..]);
    bytes[at + 8..at + 12].copy_from_slice(&crc.to_le_bytes());
    let s = read_salvage(&bytes);
    assert_eq!(s.events, events[..2]);
    let err = s.error.unwrap();
    assert_eq!(err.offset, at as u64);
    assert!(err.to_string().contains("unknown event tag 0x7f"), "{err}");
    // Streaming: the same two events, then the error, then nothing.
    let mut r = loci_trace::Reader::new(&bytes[..]).unwrap();
    assert_eq!(r.next().unwrap().unwrap(), events[0]);
    assert_eq!(r.next().unwrap().unwrap(), events[1]);
    assert!(r.next().unwrap().is_err());
    assert!(r.next().is_none());
}

/// A file of one block with `payload` and the event count `count` (and a
/// valid checksum), after the header of `sample`'s encoding.
fn one_block(payload: &[u8], count: u32) -> Vec<u8> {
    let mut bytes = encode(&[], 1 << 20)[..HEADER_LEN].to_vec();
    bytes.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&count.to_le_bytes());
    bytes.extend_from_slice(&loci_trace::crc32(payload).to_le_bytes());
    bytes.extend_from_slice(payload);
    bytes
}

#[test]
fn bad_event_messages_name_the_event_at_fault() {
    let events = &sample()[..4];
    let whole = encode(events, 1 << 20);
    let payload = &whole[HEADER_LEN + 12..];
    let message = |bytes: &[u8]| match read_all(bytes).unwrap_err().kind {
        ErrorKind::BadEvent(m) => m,
        k => panic!("not a bad event: {k}"),
    };
    // More events announced than the payload holds, by one and by far.
    assert_eq!(
        message(&one_block(payload, 5)),
        "event 4 of the block: payload ends inside an event"
    );
    assert_eq!(
        message(&one_block(payload, 1000)),
        "event 4 of the block: payload ends inside an event"
    );
    // Fewer: the rest is left over.
    let first = encode(&events[..1], 1 << 20).len() - HEADER_LEN - 12;
    assert_eq!(
        message(&one_block(payload, 1)),
        format!(
            "{} bytes left after the block's 1 events",
            payload.len() - first
        )
    );
    // An access with an unknown flag bit, and an unknown tag.
    let mut access = encode(
        &[Event::Access {
            thread: 1,
            addr: 64,
            size: 8,
            write: true,
            atomic: false,
            site: None,
        }],
        1 << 20,
    )[HEADER_LEN + 12..]
        .to_vec();
    access[17] |= 0x10;
    assert_eq!(
        message(&one_block(&access, 1)),
        "event 0 of the block: Access flags 0x11 has unknown bits"
    );
    assert_eq!(
        message(&one_block(&[0x09, 0, 0, 0, 0], 1)),
        "event 0 of the block: unknown event tag 0x09"
    );
}
