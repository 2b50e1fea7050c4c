//! Trace writing: with `LOCI_TRACE_OUT=FILE` the runtime streams every
//! event it observes to FILE in the loci-trace format (crate `loci-trace`,
//! version 1; read by `loci sim`), in the order it observed them (under
//! the table lock):
//!
//! | observed | events |
//! | --- | --- |
//! | program start, `pthread_create` | `ThreadStart` (parent: the creator) |
//! | a thread's start routine returns; exit | `ThreadExit` |
//! | instrumented or libc access | `Access` (`site`: the allocation site index of the heap object, if any) |
//! | atomic operation | `Access` with `atomic`; `Acquire`/`Release` on its address for acquire/release orders; on x86-64 `Fence(LockedRmw)` for RMWs and `seq_cst` stores (locked instructions) |
//! | `atomic_thread_fence` | `Fence`: x86-64 `Mfence` for `seq_cst` (other orders emit no instruction); AArch64 `DmbIshLd` for acquire, `DmbIsh` otherwise |
//! | malloc family / free | `Alloc` / `Free` (`site`: the allocation site index) |
//! | lock / unlock, wait / post, barrier, once | `Acquire` / `Release` on the sync object's address |
//! | `pthread_create` / thread start | `Release` / `Acquire` on object `CREATE_OBJ | child` |
//! | thread end / `pthread_join` | `Release` / `Acquire` on object `EXIT_OBJ | child` |
//!
//! Thread ids are the runtime's (0 = main, then creation order). Blocks
//! are written as they fill (64 KiB) and the last one at exit, so a
//! process killed mid-run leaves a trace readable up to its last whole
//! block. A write error is reported once on stderr and tracing stops.

use loci_trace::{Event, FenceKind, Writer};
use std::fs::File;
use std::io::BufWriter;

/// Sync-object id of "thread `t` was created" (above any user address).
pub(crate) const CREATE_OBJ: u64 = 1 << 63;
/// Sync-object id of "thread `t` finished".
pub(crate) const EXIT_OBJ: u64 = 1 << 62;

/// An open trace.
pub(crate) struct Tracer {
    w: Writer<BufWriter<File>>,
}

impl std::fmt::Debug for Tracer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tracer")
    }
}

impl Tracer {
    /// Create `path` and write the header; `None` (said on stderr) if it
    /// cannot be created.
    pub(crate) fn create(path: &std::ffi::OsStr) -> Option<Tracer> {
        let opened = File::create(path)
            .map_err(|e| e.to_string())
            .and_then(|f| Writer::new(BufWriter::new(f)).map_err(|e| e.to_string()));
        match opened {
            Ok(w) => Some(Tracer { w }),
            Err(e) => {
                crate::sys::say(&format!(
                    "loci-rt: cannot write trace {}: {e}\n",
                    path.to_string_lossy()
                ));
                None
            }
        }
    }

    /// Append one event; `false` (said on stderr) when writing failed.
    pub(crate) fn write(&mut self, e: &Event) -> bool {
        match self.w.write(e) {
            Ok(()) => true,
            Err(err) => {
                crate::sys::say(&format!(
                    "loci-rt: trace write failed, tracing stops: {err}\n"
                ));
                false
            }
        }
    }

    /// Write the last block and flush.
    pub(crate) fn finish(self) {
        if let Err(e) = self.w.finish() {
            crate::sys::say(&format!("loci-rt: trace write failed: {e}\n"));
        }
    }
}

/// The fence instruction(s) a C11 `atomic_thread_fence(mo)` compiles to on
/// this target, if any.
pub(crate) fn fence_kind(mo: i32) -> Option<FenceKind> {
    let m = mo & 0x7fff;
    if m == 0 {
        return None;
    }
    if cfg!(target_arch = "aarch64") {
        Some(if m <= 2 {
            FenceKind::DmbIshLd
        } else {
            FenceKind::DmbIsh
        })
    } else if m >= 5 {
        Some(FenceKind::Mfence)
    } else {
        None
    }
}

/// Does this atomic operation compile to a locked instruction on this
/// target (x86-64: every RMW, and `seq_cst` stores, which use `XCHG`)?
pub(crate) fn locked(mo: i32, reads: bool, writes: bool) -> bool {
    cfg!(target_arch = "x86_64") && writes && (reads || (mo & 0x7fff) >= 5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fences_and_locked_instructions_by_target() {
        assert_eq!(fence_kind(0), None);
        if cfg!(target_arch = "x86_64") {
            assert_eq!(fence_kind(5), Some(FenceKind::Mfence));
            assert_eq!(fence_kind(2), None);
            assert!(locked(0, true, true));
            assert!(locked(5, false, true));
            assert!(!locked(3, false, true));
            assert!(!locked(5, true, false));
        } else {
            assert_eq!(fence_kind(2), Some(FenceKind::DmbIshLd));
            assert_eq!(fence_kind(3), Some(FenceKind::DmbIsh));
            assert!(!locked(0, true, true));
        }
    }

    #[test]
    fn traces_round_trip() {
        let dir = std::env::temp_dir().join(format!("loci-rt-trace-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("t.locitrace");
        let mut t = Tracer::create(p.as_os_str()).unwrap();
        let e = Event::Acquire {
            thread: 1,
            object: CREATE_OBJ | 1,
        };
        assert!(t.write(&e));
        t.finish();
        let bytes = std::fs::read(&p).unwrap();
        assert_eq!(loci_trace::read_all(&bytes).unwrap(), vec![e]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
