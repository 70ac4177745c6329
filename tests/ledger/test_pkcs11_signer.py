"""A PKCS#11 token signs the ledger (issue 21, "a key the operator cannot copy"): SoftHSM2 from
Debian's packages, driven through python-pkcs11 — the same code path as a real HSM. The key is
generated on the token, never written to the home, and heads it signs (Ed25519, or ECDSA P-256
where a token has no EdDSA) are verified by the same code as file keys, and by a witness.

SoftHSM2 reads its configuration once per process, so one token serves the whole session and
each test uses its own key label.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

pkcs11 = pytest.importorskip("pkcs11", reason="python-pkcs11 is not installed")
SOFTHSM_MODULE = Path("/usr/lib/softhsm/libsofthsm2.so")
if not SOFTHSM_MODULE.exists() or shutil.which("softhsm2-util") is None:
    pytest.skip("SoftHSM2 is not installed (apt-get install softhsm2; .ci/run installs it)",
                allow_module_level=True)

from faceaudit.base.home import Home  # noqa: E402
from faceaudit.cli import app  # noqa: E402
from faceaudit.ledger import Ledger  # noqa: E402
from faceaudit.ledger.errors import LedgerError, LedgerNoSignerError  # noqa: E402
from faceaudit.ledger.genesis import init_home  # noqa: E402
from faceaudit.ledger.signer import resolve_signer  # noqa: E402
from faceaudit.ledger.signing import fingerprint, load_public_key  # noqa: E402

runner = CliRunner()
TOKEN, PIN, SO_PIN = "faceaudit-test", "1234", "5678"
_labels = itertools.count()


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory) -> Path:
    """One initialised SoftHSM2 token for the session (its configuration in a temp folder)."""
    root = tmp_path_factory.mktemp("softhsm")
    (root / "tokens").mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\n"
                    "log.level = ERROR\n")
    old = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", TOKEN,
                    "--pin", PIN, "--so-pin", SO_PIN], check=True, capture_output=True)
    yield conf
    if old is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = old


@pytest.fixture
def token_env(softhsm, monkeypatch) -> dict[str, str]:
    """The FACEAUDIT_PKCS11_* settings for a fresh key label on the session's token (no file
    key anywhere in this process's environment)."""
    env = {"FACEAUDIT_PKCS11_MODULE": str(SOFTHSM_MODULE), "FACEAUDIT_PKCS11_TOKEN": TOKEN,
           "FACEAUDIT_PKCS11_PIN": PIN, "FACEAUDIT_PKCS11_KEY": f"ledger-{next(_labels)}"}
    monkeypatch.delenv("FACEAUDIT_SIGNING_KEY", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def _token_session():
    """A read-write session on the test token (the process may already be logged in through
    faceaudit's own session: a PKCS#11 login is process-wide)."""
    token = pkcs11.lib(str(SOFTHSM_MODULE)).get_token(token_label=TOKEN)
    try:
        return token.open(user_pin=PIN, rw=True)
    except pkcs11.exceptions.UserAlreadyLoggedIn:
        return token.open(rw=True)


def _fresh_home(tmp_path: Path) -> Home:
    home = Home(tmp_path / "home")
    home.ensure()
    home.marker_path.write_text("{}")
    return home


def _cli(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def test_keygen_on_the_token_then_every_head_verifies_and_no_private_key_is_in_the_home(
        token_env, tmp_path):
    home = _fresh_home(tmp_path)
    made = _cli("ledger", "keygen", "--pkcs11", "--json", "--home", home.root)
    assert made.exit_code == 0, made.output
    assert json.loads(made.output)["key_label"] == token_env["FACEAUDIT_PKCS11_KEY"]
    led = Ledger(home)
    for i in range(3):
        led.append("alice", "enrol", result={"subject_id": f"s{i}"})
    signer = resolve_signer(home)
    assert signer is not None and signer.kind == "pkcs11" and signer.insider_proof
    assert signer.algorithm == "ed25519"
    assert fingerprint(load_public_key(home.public_key_path)) == fingerprint(signer.public_key())
    heads = led.sth_log.heads()
    assert [h.tree_size for h in heads] == [1, 2, 3]
    assert _cli("ledger", "verify", "--home", home.root).exit_code == 0
    assert not home.signing_key_path.exists()
    for path in home.root.rglob("*"):
        if path.is_file():
            assert b"PRIVATE KEY" not in path.read_bytes(), path


def test_the_private_key_cannot_be_read_off_the_token(token_env, tmp_path):
    home = _fresh_home(tmp_path)
    assert _cli("ledger", "keygen", "--pkcs11", "--home", home.root).exit_code == 0
    with _token_session() as session:
        key = session.get_key(object_class=pkcs11.ObjectClass.PRIVATE_KEY,
                              label=token_env["FACEAUDIT_PKCS11_KEY"])
        assert key[pkcs11.Attribute.SENSITIVE] and not key[pkcs11.Attribute.EXTRACTABLE]
        with pytest.raises(pkcs11.exceptions.AttributeSensitive):
            key[pkcs11.Attribute.VALUE]


@pytest.fixture
def token_home(token_env, tmp_path) -> Home:
    """A home made by ``init`` with the token configured and its key generated on the token."""
    from faceaudit.ledger.pkcs11_signer import TokenSettings, generate_token_key

    generate_token_key(TokenSettings.from_env())
    return init_home(tmp_path / "home", None)


def test_init_with_a_token_pins_its_public_key(token_home):
    """`faceaudit init` with the token configured and no key yet: the genesis append writes the
    token's public half into the home, never a file key."""
    assert not token_home.signing_key_path.exists()
    assert Ledger(token_home).verify().ok
    signer = resolve_signer(token_home)
    assert signer is not None
    assert (fingerprint(load_public_key(token_home.public_key_path))
            == fingerprint(signer.public_key()))


def test_ecdsa_p256_where_the_token_has_no_eddsa(token_env, tmp_path):
    """A P-256 key pair (what a token without EdDSA holds): heads are ECDSA, and the same
    verifier and a witness accept them."""
    from pkcs11.util.ec import encode_named_curve_parameters

    with _token_session() as session:
        params = session.create_domain_parameters(
            pkcs11.KeyType.EC,
            {pkcs11.Attribute.EC_PARAMS: encode_named_curve_parameters("1.2.840.10045.3.1.7")},
            local=True)
        params.generate_keypair(store=True, label=token_env["FACEAUDIT_PKCS11_KEY"],
                                mechanism=pkcs11.Mechanism.EC_KEY_PAIR_GEN)
    home = init_home(tmp_path / "home", None)
    led = Ledger(home)
    led.append("alice", "identify", purpose="p", case="c", result={"result_id": "r1"})
    signer = resolve_signer(home)
    assert signer is not None and signer.algorithm == "ecdsa-p256"
    assert _cli("ledger", "verify", "--home", home.root).exit_code == 0
    state = tmp_path / "witness"
    seen = _cli("witness", "--json", "--state", state, "--home", home.root,
                "--public-key", home.public_key_path)
    assert seen.exit_code == 0, seen.output
    led.append("alice", "erase", result={"subject_id": "s1"})
    again = _cli("witness", "--json", "--state", state, "--home", home.root)
    assert again.exit_code == 0 and json.loads(again.output)["status"] == "extended"


def test_a_wrong_pin_refuses_the_append_and_changes_nothing(token_env, token_home):
    """A process given the wrong PIN (its own process: a PKCS#11 login is process-wide)."""
    before = token_home.ledger_path.read_bytes()
    code = ("from pathlib import Path; from faceaudit.base.home import Home; "
            "from faceaudit.ledger import Ledger; "
            f"Ledger(Home(Path({str(token_home.root)!r}))).append('alice', 'erase')")
    env = {**os.environ, **token_env, "FACEAUDIT_PKCS11_PIN": "0000"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode != 0 and "Pkcs11SignerError" in done.stderr
    assert "PIN for token" in done.stderr
    assert token_home.ledger_path.read_bytes() == before
    assert _cli("ledger", "verify", "--home", token_home.root).exit_code == 0


def test_without_the_token_a_process_cannot_append(token_env, token_home, monkeypatch):
    before = token_home.ledger_path.read_bytes()
    for name in token_env:
        monkeypatch.delenv(name)
    with pytest.raises(LedgerNoSignerError):
        Ledger(token_home).append("alice", "erase", result={"subject_id": "s1"})
    assert token_home.ledger_path.read_bytes() == before


def test_a_token_key_that_is_not_the_deployments_is_refused(token_home, monkeypatch):
    """Another key on the token (or another token) cannot sign this home's heads."""
    from faceaudit.ledger.pkcs11_signer import TokenSettings, generate_token_key

    monkeypatch.setenv("FACEAUDIT_PKCS11_KEY", "someone-elses")
    generate_token_key(TokenSettings.from_env())
    before = token_home.ledger_path.read_bytes()
    with pytest.raises(LedgerError, match="does not match"):
        Ledger(token_home).append("alice", "erase", result={"subject_id": "s1"})
    assert token_home.ledger_path.read_bytes() == before


def test_keygen_refuses_a_label_already_on_the_token(token_env, tmp_path):
    first = _fresh_home(tmp_path / "a")
    assert _cli("ledger", "keygen", "--pkcs11", "--home", first.root).exit_code == 0
    second = _fresh_home(tmp_path / "b")
    again = _cli("ledger", "keygen", "--pkcs11", "--home", second.root)
    assert again.exit_code == 4 and "already holds a key" in again.output
    assert not second.public_key_path.exists()


def test_keygen_needs_exactly_one_of_out_and_pkcs11(tmp_path):
    home = _fresh_home(tmp_path)
    assert _cli("ledger", "keygen", "--home", home.root).exit_code == 2
    both = _cli("ledger", "keygen", "--pkcs11", "--out", tmp_path / "k.pem", "--home", home.root)
    assert both.exit_code == 2 and not home.public_key_path.exists()


def test_policy_status_and_the_oversight_report_say_a_token_signs(token_home):
    from datetime import UTC, datetime, timedelta

    from faceaudit.ledger.oversight import build_oversight
    from faceaudit.ledger.signer import signer_summary

    summary = signer_summary(token_home)
    assert summary["kind"] == "pkcs11" and summary["insider_proof"] is True
    assert summary["algorithm"] == "ed25519" and TOKEN in summary["description"]
    status = _cli("policy", "status", "--json", "--home", token_home.root)
    assert json.loads(status.stdout)["signer"]["kind"] == "pkcs11"
    now = datetime.now(UTC)
    report = build_oversight(Ledger(token_home), now - timedelta(days=1), now + timedelta(days=1))
    assert report["ledger"]["signing_key"]["insider_proof"] is True
