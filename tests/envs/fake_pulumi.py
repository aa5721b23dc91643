"""A stand-in for the `pulumi` binary: the engine is the one thing these tests replace.

It answers the commands the Automation API issues for create-or-select, up, stack output,
stack history, destroy and stack rm, and checks what the real CLI would need from the
workspace: a Pulumi.yaml whose `main` exists and whose stack config directory holds
Pulumi.<stack>.yaml (resolved as the CLI does, relative to the Pulumi.yaml). Every call is
appended to $FAKE_PULUMI_LOG as JSON. $FAKE_PULUMI_FAIL=up|destroy makes that command fail;
destroy:<stack> fails the destroy of that stack only.
"""

import json
import os
import sys
from pathlib import Path

import yaml

STATE = Path(os.environ["FAKE_PULUMI_STATE"])
NOW = "2026-11-24T12:00:00.000000Z"


def fail(message: str, code: int = 255) -> None:
    sys.stderr.write(f"error: {message}\n")
    sys.exit(code)


def stack_arg(argv: list[str]) -> str:
    return argv[argv.index("--stack") + 1]


def stack_config_file(stack: str) -> Path:
    project = yaml.safe_load(Path("Pulumi.yaml").read_text())
    config_dir = project.get("stackConfigDir") or project.get("config")
    return Path.cwd() / (config_dir or ".") / f"Pulumi.{stack}.yaml"


def check_workspace(stack: str) -> None:
    project = yaml.safe_load(Path("Pulumi.yaml").read_text())
    main = Path(project["main"])
    if not main.is_absolute():
        main = Path.cwd() / main
    if not main.exists():
        fail(f"project 'main' could not be read: {main}")
    stack_file = stack_config_file(stack)
    if not stack_file.exists():
        fail(f"stack config file {stack_file} does not exist")


def main(argv: list[str]) -> None:
    argv = [a for a in argv if a != "--non-interactive"]  # the Automation API adds it to every call
    with open(os.environ["FAKE_PULUMI_LOG"], "a") as log:
        log.write(json.dumps({
            "argv": argv, "cwd": os.getcwd(),
            "env": {k: v for k, v in os.environ.items() if k.startswith("PULUMI_")},
        }) + "\n")
    STATE.mkdir(parents=True, exist_ok=True)
    failing = os.environ.get("FAKE_PULUMI_FAIL")
    if argv[:1] == ["version"]:
        print("v3.272.0")
    elif argv[:2] == ["stack", "select"]:
        if not (STATE / stack_arg(argv)).exists():
            fail(f"no stack named '{stack_arg(argv)}' found")
    elif argv[:2] == ["stack", "init"]:
        (STATE / argv[2]).write_text("{}")
        # like the CLI with the passphrase provider: the salt goes into the stack file
        path = stack_config_file(argv[2])
        doc = yaml.safe_load(path.read_text())
        path.write_text(yaml.safe_dump({"encryptionsalt": "v1:fake-salt", **doc}))
    elif argv[:1] == ["up"]:
        stack = stack_arg(argv)
        check_workspace(stack)
        print(f"Updating ({stack})")
        if failing == "up":
            fail("update failed: 1 error: timed out waiting for Deployment to become ready")
        print("Resources: + 42 created")
        (STATE / stack).write_text(json.dumps({
            "apiUrl": f"http://loadline-api.review-{stack}.svc.cluster.local",  # as the program
            "apiKey": "k-" + stack}))
    elif argv[:2] == ["stack", "output"]:
        outputs = json.loads((STATE / stack_arg(argv)).read_text())
        if "--show-secrets" not in argv:
            outputs["apiKey"] = "[secret]"
        print(json.dumps(outputs))
    elif argv[:2] == ["stack", "history"]:
        print(json.dumps([{"kind": "update", "startTime": NOW, "endTime": NOW, "message": "",
                           "environment": {}, "config": {}, "result": "succeeded", "version": 1}]))
    elif argv[:1] == ["destroy"]:
        check_workspace(stack_arg(argv))
        if failing in ("destroy", f"destroy:{stack_arg(argv)}"):
            fail("destroy failed")
        print("Resources: - 42 deleted")
    elif argv[:2] == ["stack", "rm"]:
        (STATE / argv[-1]).unlink()
    else:
        fail(f"fake pulumi: unexpected command {argv}", 3)


if __name__ == "__main__":
    main(sys.argv[1:])
