"""One backend interface (``desktop.backend.Backend``): both implementations keep to it, and the
views ask it what a workspace and a number can do instead of which kind they are."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from desktop.backend import Backend, Features, NotOffered, provider_capabilities
from desktop.solo_backend import SoloBackend
from desktop.team_backend import TeamBackend
from sync.domain.models import Account
from sync.providers import registry
from sync.store.local.cache_key import CacheKey

if TYPE_CHECKING:
    from tests.conftest import ARun

ROOT = Path(__file__).resolve().parents[2]
IMPLEMENTATIONS = [SoloBackend, TeamBackend]


def _members(cls: type) -> dict[str, object]:
    return {
        name: value
        for name, value in vars(cls).items()
        if not name.startswith("_") and (callable(value) or isinstance(value, property))
    }


def _made(implementation: type, tmp_path: Path) -> SoloBackend | TeamBackend:
    if implementation is SoloBackend:
        return SoloBackend.create(tmp_path / "c.db", CacheKey.generate(), demo=True)
    return TeamBackend.create(tmp_path / "c.db", CacheKey.generate(), server_url="")


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS, ids=lambda c: c.__name__)
def test_an_implementation_has_every_member_of_the_interface(
    implementation: type, tmp_path: Path
) -> None:
    made = _made(implementation, tmp_path)
    for name, member in _members(Backend).items():
        if isinstance(member, property):  # an attribute or a property of the implementation
            assert hasattr(made, name), f"{implementation.__name__} has no {name}"
            continue
        own = getattr(implementation, name, None)
        assert own is not None, f"{implementation.__name__} has no {name}"
        assert inspect.iscoroutinefunction(own) == inspect.iscoroutinefunction(member), name
        wanted = inspect.signature(member).parameters
        given = inspect.signature(own).parameters
        for parameter in wanted.values():
            assert parameter.name in given, f"{implementation.__name__}.{name}: {parameter}"
            assert given[parameter.name].kind == parameter.kind, f"{name}: {parameter}"
        # Anything more must be optional: a view calls it with the interface's arguments only.
        for extra in given.keys() - wanted.keys():
            assert given[extra].default is not inspect.Parameter.empty, f"{name}: {extra}"


def _account(provider: str) -> Account:
    return Account(1, "Loja", provider, "5511900000000")


def test_a_number_s_capabilities_are_its_provider_s_declared_ones(tmp_path: Path) -> None:
    solo = SoloBackend.create(tmp_path / "s.db", CacheKey.generate(), demo=False)
    team = TeamBackend.create(tmp_path / "t.db", CacheKey.generate(), server_url="")
    for backend in (solo, team):
        meta = backend.number_capabilities(_account("meta"))
        assert meta is not None and meta.templates and not meta.needs_qr_link
        linked = backend.number_capabilities(_account("evolution"))
        assert linked is not None and linked.needs_qr_link and not linked.templates
        # A provider this Caixa does not know (a team's server may be newer): nothing special.
        assert backend.number_capabilities(_account("carrier-pigeon")) is None
    for kind in registry.kinds():
        assert provider_capabilities(kind) is not None, kind


def test_alone_the_user_decides_everything_and_shares_nothing(arun: ARun, tmp_path: Path) -> None:
    demo = SoloBackend.create(tmp_path / "d.db", CacheKey.generate(), demo=True)
    assert arun(demo.features()) == Features(can_send_again=True, manages_numbers=False)
    own = SoloBackend.create(
        tmp_path / "o.db", CacheKey.generate(), demo=False, key_file=tmp_path / "k.json"
    )
    arun(own.prepare())
    try:
        features = arun(own.features())
        assert features.manages_numbers and features.can_send_again
        assert not (features.assignments or features.notes or features.can_take)
        assert arun(own.assignment(1)) is None and arun(own.notes(1)) == []
        with pytest.raises(NotOffered):
            arun(own.add_note(1, "x"))
    finally:
        arun(own.aclose())


def test_a_team_offers_owners_and_notes_but_no_numbers_of_its_own(
    arun: ARun, tmp_path: Path
) -> None:
    team = TeamBackend.create(tmp_path / "t.db", CacheKey.generate(), server_url="")
    features = arun(team.features())  # not logged in: an agent's at most
    assert features.assignments and features.can_take and features.notes
    assert not (features.can_assign or features.can_send_again or features.manages_numbers)
    assert team.workspace is None
    with pytest.raises(NotOffered):
        arun(team.set_receiver("127.0.0.1:8787", ""))


def test_views_compare_no_provider_names() -> None:
    """A view asks what a number's provider can do (``Backend.number_capabilities``), never
    which provider it is: a new provider then needs no view changed."""
    kinds = set(registry.kinds())
    found = []
    for path in sorted((ROOT / "desktop").rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Compare):
                for operand in [node.left, *node.comparators]:
                    for constant in ast.walk(operand):
                        if isinstance(constant, ast.Constant) and constant.value in kinds:
                            found.append(f"{relative}:{node.lineno}: {constant.value!r}")
    assert found == []
