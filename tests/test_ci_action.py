"""The reusable action: its metadata against the action schema's rules, its shell against shellcheck, and its
import step run end to end as the runner runs it (bash, the step's env), against the sandbox."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CLIENT_ID, SECRET, SandboxHandle, journal_rows, spawn
from tests.test_records_import import wait_for_records, write_accounts

yaml = pytest.importorskip("yaml")
ACTION = Path(__file__).parent.parent / "action.yml"

# The rules of the action metadata schema (SchemaStore's github-action.json and GitHub's "Metadata syntax"
# page), written down here: required keys, input and output ids, what a composite step may hold.
ID = "^[_a-zA-Z][a-zA-Z0-9_-]*$"
ACTION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["name", "description", "runs"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string"},
        "author": {"type": "string"},
        "description": {"type": "string"},
        "inputs": {
            "type": "object",
            "additionalProperties": False,
            "patternProperties": {
                ID: {
                    "type": "object",
                    "required": ["description"],
                    "additionalProperties": False,
                    "properties": {
                        "description": {"type": "string"},
                        "required": {"type": "boolean"},
                        "default": {"type": "string"},
                        "deprecationMessage": {"type": "string"},
                    },
                }
            },
        },
        "outputs": {
            "type": "object",
            "additionalProperties": False,
            "patternProperties": {
                ID: {
                    "type": "object",
                    "required": ["description", "value"],  # a composite action's outputs name their value
                    "additionalProperties": False,
                    "properties": {"description": {"type": "string"}, "value": {"type": "string"}},
                }
            },
        },
        "runs": {
            "type": "object",
            "required": ["using", "steps"],
            "additionalProperties": False,
            "properties": {
                "using": {"const": "composite"},
                "steps": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "id": {"type": "string", "pattern": ID},
                            "name": {"type": "string"},
                            "if": {"type": ["string", "boolean"]},
                            "run": {"type": "string"},
                            "shell": {"type": "string"},
                            "uses": {"type": "string"},
                            "with": {"type": "object"},
                            "env": {"type": "object", "additionalProperties": {"type": "string"}},
                            "working-directory": {"type": "string"},
                            "continue-on-error": {"type": ["string", "boolean"]},
                        },
                        "oneOf": [
                            {"required": ["run", "shell"], "not": {"required": ["uses"]}},
                            {"required": ["uses"], "not": {"anyOf": [{"required": ["run"]}, {"required": ["shell"]}]}},
                        ],
                    },
                },
            },
        },
        "branding": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "icon": {"type": "string"},
                "color": {
                    "enum": ["white", "black", "yellow", "blue", "green", "orange", "red", "purple", "gray-dark"]
                },
            },
        },
    },
}


def action() -> dict[str, Any]:
    return dict(yaml.safe_load(ACTION.read_text()))


def step(step_id: str) -> dict[str, Any]:
    return next(s for s in action()["runs"]["steps"] if s.get("id") == step_id)


def test_action_yml_follows_the_metadata_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(action(), ACTION_SCHEMA)
    broken = {**action(), "outputs": {"sent": {"description": "no value"}}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, ACTION_SCHEMA)


def test_action_sets_up_python_and_a_venv_and_starts_every_python_with_dash_p() -> None:
    setup = step("python")
    assert setup["uses"].startswith("actions/setup-python@v")
    assert setup["with"] == {"python-version": "${{ inputs.python-version }}", "update-environment": False}
    assert action()["inputs"]["python-version"]["default"] >= "3.11"
    install, run = step("install")["run"], step("import")["run"]
    assert '"$RUNNER_TEMP/cg-venv"' in install and '>> "$GITHUB_PATH"' in install
    pythons = re.findall(r'"\$[A-Za-z_/]*(?:PYTHON|python)[^"]*"( -\S+)?', install + run)
    assert pythons and all(flag == " -P" for flag in pythons), pythons
    assert run.startswith("exec ")  # the step's process is the wrapper: a cancelled job's signal reaches it
    for s in action()["runs"]["steps"]:
        assert "${{" not in s.get("run", "")  # values reach scripts as env, never spliced into them
    assert not any("secret" in name.lower() for name in action()["inputs"])  # credentials come from env


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed")
def test_action_shell_passes_shellcheck(tmp_path: Path) -> None:
    for s in action()["runs"]["steps"]:
        if "run" in s:
            script = tmp_path / f"{s['id']}.sh"
            script.write_text("#!/usr/bin/env bash\nset -eo pipefail\n" + s["run"])
            done = subprocess.run(["shellcheck", str(script)], capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, done.stdout


def import_step(sandbox: SandboxHandle, outputs: Path, **inputs: str) -> subprocess.Popen[str]:
    """The action's import step as the runner starts it: `bash -e {0}` with the step's env, expressions filled."""
    values = {name: spec.get("default", "") for name, spec in action()["inputs"].items()} | inputs
    env = dict(os.environ)
    for name, expression in step("import")["env"].items():
        found = re.fullmatch(r"\$\{\{ inputs\.([a-z-]+) \}\}", expression)
        env[name] = values[found.group(1)] if found else sys.executable  # steps.install.outputs.python
    env.update(CG_AUTH_URL=sandbox.url, CG_API_URL=sandbox.url, CG_CLIENT_ID=CLIENT_ID, CG_CLIENT_SECRET=SECRET)
    env["GITHUB_OUTPUT"] = str(outputs)
    bash = shutil.which("bash") or "/bin/bash"
    command = [bash, "--noprofile", "--norc", "-eo", "pipefail", "-c", step("import")["run"]]
    return spawn(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def read_outputs(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines())


def test_the_import_step_end_to_end(server: Any, tmp_path: Path) -> None:
    sandbox = server()
    Path("a.csv").write_text("Account Name\nA\n\n,\n")
    proc = import_step(sandbox, tmp_path / "out", file="a.csv", mapping="accounts", args="--results 'r s.csv'")
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 6, stderr
    assert read_outputs(tmp_path / "out") == {"sent": "1", "failed": "1", "exit-code": "6"}
    assert json.loads(stdout)["sent"] == 1 and Path("r s.csv").exists() and len(sandbox.records()) == 1


def cg_processes(marker: str) -> list[int]:
    """Processes whose command line names `marker` (the input file): a cg left behind would be one."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc")
@pytest.mark.parametrize(("stop", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_cancelled_job_drains_and_still_writes_the_outputs(server: Any, tmp_path: Path, stop: int, code: int) -> None:
    sandbox = server(latency=0.02)
    name = f"cancel-{os.getpid()}-{stop}.csv"
    write_accounts(Path(name), 400)
    proc = import_step(sandbox, tmp_path / "out", file=name, mapping="accounts", workers="4")
    wait_for_records(sandbox, 20)
    proc.send_signal(stop)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == code, stderr
    assert cg_processes(name) == []  # cg ended with the step: nothing re-parented, still sending
    received = len(sandbox.records())
    outputs = read_outputs(tmp_path / "out")
    assert outputs == {"sent": str(received), "failed": "0", "exit-code": str(code)}
    assert 20 <= received < 400
    journaled = [n for n, status in journal_rows(Path(name + ".cg-journal")).items() if status == "S"]
    assert len(journaled) == received  # every request in flight finished and was journaled: no request after
    assert json.loads(stdout)["exit_code"] == code and "Traceback" not in stderr


def test_a_shadowing_cg_cli_in_the_workspace_never_runs(server: Any, tmp_path: Path) -> None:
    sandbox = server()
    shadow = Path("cg_cli")
    shadow.mkdir()
    for module in ("__init__.py", "__main__.py", "action.py"):
        (shadow / module).write_text(
            "import os, pathlib\npathlib.Path('shadow-ran').write_text(os.environ.get('CG_CLIENT_SECRET', ''))\n"
        )
    Path("a.csv").write_text("Account Name\nA\nB\n")
    proc = import_step(sandbox, tmp_path / "out", file="a.csv", mapping="accounts")
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert not Path("shadow-ran").exists()
    assert read_outputs(tmp_path / "out") == {"sent": "2", "failed": "0", "exit-code": "0"}
    assert len(sandbox.records()) == 2


def test_without_a_file_the_step_is_skipped_and_the_script_says_why(tmp_path: Path) -> None:
    assert step("import")["if"] == "inputs.file != ''"
    env = {k: v for k, v in os.environ.items() if not k.startswith("INPUT_")} | {"GITHUB_OUTPUT": str(tmp_path / "o")}
    done = subprocess.run([sys.executable, "-P", "-m", "cg_cli.action"], capture_output=True, text=True, env=env,
                          timeout=60)  # fmt: skip
    assert done.returncode == 2 and done.stderr.startswith("error: the action needs the input `file`")
    assert read_outputs(tmp_path / "o")["exit-code"] == "2"


STUB_PYTHON = """#!/usr/bin/env bash
# Stands in for a Python: logs how it was started; `-m venv DIR` makes DIR/bin/python (this stub again).
echo "$0 $*" >> "$STUB_LOG"
if [ "$2 $3" = "-m venv" ]; then mkdir -p "$4/bin" && cp "$0" "$4/bin/python"; fi
"""


@pytest.mark.parametrize("tree", ["bin", "Scripts"])
def test_the_install_step_makes_a_venv_under_runner_temp_and_puts_it_on_the_path(tmp_path: Path, tree: str) -> None:
    """The install step under bash, with a stub Python that logs each start: -P everywhere, the venv's bin on
    $GITHUB_PATH, the interpreter handed to the import step. `Scripts` is the layout of a Windows runner's venv."""
    stub = tmp_path / "python3"
    stub.write_text(STUB_PYTHON.replace('"$4/bin"', f'"$4/{tree}"').replace('"$4/bin/python"', f'"$4/{tree}/python"'))
    stub.chmod(0o755)
    temp, path_file, output_file, log = tmp_path / "temp", tmp_path / "path", tmp_path / "out", tmp_path / "log"
    temp.mkdir()
    env = {**os.environ, "RUNNER_TEMP": str(temp), "GITHUB_PATH": str(path_file), "GITHUB_OUTPUT": str(output_file),
           "STUB_LOG": str(log), "CG_SETUP_PYTHON": str(stub), "CG_ACTION_PATH": "/the action path"}  # fmt: skip
    bash = shutil.which("bash") or "/bin/bash"
    done = subprocess.run([bash, "--noprofile", "--norc", "-eo", "pipefail", "-c", step("install")["run"]],
                          env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    venv_bin = f"{temp}/cg-venv/{tree}"
    assert log.read_text().splitlines() == [
        f"{stub} -P -m venv {temp}/cg-venv",
        f"{venv_bin}/python -P -m pip install --quiet --disable-pip-version-check /the action path",
    ]
    assert path_file.read_text() == f"{venv_bin}\n"
    assert read_outputs(output_file) == {"python": f"{venv_bin}/python"}
    assert set(step("import")["env"]) >= {"CG_ACTION_PYTHON"} and step("import")["env"]["CG_ACTION_PYTHON"] == (
        "${{ steps.install.outputs.python }}"
    )


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc")
def test_sigterm_at_random_moments_never_leaves_cg_running_or_the_outputs_wrong(server: Any, tmp_path: Path) -> None:
    """From the step's start (bash, the wrapper loading, cg loading) to the end of the import."""
    import random
    import time

    sandbox = server(latency=0.005)
    rng = random.Random(22)
    for attempt in range(6):
        name = f"random-{os.getpid()}-{attempt}.csv"
        write_accounts(Path(name), 150)
        before = len(sandbox.records())
        outputs = tmp_path / f"out-{attempt}"
        proc = import_step(sandbox, outputs, file=name, mapping="accounts", workers="2")
        time.sleep(rng.uniform(0, 1.0))
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
        assert cg_processes(name) == [], attempt
        sent = len(sandbox.records()) - before
        if proc.returncode == -signal.SIGTERM:  # the step's shell or the wrapper had not started yet
            assert sent == 0 and not outputs.exists(), (attempt, stderr)
            continue
        assert proc.returncode in (0, 143), (attempt, proc.returncode, stderr)
        written = read_outputs(outputs)
        assert written["exit-code"] == str(proc.returncode)
        assert written["sent"] in ("", str(sent)), (attempt, written, sent)  # empty: cg was still loading
        assert "Traceback" not in stderr, stderr


@pytest.mark.parametrize(
    ("args", "expected", "sent"),
    [("-o text", {"sent": "1", "failed": "1", "exit-code": "6"}, 1),
     ("--output=text --dry-run", {"sent": "0", "failed": "1", "exit-code": "4"}, 0),
     ("--dry-run -q", {"sent": "0", "failed": "1", "exit-code": "4"}, 0)],
)  # fmt: skip
def test_the_outputs_are_set_whatever_the_args_ask_for(
    server: Any, tmp_path: Path, args: str, expected: dict[str, str], sent: int
) -> None:
    """`-o text` in args still gives the counts (cg's stdout stays as asked: empty); a dry run sends nothing
    (`sent` 0) and `failed` counts the rows that would fail."""
    sandbox = server()
    Path("a.csv").write_text("Account Name\nA\n\n,\n")
    proc = import_step(sandbox, tmp_path / "out", file="a.csv", mapping="accounts", args=args)
    stdout, stderr = proc.communicate(timeout=60)
    assert read_outputs(tmp_path / "out") == expected, stderr
    assert len(sandbox.records()) == sent
    assert stdout == "" if "text" in args else json.loads(stdout)["ok"] is False


def test_the_wrapper_asks_for_json_last_and_before_a_double_dash() -> None:
    from cg_cli.action import command_line

    args = command_line({"INPUT_FILE": "a.csv", "INPUT_ARGS": "-o text --restart"})
    assert args[4:9] == ["records", "import", "a.csv", "-o", "json"]  # first too: a usage error reads the first
    assert args[-4:] == ["-o", "text", "--restart", "--output=json"]
    dashed = command_line({"INPUT_FILE": "a.csv", "INPUT_ARGS": "--restart -- -o"})
    assert dashed[-4:] == ["--restart", "--output=json", "--", "-o"]
