"""Who may hold and do what, without any server: scopes a person receives by role, the
audiences a token carries, what a principal sees, and which events a webhook may follow."""

from __future__ import annotations

import pytest

from socle.auth import Principal
from socle_identity import scopes
from socle_notify.errors import UnknownEventType
from socle_notify.event_types import check_event_types, known_pattern

# ---- scopes by role ------------------------------------------------------------------------

GREEDY = [
    "openid",
    "email",
    "payments:write",
    "procedures:admin",
    "notifications:send",
    "identity:admin",
    "documents:read",
]


def test_a_citizen_gets_only_what_acts_on_their_own_records() -> None:
    assert scopes.for_user(GREEDY, ["citizen"]) == [
        "openid",
        "email",
        "payments:write",
        "documents:read",
    ]


def test_an_agent_gets_service_scopes_but_no_administration() -> None:
    granted = scopes.for_user(GREEDY, ["agent"])
    assert "notifications:send" in granted and "payments:write" in granted
    assert "procedures:admin" not in granted and "identity:admin" not in granted


def test_an_admin_gets_everything_asked_and_roles_add_up() -> None:
    assert scopes.for_user(GREEDY, ["admin"]) == GREEDY
    assert scopes.for_user(GREEDY, ["citizen", "agent"]) == scopes.for_user(GREEDY, ["agent"])


def test_an_unknown_role_gets_only_the_openid_scopes() -> None:
    assert scopes.for_user(GREEDY, ["hacker"]) == ["openid", "email"]
    assert scopes.for_user(["identity:account"], ["admin"]) == []  # never through /authorize


def test_each_scope_brings_its_service_audience_once() -> None:
    assert scopes.audiences(["openid", "payments:read", "payments:write", "documents:read"]) == [
        "socle-identity",
        "socle-payment",
        "socle-storage",
    ]
    assert scopes.audiences(["profile", "email", "unknown:scope"]) == []
    assert scopes.audiences(["identity:account"]) == ["socle-identity"]


def test_a_scope_string_is_split_without_repeats() -> None:
    assert scopes.split("openid  email openid\tpayments:read") == [
        "openid",
        "email",
        "payments:read",
    ]
    assert scopes.split(None) == []


def test_client_credentials_without_scope_get_no_administration() -> None:
    registered = ["openid", "payments:read", "notifications:admin", "notifications:send"]
    assert scopes.default_client_scopes(registered) == ["payments:read", "notifications:send"]


# ---- principals ----------------------------------------------------------------------------


def principal(subject: str, client: str, *roles: str) -> Principal:
    return Principal(
        subject=subject,
        tenant="vevey",
        client_id=client,
        scopes=frozenset(),
        roles=frozenset(roles),
    )


def test_a_person_sees_only_their_own_records() -> None:
    anna = principal("anna", "portal", "citizen")
    assert not anna.is_client and not anna.is_staff and not anna.commune_wide
    assert anna.owner == "anna"


@pytest.mark.parametrize("role", ["agent", "admin"])
def test_the_communes_staff_see_every_record(role: str) -> None:
    agent = principal("agent-7", "back-office", role)
    assert agent.is_staff and agent.commune_wide and agent.owner is None


def test_a_client_acting_for_itself_sees_every_record_of_its_tenant() -> None:
    service = principal("back-office", "back-office")
    assert service.is_client and service.commune_wide and service.owner is None


def test_a_mediator_is_no_staff() -> None:
    mediator = principal("lea", "portal", "mediator")
    assert not mediator.commune_wide and mediator.owner == "lea"


# ---- webhook event types -------------------------------------------------------------------


@pytest.mark.parametrize("pattern", ["*", "payment.succeeded", "payment.*", "document.*"])
def test_documented_types_and_their_nouns_may_be_followed(pattern: str) -> None:
    assert known_pattern(pattern)
    assert check_event_types([pattern]) == [pattern]


@pytest.mark.parametrize(
    "pattern", ["payment.succeded", "payments.*", "payment.**", "*.succeeded", "", ">", "payment"]
)
def test_an_unknown_type_is_refused_naming_it(pattern: str) -> None:
    with pytest.raises(UnknownEventType) as refused:
        check_event_types(["payment.succeeded", pattern])
    assert refused.value.status == 422
    assert refused.value.errors == [
        {"field": "event_types.1", "message": "unknown", "code": "unknown"}
    ]
