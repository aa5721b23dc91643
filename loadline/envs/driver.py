"""Drive `pulumi up` / `destroy` for review stacks through the Automation API.

Layout, and why:

* Each env gets its own workspace directory, `.loadline/workspaces/<name>/`, holding a
  `Pulumi.yaml` written from `ProjectSettings`. It points `main` (absolute) at the repo's
  program and its legacy `config:` string (which Pulumi reads as `stackConfigDir`) at the
  repo's `stacks/`, so the CLI reads the very `stacks/Pulumi.<name>.yaml` that
  `load_profile`, render and check read. Writing the repo's own `Pulumi.yaml` instead is
  not an option: `ProjectSettings` has no `stackConfigDir` field, so saving it would drop
  that key for everyone.
* The stack config is *not* passed as `stack_settings`: `LocalWorkspace.save_stack_settings`
  writes `Pulumi.<stack>.yaml` next to `Pulumi.yaml`, ignoring `stackConfigDir`, and
  `StackSettings` silently drops mapping values such as `loadline:profile` when read back.
  The config is written once, by `config.write_stack_file`, after validation.
* Backend: `file://<repo>/.loadline/state` unless `--backend` / `PULUMI_BACKEND_URL` says
  otherwise; it is passed as `PULUMI_BACKEND_URL` and also recorded in the workspace project,
  so `pulumi stack ls` run inside the workspace directory sees the same stacks.
* Secrets: the passphrase provider. An existing `PULUMI_CONFIG_PASSPHRASE` or
  `PULUMI_CONFIG_PASSPHRASE_FILE` wins (CI sets one from its secret store); otherwise a random
  passphrase is generated once into `.loadline/passphrase` (mode 0600, git-ignored). Losing that
  file loses the ability to decrypt those stacks' secrets, which is acceptable for
  short-lived review stacks whose state lives in the same directory.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pulumi import automation as auto

from loadline.envs.errors import EnvError
from loadline.envs.registry import state_root as default_state_root
from loadline.profile import REPO_ROOT, STACKS_DIR

PASSPHRASE_VARS = ("PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE")
OnOutput = Callable[[str], None]


def default_backend_url(root: Path | None = None) -> str:
    return f"file://{(root or default_state_root()) / 'state'}"


@dataclass
class DriverSettings:
    """Where stacks live and how their secrets are encrypted."""

    backend_url: str
    secrets_provider: str = "passphrase"
    state_root: Path = field(default_factory=default_state_root)
    repo_root: Path = REPO_ROOT
    stacks_dir: Path = STACKS_DIR
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))

    @classmethod
    def resolve(cls, backend: str | None, secrets_provider: str | None,
                root: Path | None = None, environ: Mapping[str, str] | None = None,
                **kw: Any) -> DriverSettings:
        root = root or default_state_root()
        environ = dict(os.environ) if environ is None else dict(environ)
        url = backend or environ.get("PULUMI_BACKEND_URL") or default_backend_url(root)
        return cls(backend_url=url, secrets_provider=secrets_provider or "passphrase",
                   state_root=root, environ=environ, **kw)

    def env_vars(self) -> dict[str, str]:
        """Variables for every pulumi command the workspace runs."""
        env = {"PULUMI_BACKEND_URL": self.backend_url, "PULUMI_SKIP_UPDATE_CHECK": "true"}
        if self.backend_url.startswith("file://"):
            Path(self.backend_url.removeprefix("file://")).mkdir(parents=True, exist_ok=True)
        # Empty means unset: CI maps a missing secret to an empty variable.
        if self.secrets_provider == "passphrase" and not any(self.environ.get(v) for v in PASSPHRASE_VARS):
            path = ensure_passphrase_file(self.state_root)
            env["PULUMI_CONFIG_PASSPHRASE_FILE"] = str(path)
            if "PULUMI_CONFIG_PASSPHRASE" in self.environ:
                # The CLI takes a set PULUMI_CONFIG_PASSPHRASE, even an empty one, over the file.
                env["PULUMI_CONFIG_PASSPHRASE"] = path.read_text().strip()
        return env


def ensure_passphrase_file(root: Path) -> Path:
    path = root / "passphrase"
    if not path.exists():
        root.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(32) + "\n")
    return path


def policy_pack(environment: str, repo_root: Path = REPO_ROOT) -> tuple[Path, Path | None] | None:
    """The repo's CrossGuard pack and its config for `environment`, if the pack is there."""
    pack = repo_root / "policies"
    if not (pack / "PulumiPolicy.yaml").exists():
        return None
    config = pack / "config" / f"{environment}.json"
    return pack, (config if config.exists() else None)


def workspace_dir(name: str, settings: DriverSettings) -> Path:
    return settings.state_root / "workspaces" / name


def project_settings(name: str, settings: DriverSettings) -> auto.ProjectSettings:
    """The repo's project, re-rooted so it can run from the env's workspace directory."""
    repo_project = yaml.safe_load((settings.repo_root / "Pulumi.yaml").read_text())
    runtime = repo_project.get("runtime", "python")
    if isinstance(runtime, dict):
        options = dict(runtime.get("options") or {})
        if "virtualenv" in options:
            options["virtualenv"] = str((settings.repo_root / options["virtualenv"]).resolve())
        runtime = auto.ProjectRuntimeInfo(name=runtime["name"], options=options)
    main = settings.repo_root / repo_project.get("main", ".")
    stacks = os.path.relpath(settings.stacks_dir, workspace_dir(name, settings))
    return auto.ProjectSettings(
        name=repo_project["name"],
        runtime=runtime,
        main=str(main.resolve()),
        description=repo_project.get("description"),
        config=stacks,  # the legacy string form: Pulumi reads it as stackConfigDir
        backend=auto.ProjectBackend(url=settings.backend_url),
    )


def translate(exc: BaseException, action: str, name: str) -> EnvError:
    """Turn what the Automation API raises into one EnvError with the useful part of the output."""
    if isinstance(exc, FileNotFoundError):
        return EnvError(f"{action} {name}: the pulumi CLI could not be started ({exc.filename}); "
                        "install it and retry")
    if isinstance(exc, subprocess.CalledProcessError):
        return EnvError(f"{action} {name}: `pulumi version` failed (exit {exc.returncode}); "
                        "check the pulumi installation")
    if isinstance(exc, auto.InvalidVersionError):
        return EnvError(f"{action} {name}: {exc}; upgrade the pulumi CLI")
    if isinstance(exc, auto.ConcurrentUpdateError):
        return EnvError(f"{action} {name}: another update holds the stack's lock; wait for it, "
                        f"or if it died run `pulumi cancel --stack {name}` in "
                        ".loadline/workspaces/" + name)
    if isinstance(exc, auto.CommandError):
        # CommandError keeps only str(CommandResult): "\n code: N\n stdout: ...\n stderr: ...".
        # stdout was already streamed, so the stderr tail is the part worth repeating.
        head, _, stderr = str(exc).partition("\n stderr: ")
        code = re.search(r"code: (-?[0-9]+)", head)
        stdout = head.partition("\n stdout: ")[2]
        lines = (stderr.strip() or stdout.strip()).splitlines()[-12:]
        tail = "\n    ".join(lines) or "(no output)"
        exit_code = f" (exit {code.group(1)})" if code else ""
        return EnvError(f"{action} {name}: pulumi failed{exit_code}:\n    {tail}")
    return EnvError(f"{action} {name}: {type(exc).__name__}: {exc}")


_TRANSLATED = (FileNotFoundError, subprocess.CalledProcessError, auto.InvalidVersionError,
               auto.CommandError)


class Driver:
    """One review stack, driven through a LocalWorkspace."""

    def __init__(self, name: str, settings: DriverSettings):
        self.name = name
        self.settings = settings

    def _options(self) -> auto.LocalWorkspaceOptions:
        wdir = workspace_dir(self.name, self.settings)
        wdir.mkdir(parents=True, exist_ok=True)
        return auto.LocalWorkspaceOptions(
            work_dir=str(wdir),
            env_vars=self.settings.env_vars(),
            secrets_provider=self.settings.secrets_provider,
            project_settings=project_settings(self.name, self.settings),
        )

    def up(self, on_output: OnOutput, policy: tuple[Path, Path | None] | None = None) -> dict[str, Any]:
        """Create or select the stack, run `up` (with the CrossGuard pack and its config when
        `policy` is given), return the outputs as plain values."""
        packs = [str(policy[0])] if policy else None
        configs = [str(policy[1])] if policy and policy[1] else None
        try:
            stack = auto.create_or_select_stack(
                self.name, work_dir=str(workspace_dir(self.name, self.settings)),
                opts=self._options())
            result = stack.up(on_output=on_output, on_error=on_output, color="never",
                              policy_packs=packs, policy_pack_configs=configs)
        except _TRANSLATED as exc:
            raise translate(exc, "up", self.name) from None
        except KeyboardInterrupt:
            # pulumi got the same SIGINT (same process group) and stops its update cleanly.
            raise EnvError(f"up {self.name}: interrupted") from None
        return {k: v.value for k, v in result.outputs.items()}

    def outputs(self) -> dict[str, Any]:
        try:
            stack = auto.select_stack(self.name, work_dir=str(workspace_dir(self.name, self.settings)),
                                      opts=self._options())
            return {k: v.value for k, v in stack.outputs().items()}
        except _TRANSLATED as exc:
            raise translate(exc, "outputs of", self.name) from None

    def destroy(self, on_output: OnOutput) -> bool:
        """Destroy the stack's resources and remove the stack; False if it never existed."""
        try:
            stack = auto.select_stack(self.name, work_dir=str(workspace_dir(self.name, self.settings)),
                                      opts=self._options())
        except auto.StackNotFoundError:
            return False
        except _TRANSLATED as exc:
            raise translate(exc, "down", self.name) from None
        try:
            stack.destroy(on_output=on_output, on_error=on_output, color="never")
            stack.workspace.remove_stack(self.name)
        except _TRANSLATED as exc:
            raise translate(exc, "down", self.name) from None
        except KeyboardInterrupt:
            raise EnvError(f"down {self.name}: interrupted; the env is kept, run down again") from None
        return True
