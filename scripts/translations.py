"""Refresh the message catalogues: extract, merge, fill Italian from translations/it.d/*.json.

Each area keeps its Italian texts in its own JSON file ({"English msgid": "Italian"}); a
message with a context (lazy_pgettext) is keyed "context|English msgid"; a plural
message (ngettext) is keyed by its singular msgid, with the Italian forms as a list
({"%(num)d contract validated.": ["%(num)d contratto convalidato.", "%(num)d contratti convalidati."]}).

Usage: python scripts/translations.py [--check]
--check exits 1 when an Italian message has no translation (CI-friendly).
"""
import json
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
TR = ROOT / "translations"
BIN = Path(sys.executable).parent


def main() -> int:
    check = "--check" in sys.argv
    if not check:
        subprocess.run([BIN / "pybabel", "-q", "extract", "-F", TR / "babel.cfg", "-k", "_l",
                        "-k", "lazy_gettext", "-k", "lazy_pgettext:1c,2", "-k", "_p:1c,2", "--sort-output", "-o", TR / "messages.pot", "."],
                       check=True, cwd=ROOT)  # locations relative to the repository, on any machine
        subprocess.run([BIN / "pybabel", "-q", "update", "-i", TR / "messages.pot", "-d", TR,
                        "--no-fuzzy-matching"], check=True)
    it = {}
    for source in sorted((TR / "it.d").glob("*.json")):
        it.update(json.loads(source.read_text()))
    path = TR / "it" / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as fh:
        catalog = read_po(fh, locale="it")
    missing = []
    for message in catalog:
        if not message.id:
            continue
        msgid = message.id[0] if message.pluralizable else message.id
        # A message with a context ("reading" for "Validated") is keyed "context|English".
        key = f"{message.context}|{msgid}" if message.context else msgid
        value = it.get(key)
        if message.pluralizable and isinstance(value, list):
            # [one, other]: Babel's Italian rules add a form for millions; it takes "other".
            forms = list(value) + [value[-1]] * (catalog.num_plurals - len(value))
            message.string = tuple(forms[:catalog.num_plurals])
            message.flags.discard("fuzzy")
        elif not message.pluralizable and isinstance(value, str):
            message.string = value
            message.flags.discard("fuzzy")
        elif not (all(message.string) if message.pluralizable else message.string):
            missing.append(message.id)
    if not check:
        with path.open("wb") as fh:
            write_po(fh, catalog, width=100)
    for msg in missing:
        print(f"untranslated (it): {msg!r}")
    return 1 if (missing and check) else 0


if __name__ == "__main__":
    sys.exit(main())
