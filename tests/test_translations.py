"""The shipped zh-hans catalogue: complete, and its compiled .mo matches the .po."""

import ast
import gettext
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from django.conf import settings

LOCALE = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES"


def _po_entries(path: Path) -> list[dict]:
    """Parse a .po file into entries of msgctxt/msgid/msgid_plural/msgstr[n] and flags."""
    entries, entry, key = [], {}, None
    for raw in path.read_text(encoding="utf-8").splitlines() + [""]:
        line = raw.strip()
        if not line:
            if "msgid" in entry:
                entries.append(entry)
            entry, key = {}, None
        elif line.startswith("#,"):
            entry["flags"] = {flag.strip() for flag in line[2:].split(",")}
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            entry[key] += ast.literal_eval(line)
        else:
            key, _, value = line.partition(" ")
            entry[key] = ast.literal_eval(value)
    return entries


def _translations(entry: dict) -> list[str]:
    return [value for key, value in entry.items() if key.startswith("msgstr")]


def test_every_message_is_translated_and_none_is_fuzzy():
    entries = [e for e in _po_entries(LOCALE / "django.po") if e["msgid"]]

    untranslated = [e["msgid"] for e in entries if not all(_translations(e))]
    fuzzy = [e["msgid"] for e in entries if "fuzzy" in e.get("flags", set())]

    assert entries
    assert untranslated == []
    assert fuzzy == []


def test_the_compiled_catalogue_matches_the_po_file():
    with open(LOCALE / "django.mo", "rb") as handle:
        compiled = gettext.GNUTranslations(handle)

    for entry in _po_entries(LOCALE / "django.po"):
        if not entry["msgid"]:
            continue
        context = entry.get("msgctxt")
        if "msgid_plural" in entry:
            got = compiled.npgettext(context, entry["msgid"], entry["msgid_plural"], 1) if context \
                else compiled.ngettext(entry["msgid"], entry["msgid_plural"], 1)
            assert got == entry["msgstr[0]"], entry["msgid"]
        else:
            got = compiled.pgettext(context, entry["msgid"]) if context else compiled.gettext(entry["msgid"])
            assert got == entry["msgstr"], f"{entry['msgid']!r}: run `make messages`"


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="needs GNU gettext, as `make messages` does")
def test_the_catalogue_holds_every_message_of_the_code(tmp_path):
    """Extract the messages afresh from a copy of the code: none may be missing from the .po."""
    root = Path(settings.BASE_DIR)
    copy = tmp_path / "project"
    ignored = shutil.ignore_patterns(".venv", ".git", "media", "staticfiles", "*.sqlite3", "__pycache__", "*.mo")
    shutil.copytree(root, copy, ignore=ignored)
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "zh_Hans", "--no-obsolete",
         "-i", "bench/*", "-i", "tests/*", "-i", "media/*", "-i", "staticfiles/*"],
        cwd=copy, check=True, capture_output=True, env={**os.environ, "DEBUG": "true"},
    )

    def ids(path: Path) -> set:
        return {(e.get("msgctxt"), e["msgid"]) for e in _po_entries(path) if e["msgid"]}

    extracted = ids(copy / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po")
    missing = extracted - ids(LOCALE / "django.po")
    assert missing == set(), "run `make messages` and translate the new messages"
