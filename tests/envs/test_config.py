import shutil
from datetime import UTC, datetime, timedelta

import pytest
import yaml

from loadline.envs.config import (
    TEMPLATE,
    check_label,
    generate_config,
    is_generated,
    merge,
    owner_label,
    parse_timestamp_label,
    timestamp_label,
    write_stack_file,
)
from loadline.envs.errors import EnvError
from loadline.profile import STACKS_DIR, ProfileError, available_stacks, load_profile

CREATED = datetime(2026, 11, 24, 14, 0, 5, tzinfo=UTC)
EXPIRES = CREATED + timedelta(hours=24)


def gen(name="pr-1", from_stack="dev", **kw):
    return generate_config(name, from_stack, owner=kw.pop("owner", "jane@example.com"),
                           created=CREATED, expires=EXPIRES, **kw)


@pytest.fixture
def stacks(tmp_path):
    """A private copy of stacks/ so tests can add stacks and templates."""
    d = tmp_path / "stacks"
    shutil.copytree(STACKS_DIR, d)
    return d


def test_review_overlay_on_dev():
    review = gen()
    dev = load_profile("dev")
    p = review.profile
    assert p.environment == "review"
    assert p.namespace == "review-pr-1"
    # everything the template does not set comes from --from
    assert p.api == dev.api and p.redis == dev.redis and p.slo == dev.slo and p.image == dev.image
    assert review.labels == {
        "loadline.dev/owner": "jane-example.com",
        "loadline.dev/created": "20261124T140005Z",
        "loadline.dev/expires": "20261125T140005Z",
    }
    assert review.config["loadline:labels"] == review.labels


@pytest.mark.parametrize("stack", [s for s in available_stacks() if s in {"dev", "staging", "prod", "local"}])
def test_every_permanent_stack_can_seed_a_review_env(stack):
    review = gen(name=f"from-{stack}", from_stack=stack)
    assert review.profile.environment == "review"
    assert review.profile.slo == load_profile(stack).slo


def test_written_file_loads_as_the_same_profile(stacks):
    review = gen(stacks_dir=stacks)
    path = write_stack_file(review, stacks)
    assert path == stacks / "Pulumi.pr-1.yaml"
    assert load_profile("pr-1", stacks) == review.profile
    assert yaml.safe_load(path.read_text())["config"]["loadline:labels"] == review.labels
    assert is_generated(path)
    assert not is_generated(stacks / "Pulumi.dev.yaml")
    assert [p.name for p in stacks.iterdir() if p.name.endswith(".tmp")] == []


def test_merge_rule():
    base = {"a": {"b": 1, "c": [1, 2], "d": {"e": 1}}, "keep": 1}
    overlay = {"a": {"c": [3], "d": {"f": 2}, "g": "new"}, "x": {"y": 1}}
    assert merge(base, overlay) == {
        "a": {"b": 1, "c": [3], "d": {"e": 1, "f": 2}, "g": "new"}, "keep": 1, "x": {"y": 1}}
    assert base["a"]["c"] == [1, 2]  # inputs untouched


def test_unknown_from_stack_names_known_ones():
    with pytest.raises(ProfileError, match=r"no stack file Pulumi.nope.yaml .*known: .*dev"):
        gen(from_stack="nope")


def test_from_itself_is_refused():
    with pytest.raises(EnvError, match="cannot be created from itself"):
        gen(name="dev", from_stack="dev")


def test_secure_values_are_not_copied(stacks):
    doc = yaml.safe_load((stacks / "Pulumi.dev.yaml").read_text())
    doc["config"]["loadline:dbPassword"] = {"secure": "v1:abc"}
    doc["config"]["kubernetes:context"] = "kind-loadline"
    (stacks / "Pulumi.dev.yaml").write_text(yaml.safe_dump(doc))
    review = gen(stacks_dir=stacks)
    assert review.skipped_secrets == ["loadline:dbPassword"]
    assert "loadline:dbPassword" not in review.config
    assert review.config["kubernetes:context"] == "kind-loadline"


def _template(stacks, text):
    path = stacks / "review.template.yaml"
    path.write_text(text)
    return path


def test_template_must_keep_the_namespace_rule(stacks):
    text = TEMPLATE.read_text().replace("namespace: review-${NAME}", "namespace: pr-${NAME}")
    with pytest.raises(EnvError, match=r"namespace must be 'review-\$\{NAME\}' \(got 'pr-pr-1'\)"):
        gen(stacks_dir=stacks, template=_template(stacks, text))


def test_template_unknown_placeholder(stacks):
    text = TEMPLATE.read_text().replace("${OWNER}", "${TEAM}")
    with pytest.raises(EnvError, match=r"config.loadline:labels.loadline.dev/owner: unknown placeholder \$\{TEAM\}"):
        gen(stacks_dir=stacks, template=_template(stacks, text))


def test_template_must_record_expiry(stacks):
    text = "\n".join(line for line in TEMPLATE.read_text().splitlines() if "expires" not in line)
    with pytest.raises(EnvError, match="must set loadline.dev/expires"):
        gen(stacks_dir=stacks, template=_template(stacks, text))


def test_overlay_that_breaks_the_profile_names_the_key(stacks):
    text = TEMPLATE.read_text().replace("environment: review", "environment: review\n    replicas: 3")
    with pytest.raises(ProfileError, match=r"stack 'pr-1': replicas: unknown key"):
        gen(stacks_dir=stacks, template=_template(stacks, text))


def test_bad_label_value(stacks):
    text = TEMPLATE.read_text().replace("loadline.dev/owner: ${OWNER}", "loadline.dev/owner: ${OWNER}:x")
    with pytest.raises(EnvError, match=r"loadline:labels.loadline.dev/owner: label value 'jane-example.com:x' is not valid"):
        gen(stacks_dir=stacks, template=_template(stacks, text))


@pytest.mark.parametrize("owner,label", [
    ("jane@example.com", "jane-example.com"),
    ("runner", "runner"),
    ("--x--", "x"),
    ("@@@", "unknown"),
    ("a" * 80, "a" * 63),
])
def test_owner_label(owner, label):
    assert owner_label(owner) == label


def test_timestamp_label_round_trip():
    assert parse_timestamp_label(timestamp_label(CREATED)) == CREATED


def test_rewrite_keeps_the_keys_pulumi_added(stacks):
    path = write_stack_file(gen(stacks_dir=stacks), stacks)
    doc = yaml.safe_load(path.read_text())
    doc["encryptionsalt"] = "v1:abc:def"
    doc["config"]["loadline:labels"]["stray"] = "x"
    path.write_text(yaml.safe_dump(doc))
    write_stack_file(gen(stacks_dir=stacks, owner="bob"), stacks)
    again = yaml.safe_load(path.read_text())
    assert again["encryptionsalt"] == "v1:abc:def"
    assert again["config"]["loadline:labels"]["loadline.dev/owner"] == "bob"
    assert "stray" not in again["config"]["loadline:labels"]


@pytest.mark.parametrize("key, value, reason", [
    ("team", "web\n", "label value 'web\n' is not valid"),
    ("team\n", "web", "label name 'team\n' is not valid"),
    ("acme.io\n/team", "web", "label prefix 'acme.io\n' is not a DNS subdomain"),
])
def test_a_label_with_a_trailing_newline_is_refused(key, value, reason):
    check_label("loadline.dev/team", "web")
    with pytest.raises(EnvError, match=reason):
        check_label(key, value)
