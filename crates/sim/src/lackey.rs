//! Importer for Valgrind `lackey --trace-mem=yes` traces.
//!
//! Lackey prints one line per event: `I  addr,size` for an instruction
//! fetch, ` L addr,size` for a load, ` S addr,size` for a store and
//! ` M addr,size` for a modify (a load and store of the same bytes by one
//! instruction); `addr` is hexadecimal, `size` decimal. Lines starting with
//! `==` are Valgrind's own messages and are skipped.
//!
//! A lackey trace drives either the cachegrind-compatible model
//! ([`crate::cachegrind`]) or, as the loci-trace events of [`events`] (one
//! thread), the MESI machine model of [`crate::ordering`].

use crate::{Error, ErrorKind};
use loci_trace::Event;
use std::io::BufRead;

/// One lackey trace event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Instruction fetch (`I`).
    Instr {
        /// Address of the instruction.
        addr: u64,
        /// Its length in bytes.
        size: u64,
    },
    /// Data load (`L`).
    Load {
        /// First byte.
        addr: u64,
        /// Bytes read.
        size: u64,
    },
    /// Data store (`S`).
    Store {
        /// First byte.
        addr: u64,
        /// Bytes written.
        size: u64,
    },
    /// Data modify (`M`).
    Modify {
        /// First byte.
        addr: u64,
        /// Bytes read and written.
        size: u64,
    },
}

/// Parses one line: `Ok(None)` for Valgrind messages and blank lines.
pub fn parse_line(line: &str) -> Result<Option<Op>, String> {
    let line = line.trim_end();
    if line.is_empty() || line.starts_with("==") || line.starts_with("--") {
        return Ok(None);
    }
    let (kind, rest) = if let Some(r) = line.strip_prefix("I ") {
        ('I', r)
    } else if let Some(r) = line.strip_prefix(' ') {
        let mut chars = r.chars();
        match (chars.next(), chars.next()) {
            (Some(k @ ('L' | 'S' | 'M')), Some(' ')) => (k, &r[2..]),
            _ => return Err(format!("not a lackey trace line: `{line}`")),
        }
    } else {
        return Err(format!("not a lackey trace line: `{line}`"));
    };
    let (addr, size) = rest
        .trim()
        .split_once(',')
        .ok_or_else(|| format!("expected addr,size in `{line}`"))?;
    let addr =
        u64::from_str_radix(addr, 16).map_err(|e| format!("bad address in `{line}`: {e}"))?;
    let size: u64 = size
        .parse()
        .map_err(|e| format!("bad size in `{line}`: {e}"))?;
    Ok(Some(match kind {
        'I' => Op::Instr { addr, size },
        'L' => Op::Load { addr, size },
        'S' => Op::Store { addr, size },
        _ => Op::Modify { addr, size },
    }))
}

/// Streams a lackey trace, calling `f` on every event in order; returns the
/// number of events. Errors name the 1-based line number.
pub fn for_each_op<R: BufRead>(input: R, mut f: impl FnMut(Op)) -> Result<u64, Error> {
    try_for_each_op(input, |op| {
        f(op);
        Ok::<(), Error>(())
    })
}

/// Like [`for_each_op`], stopping at the first error `f` returns.
pub fn try_for_each_op<R: BufRead, E: From<Error>>(
    mut input: R,
    mut f: impl FnMut(Op) -> Result<(), E>,
) -> Result<u64, E> {
    let mut line = String::new();
    let mut lineno = 0u64;
    let mut ops = 0u64;
    loop {
        line.clear();
        let n = input
            .read_line(&mut line)
            .map_err(|e| Error::new(ErrorKind::Io(e)))?;
        if n == 0 {
            return Ok(ops);
        }
        lineno += 1;
        match parse_line(&line) {
            Ok(Some(op)) => {
                ops += 1;
                f(op)?
            }
            Ok(None) => {}
            Err(m) => {
                return Err(Error::new(ErrorKind::Parse(format!(
                    "lackey trace line {lineno}: {m}"
                )))
                .into())
            }
        }
    }
}

/// The loci-trace events of one lackey event executed by `thread`, for the
/// MESI machine model: a load or a store is one [`Event::Access`] (no
/// site), a modify is a load followed by a store of the same bytes, and an
/// instruction fetch gives nothing (the machine model has data caches
/// only). Sizes above `u32::MAX` are clamped.
pub fn events(op: Op, thread: u32) -> impl Iterator<Item = Event> {
    let access = |addr: u64, size: u64, write: bool| Event::Access {
        thread,
        addr,
        size: u32::try_from(size).unwrap_or(u32::MAX),
        write,
        atomic: false,
        site: None,
    };
    let (first, second) = match op {
        Op::Instr { .. } => (None, None),
        Op::Load { addr, size } => (Some(access(addr, size, false)), None),
        Op::Store { addr, size } => (Some(access(addr, size, true)), None),
        Op::Modify { addr, size } => (
            Some(access(addr, size, false)),
            Some(access(addr, size, true)),
        ),
    };
    first.into_iter().chain(second)
}

/// Streams a lackey trace as the loci-trace events of a single-threaded
/// program run by `thread`: its [`Event::ThreadStart`], the [`events`] of
/// every lackey event in order, and its [`Event::ThreadExit`]. Stops at the
/// first error `f` returns; errors of the trace name the line. Returns the
/// number of lackey events read.
pub fn for_each_event<R: BufRead, E: From<Error>>(
    input: R,
    thread: u32,
    mut f: impl FnMut(&Event) -> Result<(), E>,
) -> Result<u64, E> {
    f(&Event::ThreadStart {
        thread,
        parent: None,
    })?;
    let n = try_for_each_op(input, |op| events(op, thread).try_for_each(|e| f(&e)))?;
    f(&Event::ThreadExit { thread })?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lackey_lines() {
        assert_eq!(
            parse_line("I  0023C790,2\n"),
            Ok(Some(Op::Instr {
                addr: 0x23C790,
                size: 2
            }))
        );
        assert_eq!(
            parse_line(" L BE80199C,4"),
            Ok(Some(Op::Load {
                addr: 0xBE80199C,
                size: 4
            }))
        );
        assert_eq!(
            parse_line(" S 1ffefffd78,8"),
            Ok(Some(Op::Store {
                addr: 0x1ffefffd78,
                size: 8
            }))
        );
        assert_eq!(
            parse_line(" M 0025747C,1"),
            Ok(Some(Op::Modify {
                addr: 0x25747C,
                size: 1
            }))
        );
        assert_eq!(
            parse_line("==123== Lackey, an example Valgrind tool"),
            Ok(None)
        );
        assert!(parse_line(" X 10,4").is_err());
        assert!(parse_line("I  zz,4").is_err());
        assert!(parse_line("hello").is_err());
    }

    #[test]
    fn lackey_events_become_accesses_of_one_thread() {
        let text = "==1== Lackey\nI  10,4\n L 20,8\n S 28,4\n M 30,2\n";
        let mut got = Vec::new();
        let n = for_each_event(text.as_bytes(), 0, |e| {
            got.push(*e);
            Ok::<(), Error>(())
        })
        .unwrap();
        assert_eq!(n, 4);
        let acc = |addr, size, write| Event::Access {
            thread: 0,
            addr,
            size,
            write,
            atomic: false,
            site: None,
        };
        assert_eq!(
            got,
            [
                Event::ThreadStart {
                    thread: 0,
                    parent: None
                },
                acc(0x20, 8, false),
                acc(0x28, 4, true),
                acc(0x30, 2, false),
                acc(0x30, 2, true),
                Event::ThreadExit { thread: 0 },
            ]
        );
        let err =
            for_each_event("I  10,4\nbogus\n".as_bytes(), 0, |_| Ok::<(), Error>(())).unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
    }

    #[test]
    fn stream_names_the_bad_line() {
        let text = "I  10,4\n L 20,8\nbogus\n";
        let mut n = 0;
        let err = for_each_op(text.as_bytes(), |_| n += 1).unwrap_err();
        assert_eq!(n, 2);
        assert!(err.to_string().contains("line 3"), "{err}");
    }
}
