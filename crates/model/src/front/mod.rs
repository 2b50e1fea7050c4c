//! Front ends: lower each architecture's thread code to the IR
//! ([`crate::ir::Thread`]).
//!
//! Assembly front ends (AArch64, X86, X86_64) receive one thread's column
//! of the test as [`SrcLine`](crate::litmus::SrcLine) cells; the C front end
//! receives the text of all thread functions.

pub mod aarch64;
pub mod c;
pub mod x86;

use crate::ir::Thread;
use crate::litmus::{Arch, Diag, SrcLine};

/// Lowers one thread of assembly for `arch` (`index` is the thread number,
/// `name` its header, e.g. `P0`).
pub fn lower_asm_thread(
    arch: Arch,
    index: usize,
    name: &str,
    cells: &[SrcLine],
) -> Result<Thread, Diag> {
    match arch {
        Arch::AArch64 => aarch64::lower_thread(index, name, cells),
        Arch::X86 | Arch::X86_64 => x86::lower_thread(arch, index, name, cells),
        Arch::C => unreachable!("C threads are lowered by front::c::lower_threads"),
    }
}

/// The canonical name of register `name` of `arch` (`W3` → `X3` on
/// AArch64, `eax` → `EAX`), or `None` when it is not a register of `arch`.
/// C "registers" are locals and keep their names.
pub fn canonical_reg(arch: Arch, name: &str) -> Option<String> {
    match arch {
        Arch::AArch64 => aarch64::canonical_reg(name),
        Arch::X86 | Arch::X86_64 => x86::canonical_reg(arch, name),
        Arch::C => Some(name.to_string()),
    }
}
