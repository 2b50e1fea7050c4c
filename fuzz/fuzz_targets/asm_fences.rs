//! Any text, read as AArch64 or x86-64 assembly (GNU as or `objdump -d`
//! output), must be analysed without panicking, and the rewrite must keep
//! every line (it only edits statements in place).
#![no_main]

use libfuzzer_sys::fuzz_target;
use loci_fence::analyse::{analyse_text, Options};
use loci_fence::arch::Arch;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    for arch in [Arch::Aarch64, Arch::X86_64] {
        for merge in [false, true] {
            let opts = Options {
                merge,
                interprocedural: true,
            };
            let Ok((program, report)) = analyse_text(&s, Some(arch), &opts) else {
                continue;
            };
            if let Ok(new) = loci_fence::rewrite::rewrite(&program, &report.findings) {
                assert_eq!(s.lines().count(), new.lines().count());
            }
        }
    }
});
