"""Locust itself loads the suite: one user class, the stages shape, tasks with their weights."""

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_locust_lists_the_user_class():
    res = subprocess.run([sys.executable, "-m", "locust", "-f", str(ROOT / "loadtests" / "locustfile.py"),
                          "--list"], capture_output=True, text=True, timeout=120, cwd=ROOT,
                         env={**os.environ, "LOADLINE_STAGES": json.dumps(
                             [{"duration": 5, "users": 2, "spawn_rate": 2.0}])})
    assert res.returncode == 0, res.stderr
    assert "EventsUser" in res.stdout


def test_task_weights_give_the_documented_mix():
    code = ("from loadtests.locustfile import EventsUser, StagesShape;"
            "import collections;"
            "print(dict(collections.Counter(t.__name__ for t in EventsUser.tasks)));"
            "print(StagesShape.stages)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT,
                         env={**os.environ, "LOADLINE_STAGES": '[{"duration": 5, "users": 2, "spawn_rate": 2.0}]'})
    assert res.returncode == 0, res.stderr
    weights, stages = res.stdout.strip().splitlines()
    assert ast.literal_eval(weights) == {"search_hot": 5, "search_cold": 2, "get_by_id": 4, "create": 1}
    assert ast.literal_eval(stages) == [{"duration": 5, "users": 2, "spawn_rate": 2.0}]
