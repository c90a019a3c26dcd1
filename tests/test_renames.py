"""Renamed public names: the new name works, the old one still does, for one release, with a warning.

Each old name gives a DeprecationWarning naming the new name and saying it goes in the next
release (docs/architecture.md, "Names", has the rules behind each rename).
"""

from __future__ import annotations

import json
import warnings
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

import funnelkit
from funnelkit import Fired, Funnel, InvalidFunnel, Pipeline, policies, templates
from funnelkit.stores import MemoryStore

if TYPE_CHECKING:
    from pathlib import Path

AT = datetime(2026, 3, 2, 9, tzinfo=UTC)
GOING = "is deprecated and will be removed in the next release"


def _old_data() -> dict[str, Any]:
    """The inbound template's data form with its moves under the old key."""
    data = templates.inbound().to_dict()
    data["transitions"] = data.pop("moves")
    return data


# -- Outcome -> Fired ------------------------------------------------------------------------


def test_fire_returns_a_fired_record() -> None:
    """Funnel.fire returns Fired; its repr and its name in __all__ say Fired, not Outcome."""
    funnel = templates.inbound()
    fired = funnel.fire(funnel.new_lead("L1", at=AT), "convert", at=AT)
    assert type(fired) is Fired
    assert repr(fired).startswith("Fired(lead=")
    assert "Fired" in funnelkit.__all__
    assert "Outcome" not in funnelkit.__all__
    assert "Fired" in funnelkit.funnel.__all__
    assert "Outcome" not in funnelkit.funnel.__all__


@pytest.mark.parametrize("module", [funnelkit, funnelkit.funnel], ids=["funnelkit", "funnel"])
def test_outcome_is_a_deprecated_alias_of_fired(module: Any) -> None:
    """funnelkit.Outcome and funnelkit.funnel.Outcome are Fired, with a warning naming Fired."""
    with pytest.warns(DeprecationWarning, match=rf"{module.__name__}\.Outcome {GOING}; use "
                                                rf"{module.__name__}\.Fired"):
        assert module.Outcome is Fired


def test_star_import_gives_no_deprecated_name() -> None:
    """`from funnelkit import *` neither warns nor brings Outcome in."""
    namespace: dict[str, Any] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        exec("from funnelkit import *", namespace)  # noqa: S102 - the import is the test
    assert "Fired" in namespace
    assert "Outcome" not in namespace


# -- the data key: "transitions" -> "moves" ----------------------------------------------------


def test_the_data_form_writes_moves() -> None:
    """to_dict and to_json write the moves under "moves", never "transitions"."""
    data = templates.inbound().to_dict()
    assert list(data) == ["name", "initial", "stages", "moves"]
    assert "transitions" not in json.loads(templates.inbound().to_json())


def test_problems_name_the_moves_key() -> None:
    """InvalidFunnel paths point into "moves"."""
    data = templates.inbound().to_dict()
    data["moves"][3]["target"] = "nowhere"
    with pytest.raises(InvalidFunnel) as info:
        Funnel.from_dict(data)
    assert info.value.problems[0][0] == "moves[3].target"


def test_old_key_still_reads_with_a_warning_at_the_callers_line() -> None:
    """from_dict reads "transitions" as "moves", warning at the caller's line, not funnelkit's."""
    with pytest.warns(DeprecationWarning, match=rf'key "transitions" {GOING}; use "moves"') as got:
        funnel = Funnel.from_dict(_old_data())
    assert funnel == templates.inbound()
    assert got[0].filename == __file__


def test_old_key_reads_from_json_and_toml() -> None:
    """from_json and from_toml take the old key too, each with the warning."""
    with pytest.warns(DeprecationWarning, match='"transitions"') as got:
        assert Funnel.from_json(json.dumps(_old_data())) == templates.inbound()
    assert got[0].filename == __file__
    toml = ('name = "t"\ninitial = "a"\n[[stages]]\nname = "a"\nteam = "m"\n[[stages]]\n'
            'name = "b"\nteam = "m"\noutcome = "won"\n[[transitions]]\nevent = "go"\nsource = "a"\ntarget = "b"\n')
    with pytest.warns(DeprecationWarning, match=r"\[\[moves\]\] in TOML"):
        assert Funnel.from_toml(toml).events == ("go",)


def test_both_keys_at_once_are_refused() -> None:
    """A definition with "moves" and "transitions" is an InvalidFunnel saying to keep one."""
    data = templates.inbound().to_dict()
    data["transitions"] = data["moves"]
    with pytest.raises(InvalidFunnel) as info:
        Funnel.from_dict(data)
    assert info.value.problems == (("transitions", (
        'both "moves" and "transitions" are given; "transitions" is the old name of "moves": '
        'keep one list, under "moves"')),)


# -- Funnel.load -> Funnel.from_file, policies.load -> policies.from_name --------------------


def test_funnel_from_file_and_its_old_name(tmp_path: Path) -> None:
    """from_file builds from a file; Funnel.load still does, warning that it is from_file now."""
    path = tmp_path / "inbound.json"
    path.write_text(templates.inbound().to_json(), encoding="utf-8")
    assert Funnel.from_file(path) == templates.inbound()
    with pytest.warns(DeprecationWarning, match=rf"Funnel\.load {GOING}; use Funnel\.from_file"):
        assert Funnel.load(path) == templates.inbound()


def test_policies_from_name_and_its_old_name() -> None:
    """policies.from_name builds by name; policies.load still does, with the warning."""
    assert policies.from_name("bant", min_met=3) == policies.bant(min_met=3)
    assert "from_name" in policies.__all__
    assert "load" not in policies.__all__
    with pytest.warns(DeprecationWarning, match=rf"policies\.load {GOING}; use "
                                                rf"funnelkit\.policies\.from_name"):
        assert policies.load("bant", min_met=3) == policies.bant(min_met=3)


def test_available_lists_no_deprecated_policy_name() -> None:
    """available() lists 'not' and no old spelling (not_ still loads, with a warning)."""
    names = policies.available()
    assert "not" in names
    assert "not_" not in names
    assert all(not name.endswith("_") for name in names)


# -- Pipeline.replay -> Pipeline.verify_history ------------------------------------------------


def test_verify_history_and_its_old_name() -> None:
    """verify_history gives the ReplayReport; Pipeline.replay still does, with the warning."""
    pipeline = Pipeline(templates.inbound(), store=MemoryStore())
    pipeline.capture("L1", at=AT)
    pipeline.fire("L1", "convert", at=AT)
    report = pipeline.verify_history()
    assert (report.ok, report.leads, report.transitions) == (True, 1, 1)
    with pytest.warns(DeprecationWarning,
                      match=rf"Pipeline\.replay {GOING}; use Pipeline\.verify_history"):
        assert pipeline.replay() == report
