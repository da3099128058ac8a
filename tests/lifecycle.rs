//! The lifecycle on the real kernel: rollback after a failure at every step, idempotent
//! `down`, recovery after SIGKILL, refusal to build a lab twice, and labs side by side.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{TestLab, root_snapshot, runtime, unique_name};
use vxlab::kernel::{FailAt, Netlink};
use vxlab::lifecycle::{self, UpError};
use vxlab::model::Lab;
use vxlab::plan::plan;

fn lab_text(file: &str) -> String {
    std::fs::read_to_string(format!("{}/labs/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn a_failure_at_any_step_rolls_everything_back() {
    require_root!();
    let before = root_snapshot();
    let mut total = 0;
    for (name, text) in vxlab::labs::BUILTIN {
        let lab = common::for_this_kernel(Lab::from_source(text).unwrap());
        if let Err(e) = lifecycle::preflight(&lab) {
            common::skip(format_args!("{name}: {e}"));
            continue;
        }
        let steps = plan(&lab).len();
        let lab = lab.renamed(&unique_name("fail"));
        for k in 1..=steps {
            let mut kernel = FailAt::new(common::kernel(), k);
            let err = runtime()
                .block_on(lifecycle::up(&lab, text, &mut kernel, |_, _, _| {}))
                .unwrap_err();
            match err {
                UpError::Step { step, rollback, .. } => {
                    assert_eq!(step, k, "{name}");
                    assert!(
                        rollback.errors.is_empty(),
                        "{name} step {k}: {:?}",
                        rollback.errors
                    );
                }
                e => panic!("{name} step {k}: unexpected {e}"),
            }
            assert!(
                lifecycle::namespaces_of(&lab.name).is_empty(),
                "{name} step {k}: namespaces left"
            );
            assert!(
                !lifecycle::state_dir(&lab.name).exists(),
                "{name} step {k}: record left"
            );
        }
        assert_eq!(
            before,
            root_snapshot(),
            "{name}: the root namespace changed"
        );
        println!("{name}: rolled back cleanly after a failure at each of {steps} steps");
        total += steps;
    }
    println!(
        "failure injection: {total} failing steps over {} labs, all rolled back",
        vxlab::labs::BUILTIN.len()
    );
}

#[test]
fn down_is_idempotent_and_a_lab_cannot_be_up_twice() {
    require_root!();
    let text = lab_text("bridge-basics.toml");
    let lab = TestLab::up(&text);
    let again = runtime().block_on(lifecycle::up(
        &lab.lab,
        &text,
        &mut Netlink::new(),
        |_, _, _| {},
    ));
    assert!(matches!(again, Err(UpError::AlreadyUp { .. })), "{again:?}");
    assert!(again.unwrap_err().to_string().contains("run `vxlab down"));
    let name = lab.lab.name.clone();
    lab.down();
    let t = runtime()
        .block_on(lifecycle::down(&name, &mut Netlink::new()))
        .unwrap();
    assert!(t.namespaces.is_empty() && t.errors.is_empty());
}

#[test]
fn two_labs_run_side_by_side() {
    require_root!();
    let a = TestLab::up_file("bridge-basics.toml");
    let b = TestLab::up_file("bridge-basics.toml");
    assert!(a.pings("host/ns1", "170.19.0.2"));
    assert!(b.pings("host/ns1", "170.19.0.2"));
    a.down();
    assert!(
        b.pings("host/ns1", "170.19.0.2"),
        "the other lab still works"
    );
    b.down();
}

#[test]
fn down_cleans_up_after_up_is_killed() {
    require_root!();
    let exe = env!("CARGO_BIN_EXE_vxlab");
    let before = root_snapshot();
    let path = format!("{}/labs/docker-overlay.toml", env!("CARGO_MANIFEST_DIR"));
    for (i, delay_ms) in [0u64, 3, 10, 25, 60].into_iter().enumerate() {
        let name = unique_name(&format!("kill{i}"));
        let mut child = Command::new(exe)
            .args(["up", "-q", "--name", &name, &path])
            .args((!vxlab::ipvs::kernel_has_ipvs()).then_some("--emulate-ipvs"))
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        // Half the time `gc` must find the remains by itself (unless `up` had finished:
        // then the lab is kept, as it should be), else `down NAME`.
        if i % 2 == 1 {
            let finished = lifecycle::is_complete(&name);
            let out = Command::new(exe).arg("gc").output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                lifecycle::namespaces_of(&name).is_empty(),
                !finished,
                "gc after {delay_ms} ms"
            );
        }
        let out = Command::new(exe).args(["down", &name]).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            lifecycle::namespaces_of(&name).is_empty(),
            "kill after {delay_ms} ms: namespaces left"
        );
        assert!(!lifecycle::state_dir(&name).exists());
    }
    assert_eq!(before, root_snapshot());
}

#[test]
fn gc_removes_unfinished_labs_and_keeps_finished_ones() {
    require_root!();
    let kept = TestLab::up_file("bridge-basics.toml");
    let orphan = TestLab::up_file("bridge-basics.toml");
    // What an `up` killed before its last step leaves: namespaces and an unfinished record.
    std::fs::remove_file(lifecycle::state_dir(&orphan.lab.name).join("complete")).unwrap();
    let found = runtime()
        .block_on(lifecycle::gc(&mut Netlink::new()))
        .unwrap();
    assert!(found.iter().any(|c| c.lab == orphan.lab.name), "{found:?}");
    assert!(!found.iter().any(|c| c.lab == kept.lab.name));
    assert!(lifecycle::namespaces_of(&orphan.lab.name).is_empty());
    assert!(
        kept.pings("host/ns1", "170.19.0.2"),
        "the finished lab still works"
    );
    kept.down();
}

#[test]
fn racing_ups_of_one_lab_build_it_once() {
    require_root!();
    let exe = env!("CARGO_BIN_EXE_vxlab");
    let path = format!("{}/labs/bridge-basics.toml", env!("CARGO_MANIFEST_DIR"));
    let name = unique_name("race");
    let spawned: Vec<_> = (0..4)
        .map(|_| {
            Command::new(exe)
                .args(["up", "-q", "--name", &name, &path])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let children: Vec<_> = spawned
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    let ok = children.iter().filter(|o| o.status.success()).count();
    assert_eq!(ok, 1, "exactly one `up` builds the lab");
    for o in children.iter().filter(|o| !o.status.success()) {
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("is already up"), "{err}");
    }
    let ns1 = vxlab::model::netns_name(&name, "host/ns1");
    let ping = Command::new("ip")
        .args(["netns", "exec", &ns1, "ping", "-c1", "-W1", "170.19.0.2"])
        .output()
        .unwrap();
    assert!(ping.status.success(), "the lab that won works");
    let out = Command::new(exe).args(["down", &name]).output().unwrap();
    assert!(out.status.success());
    assert!(lifecycle::namespaces_of(&name).is_empty());
}
