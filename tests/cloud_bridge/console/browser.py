"""Headless Debian chromium driven by Selenium, and the page checks the browser tests run.

The accessibility checks run in the page, on what the browser computed: every form
control has a label, every visible text's colour against its effective background is at
least 4.5:1, and Tab reaches the page's actions.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SCREENSHOTS = ROOT / "test-artifacts" / "console"
DESKTOP = (1366, 768)
PHONE = (390, 844)


def chromium_driver():
    """A headless chromium (Debian's ``chromium`` + ``chromium-driver``), or skip."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not binary or not driver_path:
        pytest.skip("needs Debian's chromium and chromium-driver (make setup installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                f"--window-size={DESKTOP[0]},{DESKTOP[1]}", "--lang=zh-CN",
                "--force-device-scale-factor=1"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=opts)
    driver.set_page_load_timeout(30)
    return driver


UNLABELLED_JS = """
const out = [];
for (const el of document.querySelectorAll('input, select, textarea')) {
  if (el.type === 'hidden') continue;
  const id = el.id;
  const byFor = id && document.querySelector('label[for="' + CSS.escape(id) + '"]');
  const wrapped = el.closest('label');
  if (!(byFor || wrapped || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')))
    out.push(el.outerHTML.slice(0, 120));
}
return out;
"""

CONTRAST_JS = """
function rgba(s) { const m = s.match(/[\\d.]+/g).map(Number); return [m[0], m[1], m[2], m.length > 3 ? m[3] : 1]; }
function lum(c) { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); }
function bg(el) { for (let e = el; e; e = e.parentElement) {
    const c = rgba(getComputedStyle(e).backgroundColor); if (c[3] > 0.5) return c; }
  return [255, 255, 255, 1]; }
const bad = [], pairs = new Set();
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
for (let n = walker.nextNode(); n; n = walker.nextNode()) {
  if (!n.textContent.trim()) continue;
  const el = n.parentElement;
  if (!el || el.closest('.sr-only, noscript, option, title')) continue;
  const r = el.getBoundingClientRect();
  if (r.width === 0 || r.height === 0 || getComputedStyle(el).visibility === 'hidden') continue;
  const inSvg = el.closest('svg');
  const style = getComputedStyle(el);
  const fg = rgba(inSvg ? (el.getAttribute('fill') ? style.fill : style.color) : style.color);
  const back = bg(inSvg ? inSvg : el);
  const l1 = lum(fg), l2 = lum(back);
  const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
  pairs.add(fg.slice(0, 3).join(',') + ' on ' + back.slice(0, 3).join(','));
  if (ratio < 4.5) bad.push([n.textContent.trim().slice(0, 40), ratio.toFixed(2), fg.join(','), back.join(',')]);
}
return [bad, Array.from(pairs)];
"""

ACTIONS_JS = """
return Array.from(document.querySelectorAll('main button, main a.button, header button, main select, main input:not([type=hidden])'))
  .filter(e => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; })
  .map(e => e.outerHTML.slice(0, 80));
"""


def check_accessibility(driver, where: str) -> None:
    """Labels and contrast of the page as rendered; raises with what is wrong."""
    unlabelled = driver.execute_script(UNLABELLED_JS)
    assert not unlabelled, f"{where}: inputs without a label: {unlabelled}"
    bad, pairs = driver.execute_script(CONTRAST_JS)
    assert pairs, f"{where}: no text measured"
    assert not bad, f"{where}: contrast below 4.5:1: {bad[:5]}"


def check_keyboard(driver, where: str, max_tabs: int = 250) -> int:
    """Tab from the top of the page until every visible action has had focus."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    wanted = set(driver.execute_script(ACTIONS_JS))
    # Start where a person who just opened the page starts: before the first element
    # (autofocus on a form field would otherwise be the starting point).
    driver.execute_script(
        "const s = document.createElement('span'); s.tabIndex = -1; s.id = '__kb_start';"
        "document.body.prepend(s); s.focus(); window.scrollTo(0, 0);")
    seen: set[str] = set()
    first = None
    chain = ActionChains(driver)
    for i in range(max_tabs):
        chain.send_keys(Keys.TAB).perform()
        html = driver.execute_script(
            "return document.activeElement ? document.activeElement.outerHTML.slice(0, 80) : ''")
        if i == 0:
            first = html
        seen.add(html)
        if wanted <= seen:
            break
    assert first and 'class="skip"' in first, f"{where}: first Tab is not the skip link: {first}"
    missing = wanted - seen
    assert not missing, f"{where}: not reachable with Tab: {sorted(missing)[:5]}"
    return len(seen)


def screenshot(driver, name: str) -> list[Path]:
    """The page at desktop and phone size, saved under test-artifacts/console/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    out = []
    for label, (w, h) in (("desktop", DESKTOP), ("phone", PHONE)):
        driver.set_window_size(w, h)
        driver.execute_script("document.activeElement && document.activeElement.blur();"
                              "window.scrollTo(0, 0);")
        path = SCREENSHOTS / f"{name}-{label}.png"
        driver.save_screenshot(str(path))
        out.append(path)
    driver.set_window_size(*DESKTOP)
    return out


def console_errors(driver) -> list[str]:
    """SEVERE messages of the browser console (CSP violations, script errors)."""
    try:
        logs = driver.get_log("browser")
    except Exception:  # not every driver keeps them
        return []
    return [e["message"] for e in logs if e.get("level") == "SEVERE"
            and "favicon" not in e["message"]]
