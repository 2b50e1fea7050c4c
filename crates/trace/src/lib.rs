/*!
`loci-trace`: the trace format shared by the loci runtime (which writes
traces) and the simulator `loci-sim` (which replays them).

A trace is a stream of [`Event`]s: thread start/exit, memory accesses,
allocations and frees, fences, and acquire/release synchronisation on sync
objects. The order of events in the file is the order in which the runtime
observed them; a multi-threaded replay respects that order for
[`Event::Acquire`]/[`Event::Release`] pairs on the same sync object.

# Example

```
use loci_trace::{Event, FenceKind, Writer, read_all};

let mut w = Writer::new(Vec::new()).unwrap();
w.write(&Event::ThreadStart { thread: 0, parent: None }).unwrap();
w.write(&Event::Access { thread: 0, addr: 0x1000, size: 8, write: true, atomic: false, site: Some(7) }).unwrap();
w.write(&Event::Fence { thread: 0, kind: FenceKind::DmbIshSt }).unwrap();
let bytes = w.finish().unwrap();
let events = read_all(&bytes).unwrap();
assert_eq!(events.len(), 3);
```

# File format, byte by byte (version 1)

All integers are little-endian.

```text
offset  size  field
0       8     magic: the bytes "LOCITRC" followed by 0x00
8       2     version: u16, currently 1
10      2     reserved: u16, must be 0
12      ...   zero or more blocks, up to the end of the file
```

Each block:

```text
offset  size  field
0       4     payload length L in bytes: u32, at most MAX_BLOCK_LEN (16 MiB)
4       4     event count N: u32
8       4     CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320, initial
              value and final xor 0xFFFFFFFF — the zlib/PNG CRC) of the payload
12      L     payload: exactly N encoded events, back to back
```

A reader checks the checksum before it hands out any event of the block, so
a truncated or corrupt file yields every event of the whole blocks before the
damage and then an [`Error`] naming the byte offset of the damaged block.

Each event starts with a one-byte tag, followed by fixed-width fields:

```text
tag   event         fields after the tag                               bytes
0x01  ThreadStart   thread u32, has_parent u8 (0|1), parent u32          10
0x02  ThreadExit    thread u32                                            5
0x03  Access        thread u32, addr u64, size u32, flags u8, site u32   22
                    flags: bit0 write, bit1 atomic, bit2 site present,
                    other bits must be 0; site is 0 when absent
0x04  Alloc         thread u32, addr u64, size u64, site u32             25
0x05  Free          thread u32, addr u64, size u64, site u32             25
0x06  Fence         thread u32, kind u8 (see FenceKind::code)             6
0x07  Acquire       thread u32, object u64                               13
0x08  Release       thread u32, object u64                               13
```

Any other tag, a flag or boolean byte out of range, an unknown fence kind,
a payload that ends inside an event, or a payload with bytes left after the
N-th event is an error ([`ErrorKind::BadEvent`]).

Why CRC-32 and not a cryptographic hash: the checksum guards against
truncation and bit rot, not against an adversary; CRC-32 detects all burst
errors up to 32 bits, and with carry-less multiplication (the `crc32fast`
crate) it costs a small fraction of decoding.
*/
#![deny(missing_docs)]

mod crc;
mod event;
mod reader;
mod writer;

pub use crc::crc32;
pub use event::{Event, FenceKind};
pub use reader::{read_all, read_salvage, Reader, Salvaged};
pub use writer::Writer;

/// The eight magic bytes that open every trace file.
pub const MAGIC: [u8; 8] = *b"LOCITRC\0";
/// The format version this crate writes and reads.
pub const VERSION: u16 = 1;
/// Size of the file header in bytes.
pub const HEADER_LEN: usize = 12;
/// Size of a block header in bytes.
pub const BLOCK_HEADER_LEN: usize = 12;
/// Largest payload a block may have (16 MiB); larger lengths are corruption.
pub const MAX_BLOCK_LEN: u32 = 16 << 20;

/// What went wrong while reading or writing a trace.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The underlying reader or writer failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The file does not start with [`MAGIC`].
    #[error("not a loci trace (bad magic)")]
    BadMagic,
    /// The file has a version this crate does not read.
    #[error("unsupported trace version {0} (this reader supports {VERSION})")]
    UnsupportedVersion(u16),
    /// The reserved header field is not zero.
    #[error("reserved header field is {0}, expected 0")]
    BadHeader(u16),
    /// The file ends inside the header, a block header or a block payload.
    #[error("truncated: {what}")]
    Truncated {
        /// Which part was cut short.
        what: &'static str,
    },
    /// A block's payload does not match its checksum.
    #[error("checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    Checksum {
        /// The checksum stored in the block header.
        stored: u32,
        /// The checksum of the payload as read.
        computed: u32,
    },
    /// A block header announces a payload larger than [`MAX_BLOCK_LEN`].
    #[error("block length {0} exceeds the maximum {MAX_BLOCK_LEN}")]
    BlockTooLarge(u32),
    /// A block's payload does not decode to exactly its announced events.
    #[error("bad event: {0}")]
    BadEvent(String),
}

/// An error with the byte offset (from the start of the file) of the header
/// or block in which it happened.
#[derive(Debug, thiserror::Error)]
#[error("trace error at byte offset {offset}: {kind}")]
pub struct Error {
    /// What went wrong.
    pub kind: ErrorKind,
    /// Byte offset of the file header or of the block header concerned.
    pub offset: u64,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, offset: u64) -> Self {
        Error { kind, offset }
    }
}
