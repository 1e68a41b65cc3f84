"""Render a vs_sim report in headless Chromium, save a screenshot, check every figure loaded.

    python scripts/screenshot_report.py RUN_DIR_OR_HTML --out report.png

Given a run folder it first writes the folder's ``report.html`` (``vs-sim report``). Then:

1. Chromium takes a full-window screenshot of the page (``--screenshot``);
2. a copy of the page with a small inline script added is loaded with ``--dump-dom``: on
   ``load`` the script counts the ``<img>`` elements that finished decoding with a
   ``naturalWidth`` above 0 and writes the counts into the DOM, which we read back.

Chromium runs with a fresh profile, with no network (every host name resolves to nothing),
so a page that needed the network would show missing figures. Exits 0 when every image
loaded, 1 when one did not, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--hide-scrollbars",
]
PROBE = """
<script>
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; });
  var bad = imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); })
                .map(function (i) { return i.alt || "(no alt)"; });
  var out = document.createElement("pre");
  out.id = "vs-sim-probe";
  out.textContent = "IMAGES " + imgs.length + " LOADED " + ok.length + " FAILED " +
                    JSON.stringify(bad);
  document.body.appendChild(out);
});
</script>
"""
RESULT = re.compile(r"IMAGES (\d+) LOADED (\d+) FAILED (\[.*?\])")


def _chromium(args: list[str], profile: Path, timeout: float = 120.0) -> str:
    cmd = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"chromium exited with {done.returncode}: {done.stderr[-2000:]}")
    return done.stdout


def screenshot(
    html: Path, out: Path, *, width: int = 1280, height: int = 4000
) -> dict[str, object]:
    """Screenshot ``html`` into ``out``; return the image counts the page reported."""
    page = html.read_text(encoding="utf-8")
    external = re.findall(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I)
    with tempfile.TemporaryDirectory(prefix="vs_sim_chromium_") as tmp:
        tmpdir = Path(tmp)
        _chromium(
            [f"--screenshot={out.resolve()}", f"--window-size={width},{height}",
             html.resolve().as_uri()],
            tmpdir / "profile-shot",
        )  # fmt: skip
        probe = tmpdir / "probe.html"
        probe.write_text(page.replace("</body>", PROBE + "</body>", 1), encoding="utf-8")
        dom = _chromium(
            ["--virtual-time-budget=10000", "--dump-dom", probe.as_uri()], tmpdir / "profile-dom"
        )
    found = RESULT.search(dom)
    if found is None:
        raise RuntimeError("the probe script did not report (did the page load?)")
    return {
        "img_tags": len(re.findall(r"<img\b", page)),
        "images": int(found.group(1)),
        "loaded": int(found.group(2)),
        "failed": found.group(3),
        "external_references": len(external),
        "screenshot": str(out),
        "screenshot_bytes": out.stat().st_size if out.exists() else 0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", help="a run folder (the report is written first) or an HTML file")
    parser.add_argument("--out", default="report.png", help="the screenshot (default report.png)")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=4000)
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        print(f"error: no Chromium at {CHROMIUM} (apt-get install -y chromium)", file=sys.stderr)
        return 2
    source = Path(args.source)
    if source.is_dir():
        from vs_sim.report import write_report

        html = write_report(source)
    elif source.is_file():
        html = source
    else:
        print(f"error: {source}: no run folder or HTML file here", file=sys.stderr)
        return 2
    result = screenshot(html, Path(args.out), width=args.width, height=args.height)
    for key, value in result.items():
        print(f"{key}: {value}")
    ok = (
        result["images"] == result["loaded"] == result["img_tags"]
        and result["external_references"] == 0
        and int(str(result["screenshot_bytes"])) > 0
    )
    print("OK: every image loaded, no external reference" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
