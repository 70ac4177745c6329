from pathlib import Path

import pytest

from faceaudit.policy import DEFAULT_POLICY, PolicyError, load_policy, parse_policy

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "policy.toml"


def test_absent_policy_file_gives_the_documented_default(home):
    policy = load_policy(home)
    assert policy is DEFAULT_POLICY
    assert policy.fmr_target == 0.001 and policy.max_candidates == 10
    assert policy.required_fields["identify"] == ("purpose", "case")
    assert policy.rate_limits["identify"].max_events == 100
    assert policy.bias_gate.max_fmr_ratio == 2.0


def test_example_policy_parses():
    policy = parse_policy(EXAMPLE.read_bytes(), source=str(EXAMPLE))
    assert "identify" in policy.allowed_operations
    assert policy.bias_gate.required_groups
    assert policy.to_dict()["source"] == str(EXAMPLE)


def test_keys_left_out_take_default_values():
    policy = parse_policy(b"max_candidates = 3\n[bias_gate]\nmax_fmr_ratio = 4.0\n", source="t")
    assert policy.max_candidates == 3
    assert policy.bias_gate.max_fmr_ratio == 4.0
    assert policy.bias_gate.max_fnmr_ratio == DEFAULT_POLICY.bias_gate.max_fnmr_ratio
    assert policy.rate_limits == DEFAULT_POLICY.rate_limits


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"max_candidate = 3", "unknown policy key"),
        (b"[bias_gate]\nmax_ratio = 3", "bias_gate.max_ratio"),
        (b"[bias_gate]\nexclude_groups = ['x']", "unknown policy key"),
        (b"max_candidates = '10'", "must be an integer"),
        (b"max_candidates = 0", "outside"),
        (b"fmr_target = 1.5", "outside"),
        (b"fmr_target = true", "must be a number"),
        (b"allowed_operations = ['identify', 'surveil']", "unknown operation"),
        (b"allowed_operations = 'identify'", "list of operation"),
        (b"[required_fields]\nidentify = ['purpose', 'ethnicity']", "required_fields.identify"),
        (b"[rate_limits.identify]\nmax_events = 5", "needs both"),
        (b"[rate_limits.identify]\nmax_events = 5\nwindow_hours = -1", "outside"),
        (b"[bias_gate]\nmax_fmr_ratio = 0.5", "outside"),
        (b"[bias_gate]\nrequired_groups = 'female'", "list of group names"),
        (b"this is = not toml [", "not valid TOML"),
        (b"\xff\xfe", "not valid TOML"),
    ],
)
def test_invalid_policies_raise_typed_errors(text, message):
    with pytest.raises(PolicyError, match=message):
        parse_policy(text, source="bad.toml")


def test_installed_invalid_policy_is_an_error_not_the_default(home):
    home.ensure()
    home.policy_path.write_text("max_candidates = -1\n")
    with pytest.raises(PolicyError):
        load_policy(home)


def test_review_table_defaults_to_two_blind_reviewers_and_is_checked():
    assert (DEFAULT_POLICY.review.required_reviewers, DEFAULT_POLICY.review.blind) == (2, True)
    assert DEFAULT_POLICY.to_dict()["review"] == {"required_reviewers": 2, "blind": True,
                                                  "probe_crop_hours": 0.0}
    policy = parse_policy(b"[review]\nrequired_reviewers = 3\nblind = false\n", source="t")
    assert (policy.review.required_reviewers, policy.review.blind) == (3, False)
    for bad in (b"required_reviewers = 0", b"required_reviewers = true", b"blind = 1",
                b"reviewers = 2", b"probe_crop_hours = -1", b"probe_crop_hours = 99999"):
        with pytest.raises(PolicyError, match="review"):
            parse_policy(b"[review]\n" + bad + b"\n", source="t")


def test_transparency_table_defaults_to_k_5_and_is_checked():
    assert DEFAULT_POLICY.transparency.k == 5
    assert DEFAULT_POLICY.to_dict()["transparency"] == {"k": 5}
    assert parse_policy(EXAMPLE.read_bytes(), source="example").transparency.k == 5
    assert parse_policy(b"[transparency]\nk = 11\n", source="t").transparency.k == 11
    for bad in (b"k = 0", b"k = true", b"k = 2.5", b"k = 1001", b"threshold = 5"):
        with pytest.raises(PolicyError, match="transparency"):
            parse_policy(b"[transparency]\n" + bad + b"\n", source="t")
    with pytest.raises(PolicyError, match="transparency"):
        parse_policy(b"transparency = 5\n", source="t")
