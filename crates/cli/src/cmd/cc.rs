//! `loci cc`: compile and link a C/C++ program like `cc`, instrumented with
//! gcc's ThreadSanitizer ABI (`-fsanitize=thread -g`) but linked against
//! loci's runtime (`libloci_rt.a`) instead of libtsan.
//!
//! gcc adds `-ltsan` whenever it links with `-fsanitize=thread`, so when
//! `loci cc` links it works in two steps: every source file on the command
//! line is first compiled to a temporary object with `-fsanitize=thread -g
//! -c`, then everything is linked *without* `-fsanitize=thread`, adding
//! `libloci_rt.a -lpthread -ldl -lm`. When the command only compiles
//! (`-c`, `-S`, `-E`), it runs once with the sanitizer flags prepended.
//!
//! With clang (`--clang`, or `$CC` naming a clang) one command does both:
//! `clang -fsanitize=thread -g -mllvm -tsan-instrument-read-before-write=1
//! -fno-sanitize-link-runtime ARGS... libloci_rt.a -lpthread -ldl -lm` —
//! `-fno-sanitize-link-runtime` keeps clang from linking its own
//! ThreadSanitizer runtime; `-tsan-instrument-read-before-write` makes
//! clang instrument a read that a write to the same address follows in the
//! same basic block (`x++`), which it otherwise leaves out, so reads are
//! counted exactly as with gcc.

use anyhow::{bail, Context, Result};
use clap::Args;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// Arguments of `loci cc`.
#[derive(Args, Debug)]
#[command(after_help = "\
Examples:
  loci cc -O2 -o prog prog.c -lm          instrument and link with loci's runtime
  loci cc -c util.c && loci cc -o prog main.c util.o
  loci cc --cxx -O1 -o app app.cc
  loci cc --clang -O1 -o prog prog.c      clang instead of gcc (also: CC=clang loci cc ...)
  loci profile -- ./prog ARGS...          run it and show the per-site profile

The runtime library is the file named by $LOCI_RT_LIB, else `libloci_rt.a`
next to the `loci` executable, else the one `cargo build --release` makes
in the checkout `loci` was built from (for a `loci` put on the PATH with
`cargo install --path crates/cli`).")]
pub struct CcArgs {
    /// Use the C++ compiler (`g++`, or `clang++` with `--clang`) instead
    /// of `gcc`.
    #[arg(long)]
    pub cxx: bool,

    /// Compile and link with clang (`clang`/`clang++`) instead of gcc.
    /// Without it, clang is also used when `$CC` (`$CXX` with `--cxx`)
    /// names a clang (`clang`, `clang-14`, `/usr/bin/clang` ...), and then
    /// that command is run.
    #[arg(long)]
    pub clang: bool,

    /// Arguments for the compiler, exactly as for `cc`.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<OsString>,
}

const SOURCE_EXTS: &[&str] = &["c", "cc", "cp", "cpp", "cxx", "c++", "C", "CPP", "i", "ii"];

fn is_source(arg: &str) -> bool {
    !arg.starts_with('-')
        && Path::new(arg)
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| SOURCE_EXTS.contains(&e))
}

/// Options that take the next argument as their value.
fn takes_value(arg: &str) -> bool {
    matches!(
        arg,
        "-o" | "-I"
            | "-D"
            | "-U"
            | "-include"
            | "-isystem"
            | "-iquote"
            | "-idirafter"
            | "-MF"
            | "-MT"
            | "-MQ"
            | "-x"
            | "-L"
            | "-l"
            | "-Xlinker"
    )
}

/// Flags used only when linking (dropped from the compile step).
fn link_only(arg: &str) -> bool {
    arg.starts_with("-l") || arg.starts_with("-L") || arg.starts_with("-Wl,") || arg == "-Xlinker"
}

/// Where the runtime library is: `$LOCI_RT_LIB`, else `libloci_rt.a`
/// beside the `loci` executable, else in the release target directory of
/// the checkout this `loci` was built from (a `cargo install`ed `loci`
/// lives elsewhere; `$CARGO_TARGET_DIR` at build time is honoured).
pub fn runtime_lib() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("LOCI_RT_LIB") {
        let p = PathBuf::from(p);
        if !p.is_file() {
            bail!("LOCI_RT_LIB={} is not a file", p.display());
        }
        return Ok(p);
    }
    let exe = std::env::current_exe().context("cannot locate the loci executable")?;
    let dir = exe.parent().context("loci executable has no directory")?;
    let beside = dir.join("libloci_rt.a");
    let built = checkout_target_dir().join("release/libloci_rt.a");
    if beside.is_file() {
        Ok(beside)
    } else if built.is_file() {
        Ok(built)
    } else {
        bail!(
            "runtime library not found at {} nor at {} (build it with `cargo build -p loci-rt --release` in loci's checkout, or set LOCI_RT_LIB to a libloci_rt.a)",
            beside.display(),
            built.display()
        )
    }
}

/// The target directory of the checkout this `loci` was built from.
fn checkout_target_dir() -> PathBuf {
    match option_env!("CARGO_TARGET_DIR") {
        Some(d) if Path::new(d).is_absolute() => PathBuf::from(d),
        // crates/cli -> the workspace.
        _ => Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .nth(2)
            .unwrap_or(Path::new("."))
            .join("target"),
    }
}

/// The compiler to run and whether it is clang: `--clang` gives
/// `clang`/`clang++`; else `$CC` (`$CXX` with `cxx`) when it names a
/// clang; else `gcc`/`g++`.
pub fn compiler(cxx: bool, clang: bool, env: Option<&str>) -> (String, bool) {
    if clang {
        return ((if cxx { "clang++" } else { "clang" }).to_string(), true);
    }
    if let Some(cmd) = env.map(str::trim).filter(|c| is_clang(c)) {
        return (cmd.to_string(), true);
    }
    ((if cxx { "g++" } else { "gcc" }).to_string(), false)
}

/// Does the command `cmd` name a clang (`clang`, `clang++`, `clang-14`,
/// `/usr/bin/clang` ...)?
fn is_clang(cmd: &str) -> bool {
    !cmd.contains(char::is_whitespace)
        && Path::new(cmd)
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("clang"))
}

/// The commands `loci cc` runs for `args` with clang: one command that
/// compiles with `-fsanitize=thread -g` and, unless it only compiles,
/// links loci's runtime instead of clang's (`-fno-sanitize-link-runtime`).
pub fn plan_clang(compiler: &str, args: &[String], rt: &Path) -> Vec<Vec<String>> {
    let mut cmd: Vec<String> = [
        compiler,
        "-fsanitize=thread",
        "-g",
        "-mllvm",
        "-tsan-instrument-read-before-write=1",
    ]
    .map(String::from)
    .into();
    if links(args) {
        cmd.push("-fno-sanitize-link-runtime".to_string());
        cmd.extend(args.iter().cloned());
        // After `-x LANG`, clang would take the runtime for a source.
        let next = |i: usize| args.get(i + 1).map(String::as_str);
        if (0..args.len()).any(|i| language_option(&args[i], next(i)).is_some()) {
            cmd.extend(["-x", "none"].map(String::from));
        }
        cmd.push(rt.to_string_lossy().into_owned());
        cmd.extend(["-lpthread", "-ldl", "-lm"].map(String::from));
    } else {
        cmd.extend(args.iter().cloned());
    }
    vec![cmd]
}

/// Does the command line link (no `-c`, `-S`, `-E`, `-M`, `-MM`)?
fn links(args: &[String]) -> bool {
    !args
        .iter()
        .any(|a| matches!(a.as_str(), "-c" | "-S" | "-E" | "-M" | "-MM"))
}

/// The language an argument names when it is gcc's `-x LANG` (`-xLANG`,
/// or `-x` with `next` as its value): `Some(None)` for `-x none`.
fn language_option<'a>(arg: &'a str, next: Option<&'a str>) -> Option<Option<&'a str>> {
    let lang = match arg.strip_prefix("-x")? {
        "" => next?,
        l => l,
    };
    Some((lang != "none").then_some(lang))
}

/// The commands `loci cc` runs for `args` with gcc: compile steps, then
/// the link (if any). `objdir` receives the temporary objects. Every
/// source file is compiled on its own: files named `*.c`, `*.cc` ... and,
/// after `-x LANG` (until `-x none`), every input, stdin's `-` included,
/// in that language (the link step then sees only objects, so its own
/// inputs, loci's runtime among them, are not taken for sources).
pub fn plan(compiler: &str, args: &[String], rt: &Path, objdir: &Path) -> Vec<Vec<String>> {
    let inst = ["-fsanitize=thread".to_string(), "-g".to_string()];
    if !links(args) {
        let mut cmd = vec![compiler.to_string()];
        cmd.extend(inst.iter().cloned());
        cmd.extend(args.iter().cloned());
        return vec![cmd];
    }
    let next = |i: usize| args.get(i + 1).map(String::as_str);
    // The compile flags: every option but the output, the language (given
    // per source below) and what only linking uses.
    let mut compile_flags = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if takes_value(a) && i + 1 < args.len() {
            if a != "-o" && a != "-x" && !link_only(a) {
                compile_flags.push(a.clone());
                compile_flags.push(args[i + 1].clone());
            }
            i += 2;
            continue;
        }
        if a.starts_with('-')
            && a != "-"
            && !link_only(a)
            && !a.starts_with("-o")
            && !a.starts_with("-x")
            && a != "-fsanitize=thread"
        {
            compile_flags.push(a.clone());
        }
        i += 1;
    }
    let mut steps = Vec::new();
    let mut link = vec![compiler.to_string()];
    let mut lang: Option<&str> = None;
    let mut n = 0;
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if let Some(l) = language_option(a, next(i)) {
            lang = l;
            i += if a == "-x" { 2 } else { 1 };
            continue;
        }
        if takes_value(a) && i + 1 < args.len() {
            link.push(a.clone());
            link.push(args[i + 1].clone());
            i += 2;
            continue;
        }
        let input = !a.starts_with('-') || a == "-";
        if input && (lang.is_some() || is_source(a)) {
            let stem = match a.as_str() {
                "-" => "stdin",
                _ => Path::new(a)
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or("src"),
            };
            let obj = objdir
                .join(format!("{n}-{stem}.o"))
                .to_string_lossy()
                .into_owned();
            n += 1;
            let mut cmd = vec![compiler.to_string()];
            cmd.extend(inst.iter().cloned());
            cmd.extend(compile_flags.iter().cloned());
            if let Some(l) = lang {
                cmd.extend(["-x".to_string(), l.to_string()]);
            }
            cmd.extend(["-c".to_string(), a.clone(), "-o".to_string(), obj.clone()]);
            steps.push(cmd);
            link.push(obj);
        } else if a != "-fsanitize=thread" {
            link.push(a.clone());
        }
        i += 1;
    }
    link.push(rt.to_string_lossy().into_owned());
    link.extend(["-lpthread", "-ldl", "-lm"].map(String::from));
    steps.push(link);
    steps
}

/// Run `loci cc`.
pub fn run(args: CcArgs) -> Result<ExitCode> {
    let env = std::env::var(if args.cxx { "CXX" } else { "CC" }).ok();
    let (compiler, clang) = compiler(args.cxx, args.clang, env.as_deref());
    let list: Vec<String> = args
        .args
        .iter()
        .map(|a| a.to_str().map(str::to_owned).context("non-UTF-8 argument"))
        .collect::<Result<_>>()?;
    let objdir = std::env::temp_dir().join(format!("loci-cc-{}", std::process::id()));
    let rt = if links(&list) {
        runtime_lib()?
    } else {
        PathBuf::new()
    };
    std::fs::create_dir_all(&objdir).with_context(|| format!("creating {}", objdir.display()))?;
    let mut code = ExitCode::SUCCESS;
    let steps = if clang {
        plan_clang(&compiler, &list, &rt)
    } else {
        plan(&compiler, &list, &rt, &objdir)
    };
    for step in steps {
        let status = Command::new(&step[0])
            .args(&step[1..])
            .status()
            .with_context(|| format!("running {}", step[0]))?;
        if !status.success() {
            code = ExitCode::from(status.code().unwrap_or(1).clamp(1, 255) as u8);
            break;
        }
    }
    let _ = std::fs::remove_dir_all(&objdir);
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_installed_loci_looks_in_its_checkouts_target_directory() {
        let d = checkout_target_dir();
        if let Some(t) = option_env!("CARGO_TARGET_DIR").filter(|t| Path::new(t).is_absolute()) {
            assert_eq!(d, Path::new(t));
        } else {
            assert!(d.ends_with("target"), "{}", d.display());
            assert!(d.parent().unwrap().join("crates/cli/Cargo.toml").is_file());
        }
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn compile_only_prepends_flags() {
        let p = plan(
            "gcc",
            &s(&["-O2", "-c", "a.c"]),
            Path::new("rt.a"),
            Path::new("/t"),
        );
        assert_eq!(
            p,
            vec![s(&["gcc", "-fsanitize=thread", "-g", "-O2", "-c", "a.c"])]
        );
    }

    #[test]
    fn clang_links_in_one_step_without_its_own_runtime() {
        assert_eq!(
            plan_clang(
                "clang",
                &s(&["-O1", "-o", "prog", "a.c", "-lm"]),
                Path::new("/x/libloci_rt.a")
            ),
            vec![s(&[
                "clang",
                "-fsanitize=thread",
                "-g",
                "-mllvm",
                "-tsan-instrument-read-before-write=1",
                "-fno-sanitize-link-runtime",
                "-O1",
                "-o",
                "prog",
                "a.c",
                "-lm",
                "/x/libloci_rt.a",
                "-lpthread",
                "-ldl",
                "-lm"
            ])]
        );
        assert_eq!(
            plan_clang("clang", &s(&["-c", "a.c"]), Path::new("")),
            vec![s(&[
                "clang",
                "-fsanitize=thread",
                "-g",
                "-mllvm",
                "-tsan-instrument-read-before-write=1",
                "-c",
                "a.c"
            ])]
        );
    }

    #[test]
    fn the_compiler_comes_from_the_flags_or_a_clang_cc() {
        assert_eq!(compiler(false, false, None), ("gcc".into(), false));
        assert_eq!(compiler(true, false, None), ("g++".into(), false));
        assert_eq!(compiler(false, true, None), ("clang".into(), true));
        assert_eq!(compiler(true, true, Some("gcc")), ("clang++".into(), true));
        assert_eq!(
            compiler(false, false, Some("/usr/bin/clang-14")),
            ("/usr/bin/clang-14".into(), true)
        );
        // A gcc (or anything that is not a clang) in $CC: gcc as before.
        assert_eq!(
            compiler(false, false, Some("gcc-12")),
            ("gcc".into(), false)
        );
        assert_eq!(
            compiler(false, false, Some("ccache clang")),
            ("gcc".into(), false)
        );
    }

    #[test]
    fn sources_named_by_a_language_option_are_compiled_on_their_own() {
        // A configure-style probe: the program on stdin, in C. The runtime
        // must not follow `-x c` on any command line (gcc compiled the
        // archive as C source, for many minutes).
        let args = s(&[
            "-O1",
            "-x",
            "c",
            "-",
            "-xc++",
            "t.inc",
            "-x",
            "none",
            "u.o",
            "-o",
            "/dev/null",
        ]);
        let p = plan("gcc", &args, Path::new("/x/libloci_rt.a"), Path::new("/t"));
        let compile = |lang: &str, src: &str, obj: &str| {
            s(&[
                "gcc",
                "-fsanitize=thread",
                "-g",
                "-O1",
                "-x",
                lang,
                "-c",
                src,
                "-o",
                obj,
            ])
        };
        assert_eq!(
            p,
            vec![
                compile("c", "-", "/t/0-stdin.o"),
                compile("c++", "t.inc", "/t/1-t.o"),
                s(&[
                    "gcc",
                    "-O1",
                    "/t/0-stdin.o",
                    "/t/1-t.o",
                    "u.o",
                    "-o",
                    "/dev/null",
                    "/x/libloci_rt.a",
                    "-lpthread",
                    "-ldl",
                    "-lm"
                ]),
            ]
        );
        let p = plan_clang("clang", &s(&["-x", "c", "-"]), Path::new("/x/libloci_rt.a"));
        let link = &p[0];
        let rt = link.iter().position(|a| a == "/x/libloci_rt.a").unwrap();
        assert_eq!(link[rt - 2..rt], s(&["-x", "none"]));
    }

    #[test]
    fn link_is_split_and_uses_the_runtime() {
        let p = plan(
            "gcc",
            &s(&[
                "-O1",
                "-Iinc",
                "-o",
                "prog",
                "a.c",
                "b.o",
                "-lm",
                "-fsanitize=thread",
            ]),
            Path::new("/x/libloci_rt.a"),
            Path::new("/t"),
        );
        assert_eq!(
            p,
            vec![
                s(&[
                    "gcc",
                    "-fsanitize=thread",
                    "-g",
                    "-O1",
                    "-Iinc",
                    "-c",
                    "a.c",
                    "-o",
                    "/t/0-a.o"
                ]),
                s(&[
                    "gcc",
                    "-O1",
                    "-Iinc",
                    "-o",
                    "prog",
                    "/t/0-a.o",
                    "b.o",
                    "-lm",
                    "/x/libloci_rt.a",
                    "-lpthread",
                    "-ldl",
                    "-lm"
                ]),
            ]
        );
    }
}
