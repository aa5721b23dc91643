"""Runs the real Pulumi program under `pulumi.runtime.set_mocks` and records every registration.

Pulumi's runtime state is process-global, so `loadline.render` runs this module in a
fresh subprocess per render:

    python -m loadline.render.runner STACK CONFIG_JSON OUT_JSON

CONFIG_JSON holds the stack's config (`{"values": {...}, "secret_keys": [...]}`).
OUT_JSON receives `{"resources": [...], "outputs": {urn: {...}}}` or
`{"error": "...", "registered": N}`.
Exit status: 0 rendered, 2 the program refused its configuration (e.g. a bad profile),
1 anything else.
"""

from __future__ import annotations

import gc
import json
import os
import runpy
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
PROGRAM = REPO_ROOT / "__main__.py"
PROJECT = "loadline"
# Stand-in for provider-generated values (random passwords): render masks secrets anyway,
# and the marker makes any leak obvious in a test.
GENERATED = "generated-by-mock-"


def _opts(request: Any) -> dict[str, Any]:
    timeouts = request.customTimeouts
    out: dict[str, Any] = {
        "protect": bool(request.protect),
        "deleteBeforeReplace": bool(request.deleteBeforeReplace),
        "ignoreChanges": list(request.ignoreChanges),
    }
    if timeouts and (timeouts.create or timeouts.update or timeouts.delete):
        out["customTimeouts"] = {k: v for k, v in (("create", timeouts.create), ("update", timeouts.update),
                                                    ("delete", timeouts.delete)) if v}
    return out


def run(stack: str, values: dict[str, str], secret_keys: list[str],
        records: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    import pulumi
    from pulumi.runtime import mocks, rpc
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    recorded: list[dict[str, Any]] = [] if records is None else records
    outputs: dict[str, Any] = {}

    class Mocks(mocks.Mocks):
        def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str, dict]:
            state = dict(args.inputs)
            if args.typ == "random:index/randomPassword:RandomPassword":
                state["result"] = GENERATED + args.name
            if args.typ == "docker:index/image:Image":
                state["repoDigest"] = f"{state.get('imageName', 'image')}@sha256:{'0' * 64}"
            return f"{args.name}-id", state

        def call(self, args: mocks.MockCallArgs) -> tuple[dict, None]:
            return {}, None

    class Monitor(mocks.MockMonitor):
        def RegisterResource(self, request: Any) -> Any:
            response = super().RegisterResource(request)
            if request.type == "pulumi:pulumi:Stack":
                return response
            recorded.append({
                "type": request.type,
                "name": request.name,
                "urn": response.urn,
                "parent": request.parent or None,
                "custom": bool(request.custom),
                "dependencies": list(request.dependencies),
                "inputs": rpc.deserialize_properties(request.object, keep_unknowns=True),
                "options": _opts(request),
            })
            return response

        def RegisterResourceOutputs(self, request: Any) -> Any:
            # Component outputs by URN (the mock engine never registers the stack's own exports).
            outputs[request.urn] = rpc.deserialize_properties(request.outputs)
            return super().RegisterResourceOutputs(request)

    mock = Mocks()
    pulumi.runtime.set_mocks(mock, project=PROJECT, stack=stack, preview=False, monitor=Monitor(mock))
    pulumi.runtime.set_all_config(values, secret_keys)

    def program() -> None:
        runpy.run_path(str(PROGRAM), run_name="__main__")

    _sync_await(run_pulumi_func(program))
    return {"resources": recorded, "outputs": outputs}


def main(argv: list[str]) -> int:
    # One program run, then exit: the cyclic collector would only slow down importing the
    # generated Kubernetes SDK (thousands of classes, about a tenth of the render's CPU).
    gc.disable()
    stack, config_path, out_path = argv
    config = json.loads(Path(config_path).read_text())
    os.chdir(REPO_ROOT)
    sys.path.insert(0, str(REPO_ROOT))
    import pulumi

    records: list[dict[str, Any]] = []
    try:
        result = run(stack, config["values"], config.get("secret_keys", []), records)
    except pulumi.RunError as exc:
        # `registered` lets callers prove that a refused configuration created nothing.
        Path(out_path).write_text(json.dumps({"error": str(exc), "registered": len(records)}))
        return 2
    except Exception as exc:  # reported to the parent with its type; the parent decides how to show it
        Path(out_path).write_text(json.dumps({"error": f"{type(exc).__name__}: {exc}", "registered": len(records)}))
        return 1
    Path(out_path).write_text(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
