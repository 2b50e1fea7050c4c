//! Just enough of ELF64 (little-endian) to find a function symbol: section
//! headers, `.symtab` / `.dynsym` and their string tables. Safe code over a
//! byte slice; every offset is bounds-checked, so a truncated or hostile
//! file gives `None`, never a panic.

/// `SHT_SYMTAB`: the full symbol table (absent in stripped objects).
const SHT_SYMTAB: u32 = 2;
/// `SHT_DYNSYM`: the dynamic symbol table.
const SHT_DYNSYM: u32 = 11;
/// `STT_FUNC`: a function symbol.
const STT_FUNC: u8 = 2;
/// `STT_GNU_IFUNC`: an indirect function (resolver); its value is code too.
const STT_GNU_IFUNC: u8 = 10;

fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        b.get(off..off.checked_add(2)?)?.try_into().ok()?,
    ))
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(off..off.checked_add(4)?)?.try_into().ok()?,
    ))
}

fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        b.get(off..off.checked_add(8)?)?.try_into().ok()?,
    ))
}

fn usize_at(b: &[u8], off: usize) -> Option<usize> {
    usize::try_from(u64_at(b, off)?).ok()
}

/// A section: type, file offset, size, entry size and linked section.
struct Section {
    kind: u32,
    offset: usize,
    size: usize,
    entsize: usize,
    link: usize,
}

fn sections(b: &[u8]) -> Option<Vec<Section>> {
    // e_ident: magic, ELFCLASS64 (2), ELFDATA2LSB (1).
    if b.get(0..4)? != b"\x7fELF" || *b.get(4)? != 2 || *b.get(5)? != 1 {
        return None;
    }
    let shoff = usize_at(b, 0x28)?;
    let shentsize = u16_at(b, 0x3a)? as usize;
    let shnum = u16_at(b, 0x3c)? as usize;
    if shentsize < 64 {
        return None;
    }
    let mut out = Vec::with_capacity(shnum);
    for i in 0..shnum {
        let h = shoff.checked_add(i.checked_mul(shentsize)?)?;
        if h > b.len() {
            return None; // (so that `h + 0x38` below cannot overflow)
        }
        out.push(Section {
            kind: u32_at(b, h + 4)?,
            offset: usize_at(b, h + 0x18)?,
            size: usize_at(b, h + 0x20)?,
            link: u32_at(b, h + 0x28)? as usize,
            entsize: usize_at(b, h + 0x38)?,
        });
    }
    Some(out)
}

/// The NUL-terminated string at `off` in `strtab`.
fn name_at<'a>(b: &'a [u8], strtab: &Section, off: usize) -> Option<&'a [u8]> {
    let start = strtab.offset.checked_add(off)?;
    let end = strtab.offset.checked_add(strtab.size)?;
    let s = b.get(start..end.min(b.len()))?;
    let len = s.iter().position(|&c| c == 0)?;
    Some(&s[..len])
}

/// The value (address relative to the object's load bias) and size of the
/// function symbol `name`, from `.symtab` if present, else `.dynsym`.
pub(crate) fn find_function(b: &[u8], name: &str) -> Option<(u64, u64)> {
    let secs = sections(b)?;
    for want in [SHT_SYMTAB, SHT_DYNSYM] {
        for s in secs.iter().filter(|s| s.kind == want) {
            let Some(strtab) = secs.get(s.link) else {
                continue;
            };
            if s.entsize < 24 {
                continue;
            }
            for i in 0..s.size / s.entsize {
                let e = s.offset.checked_add(i * s.entsize)?;
                if e > b.len() {
                    return None; // (so that `e + 16` below cannot overflow)
                }
                let info = *b.get(e + 4)?;
                let kind = info & 0xf;
                if kind != STT_FUNC && kind != STT_GNU_IFUNC {
                    continue;
                }
                let shndx = u16_at(b, e + 6)?;
                if shndx == 0 {
                    continue; // undefined (imported) symbol
                }
                if name_at(b, strtab, u32_at(b, e)? as usize) == Some(name.as_bytes()) {
                    return Some((u64_at(b, e + 8)?, u64_at(b, e + 16)?));
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_function_of_this_test_binary() {
        // The test binary is an ELF file with a symbol table; look for a
        // function we know is in it and compare with its runtime address.
        let exe = std::fs::read("/proc/self/exe").unwrap();
        let (value, size) = find_function(&exe, "loci_numa_node_count")
            .or_else(|| find_function(&exe, "malloc"))
            .expect("an exported function of loci-alloc");
        assert!(value > 0 && size > 0);
        assert_eq!(find_function(&exe, "no_such_function_hopefully_42"), None);
    }

    #[test]
    fn garbage_and_truncation_give_none() {
        assert_eq!(find_function(b"", "f"), None);
        assert_eq!(find_function(b"\x7fELF\x02\x01", "f"), None);
        let exe = std::fs::read("/proc/self/exe").unwrap();
        for cut in [16, 64, 1000, exe.len() / 2] {
            let _ = find_function(&exe[..cut], "malloc"); // must not panic
        }
        let mut noisy = exe.clone();
        for (i, b) in noisy.iter_mut().enumerate().skip(0x28).take(40) {
            *b ^= i as u8;
        }
        let _ = find_function(&noisy, "malloc");
    }
}
