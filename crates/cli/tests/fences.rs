//! `loci fences` from the outside: reports, JSON, `--fix`, `--explain`, bad
//! input, and the publication-barrier litmus tests of the README (their
//! verdicts are herd7 7.57's).

use std::path::{Path, PathBuf};
use std::process::Command;

fn loci(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_loci"))
        .args(args)
        .output()
        .expect("cannot run loci");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn asm(name: &str) -> String {
    repo()
        .join("crates/fence/tests/asm")
        .join(name)
        .display()
        .to_string()
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("loci-fences-test-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

#[test]
fn human_report_names_line_function_and_reason() {
    let (code, out, err) = loci(&["fences", &asm("aarch64/adjacent.s")]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("aarch64, 1 function (1 analysed), 8 barriers"),
        "{out}"
    );
    assert!(out.contains("LINE  FUNCTION  INSTRUCTION"), "{out}");
    assert!(
        out.contains("10  f         dmb ish      redundant"),
        "{out}"
    );
    assert!(
        out.contains("`dmb ish` (line 9) comes after the last load or store"),
        "{out}"
    );
    assert!(
        out.contains("4 redundant, 0 mergeable, 0 weakenable"),
        "{out}"
    );
}

#[test]
fn json_has_findings_with_the_documented_fields() {
    let (code, out, err) = loci(&["fences", "--json", &asm("aarch64/weaken.s")]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let f = &v["findings"][0];
    assert_eq!(f["function"], "stores");
    assert_eq!(f["line"], 11);
    assert_eq!(f["instruction"], "dmb ish");
    assert_eq!(f["kind"], "weakenable");
    assert_eq!(f["replacement"], "dmb ishst");
    assert!(f["justification"].as_str().unwrap().contains("only W→W"));
    assert_eq!(v["summary"]["weakenable"], 3);
    assert_eq!(v["files"][0]["barriers"], 6);
}

#[test]
fn fix_writes_a_file_that_assembles_and_keeps_every_line() {
    let input = asm("x86/sync.s");
    let out = tmp("sync.fixed.s");
    let (code, _, err) = loci(&["fences", "--fix", out.to_str().unwrap(), &input]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("(4 changes)"), "{err}");
    let before = std::fs::read_to_string(&input).unwrap();
    let after = std::fs::read_to_string(&out).unwrap();
    assert_eq!(before.lines().count(), after.lines().count());
    assert_eq!(
        after.matches("mfence").count(),
        before.matches("mfence").count() - 3 + 3
    );
    assert!(after.contains("/* loci: removed `mfence`: redundant, ordered by line 15 */"));
    // The host assembler accepts it (x86-64 hosts only).
    if cfg!(target_arch = "x86_64") && Command::new("as").arg("--version").output().is_ok() {
        let obj = tmp("sync.o");
        let st = Command::new("as")
            .args([out.to_str().unwrap(), "-o", obj.to_str().unwrap()])
            .status()
            .unwrap();
        assert!(st.success(), "as rejected the rewritten file");
    }
}

#[test]
fn merge_is_only_applied_when_asked() {
    let dir = tmp("m");
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("m.s");
    std::fs::write(
        &input,
        "f:\n\tldr w0, [x1]\n\tdmb ishld\n\tdmb ishst\n\tstr w0, [x2]\n\tret\n",
    )
    .unwrap();
    let (_, out, _) = loci(&["fences", input.to_str().unwrap()]);
    assert!(
        out.contains("mergeable → `dmb ish` (with --merge)"),
        "{out}"
    );
    let (_, fixed, report) = loci(&["fences", "--fix", "-", input.to_str().unwrap()]);
    assert_eq!(
        fixed,
        std::fs::read_to_string(&input).unwrap(),
        "nothing applied"
    );
    assert!(report.contains("1 mergeable"), "{report}");
    let (_, fixed, _) = loci(&["fences", "--merge", "--fix", "-", input.to_str().unwrap()]);
    assert!(
        fixed.contains("\tdmb ish\t/* loci: `dmb ishld` merged with `dmb ishst` of line 4 */"),
        "{fixed}"
    );
    assert!(
        fixed.contains("/* loci: `dmb ishst` merged into line 3 */"),
        "{fixed}"
    );
}

#[test]
fn explain_shows_evidence_and_succeeds() {
    let (code, out, err) = loci(&["fences", "--explain", "redundant-before"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("the rewrite allows no new final state"),
        "{out}"
    );
    assert!(out.contains("would be wrong"), "{out}");
    let dir = tmp("emit");
    let (code, _, err) = loci(&[
        "fences",
        "--explain",
        "merge",
        "--emit",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let n = std::fs::read_dir(&dir).unwrap().count();
    assert!(n >= 27, "only {n} tests written");
    // The emitted tests run under `loci litmus`.
    let (code, out, err) = loci(&["litmus", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.matches("\nObservation ").count() + usize::from(out.starts_with("Observation")),
        n
    );
    let (code, _, err) = loci(&["fences", "--explain", "no-such-rule"]);
    assert_eq!(code, 2);
    assert!(err.contains("no rule 'no-such-rule'"), "{err}");
}

#[test]
fn bad_input_is_reported_with_file_and_problem() {
    let (code, _, err) = loci(&["fences", "/no/such/file.s"]);
    assert_eq!(code, 1);
    assert!(err.contains("/no/such/file.s: cannot read"), "{err}");
    let bin = tmp("bin.s");
    std::fs::write(&bin, [0xffu8, 0xfe, 0x00, 0x41]).unwrap();
    let (code, _, err) = loci(&["fences", bin.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("not text (invalid UTF-8 at byte 0)"), "{err}");
    let prose = tmp("prose.s");
    std::fs::write(&prose, "hello world\n").unwrap();
    let (code, _, err) = loci(&["fences", prose.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("cannot tell the architecture"), "{err}");
    let (code, _, err) = loci(&["fences", "--arch", "mips", prose.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown architecture 'mips'"), "{err}");
    let (code, _, err) = loci(&["fences", "--fix", "-", &asm("aarch64/objdump.dis")]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot rewrite `objdump -d` output"), "{err}");
    let (code, _, err) = loci(&["fences"]);
    assert_eq!(code, 2);
    assert!(err.contains("no assembly files given"), "{err}");
    // Unparseable statements are notes with file:line; the file still runs.
    let (code, out, err) = loci(&["fences", &asm("aarch64/unsafe_input.s")]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("unsafe_input.s:34: note: cannot parse `@@@ garbage`"),
        "{err}"
    );
    assert!(
        err.contains("unsafe_input.s:19: note: function `repeated` not analysed"),
        "{err}"
    );
    assert!(out.contains("2 redundant"), "{out}");
}

#[test]
fn publication_barrier_litmus_tests_match_herd7() {
    // herd7 7.57 -set-libdir herd/libdir examples/publication/*.litmus
    let want = [
        ("MP+dmb.st+addr", "Never 0 1"),
        ("MP+po+addr", "Sometimes 1 1"),
        ("MP+dmb.st+po-stale", "Sometimes 1 3"),
        ("publication-batch", "Never 0 1"),
    ];
    for (name, obs) in want {
        let f = repo().join(format!("examples/publication/{name}.litmus"));
        let (code, out, err) = loci(&["litmus", f.to_str().unwrap()]);
        assert_eq!(code, 0, "{err}");
        assert!(
            out.contains(&format!("Observation {name} {obs}")),
            "{name}: {out}"
        );
    }
}
