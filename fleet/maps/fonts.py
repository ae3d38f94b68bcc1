"""Fonts that draw every name a corridor map may hold: Vietnamese (DejaVu Sans has every diacritic) and
Chinese (Noto Sans CJK, Debian's fonts-noto-cjk, installed by ``make setup``).

Matplotlib falls back glyph by glyph along ``font.family``, so Latin and Vietnamese come from the first
family and Chinese characters from the CJK one. Without a CJK font installed, Chinese names still render
(as boxes, matplotlib warns) and nothing else changes.
"""

from __future__ import annotations

from matplotlib import font_manager, rcParams

__all__ = ["CJK_FAMILIES", "use_map_fonts"]

LATIN_FAMILY = "DejaVu Sans"
#: tried in order; the first installed one draws Chinese
CJK_FAMILIES = ("Noto Sans CJK SC", "Noto Sans CJK TC", "Noto Sans CJK JP", "Noto Sans SC", "WenQuanYi Zen Hei")


def use_map_fonts() -> list[str]:
    """Set matplotlib's font families for map drawings; returns them (a CJK one only if installed)."""
    cjk = _installed_cjk() or _register_cjk()
    families = [LATIN_FAMILY, cjk] if cjk else [LATIN_FAMILY]
    rcParams["font.family"] = families
    return families


def _installed_cjk() -> str | None:
    installed = {font.name for font in font_manager.fontManager.ttflist}
    return next((f for f in CJK_FAMILIES if f in installed), None)


def _register_cjk() -> str | None:
    """A CJK font installed after matplotlib cached its font list (e.g. by ``make setup`` on a machine
    that had drawn before): add it from the system's font folders."""
    for path in font_manager.findSystemFonts():
        if "NotoSansCJK" in path or "wqy-zenhei" in path:
            font_manager.fontManager.addfont(path)
    return _installed_cjk()
