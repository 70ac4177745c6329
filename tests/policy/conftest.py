from pathlib import Path

import pytest
from audit_evidence import Auditor, make_report, write_report

from faceaudit.ledger import Ledger
from faceaudit.ledger.genesis import init_home


@pytest.fixture
def home(tmp_path):
    return init_home(tmp_path / "home")


@pytest.fixture
def ledger(home):
    return Ledger(home)


@pytest.fixture
def auditor(tmp_path, home) -> Auditor:
    """An auditor key the home's policy trusts."""
    auditor = Auditor(tmp_path / "auditor-key")
    auditor.trust(home)
    return auditor


@pytest.fixture
def report_factory(tmp_path, auditor):
    """Write a report (``make_report`` keywords) and sign it with the trusted auditor key
    (``signed=False``: leave it unsigned); return the report path."""
    counter = iter(range(10**6))

    def make(signed: bool = True, **kwargs) -> Path:
        path = write_report(tmp_path / "reports" / f"r{next(counter)}" / "report.json",
                            make_report(**kwargs))
        if signed:
            auditor.sign(path)
        return path

    return make
