"""``xdeg path --where``: a chain inside a filter on the images' metadata; a bad filter exits 2
in one line, a filter that holds no chain exits non-zero in one line."""

from __future__ import annotations

import json

import pytest

from xdeg_pipeline import cli
from xdeg_pipeline.core.images.filters import fields_of, parse_filter
from xdeg_pipeline_tests.helpers.explorer_home import own_environment
from xdeg_pipeline_tests.helpers.metadata_home import LONELY, year_of


def _xdeg(capsys: pytest.CaptureFixture[str], home: dict, *args: str) -> tuple[int, str, str]:
    with own_environment():
        code = cli.main(["path", *args, "--home", str(home["home"]),
                         "--images", str(home["images"])])
    out, err = capsys.readouterr()
    return code, out, err


def test_path_where(metadata_home: dict, capsys: pytest.CaptureFixture[str]) -> None:
    names, rows = metadata_home["names"], {r["name"]: r for r in metadata_home["rows"]}
    early = [n for i, n in enumerate(names) if year_of(i) < 1800 and i % 2]  # oil on canvas
    a, b = early[0], early[-1]
    code, out, err = _xdeg(capsys, metadata_home, a, b, "--json", "--where", "date<1800",
                           "--where", "medium~o AND label~work", "--alternatives", "2")
    assert code == 0, err
    chains = [json.loads(line) for line in out.splitlines()]
    parsed = parse_filter(["date<1800", "medium~o", "label~work"])
    for chain in chains:
        assert chain["where"] == ["date<1800", "medium~o AND label~work"]
        assert chain["path"][0] == a and chain["path"][-1] == b
        for n in chain["path"]:
            assert parsed.matches(fields_of(n, {k: v for k, v in rows[n].items() if k != "name"}))

    code, out, err = _xdeg(capsys, metadata_home, a, b, "--where", "date before 1800")
    assert code == 2 and err.count("\n") == 1 and "no operator" in err and not out
    code, _, err = _xdeg(capsys, metadata_home, a, b, "--where", "colour=red")
    assert code == 2 and "no image has the field 'colour'" in err

    lonely = metadata_home["lonely"]
    code, out, err = _xdeg(capsys, metadata_home, *lonely, "--where", f"creator={LONELY}")
    assert code != 0 and err.count("\n") == 1 and "no chain" in err and not out
    late = next(n for i, n in enumerate(names) if year_of(i) >= 1800)
    code, _, err = _xdeg(capsys, metadata_home, a, late, "--where", "date<1800")
    assert code == 2 and "outside the filter date<1800" in err
