import pytest

from loadline.envs.errors import EnvError
from loadline.envs.names import MAX_NAME, namespace_for, validate_name


@pytest.mark.parametrize("name", ["pr-1", "a", "feature-42-login", "0abc", "x" * MAX_NAME])
def test_valid_names(name):
    assert validate_name(name) == name
    assert len(namespace_for(name)) <= 63


def test_longest_name_fills_the_namespace_exactly():
    assert MAX_NAME == 56
    assert len(namespace_for("x" * MAX_NAME)) == 63


def test_too_long_counts_the_namespace_prefix():
    with pytest.raises(EnvError, match=r"too long \(57 characters\).*'review-x+' must be at most 63.*at most 56"):
        validate_name("x" * 57)


@pytest.mark.parametrize("name", ["PR-1", "pr_1", "-pr1", "pr1-", "pr.1", "pr 1", "prß", "pr1\n"])
def test_not_dns_labels(name):
    with pytest.raises(EnvError, match="not a DNS-1123 label"):
        validate_name(name)


def test_empty_name():
    with pytest.raises(EnvError, match="a name is required"):
        validate_name("")
