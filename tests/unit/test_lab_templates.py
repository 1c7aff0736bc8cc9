"""`services.mapping.templates_from_rows`: the one decision "is this a lab's template", no database."""

from __future__ import annotations

import uuid

from forgea_cli.db.lab_templates import BASE_REPO_URL, TEMPLATE_REPO_URL, TemplateRow
from forgea_cli.services.mapping import describe_all, templates_from_rows

LAB = uuid.UUID(int=1)
OTHER = uuid.UUID(int=2)


def row(url: str, version: str = "v2", source: str = TEMPLATE_REPO_URL, lab: uuid.UUID = LAB) -> TemplateRow:
    return TemplateRow(lab, "Leaky cache" if lab == LAB else "Other", version, source, url, None)


def test_spellings_of_one_template_are_one_entry_per_lab_version():
    templates = templates_from_rows(
        [
            row("https://github.com/Forgea-Labs/Leaky-Cache.git", source=BASE_REPO_URL),
            row("https://github.com/forgea-labs/leaky-cache/"),
            row("git@github.com:forgea-labs/leaky-cache-v1.git", version="v1"),
            row("https://github.com/forgea-labs/leaky-cache", version="v1", lab=OTHER),
        ]
    )
    assert set(templates.by_url) == {
        "https://github.com/forgea-labs/leaky-cache",
        "https://github.com/forgea-labs/leaky-cache-v1",
    }
    shared = templates.of("https://github.com/forgea-labs/leaky-cache")
    assert [(t.lab_id, t.version, t.sources) for t in shared] == [
        (LAB, "v2", (BASE_REPO_URL, TEMPLATE_REPO_URL)),
        (OTHER, "v1", (TEMPLATE_REPO_URL,)),
    ]
    assert describe_all(shared) == (
        f"template of lab {LAB} (Leaky cache), version v2; template of lab {OTHER} (Other), version v1"
    )
    assert templates.of("https://github.com/forgea-labs/leaky-cache-ada") == ()
    assert templates.ignored == ()


def test_a_template_url_that_names_no_repository_is_ignored_with_a_note():
    templates = templates_from_rows(
        [
            row("https://bot:ghp_SECRET123@gitlab.com/forgea/leaky-cache", version="v1"),
            row("https://github.com/forgea-labs/leaky-cache"),
        ]
    )
    assert list(templates.by_url) == ["https://github.com/forgea-labs/leaky-cache"]
    (ignored,) = templates.ignored
    assert (ignored.version, ignored.source, ignored.reason) == ("v1", TEMPLATE_REPO_URL, "NOT_GITHUB")
    assert "SECRET" not in ignored.url and "SECRET" not in ignored.describe()
    assert "ignored as a template" in ignored.describe()


def test_templates_follow_the_configured_web_host():
    rows = [row("https://GHE.example.com/Labs/Cache.git"), row("https://github.com/labs/cache", version="v1")]
    templates = templates_from_rows(rows, "https://ghe.example.com")
    assert list(templates.by_url) == ["https://ghe.example.com/labs/cache"]
    assert [i.reason for i in templates.ignored] == ["NOT_GITHUB"]
