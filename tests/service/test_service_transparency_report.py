"""``GET /v1/reports/transparency`` over a real HTTP server (issue 23): the same report as the
CLI, small counts suppressed, the auditor's and admin's role; a bad date or template is a 422
problem+json, never a traceback."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from service_harness import Service
from typer.testing import CliRunner

from faceaudit.cli import app
from faceaudit.ledger import Ledger
from faceaudit.policy import install_policy
from faceaudit.service.keys import Role

YEAR = datetime.now(UTC).year


def _searches(service: Service, offences: dict[str, int]) -> None:
    led = Ledger(service.home)
    n = 0
    for offence, count in offences.items():
        for _ in range(count):
            n += 1
            led.append("operator-1", "identify", purpose="investigation", case=f"c{n}",
                       result={"result_id": f"r{n}", "candidates": n % 2,
                               "use": {"offence": offence}, "gate": {"verdict": "passed"}})


def _query(**extra: str) -> dict[str, str]:
    return {"from": f"{YEAR}-01-01", "to": f"{YEAR}-12-31", "period": "year", **extra}


def test_the_report_over_http_is_the_cli_report(service: Service, tmp_path) -> None:
    policy = tmp_path / "policy.toml"  # the closed offence list: its rows are published
    policy.write_text('[authorisation]\noffences = ["robbery", "homicide"]\n')
    install_policy(service.home, Ledger(service.home), policy, "admin")
    _searches(service, {"robbery": 7, "homicide": 2})
    with service.client(Role.AUDITOR) as client:
        response = client.get("/v1/reports/transparency", params=_query())
        maryland = client.get("/v1/reports/transparency",
                              params=_query(template="maryland-2-510"))
    assert response.status_code == 200, response.text
    report = response.json()
    offence = next(t for t in report["tables"] if t["name"] == "searches_by_offence")
    rows = {r["label"]: r["total"] for r in offence["rows"]}
    assert rows["homicide"] == "< 5"
    # 7 robberies and 9 searches in all would give the homicides away by subtraction
    total = offence["totals"]["total"]
    assert "withheld" in (rows["robbery"], total) and {rows["robbery"], total} <= {
        7, 9, "withheld"}
    cli = CliRunner().invoke(app, ["report", "transparency", "--from", f"{YEAR}-01-01", "--to",
                                   f"{YEAR}-12-31", "--period", "year", "--home",
                                   str(service.home.root), "--json"])
    assert cli.exit_code == 0, cli.output
    from_cli = json.loads(cli.stdout)
    assert from_cli["tables"] == report["tables"]
    assert maryland.json()["template"]["citation"] == "Md. Code, Crim. Proc. § 2-510(a)"


def test_bad_requests_are_422_problems(service: Service) -> None:
    with service.client(Role.ADMIN) as client:
        answers = [client.get("/v1/reports/transparency", params=params) for params in (
            _query(template="nevada"), _query(period="week"),
            {"from": "last spring"}, {"from": f"{YEAR}-06-01", "to": f"{YEAR}-01-01"},
            {"to": "soon"})]
    for answer in answers:
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
    assert answers[0].json()["type"].endswith("/transparency-request")
    assert "nevada" in answers[0].json()["detail"]


def test_an_operator_may_not_read_it_and_the_default_is_this_year(service: Service) -> None:
    with service.client(Role.OPERATOR) as client:
        assert client.get("/v1/reports/transparency", params=_query()).status_code == 403
    with service.client(Role.AUDITOR) as client:
        report = client.get("/v1/reports/transparency").json()
    assert report["period"]["from"] == f"{YEAR}-01-01T00:00:00+00:00"
    assert report["period"]["columns"][0] == f"{YEAR}-01"
