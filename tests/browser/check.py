#!/usr/bin/env python3
"""Loads mailscope's HTML reports in headless Chromium (apt's, driven by Playwright) and
checks what a classroom needs of them.

usage: check.py DIR SCREENSHOT

DIR holds, per sample NAME: NAME.en.html, NAME.zh.html (the report in English and in
Chinese) and NAME.json (the same sample's `--format json`). For every page:
  - no console error and no page error;
  - no request but the page's own file:// URL (nothing over the network, no other file);
  - no <script> element;
  - every session of the JSON has a section with exactly one SVG ladder, drawn (non-zero
    size), with one arrow per transcript line: commands + replies + client lines +
    messages, as the JSON counts them; the transcript has as many lines, and the ladder as
    many message arrows as the session has messages;
  - the page's lang attribute and headings are in its language, and the Chinese page holds
    Chinese explanations.
Then it saves a screenshot of smtp-attachment's first session (English) to SCREENSHOT.
Any failure, including Chromium or Playwright not starting, exits non-zero: nothing is
skipped.
"""

import json
import pathlib
import re
import sys

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
CJK = re.compile(r"[\u4e00-\u9fff]")


def expected(json_path):
    """Per session id: (arrows, messages) from the JSON output."""
    out = {}
    for line in json_path.read_text().splitlines():
        obj = json.loads(line)
        if obj.get("type") != "session":
            continue
        arrows = len(obj["messages"])
        for e in obj["exchanges"]:
            arrows += (1 if e.get("command") else 0) + len(e["replies"]) + len(e["client_lines"])
        implicit = (obj.get("tls") or {}).get("mode") == "implicit"
        out[obj["id"]] = (arrows, len(obj["messages"]), implicit)
    return out


PAGE_FACTS = """() => {
  const sections = [...document.querySelectorAll('section.session')].map(s => {
    const svgs = s.querySelectorAll('svg.ladder');
    const svg = svgs[0];
    const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
    return {
      id: s.id,
      ladders: svgs.length,
      arrows: svg ? svg.querySelectorAll('.arrow').length : -1,
      messages: svg ? svg.querySelectorAll('.arrow.message').length : -1,
      lines: s.querySelectorAll('.transcript .tl').length,
      width: box.width,
      height: box.height,
    };
  });
  return {
    lang: document.documentElement.lang,
    h1: document.querySelector('h1').textContent,
    h2: [...document.querySelectorAll('h2')].map(h => h.textContent),
    scripts: document.querySelectorAll('script').length,
    explain: [...document.querySelectorAll('.explain')].map(e => e.textContent).join('\\n'),
    flow: document.querySelectorAll('section#flow').length,
    sections,
  };
}"""


def check_page(browser, html, want, lang, problems):
    url = html.resolve().as_uri()
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors, requests = [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(url, wait_until="load")
    facts = page.evaluate(PAGE_FACTS)
    page.close()
    name = html.name
    bad = lambda what: problems.append(f"{name}: {what}")
    if errors:
        bad(f"console errors: {errors}")
    others = [r for r in requests if r != url]
    if others:
        bad(f"requests leave the file: {others}")
    if facts["scripts"]:
        bad(f"{facts['scripts']} <script> elements")
    if facts["flow"] != 1:
        bad("no section#flow")
    sections = {s["id"]: s for s in facts["sections"]}
    if len(sections) != len(want):
        bad(f"{len(sections)} session sections, the JSON has {len(want)} sessions")
    arrows_total = 0
    for sid, (arrows, messages, implicit) in want.items():
        s = sections.get(f"s{sid}")
        if s is None:
            bad(f"session {sid}: no section")
            continue
        arrows_total += s["arrows"]
        if s["ladders"] != 1:
            bad(f"session {sid}: {s['ladders']} SVG ladders")
        if s["width"] <= 0 or s["height"] <= 0:
            bad(f"session {sid}: ladder not drawn ({s['width']}x{s['height']})")
        if s["arrows"] != arrows:
            bad(f"session {sid}: {s['arrows']} arrows, {arrows} transcript lines in the JSON")
        if s["messages"] != messages:
            bad(f"session {sid}: {s['messages']} message arrows, {messages} messages")
        if not implicit and s["lines"] != arrows:
            bad(f"session {sid}: {s['lines']} transcript lines on the page, {arrows} in the JSON")
    if lang == "en":
        if facts["lang"] != "en" or "report" not in facts["h1"] or "Sessions" not in facts["h2"]:
            bad(f"not English: lang={facts['lang']} h1={facts['h1']} h2={facts['h2'][:2]}")
    else:
        if facts["lang"] != "zh-Hans" or "会话列表" not in facts["h2"]:
            bad(f"not Chinese: lang={facts['lang']} h2={facts['h2'][:2]}")
        if want and not any(implicit for _, _, implicit in want.values()) and not CJK.search(facts["explain"]):
            bad("no Chinese explanation")
    return arrows_total, len(requests)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    folder, shot = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    names = sorted(p.name[: -len(".json")] for p in folder.glob("*.json"))
    if not names:
        sys.exit(f"no reports in {folder}")
    problems = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        print(f"chromium {browser.version}")
        for name in names:
            want = expected(folder / f"{name}.json")
            for lang in ("en", "zh"):
                arrows, requests = check_page(browser, folder / f"{name}.{lang}.html", want, lang, problems)
                print(f"{name}.{lang}.html: {len(want)} sessions, {arrows} arrows, {requests} request(s)")
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        shown = "smtp-attachment" if "smtp-attachment" in names else names[0]
        page.goto((folder / f"{shown}.en.html").resolve().as_uri())
        # Open the first few explanations, as in class, and show the first session.
        page.evaluate("""() => {
          document.querySelectorAll('#s1 .transcript details.tl').forEach((d, i) => { if (i < 2) d.open = true; });
          document.querySelector('#s1').scrollIntoView();
        }""")
        page.screenshot(path=str(shot))
        browser.close()
    if problems:
        print("FAILED:", *problems, sep="\n  ")
        sys.exit(1)
    print(f"browser test passed: {len(names)} samples, 2 languages; screenshot {shot}")


if __name__ == "__main__":
    main()
