"""The ratio triple: one typed value, its keys spelled once, dicts and records converted back."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from ladasearch.compression.ratios import RATIO_KEYS, Ratios
from ladasearch.errors import RatioError
from ladasearch.search.studydb.records import TrialRecord


def test_round_trip_through_a_dict_keeps_every_ratio_and_ignores_other_keys() -> None:
    ratios = Ratios(0.25, 0.5, 0.75)
    assert tuple(ratios.to_dict()) == RATIO_KEYS
    assert Ratios.from_mapping({**ratios.to_dict(), "target_ratio": 0.2}) == ratios
    assert Ratios.from_mapping({k: np.float32(v) for k, v in ratios.to_dict().items()}) == ratios


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"p_embd": 0.5, "p_svd": 0.5}, "no p_weight given"),
        ({"p_embd": 0.5, "p_svd": 0.5, "p_weight": 0.0}, "p_weight must be in (0, 1]"),
        ({"p_embd": "0.5", "p_svd": 0.5, "p_weight": 0.5}, "p_embd must be a number"),
        ({"p_embd": True, "p_svd": 0.5, "p_weight": 0.5}, "p_embd must be a number"),
    ],
)
def test_bad_mappings_fail_in_one_line_naming_the_key(values: dict, message: str) -> None:
    with pytest.raises(RatioError) as caught:
        Ratios.from_mapping(values)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_a_trial_record_gives_its_ratios_from_attributes_then_params() -> None:
    record = TrialRecord(
        "s", 0, 0, "COMPLETE", params={"p_embd": 0.3}, user_attrs={"p_svd": 0.4, "p_weight": 0.5}
    )
    assert record.ratios() == Ratios(0.3, 0.4, 0.5)
    assert TrialRecord("s", 1, 1, "COMPLETE", params={"p_embd": 0.3}).ratios() is None


def test_reading_ratios_and_study_files_does_not_import_torch() -> None:
    code = (
        "import sys, ladasearch.compression.ratios, ladasearch.search.study_file; "
        "print('torch' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
