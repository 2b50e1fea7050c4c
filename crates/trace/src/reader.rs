//! Streaming trace reader: reads one block at a time, checks its checksum,
//! decodes all of its events, then hands them out — one by one (the
//! [`Iterator`]) or a whole block at a time ([`Reader::next_events`], which
//! copies nothing).

use crate::{
    crc32, Error, ErrorKind, Event, BLOCK_HEADER_LEN, HEADER_LEN, MAGIC, MAX_BLOCK_LEN, VERSION,
};
use std::io::{ErrorKind as IoKind, Read};

/// Reads events from any [`Read`]. It is an iterator of
/// `Result<Event, Error>`; after the first error it returns `None`.
/// [`Reader::next_events`] hands out the same events by block, borrowed
/// (the fast way: no event is copied through an `Option<Result<..>>`).
#[derive(Debug)]
pub struct Reader<R: Read> {
    input: R,
    offset: u64,
    /// The events of the current block (decoded whole) and the index of
    /// the next one to hand out.
    events: Vec<Event>,
    next: usize,
    /// The current block's payload is its first bytes (the buffer only
    /// grows, so that reading a block costs no zeroing).
    payload: Vec<u8>,
    done: bool,
}

/// Reads as many bytes as possible into `buf`; returns how many were read.
fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == IoKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

impl<R: Read> Reader<R> {
    /// Reads and checks the file header.
    pub fn new(mut input: R) -> Result<Self, Error> {
        let mut header = [0u8; HEADER_LEN];
        let n = read_full(&mut input, &mut header).map_err(|e| Error::new(e.into(), 0))?;
        if n < MAGIC.len() || header[..MAGIC.len()] != MAGIC {
            if n < MAGIC.len() && header[..n] == MAGIC[..n] {
                return Err(Error::new(
                    ErrorKind::Truncated {
                        what: "file header",
                    },
                    0,
                ));
            }
            return Err(Error::new(ErrorKind::BadMagic, 0));
        }
        if n < HEADER_LEN {
            return Err(Error::new(
                ErrorKind::Truncated {
                    what: "file header",
                },
                0,
            ));
        }
        let version = u16::from_le_bytes([header[8], header[9]]);
        if version != VERSION {
            return Err(Error::new(ErrorKind::UnsupportedVersion(version), 0));
        }
        let reserved = u16::from_le_bytes([header[10], header[11]]);
        if reserved != 0 {
            return Err(Error::new(ErrorKind::BadHeader(reserved), 0));
        }
        Ok(Reader {
            input,
            offset: HEADER_LEN as u64,
            events: Vec::new(),
            next: 0,
            payload: Vec::new(),
            done: false,
        })
    }

    /// Byte offset of the next block header to be read.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The events not handed out yet of the next intact block (of the
    /// current one first, if the iterator stopped inside it), borrowed
    /// until the next call; `Ok(None)` at the end of the trace, and after
    /// an error. A damaged block gives an error with its byte offset and
    /// none of its events, as the iterator does.
    pub fn next_events(&mut self) -> Result<Option<&[Event]>, Error> {
        while self.next >= self.events.len() {
            if self.done {
                return Ok(None);
            }
            match self.read_block() {
                Ok(true) => {}
                Ok(false) => {
                    self.done = true;
                    return Ok(None);
                }
                Err(e) => {
                    self.events.clear();
                    self.next = 0;
                    self.done = true;
                    return Err(e);
                }
            }
        }
        let start = self.next;
        self.next = self.events.len();
        Ok(Some(&self.events[start..]))
    }

    /// Reads and checks the next block. `Ok(false)` at a clean end.
    fn read_block(&mut self) -> Result<bool, Error> {
        let at = self.offset;
        let err = |kind| Error::new(kind, at);
        let mut header = [0u8; BLOCK_HEADER_LEN];
        let n = read_full(&mut self.input, &mut header).map_err(|e| err(e.into()))?;
        if n == 0 {
            return Ok(false);
        }
        if n < BLOCK_HEADER_LEN {
            return Err(err(ErrorKind::Truncated {
                what: "block header",
            }));
        }
        let word = |i: usize| u32::from_le_bytes(header[i..i + 4].try_into().unwrap_or([0; 4]));
        let (len, count, stored) = (word(0), word(4), word(8));
        if len > MAX_BLOCK_LEN {
            return Err(err(ErrorKind::BlockTooLarge(len)));
        }
        // Read in pieces of at most 1 MiB: a damaged length in a short
        // file must not cost 16 MiB of zeroing before the read fails.
        self.events.clear();
        self.next = 0;
        let mut n = 0;
        while n < len as usize {
            let want = (len as usize - n).min(1 << 20);
            if self.payload.len() < n + want {
                self.payload.resize(n + want, 0);
            }
            let got = read_full(&mut self.input, &mut self.payload[n..n + want])
                .map_err(|e| err(e.into()))?;
            n += got;
            if got < want {
                break;
            }
        }
        if n < len as usize {
            return Err(err(ErrorKind::Truncated {
                what: "block payload",
            }));
        }
        let payload = &self.payload[..len as usize];
        let computed = crc32(payload);
        if computed != stored {
            return Err(err(ErrorKind::Checksum { stored, computed }));
        }
        // Decode every event before handing out any: a damaged block
        // yields none of its events.
        if let Err(e) = Event::decode_block(payload, count, &mut self.events) {
            self.events.clear();
            return Err(err(ErrorKind::BadEvent(e)));
        }
        self.offset += (BLOCK_HEADER_LEN + len as usize) as u64;
        Ok(true)
    }
}

impl<R: Read> Iterator for Reader<R> {
    type Item = Result<Event, Error>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        // The common case, inlined into the caller's loop: the next event
        // of the current block.
        if let Some(&ev) = self.events.get(self.next) {
            self.next += 1;
            return Some(Ok(ev));
        }
        self.next_slow()
    }
}

impl<R: Read> Reader<R> {
    /// [`Iterator::next`] at the end of a block: reads the next one.
    #[inline(never)]
    fn next_slow(&mut self) -> Option<Result<Event, Error>> {
        loop {
            if let Some(&ev) = self.events.get(self.next) {
                self.next += 1;
                return Some(Ok(ev));
            }
            if self.done {
                return None;
            }
            match self.read_block() {
                Ok(true) => {}
                Ok(false) => {
                    self.done = true;
                    return None;
                }
                Err(e) => {
                    // Nothing of a damaged block is handed out.
                    self.events.clear();
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

/// Decodes a whole trace held in memory; any damage is an error. Never
/// panics, whatever the bytes (a fuzzing entry point).
pub fn read_all(bytes: &[u8]) -> Result<Vec<Event>, Error> {
    let mut events = Vec::new();
    for ev in Reader::new(bytes)? {
        events.push(ev?);
    }
    Ok(events)
}

/// What could be recovered from a possibly damaged trace.
#[derive(Debug)]
pub struct Salvaged {
    /// The events of every whole, intact block before the damage.
    pub events: Vec<Event>,
    /// The damage, if any, with its byte offset.
    pub error: Option<Error>,
}

/// Decodes a trace held in memory up to its last whole intact block.
pub fn read_salvage(bytes: &[u8]) -> Salvaged {
    let mut events = Vec::new();
    let reader = match Reader::new(bytes) {
        Ok(r) => r,
        Err(e) => {
            return Salvaged {
                events,
                error: Some(e),
            }
        }
    };
    for ev in reader {
        match ev {
            Ok(ev) => events.push(ev),
            Err(e) => {
                return Salvaged {
                    events,
                    error: Some(e),
                }
            }
        }
    }
    Salvaged {
        events,
        error: None,
    }
}
