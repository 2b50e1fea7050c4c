//! The architectures loci's barrier analysis reads, and telling them apart.

use std::fmt;

/// An instruction set and its assembly syntax.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Arch {
    /// AArch64, GNU assembler syntax (`gcc -S`, `clang -S`, `objdump -d`).
    Aarch64,
    /// x86-64, AT&T syntax (`gcc -S`, `clang -S`, `objdump -d`).
    X86_64,
}

impl Arch {
    /// Parses `aarch64`/`arm64` or `x86-64`/`x86_64`/`x86`.
    pub fn from_name(s: &str) -> Option<Arch> {
        match s.to_ascii_lowercase().as_str() {
            "aarch64" | "arm64" | "armv8" => Some(Arch::Aarch64),
            "x86-64" | "x86_64" | "x86" | "amd64" | "x64" => Some(Arch::X86_64),
            _ => None,
        }
    }

    /// The line-comment marker of its assembler.
    pub fn comment(self) -> &'static str {
        match self {
            Arch::Aarch64 => "//",
            Arch::X86_64 => "#",
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Arch::Aarch64 => "aarch64",
            Arch::X86_64 => "x86-64",
        })
    }
}

/// Guesses the architecture of assembly or `objdump -d` text from its first
/// few thousand lines: objdump's `file format` line, `.arch` directives,
/// AT&T `%` registers, AArch64 registers and barriers.
pub fn detect(text: &str) -> Option<Arch> {
    let (mut a64, mut x86) = (0u32, 0u32);
    for line in text.lines().take(5000) {
        let l = line.trim();
        if let Some(fmt) = l.split("file format ").nth(1) {
            if fmt.contains("aarch64") || fmt.contains("arm64") {
                return Some(Arch::Aarch64);
            }
            if fmt.contains("x86-64") || fmt.contains("x86_64") || fmt.contains("i386") {
                return Some(Arch::X86_64);
            }
        }
        if l.starts_with(".arch ") || l.starts_with(".arch\t") {
            if l.contains("armv8") || l.contains("armv9") {
                return Some(Arch::Aarch64);
            }
            return None;
        }
        if l.starts_with('.') || l.starts_with("//") || l.starts_with('#') {
            continue;
        }
        if l.contains("%r") || l.contains("%e") || l.contains("(%") {
            x86 += 1;
        }
        let lower = l.to_ascii_lowercase();
        let words = lower
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| !w.is_empty());
        for w in words {
            match w {
                "dmb" | "dsb" | "ldr" | "str" | "stp" | "ldp" | "ldar" | "stlr" | "ldxr"
                | "stxr" | "x29" | "x30" | "w0" | "x0" | "adrp" | "cbz" | "cbnz" => a64 += 1,
                "mfence" | "movq" | "movl" | "rax" | "rsp" | "rbp" | "eax" | "leaq" | "pushq"
                | "popq" => x86 += 1,
                _ => {}
            }
        }
        if a64 + x86 > 200 {
            break;
        }
    }
    match (a64, x86) {
        (0, 0) => None,
        (a, x) if a > 2 * x => Some(Arch::Aarch64),
        (a, x) if x > 2 * a => Some(Arch::X86_64),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_both() {
        assert_eq!(detect("\t.arch armv8-a\n\tdmb ish\n"), Some(Arch::Aarch64));
        assert_eq!(
            detect("main:\n\tpushq %rbp\n\tmovq %rsp, %rbp\n\tmfence\n"),
            Some(Arch::X86_64)
        );
        assert_eq!(
            detect("a.out:     file format elf64-littleaarch64\n"),
            Some(Arch::Aarch64)
        );
        assert_eq!(detect("hello\n"), None);
    }
}
