//! Machine descriptions: every preset loads and is fully sourced; impossible
//! or misspelt machines are rejected with errors naming the file and key.

use loci_sim::machine::Machine;
use loci_sim::ErrorKind;
use std::path::PathBuf;

fn presets_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../presets")
}

fn presets() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(presets_dir())
        .expect("presets/ exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    v.sort();
    v
}

#[test]
fn every_preset_loads_and_validates() {
    let all = presets();
    assert!(all.len() >= 6, "expected at least six presets, got {all:?}");
    for p in all {
        let m = Machine::load(&p).unwrap_or_else(|e| panic!("{e}"));
        assert!(m.cores() >= 1);
        for c in 0..m.cores() {
            let node = m.node_of(c).expect("every core on a node");
            assert!(node < m.nodes());
            assert!(m.dram_ns(node, node).is_some());
        }
    }
}

#[test]
fn every_preset_number_is_sourced_or_an_estimate() {
    for p in presets() {
        let text = std::fs::read_to_string(&p).expect("read preset");
        for (i, line) in text.lines().enumerate() {
            let code = line.split('#').next().unwrap_or("");
            let t = code.trim();
            let table_header = t.starts_with('[') && t.ends_with(']') && !t.contains(',');
            if t.starts_with("name") || table_header {
                continue;
            }
            if code.chars().any(|c| c.is_ascii_digit()) && code.contains(['=', '[', ']']) {
                let comment = line.split_once('#').map(|x| x.1).unwrap_or("");
                assert!(
                    comment.contains('[') || comment.contains("estimate"),
                    "{}:{}: number without a source or `estimate`: {line}",
                    p.display(),
                    i + 1
                );
            }
        }
    }
}

#[test]
fn preset_figures_from_the_issue() {
    let load = |n: &str| Machine::load(&presets_dir().join(n)).expect(n);
    let xeon = load("xeon-gold-6242-2s.toml");
    assert_eq!(xeon.cores(), 32);
    assert_eq!(xeon.transfer_ns(0, 15), Some(48.0));
    assert_eq!(xeon.transfer_ns(0, 16), Some(136.0));
    let epyc = load("epyc-7r13-2s.toml");
    assert_eq!(epyc.cores(), 96);
    assert_eq!(epyc.transfer_ns(0, 5), Some(23.0));
    assert_eq!(epyc.transfer_ns(0, 6), Some(107.0));
    assert_eq!(epyc.transfer_ns(0, 48), Some(197.0));
    let kp = load("kunpeng-920.toml");
    assert_eq!(kp.transfer_ns(0, 23), Some(36.0));
    assert_eq!(kp.transfer_ns(0, 24), Some(81.0));
    assert_eq!((kp.node_of(23), kp.node_of(24)), (Some(0), Some(1)));
    let g = load("generic-2s.toml");
    assert_eq!(g.dram_ns(0, 0), Some(85.0));
    assert_eq!(g.dram_ns(0, 1), Some(135.0));
    assert_eq!(load("graviton2.toml").transfer_ns(0, 63), Some(47.0));
    assert_eq!(g.transfer_ns(0, 32), None);
}

fn generic_text() -> String {
    std::fs::read_to_string(presets_dir().join("generic-2s.toml")).expect("generic preset")
}

#[test]
fn unknown_key_is_an_error_naming_key_and_file() {
    let text = generic_text().replace("hit_cycles = 4 ", "hit_cycle = 4 ");
    let err = Machine::from_toml(&text, "my-machine.toml").unwrap_err();
    assert!(matches!(err.kind, ErrorKind::Parse(_)));
    let msg = err.to_string();
    assert!(msg.starts_with("my-machine.toml: "), "{msg}");
    assert!(msg.contains("hit_cycle"), "{msg}");
}

#[test]
fn impossible_machines_are_rejected() {
    let cases = [
        ("assoc = 16                    # estimate\nline = 64                     # estimate\nhit_cycles = 50",
         "assoc = 15                    # estimate\nline = 64                     # estimate\nhit_cycles = 50",
         "multiple of assoc"),
        ("nodes_per_socket = 1", "nodes_per_socket = 3", "no node"),
        ("cores_per_die = 16", "cores_per_die = 0", "at least 1"),
        ("latency_ns = [[85.0, 135.0],  # estimate: local ~85 ns\n              [135.0, 85.0]]",
         "latency_ns = [[85.0]]", "2x2"),
        ("shared = \"socket\"", "shared = \"core\"", "must be shared"),
        ("cross_socket_ns = 130.0", "cross_socket_ns = -1.0", "positive"),
    ];
    let base = generic_text();
    assert!(Machine::from_toml(&base, "generic").is_ok());
    for (from, to, needle) in cases {
        assert!(base.contains(from), "test setup: `{from}` not in preset");
        let text = base.replacen(from, to, 1);
        let err = Machine::from_toml(&text, "bad.toml").unwrap_err();
        assert!(matches!(err.kind, ErrorKind::Invalid(_)), "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains(needle) && msg.starts_with("bad.toml: "),
            "{msg}"
        );
    }
}

#[test]
fn topology_numbering() {
    let text = generic_text()
        .replace("dies_per_socket = 1", "dies_per_socket = 2")
        .replace("cores_per_die = 16", "cores_per_die = 4")
        .replace("nodes_per_socket = 1", "nodes_per_socket = 2")
        .replace(
            "latency_ns = [[85.0, 135.0],  # estimate: local ~85 ns\n              [135.0, 85.0]]",
            "latency_ns = [[1.0, 2.0, 3.0, 4.0], [2.0, 1.0, 4.0, 3.0], [3.0, 4.0, 1.0, 2.0], [4.0, 3.0, 2.0, 1.0]]",
        );
    let m = Machine::from_toml(&text, "t").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((m.cores(), m.nodes()), (16, 4));
    assert_eq!(m.die_of(5), Some(1));
    assert_eq!(m.node_of(5), Some(1));
    assert_eq!(m.socket_of(8), Some(1));
    assert_eq!(m.transfer_ns(0, 3), Some(50.0));
    assert_eq!(m.transfer_ns(3, 4), Some(50.0)); // cross die, same figure here
    assert_eq!(m.transfer_ns(7, 8), Some(130.0));
    assert_eq!(m.dram_ns(0, 3), Some(4.0));
    assert_eq!(m.node_of(16), None);
}
