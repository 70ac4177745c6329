"""The auditor page's erasure sentences: every kind of erasure row in words, never JSON."""

from __future__ import annotations

import json

import pytest

from faceaudit.service.erasure_text import erasure_sentence


@pytest.mark.parametrize(("action", "result", "expected"), [
    ("erase", {"subject_id": "s-17", "templates": 2, "images": 1, "intent_id": "ab"},
     "subject s-17 erased: 2 templates and 1 kept image deleted"),
    ("purge", {"subjects": 2, "subject_ids": ["a", "b"], "templates": 3, "total_subjects": 2},
     "2 subjects past their consent purged (a, b), 3 templates deleted"),
    ("purge", {"probe_crops_of": ["r1"], "results": 1, "reason": "review-period-ended"},
     "probe crops of 1 search deleted (r1): review-period-ended"),
    ("outputs_deleted", {"result_ids": [f"r{i}" for i in range(7)], "reason": "refused",
                         "case_flagged": True},
     "outputs of 7 searches deleted (r0, r1, r2, r3, r4 and 2 more): refused; the case is "
     "flagged"),
    ("erase", {"subject_id": "s-1", "templates": 1, "images": 0, "recovered": True},
     "subject s-1 erased: 1 template and 0 kept images deleted (completed at recovery)"),
    ("purge", {"something_new": [1, 2], "note": "x"}, "note: x; something new: 1, 2"),
])
def test_each_erasure_row_reads_as_a_sentence(action, result, expected) -> None:
    text = erasure_sentence(action, json.dumps(result, sort_keys=True, separators=(",", ":")))
    assert text == expected
    assert "{" not in text and '"' not in text


def test_a_summary_that_is_not_json_is_shown_as_it_is() -> None:
    assert erasure_sentence("erase", "not json") == "not json"
