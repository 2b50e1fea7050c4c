//! Any byte string, read as (lossy) UTF-8, must parse as a loci-alloc
//! placement plan or be rejected with an error naming a position inside
//! the text, never panic; an accepted plan must survive `to_json` and a
//! second parse unchanged. The same text given to the profile-to-plan
//! conversion must not panic either, and what it writes must parse.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loci_alloc::plan;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let lines = s.split('\n').count();
    match plan::parse(&s) {
        Ok(p) => {
            let again = plan::parse(&p.to_json()).expect("to_json output must parse");
            assert_eq!(again.sites.len(), p.sites.len());
            for (a, b) in again.sites.iter().zip(&p.sites) {
                assert_eq!(
                    (&a.function, a.offset, &a.module, &a.file, a.line, a.policy),
                    (&b.function, b.offset, &b.module, &b.file, b.line, b.policy)
                );
            }
        }
        Err(e) => {
            assert!(e.pos.line >= 1 && e.pos.line <= lines, "{e}");
            assert!(e.pos.col >= 1, "{e}");
            assert!(!e.message.is_empty());
        }
    }
    if let Ok((json, _)) = plan::plan_json_from_profile(&s) {
        plan::parse(&json).expect("a plan written from a profile must parse");
    }
});
