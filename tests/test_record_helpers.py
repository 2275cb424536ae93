"""Finding a record, and one that may change: one helper per model, in its area, with no request needed."""
from __future__ import annotations

import pytest
from werkzeug.exceptions import Conflict, NotFound

from tracker.commissions.service import commission_to_change_or_404, get_commission_or_404
from tracker.extensions import db
from tracker.funding.rules import closed_year_message
from tracker.funding.service import line_to_change_or_404, year_to_change_or_404
from tracker.milestones.service import milestone_to_change_or_404
from tracker.monitoring.service import outputs_to_change_or_404
from tracker.monitoring.workbook import get_monitoring_return_or_404


def test_a_missing_record_is_a_404_that_says_what_is_missing(app):
    for find, words in ((get_commission_or_404, "There is no commission with that number"),
                        (outputs_to_change_or_404, "There is no commission with that number"),
                        (get_monitoring_return_or_404, "There is no such monitoring return"),
                        (milestone_to_change_or_404, "There is no milestone with that number"),
                        (line_to_change_or_404, "There is no such budget line")):
        with pytest.raises(NotFound) as missing:
            find(999_999)
        assert missing.value.description.startswith(words)


def test_a_record_in_a_closed_year_is_found_but_may_not_change(app, make):
    year = make.year("2024-25", status="closed")
    line = make.budget_line(year=year)
    commission = make.commission(budget_line=line)
    milestone = make.milestone(funding_year=year)
    db.session.commit()
    assert get_commission_or_404(commission.id) is commission
    for may_change, record_id in ((commission_to_change_or_404, commission.id),
                                  (outputs_to_change_or_404, commission.id), (year_to_change_or_404, year.id),
                                  (line_to_change_or_404, line.id), (milestone_to_change_or_404, milestone.id)):
        with pytest.raises(Conflict) as refused:
            may_change(record_id)
        assert refused.value.description == closed_year_message(year)


def test_a_contract_still_funded_in_an_open_year_may_change_though_its_own_year_is_closed(app, make):
    closed, open_year = make.year("2024-25", status="closed"), make.year("2025-26")
    commission = make.commission(year=closed, shares=[(closed, None, 2_500_00), (open_year, None, 7_500_00)])
    db.session.commit()
    assert commission_to_change_or_404(commission.id) is commission  # the contract: not sealed
    with pytest.raises(Conflict):
        outputs_to_change_or_404(commission.id, "2024-25")  # its 2024-25 outputs are that closed year's record
    assert outputs_to_change_or_404(commission.id, "2025-26") == (commission, open_year)
