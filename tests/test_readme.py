"""README's configuration table is part of the contract: it must match the settings object."""

from __future__ import annotations

import re
from pathlib import Path

from service.config import Settings

README = Path(__file__).resolve().parents[1] / "README.md"


def settings_table() -> dict[str, str]:
    text = README.read_text()
    section = text.split("<!-- settings:start -->")[1].split("<!-- settings:end -->")[0]
    row = re.compile(r"^\| `DRIFTLINE_([A-Z_]+)` \| `([^`]*)` \|", flags=re.MULTILINE)
    return dict(row.findall(section))


def test_every_setting_is_documented_with_its_default() -> None:
    documented = settings_table()
    fields = Settings.model_fields
    assert set(documented) == {name.upper() for name in fields}
    for name, field in fields.items():
        default = field.default if field.default_factory is None else field.default_factory()
        shown = str(default).lower() if isinstance(default, bool) else str(default)
        assert documented[name.upper()] == shown, name


def test_documented_defaults_are_what_an_empty_environment_gives(monkeypatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(f"DRIFTLINE_{name.upper()}", raising=False)
    settings = Settings()
    for name, shown in settings_table().items():
        value = getattr(settings, name.lower())
        assert (str(value).lower() if isinstance(value, bool) else str(value)) == shown
