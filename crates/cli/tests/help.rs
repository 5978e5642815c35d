//! Completions, the manual page, and help texts that state behaviour.

mod common;

use common::*;

#[test]
fn completions_for_every_shell_name_the_subcommands() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let o = run(&["completions", shell]);
        assert!(o.status.success(), "{shell}: {}", stderr(&o));
        let out = stdout(&o);
        for sub in ["analyze", "hunt", "events", "ingest", "verify"] {
            assert!(out.contains(sub), "{shell}: no {sub}");
        }
        assert!(out.contains("event-id") && out.contains("min-level"), "{shell}: options missing");
    }
    let o = run(&["completions", "tcsh"]);
    assert_eq!(o.status.code(), Some(2), "an unknown shell is a usage error");
}

#[test]
fn the_manual_page_holds_every_subcommand_and_its_options() {
    let o = run(&["man"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let page = stdout(&o);
    assert!(page.contains(".TH trailscope 1"), "{}", &page[..200.min(page.len())]);
    for sub in ["ANALYZE", "HUNT", "EVENTS", "INGEST", "VERIFY", "SUMMARY", "RULES", "AUDIT"] {
        assert!(page.contains(&format!(".SH \"TRAILSCOPE {sub}\"")), "no section for {sub}");
    }
    for opt in [r"\-\-rule", r"\-\-event\-id", r"\-\-save", r"\-\-public\-keys", r"\-\-trust"] {
        assert!(page.contains(opt), "no {opt}");
    }
}

#[test]
fn help_texts_say_what_the_commands_do() {
    let hunt = stdout(&run(&["hunt", "--help"]));
    assert!(hunt.contains("hunt` one finding"), "{hunt}");
    let events = stdout(&run(&["events", "--help"]));
    assert!(events.contains("--error[=<CODE>]"), "{events}");
    assert!(events.contains("--text <TEXT>") && events.contains("--rule <ID>"), "{events}");
}
