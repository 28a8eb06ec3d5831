"""The complaint list's return-visit column follows routing's decision (ReturnVisitDecided)."""

from __future__ import annotations

import pytest

from services.reporting.complaint_list import return_visit


@pytest.mark.parametrize(
    ("done", "important", "decided", "shown"),
    [
        (True, False, False, "done"),  # a visit made is made, whatever was decided
        (False, True, None, "required"),  # no decision seen yet: important ones always get one
        (False, False, None, "none"),
        (False, False, True, "required"),  # the quality department chose a visit for this case
        (False, True, True, "required"),
        (False, False, False, "none"),  # the rule (important only) said no
    ],
)
def test_the_return_visit_column(done: bool, important: bool, decided: bool | None, shown: str) -> None:
    assert return_visit(done=done, important=important, decided=decided) == shown
