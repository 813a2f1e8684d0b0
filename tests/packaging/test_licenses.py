"""docs/licenses.md: the copyleft check tells GPL from the licences that allow linking, and the
table of the extras matches what the development virtualenv has installed."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.packaging.licenses import extras, is_strong_copyleft

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("licence", ["GPL-2.0-only", "GPL-3.0-or-later", "AGPL-3.0-only",
                                     "GNU General Public License v2 (GPLv2)", "GPLv3",
                                     "GNU Affero General Public License v3", "MIT OR GPL-2.0"])
def test_it_flags_gpl_and_agpl(licence):
    assert is_strong_copyleft(licence)


@pytest.mark.parametrize("licence", ["LGPL-3.0-only", "GNU Lesser General Public License v3 (LGPLv3)",
                                     "LGPLv2+", "MPL-2.0 AND MIT", "Apache-2.0", "BSD License", "unknown"])
def test_it_passes_permissive_and_lesser_gpl_licences(licence):
    assert not is_strong_copyleft(licence)


def test_docs_list_the_licence_of_every_package_an_extra_brings():
    documented = (ROOT / "docs" / "licenses.md").read_text()
    missing = [row for row in extras() if "| " + " | ".join(row) + " |" not in documented]
    assert missing == []
    copyleft = [row for row in extras() if is_strong_copyleft(row[2])]
    assert copyleft == [("embedded", "SecantusDB", "GPL-2.0-only AND CC-BY-4.0")]  # the reason for the extra
