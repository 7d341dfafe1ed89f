"""Make labels/fonts/HandoffSans.ttf: a TrueType subset of WenQuanYi Micro Hei (Apache-2.0, from
Debian's fonts-wqy-microhei; it carries Droid Sans' Latin glyphs, which Droid Sans Fallback lacks)
covering ASCII, Latin-1, CJK punctuation, full-width forms, every character of GB 2312 (levels 1
and 2) and every character used in the project's own sources. Run once by a developer
(`apt-get install fonts-wqy-microhei`); the output is committed, so the service never reads a
system font.

    .venv/bin/python scripts/make_font_subset.py
"""

from __future__ import annotations

import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont

ROOT = Path(__file__).resolve().parents[1]
SOURCE = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
TARGET = ROOT / "labels" / "fonts" / "HandoffSans.ttf"


def wanted() -> set[int]:
    chars: set[int] = set(range(0x20, 0x7F)) | set(range(0xA0, 0x100))
    chars |= set(range(0x3000, 0x3040)) | set(range(0xFF00, 0xFFF0)) | set(range(0x2010, 0x2070))
    chars |= {0x2116, 0x2160, 0x2161, 0x2162, 0x2460, 0x2461, 0x2462, 0x25A1, 0x25A0, 0x2713, 0x00D7}
    for cp in range(0x4E00, 0xA000):
        try:
            chr(cp).encode("gb2312")
        except UnicodeEncodeError:
            continue
        chars.add(cp)
    for folder in ("handoff", "adapters", "api", "labels", "cli", "worker"):
        for path in (ROOT / folder).rglob("*.py"):
            chars |= {ord(c) for c in path.read_text(encoding="utf-8") if ord(c) > 0x7F}
    return chars


def main() -> int:
    font = TTFont(SOURCE, fontNumber=0)
    cmap = font.getBestCmap()
    unicodes = sorted(c for c in wanted() if c in cmap)
    options = subset.Options()
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.hinting = False
    options.layout_features = []
    options.drop_tables += ["FFTM"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=unicodes)
    subsetter.subset(font)
    font["name"].setName("Handoff Sans (WenQuanYi Micro Hei subset)", 4, 3, 1, 0x409)
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    font.save(TARGET)
    print(f"{TARGET}: {len(unicodes)} characters, {TARGET.stat().st_size // 1024} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
