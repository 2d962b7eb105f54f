"""`cg mappings init` and `cg sandbox --write-mappings`: a mapping file made by a command, not typed by hand."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from tests.conftest import ACCOUNTS_REF, SandboxHandle, spawn

EXPORT = "Account ID,Account Name,Billing City,Email,Description\n001A,ACME,Berlin,joe@acme.example,angry\n"


def test_init_from_an_export_writes_a_mapping_its_check_accepts_and_import_uses(cg, sandbox_env: SandboxHandle) -> None:
    Path("export.csv").write_text(EXPORT)
    made = cg("mappings", "init", "accounts", "--config", ACCOUNTS_REF, "--type", "account", "--file", "export.csv")
    assert made.exit_code == 0, made.output
    table = tomllib.loads(Path("cg-mappings.toml").read_text())["accounts"]
    assert table == {
        "reference": ACCOUNTS_REF,
        "type": "account",
        "fields": ["Account Name", "Billing City", "Email"],
        "ignore": ["Account ID", "Description"],  # ids and notes start out ignored, for the user to review
    }
    assert cg("mappings", "check", "accounts", "--file", "export.csv").exit_code == 0
    assert cg("records", "import", "export.csv", "--mapping", "accounts").exit_code == 0
    [stored] = sandbox_env.records()
    assert "001A" not in stored["body"] and "angry" not in stored["body"]


def test_init_without_a_file_starts_from_the_types_required_fields_and_adds_to_the_file(cg) -> None:
    Path("cg-mappings.toml").write_text('# mine\n[old]\nreference = "o"\ntype = "account"\nfields = ["Account Name"]\n')
    assert cg("mappings", "init", "contacts", "--config", "contact", "--type", "contact").exit_code == 0
    text = Path("cg-mappings.toml").read_text()
    assert text.startswith("# mine\n[old]")  # the user's own lines stay
    assert tomllib.loads(text)["contacts"]["fields"] == ["Email", "Phone"]
    assert cg("mappings", "check", "contacts").exit_code == 0


def test_an_existing_mapping_is_replaced_only_with_force(cg) -> None:
    assert cg("mappings", "init", "accounts", "--config", "r1", "--type", "account").exit_code == 0
    before = Path("cg-mappings.toml").read_text()
    again = cg("mappings", "init", "accounts", "--config", "r2", "--type", "account")
    assert again.exit_code == 2 and "--force" in again.stderr
    assert Path("cg-mappings.toml").read_text() == before
    Path("cg-mappings.toml").write_text(before + '\n[accounts.columns]\n"Company" = "Account Name"\n')
    forced = cg("mappings", "init", "accounts", "--config", "r2", "--type", "account", "--force", "-o", "json")
    assert forced.exit_code == 0 and json.loads(forced.stdout)["replaced"] is True
    assert json.loads(forced.stdout)["columns"] == {"Company": "Account Name"}
    assert tomllib.loads(Path("cg-mappings.toml").read_text()) == {  # the user's renames are kept
        "accounts": {"reference": "r2", "type": "account", "fields": ["Account Name"],
                     "columns": {"Company": "Account Name"}}
    }  # fmt: skip


def test_force_with_a_new_export_keeps_the_renames_and_applies_them_to_its_headings(cg) -> None:
    """`init --force` used to drop [name.columns]: the renames a user wrote by hand were lost without a word."""
    Path("cg-mappings.toml").write_text(
        '[accounts]\nreference = "r1"\ntype = "account"\nfields = ["Account Name"]\n\n'
        '[accounts.columns]\n"Company" = "Account Name"\n"Mail" = "Email"\n'
    )
    Path("new.csv").write_text("Company,Mail,City,Account ID\nACME,a@x.io,Cork,7\n")
    forced = cg("mappings", "init", "accounts", "--config", "r2", "--type", "account", "--file", "new.csv", "--force")
    assert forced.exit_code == 0, forced.output
    assert "kept 2 column rename(s)" in forced.stderr
    table = tomllib.loads(Path("cg-mappings.toml").read_text())["accounts"]
    assert table["fields"] == ["Account Name", "Email", "City"] and table["ignore"] == ["Account ID"]
    assert table["columns"] == {"Company": "Account Name", "Mail": "Email"}
    assert cg("mappings", "check", "accounts", "--file", "new.csv").exit_code == 0


def test_init_refuses_a_bad_type_and_a_broken_file_and_writes_nothing(cg) -> None:
    bad = cg("mappings", "init", "x", "--config", "r", "--type", "acount")
    assert bad.exit_code == 2 and "account" in bad.stderr and not Path("cg-mappings.toml").exists()
    Path("cg-mappings.toml").write_text("[broken\n")
    assert cg("mappings", "init", "x", "--config", "r", "--type", "account").exit_code == 2
    assert Path("cg-mappings.toml").read_text() == "[broken\n"


def test_odd_names_and_headings_are_quoted_so_the_file_loads(cg) -> None:
    Path("e.csv").write_text('"Na""me",Email,Score \\ 10\nx,a@b.c,1\n')
    assert cg("mappings", "init", "my.map", "--config", "r", "--type", "contact", "--file", "e.csv").exit_code == 0
    listed = json.loads(cg("mappings", "list", "-o", "json").stdout)["mappings"]
    assert listed == [
        {"name": "my.map", "type": "contact", "reference": "r", "fields": ['Na"me', "Email", "Score \\ 10"]}
    ]


def test_the_sandbox_writes_its_own_mappings_for_mapping_names(tmp_path: Path) -> None:
    import subprocess
    import sys

    target = tmp_path / "work" / "cg-mappings.toml"
    target.write_text('[mine]\nreference = "m"\ntype = "account"\nfields = ["Account Name"]\n')
    proc = spawn(
        [sys.executable, "-m", "cg_cli", "sandbox", "--port", "0", "--write-mappings", str(target)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    lines: list[str] = []
    for line in proc.stderr:
        lines.append(line)
        if "listening" in line:
            break
    proc.terminate()
    proc.wait(timeout=20)
    assert any("wrote accounts, contacts to" in line for line in lines), lines
    names: dict[str, Any] = tomllib.loads(target.read_text())
    assert list(names) == ["mine", "accounts", "contacts"]
    assert names["accounts"]["reference"] == ACCOUNTS_REF and names["contacts"]["type"] == "contact"


def test_the_readme_tour_runs_as_written_in_a_scratch_directory(tmp_path: Path) -> None:
    """The README's two-minute tour, block as written, in bash against a real sandbox: files land in mktemp's dir."""
    import os
    import re
    import shutil
    import subprocess
    import sys

    cg = shutil.which("cg", path=str(Path(sys.executable).parent)) or "cg"
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    tour = re.findall(r"```sh\n(. .venv/bin/activate\ncd .*?)```", readme, re.S)[0]
    tour = tour.replace(". .venv/bin/activate\n", "")
    proc = spawn([cg, "sandbox", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        exports = "".join(proc.stdout.readline() for _ in range(3)) if proc.stdout else ""
        env = {**os.environ, "CG_CONFIG_DIR": str(tmp_path / "cfg"), "PATH": f"{Path(cg).parent}:{os.environ['PATH']}"}
        env["TMPDIR"] = str(tmp_path)
        script = f"{exports}\n{tour}\npwd > {tmp_path}/where\n"
        done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env, timeout=120)
    finally:
        proc.send_signal(2)
        proc.wait(timeout=10)
    scratch = Path((tmp_path / "where").read_text().strip())
    assert scratch.parent == tmp_path and (scratch / "cg-mappings.toml").is_file()
    assert "Imported accounts.csv: 2 sent, 0 failed" in done.stderr, done.stderr
    assert "left out (ignored, never sent): Account ID" in done.stderr
    assert not (Path(__file__).resolve().parent.parent / "accounts.csv").exists()


def test_a_symlinked_mapping_file_is_written_through_and_stays_a_link(cg, tmp_path: Path) -> None:
    shared = tmp_path / "shared.toml"
    shared.write_text('[old]\nreference = "o"\ntype = "account"\nfields = ["Account Name"]\n')
    Path("cg-mappings.toml").symlink_to(shared)
    assert cg("mappings", "init", "contacts", "--config", "contact", "--type", "contact").exit_code == 0
    assert Path("cg-mappings.toml").is_symlink()
    assert list(tomllib.loads(shared.read_text())) == ["old", "contacts"]


def test_an_unwritable_place_is_a_usage_error_and_leaves_no_temporary_file(cg, tmp_path: Path) -> None:
    result = cg("mappings", "init", "a", "--config", "r", "--type", "account", "--mappings-file", "no/such/dir/m.toml")
    assert result.exit_code == 2 and "cannot write no/such/dir/m.toml" in result.stderr
