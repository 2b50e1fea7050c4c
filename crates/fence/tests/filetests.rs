//! Data-driven tests in the style of cranelift's filetests: every
//! `tests/asm/**/*.s` (or `*.dis`, `objdump -d` output) is analysed with
//! `--merge` and the report plus every line the rewrite changes are
//! compared with the `.expected` file beside it. A first line
//! `// loci-fences: --no-merge` (or `# ...` on x86) turns merging off.
//! `LOCI_BLESS=1 cargo test -p loci-fence --test filetests` rewrites the
//! expected files; review the diff before committing.

use loci_fence::analyse::{analyse_text, Options};
use loci_fence::rewrite::rewrite;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn render(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let merge = !text.lines().next().unwrap_or("").contains("--no-merge");
    let opts = Options {
        merge,
        interprocedural: true,
    };
    let mut s = String::new();
    let (program, report) = match analyse_text(&text, None, &opts) {
        Ok(r) => r,
        Err(e) => return format!("error: {e}\n"),
    };
    let _ = writeln!(
        s,
        "arch {}, {} functions ({} analysed), {} barriers ({} candidates)",
        report.arch, report.functions, report.analysed, report.barriers, report.candidates
    );
    for n in &report.notes {
        let _ = writeln!(s, "note {}: {}", n.line + 1, n.message);
    }
    for f in &report.findings {
        let _ = writeln!(
            s,
            "{} {} `{}` {}{} [{}{}]\n    {}",
            f.line,
            f.function,
            f.instruction,
            f.kind.as_str(),
            f.replacement
                .as_ref()
                .map(|r| format!(" → `{r}`"))
                .unwrap_or_default(),
            f.rule,
            if f.applied { "" } else { ", not applied" },
            f.justification
        );
    }
    match rewrite(&program, &report.findings) {
        Ok(new) => {
            let _ = writeln!(s, "rewrite:");
            for (i, (a, b)) in text.lines().zip(new.lines()).enumerate() {
                if a != b {
                    let _ = writeln!(s, "  {}: {}", i + 1, b.trim());
                }
            }
            assert_eq!(
                text.lines().count(),
                new.lines().count(),
                "rewrite keeps the line count"
            );
        }
        Err(e) => {
            let _ = writeln!(s, "rewrite: {e}");
        }
    }
    s
}

fn inputs(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            inputs(&p, out);
        } else if matches!(p.extension().and_then(|x| x.to_str()), Some("s" | "dis")) {
            out.push(p);
        }
    }
}

#[test]
fn filetests() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/asm");
    let mut files = Vec::new();
    inputs(&root, &mut files);
    files.sort();
    assert!(files.len() >= 10, "filetests missing: {}", files.len());
    let bless = std::env::var_os("LOCI_BLESS").is_some();
    let mut failures = Vec::new();
    for f in files {
        let got = render(&f);
        let exp_path = f.with_extension(format!(
            "{}.expected",
            f.extension().unwrap().to_str().unwrap()
        ));
        if bless {
            std::fs::write(&exp_path, &got).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&exp_path).unwrap_or_default();
        if got != want {
            failures.push(format!(
                "{}:\n--- expected\n{want}--- got\n{got}",
                f.display()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n(LOCI_BLESS=1 to accept)",
        failures.join("\n")
    );
}
