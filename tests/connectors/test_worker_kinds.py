"""The worker table behind `runconsumers --only` and `--help`: every kind named and explained,
a comma list or a repeated option accepted, a wrong name refused with the valid ones listed."""
from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from connectors.management.commands.runconsumers import Command, selected_kinds
from connectors.workers.registry import WORKER_KINDS, WORKER_TABLE


def parse(*args: str):  # type: ignore[no-untyped-def]
    return Command().create_parser("manage.py", "runconsumers").parse_args(list(args))


def test_help_names_and_explains_every_worker_kind():
    text = Command().create_parser("manage.py", "runconsumers").format_help()
    assert len(WORKER_TABLE) == 9
    for kind in WORKER_TABLE:
        assert f"  {kind.name} " in text and kind.help in text and f"needs {kind.needs}" in text


def test_only_takes_a_comma_list_and_repeats():
    options = parse("--only", "sf-capture,mongo-apply", "--only", " jobs ")
    assert selected_kinds(options.only) == {"sf-capture", "mongo-apply", "jobs"}
    assert selected_kinds(parse().only) == set(WORKER_KINDS)


@pytest.mark.parametrize("value", ["sf-capture,mongo-aply", "", ","])
def test_an_unknown_kind_is_refused_naming_the_valid_ones(value):
    with pytest.raises(CommandError) as refused:
        call_command("runconsumers", "--only", value)
    assert "unknown worker kind" in str(refused.value)
    assert ", ".join(WORKER_KINDS) in str(refused.value)


@pytest.mark.django_db
def test_only_builds_just_the_kinds_named(make_workers):
    kinds = selected_kinds(parse("--only", "sf-capture,mongo-apply").only)
    workers = make_workers(kinds=kinds)
    # sf-capture also builds the mapping's key-range reader (sf-reread), as in every capture process.
    assert sorted({w.name.split(":")[0] for w in workers}) == ["mongo-apply", "mongo-reread", "sf-capture",
                                                                "sf-reread"]
