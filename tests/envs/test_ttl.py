from datetime import timedelta

import pytest

from loadline.envs.errors import EnvError
from loadline.envs.ttl import format_ttl, parse_ttl


@pytest.mark.parametrize("text,expected", [
    ("24h", timedelta(hours=24)),
    ("90m", timedelta(minutes=90)),
    ("7d", timedelta(days=7)),
    ("15m", timedelta(minutes=15)),
    ("14d", timedelta(days=14)),
    (" 2h ", timedelta(hours=2)),
])
def test_parse(text, expected):
    assert parse_ttl(text) == expected


@pytest.mark.parametrize("text", ["24", "h", "1.5h", "-1h", "24H", "1w", "1h30m", "", "24 h"])
def test_bad_format_names_the_accepted_units(text):
    with pytest.raises(EnvError, match=r"invalid --ttl .*unit m, h or d"):
        parse_ttl(text)


def test_below_minimum():
    with pytest.raises(EnvError, match="shorter than the minimum of 15m"):
        parse_ttl("14m")


def test_above_maximum():
    with pytest.raises(EnvError, match="longer than the maximum of 14d"):
        parse_ttl("337h")


@pytest.mark.parametrize("delta,text", [
    (timedelta(minutes=45), "45m"),
    (timedelta(hours=3, minutes=20), "3h20m"),
    (timedelta(hours=3), "3h"),
    (timedelta(days=2, hours=4, minutes=59), "2d4h"),
    (timedelta(days=1), "1d"),
    (timedelta(minutes=-90), "-1h30m"),
])
def test_format(delta, text):
    assert format_ttl(delta) == text
