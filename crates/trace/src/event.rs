//! The events of a trace and their byte encoding (see the crate docs for the
//! table of tags and fields).

/// A memory barrier, as emitted by the compiler or the runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FenceKind {
    /// AArch64 `DMB ISH`: full barrier, inner shareable domain.
    DmbIsh,
    /// AArch64 `DMB ISHST`: orders stores before stores.
    DmbIshSt,
    /// AArch64 `DMB ISHLD`: orders loads before loads and stores.
    DmbIshLd,
    /// AArch64 `DMB SY`: full barrier, full system.
    DmbSy,
    /// AArch64 `DSB` (any domain): waits for completion.
    Dsb,
    /// x86 `MFENCE`.
    Mfence,
    /// x86 `SFENCE`.
    Sfence,
    /// x86 `LFENCE`.
    Lfence,
    /// A locked read-modify-write (x86 `LOCK` prefix, `XCHG` with memory).
    LockedRmw,
}

impl FenceKind {
    /// Every fence kind, in code order.
    pub const ALL: [FenceKind; 9] = [
        FenceKind::DmbIsh,
        FenceKind::DmbIshSt,
        FenceKind::DmbIshLd,
        FenceKind::DmbSy,
        FenceKind::Dsb,
        FenceKind::Mfence,
        FenceKind::Sfence,
        FenceKind::Lfence,
        FenceKind::LockedRmw,
    ];

    /// The byte that encodes this kind in a trace (0 to 8, in `ALL` order).
    pub fn code(self) -> u8 {
        match self {
            FenceKind::DmbIsh => 0,
            FenceKind::DmbIshSt => 1,
            FenceKind::DmbIshLd => 2,
            FenceKind::DmbSy => 3,
            FenceKind::Dsb => 4,
            FenceKind::Mfence => 5,
            FenceKind::Sfence => 6,
            FenceKind::Lfence => 7,
            FenceKind::LockedRmw => 8,
        }
    }

    /// The kind with this code, if any.
    pub fn from_code(code: u8) -> Option<FenceKind> {
        FenceKind::ALL.get(code as usize).copied()
    }
}

/// One observed event. Thread ids are the runtime's dense thread numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    /// A thread started; `parent` is the thread that created it, if known.
    ThreadStart {
        /// The new thread.
        thread: u32,
        /// The creating thread.
        parent: Option<u32>,
    },
    /// A thread exited.
    ThreadExit {
        /// The exiting thread.
        thread: u32,
    },
    /// A load or store of `size` bytes at `addr`.
    Access {
        /// The accessing thread.
        thread: u32,
        /// First byte accessed.
        addr: u64,
        /// Number of bytes accessed.
        size: u32,
        /// A store (true) or a load (false).
        write: bool,
        /// An atomic access.
        atomic: bool,
        /// The program site (instruction or source location id), if known.
        site: Option<u32>,
    },
    /// A heap allocation.
    Alloc {
        /// The allocating thread.
        thread: u32,
        /// Address of the block.
        addr: u64,
        /// Size of the block in bytes.
        size: u64,
        /// Allocation site id.
        site: u32,
    },
    /// A heap free.
    Free {
        /// The freeing thread.
        thread: u32,
        /// Address of the block.
        addr: u64,
        /// Size of the block in bytes.
        size: u64,
        /// Site id of the free.
        site: u32,
    },
    /// A memory barrier executed by `thread`.
    Fence {
        /// The thread executing the barrier.
        thread: u32,
        /// Which barrier.
        kind: FenceKind,
    },
    /// `thread` acquired sync object `object` (lock, join, channel receive...).
    Acquire {
        /// The acquiring thread.
        thread: u32,
        /// The sync object id.
        object: u64,
    },
    /// `thread` released sync object `object` (unlock, spawn, channel send...).
    Release {
        /// The releasing thread.
        thread: u32,
        /// The sync object id.
        object: u64,
    },
}

pub(crate) const TAG_THREAD_START: u8 = 0x01;
pub(crate) const TAG_THREAD_EXIT: u8 = 0x02;
pub(crate) const TAG_ACCESS: u8 = 0x03;
pub(crate) const TAG_ALLOC: u8 = 0x04;
pub(crate) const TAG_FREE: u8 = 0x05;
pub(crate) const TAG_FENCE: u8 = 0x06;
pub(crate) const TAG_ACQUIRE: u8 = 0x07;
pub(crate) const TAG_RELEASE: u8 = 0x08;

const FLAG_WRITE: u8 = 1;
const FLAG_ATOMIC: u8 = 2;
const FLAG_SITE: u8 = 4;

impl Event {
    /// The thread this event belongs to.
    pub fn thread(&self) -> u32 {
        match *self {
            Event::ThreadStart { thread, .. }
            | Event::ThreadExit { thread }
            | Event::Access { thread, .. }
            | Event::Alloc { thread, .. }
            | Event::Free { thread, .. }
            | Event::Fence { thread, .. }
            | Event::Acquire { thread, .. }
            | Event::Release { thread, .. } => thread,
        }
    }

    /// Appends the encoding of this event to `out`.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        match *self {
            Event::ThreadStart { thread, parent } => {
                out.push(TAG_THREAD_START);
                out.extend_from_slice(&thread.to_le_bytes());
                out.push(parent.is_some() as u8);
                out.extend_from_slice(&parent.unwrap_or(0).to_le_bytes());
            }
            Event::ThreadExit { thread } => {
                out.push(TAG_THREAD_EXIT);
                out.extend_from_slice(&thread.to_le_bytes());
            }
            Event::Access {
                thread,
                addr,
                size,
                write,
                atomic,
                site,
            } => {
                out.push(TAG_ACCESS);
                out.extend_from_slice(&thread.to_le_bytes());
                out.extend_from_slice(&addr.to_le_bytes());
                out.extend_from_slice(&size.to_le_bytes());
                let flags = if write { FLAG_WRITE } else { 0 }
                    | if atomic { FLAG_ATOMIC } else { 0 }
                    | if site.is_some() { FLAG_SITE } else { 0 };
                out.push(flags);
                out.extend_from_slice(&site.unwrap_or(0).to_le_bytes());
            }
            Event::Alloc {
                thread,
                addr,
                size,
                site,
            }
            | Event::Free {
                thread,
                addr,
                size,
                site,
            } => {
                out.push(if matches!(self, Event::Alloc { .. }) {
                    TAG_ALLOC
                } else {
                    TAG_FREE
                });
                out.extend_from_slice(&thread.to_le_bytes());
                out.extend_from_slice(&addr.to_le_bytes());
                out.extend_from_slice(&size.to_le_bytes());
                out.extend_from_slice(&site.to_le_bytes());
            }
            Event::Fence { thread, kind } => {
                out.push(TAG_FENCE);
                out.extend_from_slice(&thread.to_le_bytes());
                out.push(kind.code());
            }
            Event::Acquire { thread, object } | Event::Release { thread, object } => {
                out.push(if matches!(self, Event::Acquire { .. }) {
                    TAG_ACQUIRE
                } else {
                    TAG_RELEASE
                });
                out.extend_from_slice(&thread.to_le_bytes());
                out.extend_from_slice(&object.to_le_bytes());
            }
        }
    }

    /// Decodes a block's payload, which must hold exactly `count` events,
    /// into `out` (cleared first); on error, `out` holds an unspecified
    /// prefix and the message names the event at fault. Accesses, most
    /// events of a trace, are decoded inline here; the rest by
    /// [`Event::decode`].
    pub(crate) fn decode_block(
        payload: &[u8],
        count: u32,
        out: &mut Vec<Event>,
    ) -> Result<(), String> {
        // Every event takes at least 5 bytes, so a valid payload holds at
        // most `payload.len() / 5` of them: `out` gets that many slots at
        // most (whatever the count says), made a few at a time, each
        // batch while it is still in the L1 cache, and written in place
        // (no capacity check per event); a larger count fails below.
        const BATCH: usize = 256;
        let n = (count as usize).min(payload.len() / 5);
        out.clear();
        out.reserve(n);
        let mut rest = payload;
        let mut i = 0;
        while i < n {
            let start = out.len();
            out.resize(start + (n - i).min(BATCH), Event::ThreadExit { thread: 0 });
            for slot in &mut out[start..] {
                if let Some((b, tail)) = rest.split_first_chunk::<22>() {
                    let flags = b[17];
                    if b[0] == TAG_ACCESS && flags & !(FLAG_WRITE | FLAG_ATOMIC | FLAG_SITE) == 0 {
                        let site = u32::from_le_bytes([b[18], b[19], b[20], b[21]]);
                        *slot = Event::Access {
                            thread: u32::from_le_bytes([b[1], b[2], b[3], b[4]]),
                            addr: u64::from_le_bytes([
                                b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
                            ]),
                            size: u32::from_le_bytes([b[13], b[14], b[15], b[16]]),
                            write: flags & FLAG_WRITE != 0,
                            atomic: flags & FLAG_ATOMIC != 0,
                            site: if flags & FLAG_SITE != 0 {
                                Some(site)
                            } else {
                                None
                            },
                        };
                        rest = tail;
                        i += 1;
                        continue;
                    }
                }
                match Event::decode(rest) {
                    Ok((ev, used)) => {
                        *slot = ev;
                        rest = &rest[used..];
                    }
                    Err(m) => return Err(format!("event {i} of the block: {m}")),
                }
                i += 1;
            }
        }
        // Events beyond the slots cannot all decode: find the first that
        // does not, for the message.
        for i in n as u32..count {
            match Event::decode(rest) {
                Ok((_, used)) => rest = &rest[used..],
                Err(m) => return Err(format!("event {i} of the block: {m}")),
            }
        }
        if !rest.is_empty() {
            return Err(format!(
                "{} bytes left after the block's {count} events",
                rest.len()
            ));
        }
        Ok(())
    }

    /// Decodes the event at the front of `buf` and returns it with its
    /// length in bytes, or a description of what is wrong with it (an
    /// unknown tag, a flag or boolean byte out of range, an unknown fence
    /// kind, or bytes ending inside the event). One pass: a block is
    /// decoded whole, and handed out only if every event of it decodes.
    #[inline]
    pub(crate) fn decode(buf: &[u8]) -> Result<(Event, usize), String> {
        // Accesses are most events of a trace, acquires and releases most
        // of the others: these first, with one length check and
        // fixed-offset reads.
        if let Some(b) = buf.first_chunk::<13>() {
            if b[0] == TAG_ACQUIRE || b[0] == TAG_RELEASE {
                let thread = u32::from_le_bytes([b[1], b[2], b[3], b[4]]);
                let object =
                    u64::from_le_bytes([b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12]]);
                let ev = if b[0] == TAG_ACQUIRE {
                    Event::Acquire { thread, object }
                } else {
                    Event::Release { thread, object }
                };
                return Ok((ev, 13));
            }
        }
        if let Some(b) = buf.first_chunk::<22>() {
            if b[0] == TAG_ACCESS {
                let flags = b[17];
                if flags & !(FLAG_WRITE | FLAG_ATOMIC | FLAG_SITE) != 0 {
                    return Err(format!("Access flags {flags:#04x} has unknown bits"));
                }
                let ev = Event::Access {
                    thread: u32::from_le_bytes([b[1], b[2], b[3], b[4]]),
                    addr: u64::from_le_bytes([b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12]]),
                    size: u32::from_le_bytes([b[13], b[14], b[15], b[16]]),
                    write: flags & FLAG_WRITE != 0,
                    atomic: flags & FLAG_ATOMIC != 0,
                    site: (flags & FLAG_SITE != 0)
                        .then(|| u32::from_le_bytes([b[18], b[19], b[20], b[21]])),
                };
                return Ok((ev, 22));
            }
        }
        Self::decode_other(buf)
    }

    /// [`Event::decode`] for everything but a whole `Access`, `Acquire`
    /// or `Release`.
    #[inline(never)]
    fn decode_other(buf: &[u8]) -> Result<(Event, usize), String> {
        let Some(&tag) = buf.first() else {
            return Err(ENDS_INSIDE.into());
        };
        let need = match tag {
            TAG_THREAD_START => 10,
            TAG_THREAD_EXIT => 5,
            TAG_ACCESS => 22,
            TAG_ALLOC | TAG_FREE => 25,
            TAG_FENCE => 6,
            TAG_ACQUIRE | TAG_RELEASE => 13,
            t => return Err(format!("unknown event tag {t:#04x}")),
        };
        let Some(b) = buf.get(..need) else {
            return Err(ENDS_INSIDE.into());
        };
        let thread = le32(b, 1);
        let ev = match tag {
            TAG_THREAD_START => {
                if b[5] > 1 {
                    return Err(format!(
                        "ThreadStart has_parent byte {} is not 0 or 1",
                        b[5]
                    ));
                }
                Event::ThreadStart {
                    thread,
                    parent: (b[5] == 1).then(|| le32(b, 6)),
                }
            }
            TAG_THREAD_EXIT => Event::ThreadExit { thread },
            TAG_ACCESS | TAG_ACQUIRE | TAG_RELEASE => {
                // Unreachable: `decode` decodes these when they are whole.
                return Self::decode(b);
            }
            TAG_ALLOC | TAG_FREE => {
                let (addr, size, site) = (le64(b, 5), le64(b, 13), le32(b, 21));
                if tag == TAG_ALLOC {
                    Event::Alloc {
                        thread,
                        addr,
                        size,
                        site,
                    }
                } else {
                    Event::Free {
                        thread,
                        addr,
                        size,
                        site,
                    }
                }
            }
            _ => Event::Fence {
                thread,
                kind: FenceKind::from_code(b[5])
                    .ok_or_else(|| format!("unknown fence kind {}", b[5]))?,
            },
        };
        Ok((ev, need))
    }
}

const ENDS_INSIDE: &str = "payload ends inside an event";

/// The little-endian `u32` at `b[i..i + 4]` (the caller checked the length).
#[inline]
fn le32(b: &[u8], i: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[i..i + 4]);
    u32::from_le_bytes(a)
}

/// The little-endian `u64` at `b[i..i + 8]` (the caller checked the length).
#[inline]
fn le64(b: &[u8], i: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[i..i + 8]);
    u64::from_le_bytes(a)
}

#[cfg(test)]
mod tests {
    use super::Event;

    /// An event is 32 bytes (a block's events are decoded into a vector
    /// of them, and replayed from it).
    #[test]
    fn an_event_is_32_bytes() {
        assert_eq!(std::mem::size_of::<Event>(), 32);
    }
}
