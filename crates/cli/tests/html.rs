//! `trailscope analyze --format html`: the page of the sample against its golden file, and the
//! page opened by headless Chromium, which must run its script without error and fetch nothing.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

fn sample_html() -> String {
    let o = run_on(&["analyze", "--quiet", "--format", "html"], &[&sample()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    stdout(&o)
}

#[test]
fn html_report_is_self_contained_and_matches_golden() {
    let html = sample_html();
    assert!(html.starts_with("<!DOCTYPE html>"), "{}", &html[..100]);
    assert!(
        html.contains("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src 'sha256-")
    );
    // Actors first, then the rest in the text report's order.
    let at = |needle: &str| html.find(needle).unwrap_or_else(|| panic!("missing {needle}"));
    let order = [
        "<section id=\"actors\">",
        "<section id=\"activity\">",
        "<section id=\"credentials\">",
        "<section id=\"source-ips\">",
        "<section id=\"actions\">",
        "<section id=\"data\">",
        "<section id=\"persistence\">",
        "<section id=\"evasion\">",
        "<section id=\"remediation\">",
        "<section id=\"coverage\">",
        "<section id=\"findings\">",
        "<section id=\"risks\">",
        "<section id=\"timeline\">",
    ];
    assert!(order.windows(2).all(|w| at(w[0]) < at(w[1])), "sections out of order");
    // Nothing refers outside the page: no remote source or link, no stylesheet or frame.
    for banned in [" src=", "href=\"http", "<link", "<iframe", "<img", "<object", "<embed", "@import", "url("] {
        assert!(!html.contains(banned), "{banned} in the page");
    }
    // One chart per actor on the timelines, and one raw record per event id button.
    let report: serde_json::Value =
        serde_json::from_slice(&run_on(&["analyze", "--quiet", "--format", "json"], &[&sample()]).stdout).unwrap();
    let charted = report["activity"]["actors"].as_array().unwrap().len();
    assert!(charted >= 6, "attackers and suspicious actors are charted");
    assert_eq!(html.matches("<svg class=\"activity\"").count(), charted);
    let attacker_events = report["attacker_events"].as_u64().unwrap() as usize;
    assert!(html.matches("<tr class=\"v-attacker\"><td class=\"t\">").count() >= attacker_events);
    assert_golden("analyze-sample.html", &html);
}

/// The first of Debian's, Ubuntu's and Google's Chromium binaries on PATH.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|p| p.is_file())
}

/// Chromium, headless and quiet: no sandbox (CI runs as root), no GPU, nothing in the
/// background that would touch the network, a fresh profile.
fn headless(chrome: &Path, profile: &Path) -> Command {
    let mut c = Command::new(chrome);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,2000",
        // Lets the page's load handler run before the DOM is dumped.
        "--virtual-time-budget=5000",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

/// The value of `name="..."` on the dumped page's `<body>`.
fn body_attr(dom: &str, name: &str) -> Option<String> {
    let body = &dom[dom.find("<body")?..];
    let tag = &body[..body.find('>')?];
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    Some(tag[start..][..tag[start..].find('"')?].to_owned())
}

/// The page's DOM after Chromium ran it (`#self-test` and all), checked to have run its script
/// to the end with no error, no CSP violation and nothing fetched.
fn render(chrome: &Path, page: &Path, fragment: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let url = format!("file://{}{fragment}", page.display());
    let o = headless(chrome, profile.path()).arg("--dump-dom").arg(&url).output().expect("run chromium");
    let dom = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success() && dom.contains("</html>"), "chromium failed: {}", String::from_utf8_lossy(&o.stderr));
    let attr = |name: &str| {
        body_attr(&dom, name).unwrap_or_else(|| {
            panic!("the page did not set {name}: its script did not run to the end\n{}", &dom[..dom.len().min(2000)])
        })
    };
    assert_eq!(attr("data-check"), "done", "load handler");
    assert_eq!(attr("data-script-errors"), "0", "script errors: {}", attr("data-error-messages"));
    assert_eq!(attr("data-csp-violations"), "0", "CSP violations: {}", attr("data-csp-messages"));
    assert_eq!(attr("data-resources"), "0", "the page fetched something");
    dom
}

#[test]
fn chromium_renders_the_page_without_script_errors_or_requests() {
    let Some(chrome) = chromium() else {
        println!("skipping: chromium not installed (apt-get install chromium)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    std::fs::write(&page, sample_html()).unwrap();

    let dom = render(&chrome, &page, "");
    let attr = |name: &str| body_attr(&dom, name).unwrap_or_else(|| panic!("{name} not set"));
    assert!(attr("data-actors-rendered").parse::<usize>().unwrap() >= 6, "actors table");
    assert!(attr("data-charts-rendered").parse::<usize>().unwrap() >= 6, "charts");
    // The filters ran once at start-up and counted their rows.
    assert!(dom.contains(" rows</span>"), "filter counts");

    // Used as an examiner would: a raw record opened, the timeline sorted and filtered.
    let dom = render(&chrome, &page, "#self-test");
    let attr = |name: &str| body_attr(&dom, name).unwrap_or_else(|| panic!("self-test did not set {name}"));
    assert_eq!(attr("data-raw-opened"), "ok");
    assert_eq!(attr("data-sorted"), "ok");
    let report: serde_json::Value =
        serde_json::from_slice(&run_on(&["analyze", "--quiet", "--format", "json"], &[&sample()]).stdout).unwrap();
    let first_actor = report["timeline"]["entries"].as_array().unwrap().iter().filter(|e| e["actor"] == 1).count();
    assert_eq!(attr("data-filtered"), first_actor.to_string(), "rows left by the filter '#1 attacker'");
    assert!(dom.contains("<aside id=\"raw-view\">"), "the raw record is shown (not hidden)");

    let shot = dir.path().join("page.png");
    let profile = tempfile::tempdir().unwrap();
    let o = headless(&chrome, profile.path())
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium");
    assert!(o.status.success(), "screenshot: {}", String::from_utf8_lossy(&o.stderr));
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(png.len() > 10_000 && png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG of a page: {} bytes", png.len());

    // Printed to PDF as an examiner's browser would (print CSS, A4 landscape).
    let pdf = dir.path().join("page.pdf");
    let profile = tempfile::tempdir().unwrap();
    let o = headless(&chrome, profile.path())
        .args(["--no-pdf-header-footer", &format!("--print-to-pdf={}", pdf.display())])
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium");
    assert!(o.status.success(), "print: {}", String::from_utf8_lossy(&o.stderr));
    let pdf = std::fs::read(&pdf).expect("PDF written");
    assert!(pdf.len() > 10_000 && pdf.starts_with(b"%PDF-"), "not a PDF of the page: {} bytes", pdf.len());
}

/// An intruder whose names and user agent are markup, a formula and terminal escapes: the page
/// shows them as text, and in the browser nothing of theirs becomes an element or runs.
#[test]
fn hostile_values_stay_text_in_the_browser() {
    use serde_json::json;
    use trailscope_testkit::{merge, with};
    const TAG: &str = "<script>alert(1)</script>";
    let who = json!({
        "userIdentity": {"arn": format!("arn:aws:iam::111122223333:user/{TAG}"), "userName": TAG},
        "userAgent": format!("aws-cli/2.13.5 Python/3.11.4 Linux/6.5.0-kali3-amd64 \u{1b}[31m{TAG}<img src=x onerror=alert(2)>"),
    });
    let call = |n: usize, source: &str, name: &str, params: serde_json::Value| {
        let mut over = who.clone();
        merge(&mut over, &json!({"eventSource": source, "eventName": name, "requestParameters": params}));
        with(n, n as i64 * 60, &over)
    };
    let records = [
        call(1, "sts.amazonaws.com", "GetCallerIdentity", serde_json::Value::Null),
        call(2, "cloudtrail.amazonaws.com", "StopLogging", json!({"name": "=HYPERLINK(\"http://x\")"})),
        call(3, "s3.amazonaws.com", "GetObject", json!({"bucketName": "</script><svg onload=alert(3)>", "key": "k"})),
        call(4, "iam.amazonaws.com", "CreateUser", json!({"userName": "<iframe src=http://x>"})),
    ];
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "evidence/hostile.json", &s3_body(&records));
    let o = run_on(&["analyze", "--quiet", "--format", "html", "--no-baseline"], &[&dir.path().join("evidence")]);
    let html = stdout(&o);
    assert!(html.contains("</html>"), "{}", stderr(&o));
    // Three script blocks of the page's own, one svg per chart, no planted element.
    assert_eq!(html.matches("<script").count(), 3);
    assert_eq!(html.matches("<svg").count(), html.matches("<svg class=\"activity\"").count());
    assert!(!html.contains("<img") && !html.contains("<iframe") && !html.contains('\u{1b}'));
    assert!(html.contains("&lt;svg onload=alert(3)&gt;") && html.contains("&lt;iframe src=http://x&gt;"));

    let Some(chrome) = chromium() else {
        println!("skipping the browser part: chromium not installed");
        return;
    };
    let page = dir.path().join("report.html");
    std::fs::write(&page, &html).unwrap();
    let dom = render(&chrome, &page, "#self-test");
    assert_eq!(body_attr(&dom, "data-raw-opened").as_deref(), Some("ok"));
    // In the DOM as parsed by the browser, after the page's script ran.
    assert_eq!(dom.matches("<script").count(), 3, "no planted script element");
    assert!(!dom.contains("<img") && !dom.contains("<iframe") && !dom.contains("<svg onload"), "no planted element");
    assert!(dom.contains("user/&lt;script&gt;alert(1)&lt;/script&gt;"), "the name shown as text");
}

/// Evidence with no one to suspect: the page says so, and its script copes with empty tables
/// and no charts.
#[test]
fn a_page_with_nothing_attributed_runs_clean() {
    let records: Vec<serde_json::Value> = (1..=3).map(|n| trailscope_testkit::record(n, n as i64 * 60)).collect();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "evidence/quiet.json", &s3_body(&records));
    let o = run_on(&["analyze", "--quiet", "--format", "html"], &[&dir.path().join("evidence")]);
    let html = stdout(&o);
    assert!(html.contains("no attacker activity attributed"), "{}", stderr(&o));
    assert_eq!(html.matches("<svg class=\"activity\"").count(), 0);
    let Some(chrome) = chromium() else {
        println!("skipping the browser part: chromium not installed");
        return;
    };
    let page = dir.path().join("report.html");
    std::fs::write(&page, &html).unwrap();
    let dom = render(&chrome, &page, "#self-test");
    assert_eq!(body_attr(&dom, "data-raw-opened").as_deref(), Some("no rows"));
    assert_eq!(body_attr(&dom, "data-charts-rendered").as_deref(), Some("0"));
}
