//! Hostile scenario input: the parser and validator never panic on garbage or on mutated
//! labs, and names that look like shell or paths are rejected (or, in commands, used
//! literally), never executed or followed.

use proptest::prelude::*;
use vxlab::diag::render;
use vxlab::model::Lab;
use vxlab::plan::plan;
use vxlab::plan::script::up_script;

const CASES: u32 = 4000;

fn lab_texts() -> Vec<String> {
    vxlab::labs::BUILTIN
        .iter()
        .map(|(_, t)| (*t).to_string())
        .collect()
}

fn check(text: &str) {
    match Lab::from_source(text) {
        Ok(lab) => {
            let _ = up_script(&lab, &plan(&lab));
        }
        Err(diags) => {
            assert!(!diags.is_empty());
            let _ = render("fuzz.toml", text, &diags);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES, ..ProptestConfig::default() })]

    #[test]
    fn random_text_never_panics(text in "\\PC{0,400}") {
        check(&text);
    }

    #[test]
    fn mutated_labs_never_panic(lab in 0usize..64, at in any::<prop::sample::Index>(), len in 0usize..40, insert in "\\PC{0,30}") {
        let texts = lab_texts();
        let text = &texts[lab % texts.len()];
        let mut cut = at.index(text.len() + 1);
        while !text.is_char_boundary(cut) { cut -= 1; }
        let mut end = (cut + len).min(text.len());
        while !text.is_char_boundary(end) { end -= 1; }
        let mutated = format!("{}{}{}", &text[..cut], insert, &text[end..]);
        check(&mutated);
    }

    #[test]
    fn values_in_every_position_never_panic(value in prop_oneof![
        Just("\"\"".to_string()), Just("0".to_string()), Just("-1".to_string()), Just("1e99".to_string()),
        Just("\"; rm -rf /\"".to_string()), Just("\"../../etc\"".to_string()), Just("[]".to_string()),
        Just("{}".to_string()), "\"\\\\PC{0,20}\"",
    ], line in 0usize..200) {
        let texts = lab_texts();
        let text = &texts[line % texts.len()];
        let lines: Vec<&str> = text.lines().collect();
        let i = line % lines.len();
        let replaced: Vec<String> = lines.iter().enumerate().map(|(j, l)| {
            if j == i { l.split_once('=').map_or_else(|| (*l).to_string(), |(k, _)| format!("{k}= {value}")) } else { (*l).to_string() }
        }).collect();
        check(&replaced.join("\n"));
    }
}

fn diagnostics(text: &str) -> String {
    let diags = Lab::from_source(text).expect_err("must be rejected");
    render("x.toml", text, &diags)
}

#[test]
fn shell_and_path_lookalikes_are_rejected_as_names() {
    // A raw control character is already a TOML syntax error.
    assert!(diagnostics("[lab]\nname = \"x\u{7}y\"\n").starts_with("error: "));
    for bad in ["; rm -rf /", "../../etc", "a/../b", "$(reboot)", "é"] {
        let text = format!("[lab]\nname = \"{bad}\"\n");
        assert!(
            diagnostics(&text).contains("is not a valid lab name"),
            "{bad}"
        );
        let text = format!("[lab]\nname = \"ok\"\n[[host]]\nname = \"{bad}\"\n");
        assert!(
            diagnostics(&text).contains("is not a valid host name"),
            "{bad}"
        );
    }
    let long = "a".repeat(4096);
    assert!(diagnostics(&format!("[lab]\nname = \"{long}\"\n")).contains("4096 bytes long"));
    let text = format!(
        "[lab]\nname = \"ok\"\n[[host]]\nname = \"h\"\n[[veth]]\nname = \"h:{long}\"\npeer = \"h:b\"\n"
    );
    assert!(diagnostics(&text).contains("the kernel allows at most 15"));
    let text = "[lab]\nname = \"ok\"\n[[host]]\nname = \"h\"\n[[sysctl]]\nnode = \"h\"\nkey = \"kernel.panic\"\nvalue = 1\n";
    assert!(diagnostics(text).contains("not a per-namespace sysctl"));
    let text = "[lab]\nname = \"ok\"\n[[host]]\nname = \"h\"\n[[sysctl]]\nnode = \"h\"\nkey = \"net.ipv4.ip_forward\"\nvalue = \"1\\n2\"\n";
    assert!(diagnostics(text).contains("one line of text"));
}

#[test]
fn commands_are_argv_and_quoted_in_scripts() {
    let text = "[lab]\nname = \"ok\"\n[[host]]\nname = \"h\"\n[[process]]\nnode = \"h\"\ncommand = [\"sh\", \"-c\", \"; rm -rf /\"]\n";
    let lab = Lab::from_source(text).expect("valid: the argument is data");
    let script = up_script(&lab, &plan(&lab));
    assert!(script.contains("setsid sh -c '; rm -rf /'"), "{script}");
}

#[test]
fn report_cases() {
    println!("scenario fuzzing: {CASES} cases per property, 3 properties");
}
