"""Funnel definitions, validation, the data form and the pure core (`Funnel.fire`)."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from funnelkit import (
    Context,
    Decision,
    Funnel,
    FunnelBuilder,
    FunnelError,
    InvalidFunnel,
    InvalidInput,
    InvalidPolicy,
    Lead,
    Move,
    NotFound,
    PolicyRefused,
    ReasonRequired,
    Source,
    Stage,
    TransitionNotAllowed,
    UnknownEvent,
    templates,
)

if TYPE_CHECKING:
    from pathlib import Path

    from funnelkit._definition.funnel import StageOutcome

AT = datetime(2026, 3, 2, 9, tzinfo=UTC)
TEAMS = ("marketing", "sales", "success")


def small() -> dict[str, Any]:
    """A small valid funnel in data form: lead -> mql -> sql -> won, with nurture and lost."""
    return {
        "name": "small",
        "initial": "lead",
        "stages": [
            {"name": "lead", "team": "marketing"},
            {"name": "mql", "team": "marketing", "label": "Marketing qualified"},
            {"name": "sql", "team": "sales"},
            {"name": "won", "team": "sales", "outcome": "won"},
            {"name": "nurture", "team": "marketing"},
            {"name": "lost", "team": "sales", "outcome": "lost"},
        ],
        "moves": [
            {"event": "qualify", "source": "lead", "target": "mql"},
            {"event": "accept", "source": "mql", "target": "sql", "sla": "4 business hours"},
            {"event": "win", "source": "sql", "target": "won"},
            {"event": "nurture", "source": "*", "target": "nurture"},
            {"event": "recycle", "source": "nurture", "target": "lead", "backward": True},
            {"event": "reject", "source": "sql", "target": "mql", "backward": True},
            {"event": "touch", "source": "sql", "target": "sql"},
            {"event": "lose", "source": "*", "target": "lost", "requires_reason": True},
        ],
    }


def problems_of(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(InvalidFunnel) as info:
        Funnel.from_dict(data)
    return dict(info.value.problems)


# -- definitions ------------------------------------------------------------------------------


def test_small_funnel_builds_and_introspects() -> None:
    """A valid definition builds; stages, stage(), events_from(), teams and targets answer."""
    f = Funnel.from_dict(small())
    assert [s.name for s in f.stages] == ["lead", "mql", "sql", "won", "nurture", "lost"]
    assert f.stage("mql").label == "Marketing qualified"
    assert f.stage("sql").label == "Sql"
    assert f.events_from("lead") == ("qualify", "nurture", "lose")
    assert f.events_from("won") == ()
    assert f.teams == ("marketing", "sales")
    assert f.target("nurture", "recycle") == "lead"
    assert f.requires_reason("nurture", "recycle")
    assert f.requires_reason("mql", "lose")
    assert not f.requires_reason("lead", "qualify")
    assert f.is_backward("sql", "mql")
    assert not f.is_backward("mql", "sql")
    assert f.move("mql", "accept").sla == "4 business hours"
    assert [m.event for m in f.moves_from("sql")] == ["win", "nurture", "reject", "touch", "lose"]


def test_star_source_means_every_open_stage_except_the_target() -> None:
    """`"*"` expands to the open stages other than the target, never won or lost ones."""
    f = Funnel.from_dict(small())
    with_nurture = [s.name for s in f.stages if "nurture" in f.events_from(s.name)]
    assert with_nurture == ["lead", "mql", "sql"]


def test_stage_lookup_suggests_a_close_name() -> None:
    """`stage()` raises NotFound (a LookupError) with a did-you-mean for a near miss."""
    f = Funnel.from_dict(small())
    with pytest.raises(NotFound, match="did you mean 'sql'") as info:
        f.stage("sqll")
    assert isinstance(info.value, LookupError)
    with pytest.raises(NotFound):
        f.events_from("nope")


def test_builder_defaults_initial_to_the_first_stage() -> None:
    """The builder takes the first stage as the initial one unless told otherwise."""
    b = FunnelBuilder("b").stage("a", "t").stage("z", "t", outcome="won").move("go", "a", "z")
    assert b.build().initial == "a"
    with pytest.raises(InvalidFunnel, match="unreachable"):
        b.initial("z").build()


def test_funnel_is_immutable_and_hashable() -> None:
    """A funnel cannot be changed in place; equal funnels hash alike."""
    f = Funnel.from_dict(small())
    with pytest.raises(AttributeError):
        f.name = "other"  # type: ignore[misc]
    g = Funnel.from_dict(small())
    assert f == g
    assert hash(f) == hash(g)
    assert f != templates.inbound()


# -- validation: every problem, with its path, in one error ------------------------------------


def test_all_problems_are_collected_in_one_error() -> None:
    """One InvalidFunnel lists every problem, each with its path and a did-you-mean."""
    data = {
        "name": "broken",
        "initial": "leed",
        "stages": [
            {"name": "lead", "team": "marketing"},
            {"name": "sql", "team": "sales"},
            {"name": "sql", "team": "sales"},
            {"name": "9lives", "team": "sales"},
            {"name": "orphan", "team": "sales"},
            {"name": "won", "team": "sales", "outcome": "won"},
        ],
        "moves": [
            {"event": "qualify", "source": "lead", "target": "sql"},
            {"event": "qualify", "source": "lead", "target": "won"},
            {"event": "win", "source": "sql", "target": "wonn"},
            {"event": "back", "source": "sql", "target": "lead"},
            {"event": "fwd", "source": "lead", "target": "won", "backward": True},
            {"event": "bad-name", "source": "lead", "target": "won"},
            {"event": "close", "source": "sqll", "target": "won"},
        ],
    }
    with pytest.raises(InvalidFunnel) as info:
        Funnel.from_dict(data)
    err = info.value
    assert isinstance(err, ValueError)
    assert isinstance(err, FunnelError)
    found = dict(err.problems)
    assert "unknown stage 'leed'; did you mean 'lead'?" in found["initial"]
    assert "duplicate stage 'sql'" in found["stages[2].name"]
    assert "'9lives' is not an identifier" in found["stages[3].name"]
    assert "'qualify' from 'lead' is defined twice" in found["moves[1].event"]
    assert found["moves[2].target"] == "unknown stage 'wonn'; did you mean 'won'?"
    assert "declare it backward: true" in found["moves[3].backward"]
    assert "does not go back" in found["moves[4].backward"]
    assert "'bad-name' is not an identifier" in found["moves[5].event"]
    assert "did you mean 'sql'?" in found["moves[6].source"]
    assert len(err.problems) >= 9
    text = str(err)
    assert text.startswith("funnel 'broken' has")
    assert "  moves[2].target: unknown stage 'wonn'; did you mean 'won'?" in text


def test_graph_problems_unreachable_and_no_way_out() -> None:
    """Unreachable stages and open stages with no move out are both reported."""
    data = small()
    data["stages"].append({"name": "limbo", "team": "sales"})
    data["moves"] = [t for t in data["moves"] if t["event"] != "lose"]
    found = problems_of(data)
    assert "stage 'limbo' is unreachable" in found["stages[6]"]
    assert "'lost' is unreachable" in found["stages[5]"]
    stuck = {
        "name": "stuck", "initial": "a",
        "stages": [{"name": "a", "team": "t"}, {"name": "b", "team": "t"},
                   {"name": "won", "team": "t", "outcome": "won"}],
        "moves": [{"event": "go", "source": "a", "target": "b"},
                        {"event": "win", "source": "a", "target": "won"}],
    }
    assert "open stage 'b' has no way out" in problems_of(stuck)["stages[1]"]


def test_an_unknown_initial_stage_hides_no_other_graph_problem() -> None:
    """A misspelt `initial` still lets open stages with no way out be reported, with a note on reachability."""
    stuck = {
        "name": "stuck", "initial": "aa",
        "stages": [{"name": "a", "team": "t"}, {"name": "b", "team": "t"},
                   {"name": "won", "team": "t", "outcome": "won"}],
        "moves": [{"event": "go", "source": "a", "target": "b"},
                        {"event": "win", "source": "a", "target": "won"}],
    }
    found = problems_of(stuck)
    assert "unknown stage 'aa'; did you mean 'a'?" in found["initial"]
    assert "open stage 'b' has no way out" in found["stages[1]"]
    assert found["stages"].startswith(
        "reachability was not checked because the initial stage is unknown")
    stuck["initial"] = ""
    found = problems_of(stuck)
    assert "missing initial stage" in found["initial"]
    assert "initial stage is missing" in found["stages"]


def test_missing_and_empty_pieces() -> None:
    """Missing keys, an empty stage list and a missing initial stage are each reported."""
    found = problems_of({"name": "f", "stages": [], "moves": []})
    assert found["initial"] == "missing"
    assert found["stages"] == "a funnel needs at least one stage"
    found = problems_of({"name": "f", "initial": "", "stages": [{"name": "a", "team": "t"}]})
    assert "missing initial stage" in found["initial"]


def test_unknown_keys_and_wrong_shapes() -> None:
    """Unknown keys get a did-you-mean; non-lists, non-tables and bad values are reported."""
    data = small()
    data["stagez"] = []
    data["stages"][0]["outcom"] = "won"
    data["stages"][1]["outcome"] = "maybe"
    data["moves"][0]["source"] = 3
    data["moves"][1]["sla"] = "soon"
    data["moves"][2]["backward"] = "yes"
    data["moves"].append("not a table")
    found = problems_of(data)
    assert "did you mean 'stages'" in found["stagez"]
    assert "did you mean 'outcome'" in found["stages[0].outcom"]
    assert "'maybe' is not one of open, won, lost" in found["stages[1].outcome"]
    assert "must be a stage name" in found["moves[0].source"]
    assert "not a duration" in found["moves[1].sla"]
    assert "must be true or false" in found["moves[2].backward"]
    assert "is not a table/object" in found["moves[8]"]
    with pytest.raises(InvalidFunnel) as info:
        Funnel.from_dict({**small(), "stages": "lead"})
    assert ("stages", "'lead' is not a list") in info.value.problems


def test_same_event_twice_from_a_stage_through_star() -> None:
    """An event defined from a stage both directly and through `*` is reported."""
    data = small()
    data["moves"].append({"event": "nurture", "source": "lead", "target": "nurture"})
    found = problems_of(data)
    assert "'nurture' from 'lead' is defined twice (first in moves[3])" in found[
        "moves[8].event"
    ]


def test_backward_check_applies_to_each_pair_of_a_list_source() -> None:
    """With a list of sources, each pair is checked: mixed directions are refused."""
    data = small()
    data["moves"].append(
        {"event": "jump", "source": ["lead", "sql"], "target": "mql", "backward": True}
    )
    found = problems_of(data)
    assert "'lead' -> 'mql' does not go back" in found["moves[8].backward"]


def test_stage_field_types_and_team() -> None:
    """A stage with no team, a non-string label or a bad stall setting is reported."""
    stages = [
        Stage("a", ""),
        Stage("b", "t", label=3),  # type: ignore[arg-type]
        Stage("c", "t", stall_after="forever", stall_event="nudge"),
        Stage("won", "t", outcome="won"),
    ]
    moves = [Move("go", "a", "b"), Move("go", "b", "c"), Move("go", "c", "won")]
    with pytest.raises(InvalidFunnel) as info:
        Funnel("f", initial="a", stages=stages, moves=moves)
    found = dict(info.value.problems)
    assert "is not a team" in found["stages[0].team"]
    assert "3 is not a string" in found["stages[1].label"]
    assert "not a duration" in found["stages[2].stall_after"]
    assert "unknown event 'nudge'" in found["stages[2].stall_event"]


def test_non_stage_and_non_move_items_and_bad_policy() -> None:
    """Items that are not Stage/Move and a non-callable policy are reported, not crashed on."""
    with pytest.raises(InvalidFunnel) as info:
        Funnel(
            "f",
            initial="a",
            stages=[Stage("a", "t"), "b", Stage("won", "t", outcome="won")],  # type: ignore[list-item]
            moves=[Move("go", "a", "won", policy=42), object()],  # type: ignore[arg-type, list-item]
        )
    found = dict(info.value.problems)
    assert "'b' is not a funnelkit.Stage" in found["stages[1]"]
    assert "42 is not callable" in found["moves[0].policy"]
    assert "is not a funnelkit.Move" in found["moves[1]"]
    with pytest.raises(InvalidFunnel, match="5 is not a list of funnelkit.Stage"):
        Funnel("f", initial="a", stages=5, moves=[])  # type: ignore[arg-type]
    with pytest.raises(InvalidFunnel, match="unknown stage 3"):
        Funnel("f", initial="a", stages=[Stage("a", "t", outcome="won")],
               moves=[Move("e", 3, "a")])  # type: ignore[arg-type]
    with pytest.raises(InvalidFunnel, match="not a funnel name"):
        Funnel(" ", initial="a", stages=[Stage("a", "t", outcome="won")], moves=[])


def test_policy_in_data_form_that_cannot_load_is_refused_at_build_time() -> None:
    """A broken rule string is refused when the funnel is built, under its path, once."""
    data = small()
    data["moves"][0]["policy"] = "budget >>"
    found = problems_of(data)
    assert "moves[0].policy" in found
    assert not found["moves[0].policy"].startswith("moves[0].policy")


def test_policies_argument_must_name_existing_events() -> None:
    """`from_dict(policies=...)` naming an unknown event is reported with a did-you-mean."""
    with pytest.raises(InvalidFunnel, match="did you mean 'qualify'"):
        Funnel.from_dict(small(), policies={"qualfy": lambda lead, ctx: Decision.allow()})


def test_from_dict_refuses_a_non_mapping() -> None:
    """Data that is not a mapping is refused with InvalidFunnel."""
    with pytest.raises(InvalidFunnel, match="is not a mapping"):
        Funnel.from_dict(["not", "a", "dict"])  # type: ignore[arg-type]


# -- the data form ------------------------------------------------------------------------------


def test_to_dict_round_trip_and_json() -> None:
    """to_dict -> from_dict gives an equal funnel; so does to_json -> from_json."""
    f = Funnel.from_dict(small())
    assert Funnel.from_dict(f.to_dict()) == f
    assert Funnel.from_json(f.to_json()) == f
    assert json.loads(f.to_json()) == f.to_dict()


def test_policies_written_as_data_round_trip() -> None:
    """Rule strings and {"use": ...} tables survive to_dict -> from_dict, and guard moves."""
    data = small()
    data["moves"][0]["policy"] = "budget >= 10"
    data["moves"][1]["policy"] = {"use": "bant", "params": {"min_met": 3}}
    f = Funnel.from_dict(data)
    assert f.to_dict()["moves"][0]["policy"] == "budget >= 10"
    assert Funnel.from_dict(f.to_dict()) == f
    rich = f.new_lead("L1", at=AT, attributes={"budget": 20})
    assert f.fire(rich, "qualify", at=AT).transition.decision.allowed  # type: ignore[union-attr]
    with pytest.raises(PolicyRefused):
        f.fire(f.new_lead("L2", at=AT, attributes={"budget": 2}), "qualify", at=AT)


def test_load_toml_and_json_files(tmp_path: Path) -> None:
    """Funnel.load reads .toml and .json by suffix; other suffixes and bad text are refused."""
    toml = tmp_path / "f.toml"
    toml.write_text(
        'name = "tiny"\ninitial = "lead"\n'
        '[[stages]]\nname = "lead"\nteam = "marketing"\n'
        '[[stages]]\nname = "won"\nteam = "sales"\noutcome = "won"\n'
        '[[moves]]\nevent = "win"\nsource = "lead"\ntarget = "won"\n',
        encoding="utf-8",
    )
    as_json = tmp_path / "f.JSON"
    as_json.write_text(Funnel.from_file(toml).to_json(), encoding="utf-8")
    assert Funnel.from_file(toml) == Funnel.from_file(str(as_json))
    with pytest.raises(InvalidInput, match="unknown suffix"):
        Funnel.from_file(tmp_path / "f.yaml")
    with pytest.raises(InvalidInput, match="cannot read"):
        Funnel.from_file(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = ", encoding="utf-8")
    with pytest.raises(InvalidFunnel, match="not valid TOML"):
        Funnel.from_file(bad)
    with pytest.raises(InvalidFunnel, match="not valid JSON"):
        Funnel.from_json("{")


def test_callable_policy_round_trips_only_when_attached_again() -> None:
    """A plain callable is written as {'repr': ...}; from_dict refuses it unless policies= is given."""

    def guard(lead: Lead, context: Context) -> Decision:
        return Decision.allow()

    f = Funnel.from_dict(small(), policies={"qualify": guard})
    data = f.to_dict()
    assert data["moves"][0]["policy"] == {"repr": repr(guard)}
    with pytest.raises(InvalidFunnel):
        Funnel.from_dict(data)
    assert Funnel.from_dict(data, policies={"qualify": guard}) == f


# -- the pure core ------------------------------------------------------------------------------


@pytest.fixture
def funnel() -> Funnel:
    return Funnel.from_dict(small())


def test_new_lead_starts_in_the_initial_stage(funnel: Funnel) -> None:
    """new_lead gives version 0 in the initial stage with all three times equal to `at`."""
    lead = funnel.new_lead("L1", at=AT, attributes={"budget": 5}, source=Source.of("referral"),
                           owner="ana")
    assert (lead.stage, lead.version, lead.owner) == ("lead", 0, "ana")
    assert lead.created_at == lead.stage_entered_at == lead.updated_at == AT
    assert lead.source == Source("referral", "seed")
    assert funnel.new_lead("L2", at=AT).attributes == {}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"at": datetime(2026, 3, 2)}, "at=.* is naive"),  # noqa: DTZ001
        ({"at": "2026-03-02"}, "is not a datetime"),
        ({"at": AT, "attributes": [1]}, "not a mapping"),
        ({"at": AT, "attributes": {1: "x"}}, "not a string"),
        ({"at": AT, "source": "referral"}, "must be a funnelkit.Source"),
        ({"at": AT, "owner": 7}, "owner=7"),
    ],
)
def test_new_lead_refuses_bad_input(funnel: Funnel, kwargs: dict[str, Any], match: str) -> None:
    """new_lead raises InvalidInput naming the bad argument."""
    with pytest.raises(InvalidInput, match=match):
        funnel.new_lead("L1", **kwargs)
    with pytest.raises(InvalidInput, match="id="):
        funnel.new_lead("", at=AT)


def test_fire_moves_and_records(funnel: Funnel) -> None:
    """fire returns a new lead, the transition record and the team change; the input is unchanged."""
    lead = funnel.new_lead("L1", at=AT)
    later = AT + timedelta(hours=1)
    out = funnel.fire(lead, "qualify", at=later, actor="scoring")
    assert lead.stage == "lead"
    assert lead.version == 0
    assert (out.lead.stage, out.lead.version) == ("mql", 1)
    assert out.lead.stage_entered_at == out.lead.updated_at == later
    assert out.lead.created_at == AT
    t = out.transition
    assert (t.lead_id, t.event, t.source, t.target, t.at, t.actor, t.reason, t.decision,
            t.version) == ("L1", "qualify", "lead", "mql", later, "scoring", None, None, 1)
    assert out.team_change is None
    out2 = funnel.fire(out.lead, "accept", at=later)
    assert out2.team_change == ("marketing", "sales")


def test_same_stage_move_counts_and_keeps_stage_entered_at(funnel: Funnel) -> None:
    """A move to the same stage adds a version and keeps stage_entered_at."""
    lead = funnel.fire(funnel.fire(funnel.new_lead("L1", at=AT), "qualify", at=AT).lead,
                       "accept", at=AT + timedelta(hours=1)).lead
    again = funnel.fire(lead, "touch", at=AT + timedelta(hours=5), reason="touched").lead
    assert again.stage == "sql"
    assert again.version == lead.version + 1
    assert again.stage_entered_at == lead.stage_entered_at
    assert again.updated_at == AT + timedelta(hours=5)


def test_unknown_event_and_not_allowed_name_valid_events(funnel: Funnel) -> None:
    """UnknownEvent (LookupError) and TransitionNotAllowed (ValueError) list the valid events."""
    lead = funnel.new_lead("L1", at=AT)
    with pytest.raises(UnknownEvent) as unknown:
        funnel.fire(lead, "qualfy", at=AT)
    assert isinstance(unknown.value, LookupError)
    assert unknown.value.valid_events == ("qualify", "nurture", "lose")
    assert "did you mean 'qualify'" in str(unknown.value)
    assert not str(unknown.value).startswith("'")  # readable, not a quoted KeyError
    with pytest.raises(TransitionNotAllowed) as refused:
        funnel.fire(lead, "win", at=AT)
    assert isinstance(refused.value, ValueError)
    assert refused.value.valid_events == ("qualify", "nurture", "lose")
    assert (refused.value.event, refused.value.stage) == ("win", "lead")
    assert "events valid from 'lead': qualify, nurture, lose" in str(refused.value)
    won = Lead("L2", "won", created_at=AT)
    with pytest.raises(TransitionNotAllowed, match="none \\(it is a final stage\\)"):
        funnel.fire(won, "win", at=AT)


def test_reason_required_for_backward_and_marked_moves(funnel: Funnel) -> None:
    """Backward moves and requires_reason moves need a non-blank reason."""
    lead = funnel.fire(funnel.new_lead("L1", at=AT), "nurture", at=AT).lead
    with pytest.raises(ReasonRequired, match="goes back to an earlier stage"):
        funnel.fire(lead, "recycle", at=AT)
    with pytest.raises(ReasonRequired):
        funnel.fire(lead, "recycle", at=AT, reason="   ")
    with pytest.raises(ReasonRequired, match="is marked requires_reason"):
        funnel.fire(lead, "lose", at=AT)
    out = funnel.fire(lead, "recycle", at=AT, reason="opened three emails")
    assert out.transition.reason == "opened three emails"
    assert lead.stage == "nurture"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"at": datetime(2026, 3, 2, 10)}, "is naive"),  # noqa: DTZ001
        ({"at": 5}, "is not a datetime"),
        ({"at": AT - timedelta(seconds=1)}, "is before lead 'L1'"),
        ({"at": AT, "actor": 3}, "actor=3"),
        ({"at": AT, "actor": ""}, "actor=''"),
        ({"at": AT, "reason": 3}, "reason=3"),
        ({"at": AT, "context": 3}, "context=3"),
    ],
)
def test_fire_refuses_bad_input(funnel: Funnel, kwargs: dict[str, Any], match: str) -> None:
    """fire raises InvalidInput for naive or early times and wrong types, lead unchanged."""
    guarded = Funnel.from_dict(small(), policies={"qualify": lambda lead, ctx: Decision.allow()})
    lead = guarded.new_lead("L1", at=AT)
    before = pickle.dumps(lead)
    with pytest.raises(InvalidInput, match=match):
        guarded.fire(lead, "qualify", **kwargs)
    assert pickle.dumps(lead) == before


def test_fire_refuses_wrong_lead_stage_and_event_types(funnel: Funnel) -> None:
    """A non-Lead, a lead in an unknown stage and a non-string event raise InvalidInput."""
    with pytest.raises(InvalidInput, match="is not a funnelkit.Lead"):
        funnel.fire("L1", "qualify", at=AT)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="context=3"):
        funnel.fire(funnel.new_lead("L1", at=AT), "qualify", at=AT, context=3)  # type: ignore[arg-type]
    stranger = Lead("L1", "mqll", created_at=AT)
    with pytest.raises(InvalidInput, match="did you mean 'mql'"):
        funnel.fire(stranger, "qualify", at=AT)
    with pytest.raises(InvalidInput, match="event=\\['qualify'\\] is not a string"):
        funnel.fire(funnel.new_lead("L1", at=AT), ["qualify"], at=AT)  # type: ignore[arg-type]


def test_aware_datetimes_in_any_zone_compare_by_instant(funnel: Funnel) -> None:
    """A later instant in another time zone is accepted; an earlier one is refused."""
    lead = funnel.new_lead("L1", at=AT)
    plus2 = timezone(timedelta(hours=2))
    ok = funnel.fire(lead, "qualify", at=datetime(2026, 3, 2, 11, 30, tzinfo=plus2))
    assert ok.lead.updated_at > AT
    with pytest.raises(InvalidInput):
        funnel.fire(lead, "qualify", at=datetime(2026, 3, 2, 10, tzinfo=plus2))


def test_policy_guards_and_refusal_carries_the_decision() -> None:
    """A refusing policy raises PolicyRefused with the decision; an allowing one is recorded."""
    seen: list[Context] = []

    def budget(lead: Lead, context: Context) -> Decision:
        seen.append(context)
        if lead.attributes.get("budget", 0) >= 10:
            return Decision.allow(policy="budget", score=1.0)
        return Decision.deny("budget under 10", policy="budget")

    f = Funnel.from_dict(small(), policies={"qualify": budget})
    poor = f.new_lead("L1", at=AT)
    with pytest.raises(PolicyRefused) as info:
        f.fire(poor, "qualify", at=AT)
    err = info.value
    assert err.decision == Decision.deny("budget under 10", policy="budget")
    assert err.reasons == ("budget under 10",)
    assert (err.event, err.stage) == ("qualify", "lead")
    assert "budget under 10" in str(err)
    assert poor.stage == "lead"
    assert poor.version == 0
    rich = f.new_lead("L2", at=AT, attributes={"budget": 12})
    out = f.fire(rich, "qualify", at=AT, context={"region": "emea"})
    assert out.transition.decision == Decision.allow(policy="budget", score=1.0)
    assert seen[-1].data == {"region": "emea"}
    assert seen[-1].funnel is f
    assert seen[-1].at == AT
    ctx = Context(AT, data={"x": 1})
    f.fire(rich, "qualify", at=AT, context=ctx)
    assert seen[-1] is ctx
    assert f.check(poor, "qualify", at=AT).allowed is False
    assert f.check(poor, "nurture", at=AT) == Decision.allow()
    with pytest.raises(TransitionNotAllowed):
        f.check(poor, "win", at=AT)


def test_a_policy_returning_something_else_is_an_error() -> None:
    """A policy must return a Decision; anything else raises InvalidPolicy."""
    f = Funnel.from_dict(small(), policies={"qualify": lambda lead, ctx: True})  # type: ignore[dict-item]
    lead = f.new_lead("L1", at=AT)
    with pytest.raises(InvalidPolicy, match="must return a funnelkit.Decision"):
        f.fire(lead, "qualify", at=AT)
    with pytest.raises(InvalidPolicy):
        f.check(lead, "qualify", at=AT)


def test_replay_rebuilds_and_finds_problems(funnel: Funnel) -> None:
    """replay rebuilds stage and version and lists gaps and moves the funnel lacks."""
    lead = funnel.new_lead("L1", at=AT)
    records = []
    for event in ("qualify", "accept", "win"):
        out = funnel.fire(lead, event, at=AT)
        records.append(out.transition)
        lead = out.lead
    replayed = funnel.replay(reversed(records))["L1"]
    assert (replayed.stage, replayed.version, replayed.problems) == ("won", 3, ())
    broken = funnel.replay([records[0], records[2]])["L1"]
    assert any("follows 1" in p for p in broken.problems)
    assert any("leaves 'sql'" in p for p in broken.problems)
    with pytest.raises(InvalidInput):
        funnel.replay(["x"])  # type: ignore[list-item]


def test_funnel_pickles_with_picklable_policies(funnel: Funnel) -> None:
    """A funnel without lambdas pickles and stays equal (it may cross process boundaries)."""
    assert pickle.loads(pickle.dumps(funnel)) == funnel


# -- properties ---------------------------------------------------------------------------------


@st.composite
def random_funnels(draw: st.DrawFn) -> Funnel:
    """Small valid funnels: a main path, same-stage, backward and skip moves, maybe lost."""
    n_open = draw(st.integers(1, 5))
    has_lost = draw(st.booleans())
    names = [f"s{i}" for i in range(n_open)] + ["won"] + (["lost"] if has_lost else [])
    stages = []
    for name in names:
        outcome: StageOutcome = "won" if name == "won" else "lost" if name == "lost" else "open"
        stages.append(Stage(name, draw(st.sampled_from(TEAMS)), outcome=outcome))
    moves = [
        Move("advance", f"s{i}", names[i + 1], requires_reason=draw(st.booleans()))
        for i in range(n_open)
    ]
    for i in range(n_open):
        if draw(st.booleans()):
            moves.append(Move("stay", f"s{i}", f"s{i}"))
        if i > 0 and draw(st.booleans()):
            moves.append(Move("back", f"s{i}", f"s{draw(st.integers(0, i - 1))}", backward=True))
        if i + 2 <= n_open and draw(st.booleans()):
            moves.append(Move("jump", f"s{i}", names[draw(st.integers(i + 2, n_open))],
                              sla=draw(st.sampled_from([None, "2 days", "4 business hours"]))))
    if has_lost:
        moves.append(Move("lose", "*", "lost", requires_reason=draw(st.booleans())))
    return Funnel("random", initial="s0", stages=stages, moves=moves)


@given(funnel=random_funnels(), picks=st.lists(st.tuples(st.integers(0, 20),
                                                          st.integers(0, 3 * 86400),
                                                          st.booleans()), max_size=25))
def test_any_sequence_of_valid_events_keeps_the_invariants(
    funnel: Funnel, picks: list[tuple[int, int, bool]]
) -> None:
    """Valid event sequences: known stage, exact version, times never back, reasons on backward."""
    stages = {s.name for s in funnel.stages}
    lead = funnel.new_lead("L1", at=AT)
    at = AT
    moves = 0
    for choice, seconds, with_reason in picks:
        events = funnel.events_from(lead.stage)
        if not events:
            break
        event = events[choice % len(events)]
        at += timedelta(seconds=seconds)
        reason = "because" if with_reason else None
        before = lead
        if funnel.requires_reason(lead.stage, event) and reason is None:
            with pytest.raises(ReasonRequired):
                funnel.fire(lead, event, at=at)
            assert lead == before
            continue
        out = funnel.fire(lead, event, at=at, reason=reason)
        moves += 1
        new = out.lead
        assert new.stage in stages
        assert new.version == moves == out.transition.version
        assert new.updated_at >= before.updated_at
        assert new.stage_entered_at >= before.stage_entered_at
        if new.stage == before.stage:
            assert new.stage_entered_at == before.stage_entered_at
        else:
            assert new.stage_entered_at == at
        if funnel.is_backward(out.transition.source, out.transition.target):
            assert out.transition.reason
        assert lead == before
        assert lead.version == moves - 1
        lead = new


@given(funnel=random_funnels())
def test_to_dict_from_dict_round_trip(funnel: Funnel) -> None:
    """Any valid funnel survives to_dict -> from_dict (and JSON) equal."""
    assert Funnel.from_dict(funnel.to_dict()) == funnel
    assert Funnel.from_json(funnel.to_json()) == funnel


@given(funnel=random_funnels(), seconds=st.integers(1, 10**6))
def test_a_refused_move_leaves_the_lead_unchanged(funnel: Funnel, seconds: int) -> None:
    """Firing earlier than the last change is refused and returns nothing half done."""
    lead = funnel.new_lead("L1", at=AT + timedelta(seconds=seconds))
    snapshot = pickle.dumps(lead)
    event = funnel.events_from(lead.stage)[0]
    with pytest.raises(InvalidInput):
        funnel.fire(lead, event, at=AT, reason="r")
    assert pickle.dumps(lead) == snapshot


# -- faults and misuse found in review --------------------------------------------------------


def test_a_policy_that_raises_becomes_policy_failed_and_nothing_moves() -> None:
    """A host policy's own error is wrapped in PolicyFailed (cause kept); the lead is unchanged."""
    from funnelkit import PolicyFailed  # noqa: PLC0415 - the name under test

    def broken(lead: Lead, context: Context) -> Decision:
        return Decision.allow() if lead.attributes["budget"] else Decision.deny("no")

    funnel = Funnel.from_dict(small(), policies={"qualify": broken})
    lead = funnel.new_lead("L1", at=AT)
    with pytest.raises(PolicyFailed, match="raised KeyError") as caught:
        funnel.fire(lead, "qualify", at=AT)
    assert isinstance(caught.value.__cause__, KeyError)
    assert (caught.value.event, caught.value.lead_id) == ("qualify", "L1")
    assert isinstance(caught.value, RuntimeError)
    assert lead.stage == "lead"
    with pytest.raises(PolicyFailed):
        funnel.check(lead, "qualify", at=AT)


def test_a_policy_raising_a_funnel_error_is_not_wrapped() -> None:
    """A policy that deliberately raises a FunnelError keeps its own error."""
    def strict(lead: Lead, context: Context) -> Decision:
        raise InvalidInput("the lead has no country")

    funnel = Funnel.from_dict(small(), policies={"qualify": strict})
    with pytest.raises(InvalidInput, match="no country"):
        funnel.fire(funnel.new_lead("L1", at=AT), "qualify", at=AT)


def test_a_context_for_another_time_is_refused() -> None:
    """fire and check refuse a Context whose at differs from the move's at."""
    funnel = Funnel.from_dict(small(), policies={"qualify": lambda lead, ctx: Decision.allow()})
    lead = funnel.new_lead("L1", at=AT)
    stale = Context(AT - timedelta(days=30))
    with pytest.raises(InvalidInput, match=r"context\.at"):
        funnel.fire(lead, "qualify", at=AT, context=stale)
    with pytest.raises(InvalidInput, match=r"context\.at"):
        funnel.check(lead, "qualify", at=AT, context=stale)
    assert funnel.fire(lead, "qualify", at=AT, context=Context(AT)).lead.stage == "mql"


def test_check_refuses_a_wrong_context_type_even_when_unguarded() -> None:
    """check, like fire, refuses a context that is not a Context, a mapping or None."""
    funnel = Funnel.from_dict(small())
    lead = funnel.new_lead("L1", at=AT)
    with pytest.raises(InvalidInput, match="context=5"):
        funnel.check(lead, "qualify", at=AT, context=5)  # type: ignore[arg-type]


def test_a_stall_event_must_leave_its_own_stage() -> None:
    """stall_event naming an event that exists elsewhere but not from that stage is refused."""
    data = small()
    data["stages"][1]["stall_event"] = "win"  # 'win' leaves sql, not mql
    data["stages"][1]["stall_after"] = "14 days"
    problems = problems_of(data)
    assert "does not leave stage 'mql'" in problems["stages[1].stall_event"]
    data["stages"][1]["stall_event"] = "nurture"
    assert Funnel.from_dict(data).stage("mql").stall_event == "nurture"


def test_a_built_funnel_cannot_be_changed_through_its_policy_data(monkeypatch: pytest.MonkeyPatch) -> None:
    """Editing the dict given as a policy, or the one to_dict() returns, leaves the funnel as built."""
    from funnelkit._policy import policies as _policies  # noqa: PLC0415

    monkeypatch.setattr(_policies, "policy_from_data",
                        lambda spec, *, path: lambda lead, ctx: Decision.allow())
    spec: dict[str, Any] = {"use": "bant", "params": {"budget": "budget"}}
    data = small()
    data["moves"][0]["policy"] = spec
    funnel = Funnel.from_dict(data)
    spec["params"]["budget"] = "changed"
    funnel.to_dict()["moves"][0]["policy"]["params"]["budget"] = "changed"
    assert funnel.moves[0].policy == {"use": "bant", "params": {"budget": "budget"}}


@pytest.mark.parametrize("call", [
    lambda f: f.replay(None),
    lambda f: Funnel.from_dict(small(), policies=5),
])
def test_wrong_argument_types_are_typed_errors(call: Any) -> None:
    """replay(None) and from_dict(policies=5) raise InvalidInput, not a builtin error."""
    with pytest.raises(InvalidInput):
        call(Funnel.from_dict(small()))
