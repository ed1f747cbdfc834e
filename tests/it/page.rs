//! The status page (`report --format html`, what the daemon serves on `/`), rendered by
//! headless Chromium: a section per award with its chart drawn, a Content-Security-Policy
//! that lets its one style block in and nothing else, and nothing of a secret in it.

use std::path::Path;

use crate::harness::Edit;
use crate::support::{creditburn, demo_config, repo};

/// Chromium's DOM after rendering `page`, and a screenshot of it (width, height, RGB).
fn render(dir: &Path, page: &Path, width: u32) -> (String, (u32, u32, Vec<u8>)) {
    let dom = crate::support::chromium(dir, page, width, 2400, &["--dump-dom".to_string()]);
    (
        String::from_utf8_lossy(&dom.stdout).into_owned(),
        crate::support::screenshot(dir, page, width, 2400),
    )
}

fn count_near(rgb: &[u8], color: (u8, u8, u8)) -> usize {
    crate::support::count_near(rgb, color, 30)
}

#[test]
fn the_status_page_shows_every_award_with_its_chart_and_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path(), &repo().join("fixtures/demo"));
    // Secrets the configuration names: none may reach the page.
    std::fs::write(dir.path().join("token"), "page-token-SECRET-123\n").unwrap();
    let text = std::fs::read_to_string(&config).unwrap().edited_once(
        "\n[alerts]",
        "\n[daemon]\nlisten = \"127.0.0.1:9464\"\ntoken_file = \"token\"\n\n[alerts]",
    );
    std::fs::write(&config, text).unwrap();
    let page = dir.path().join("status.html");
    let out = creditburn(&[
        "report",
        "--format",
        "html",
        "--config",
        config.to_str().unwrap(),
        "--out",
        page.to_str().unwrap(),
        "--now",
        "2026-11-21T08:00:00Z",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(!html.contains("page-token-SECRET-123"));
    assert!(!html.to_ascii_lowercase().contains("<script"), "no script");
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "no external asset"
    );
    // The policy lets in exactly the page's style block, by its hash.
    let style = html
        .split("<style>")
        .nth(1)
        .unwrap()
        .split("</style>")
        .next()
        .unwrap();
    let hash = {
        use base64::Engine as _;
        use sha2::Digest as _;
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(style.as_bytes()))
    };
    assert!(
        html.contains(&format!("style-src 'sha256-{hash}'")),
        "the CSP names the style's hash"
    );
    assert!(html.contains("default-src 'none'"));

    let (dom, (w, h, rgb)) = render(dir.path(), &page, 1000);
    // A section per award, each with its chart's lines drawn as SVG paths.
    let report = crate::support::report_json(&config, &[]);
    let awards = report["awards"].as_array().unwrap();
    assert_eq!(
        dom.matches("<section class=\"award\"").count(),
        awards.len(),
        "{dom}"
    );
    for a in awards {
        let id = a["id"].as_str().unwrap();
        let section = dom
            .split(&format!("id=\"award-{id}\""))
            .nth(1)
            .unwrap_or_else(|| panic!("no section for {id}"))
            .split("</section>")
            .next()
            .unwrap();
        assert!(section.contains("<svg"), "{id}: a chart");
        assert!(
            section.matches("<polyline").count() + section.matches("<path").count() >= 3,
            "{id}: the chart's lines"
        );
        assert!(
            section.contains(a["status"].as_str().unwrap().replace('_', " ").as_str()),
            "{id}: its status"
        );
    }
    // The styles applied (the CSP let them in) and the charts drawn in their colours.
    assert_eq!(w, 1000);
    let total = (w * h) as usize;
    assert!(
        count_near(&rgb, (255, 255, 255)) < total * 97 / 100,
        "the page is blank"
    );
    let c = creditburn::notify::chart::ACTUAL;
    let blue = count_near(&rgb, (c.0, c.1, c.2));
    let c = creditburn::notify::chart::PROJECTION;
    let orange = count_near(&rgb, (c.0, c.1, c.2));
    let c = creditburn::notify::chart::EXPIRY;
    let red = count_near(&rgb, (c.0, c.1, c.2));
    assert!(
        blue > 300 && orange > 150 && red > 300,
        "chart colours: blue {blue}, orange {orange}, red {red}"
    );
    // The status badges' background (from the style block): the CSP did not block it.
    let badge = count_near(&rgb, (0xfd, 0xe2, 0xe1));
    assert!(badge > 100, "the style block applied: {badge}");

    // On a phone's width the charts scale to the screen rather than run off it: the
    // expiry line, at the chart's right edge, is still on screen.
    let (_, (pw, _, phone)) = render(dir.path(), &page, 390);
    assert_eq!(pw, 390);
    let c = creditburn::notify::chart::EXPIRY;
    let red = count_near(&phone, (c.0, c.1, c.2));
    assert!(red > 80, "the expiry line on a phone: {red}");
}
