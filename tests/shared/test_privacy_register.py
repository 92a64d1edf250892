"""The register of processing activities: every column whose name suggests personal data is
declared (or declared not personal, with a reason), every declared column exists, and the
committed ``docs/privacy-register.md`` is what ``make privacy-register`` writes today."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table

from socle import privacy_register
from socle.privacy import PersonalData

REGISTER = Path(__file__).resolve().parents[2] / "docs" / "privacy-register.md"


@pytest.mark.parametrize("service", [*privacy_register.SERVICES, "every service"])
def test_every_personal_looking_column_of_the_service_is_declared(service):
    declared = (
        privacy_register.infra() if service == "every service" else privacy_register.load(service)
    )
    assert privacy_register.problems(declared) == []


def test_the_committed_register_is_current():
    assert REGISTER.read_text(encoding="utf-8") == privacy_register.render(
        privacy_register.everything()
    ), "docs/privacy-register.md is stale: run `make privacy-register`"


def _declarations(*personal: PersonalData) -> privacy_register.Declarations:
    metadata = MetaData()
    Table(
        "residents",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("email", String),
        Column("mobile_phone", String),
        Column("dog_count", Integer),
    )
    return privacy_register.Declarations("demo", metadata, personal)


def test_a_new_column_with_personal_data_and_no_declaration_is_named():
    covered = PersonalData(
        columns=("residents.email",),
        data="e-mail",
        purpose="tell",
        legal_basis="public task",
        retention="a year",
    )
    assert privacy_register.problems(_declarations(covered)) == [
        "demo: residents.mobile_phone looks like personal data but no declaration covers it"
    ]


def test_a_declared_column_that_does_not_exist_is_named():
    entry = PersonalData(
        columns=("residents.email", "residents.mobile_phone", "residents.birth_date"),
        data="contact",
        purpose="tell",
        legal_basis="public task",
        retention="a year",
    )
    assert privacy_register.problems(_declarations(entry)) == [
        "demo: residents.birth_date is declared but no model has it"
    ]


def test_the_generator_refuses_to_write_a_register_with_gaps(tmp_path, monkeypatch):
    entry = PersonalData(
        columns=("residents.email",),
        data="e-mail",
        purpose="tell",
        legal_basis="public task",
        retention="a year",
    )
    monkeypatch.setattr(privacy_register, "everything", lambda: [_declarations(entry)])
    target = tmp_path / "register.md"
    assert privacy_register.main([str(target)]) == 1
    assert not target.exists()
