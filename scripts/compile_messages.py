"""Compile every django.po under dealercrm/ into django.mo with polib.

Django's compilemessages needs GNU gettext's msgfmt, which a fresh machine may lack; polib is a
pure-Python package from PyPI. Fuzzy and untranslated entries are left out, as msgfmt does.
"""

from __future__ import annotations

import sys
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parent.parent / "dealercrm"


def main() -> int:
    compiled = 0
    for po_path in sorted(ROOT.rglob("locale/*/LC_MESSAGES/django.po")):
        polib.pofile(str(po_path)).save_as_mofile(str(po_path.with_suffix(".mo")))
        compiled += 1
    print(f"compiled {compiled} message catalogues")
    return 0


if __name__ == "__main__":
    sys.exit(main())
