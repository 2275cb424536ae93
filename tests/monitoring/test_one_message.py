"""The outputs grid gives one message, with its limit, whatever is wrong with a typed actual (issue 16)."""
import pytest

from tests.monitoring.test_views import HX, count, first_measure
from tracker.models.monitoring import MeasureActual
from tracker.monitoring.service import WHOLE_MESSAGE


@pytest.mark.parametrize("typed", ["twelve", "-3", "99999999", "1.5"])
def test_one_message_with_the_limit(client, auth, commission, typed):
    auth.login("manager")
    m = first_measure(commission)
    response = client.post(f"/measures/{m.id}/actuals/1", data={"value": typed}, headers=HX)
    assert response.status_code == 422
    assert response.text.count('class="field__error"') == 1
    assert WHOLE_MESSAGE in response.text and "10,000,000" in WHOLE_MESSAGE
    assert count(MeasureActual) == 0


def test_the_hint_promises_what_the_keys_do(client, auth, commission):
    auth.login("manager")
    page = client.get(f"/commissions/{commission.id}/outputs").text
    assert "Tab saves and moves to the next one" in page and "Escape cancels" in page
