"""The shell commands the docs show (README.md and docs/*.md), found and sorted by how a test runs them.

Every fenced ```bash / ```sh / ```console block is either run by a test or marked, on the line right
before its fence, as not run in CI with a reason: `<!-- not run in CI: needs a GPU -->`. A block a test
of its own runs says which: `<!-- run by tests/test_tutorial.py: ... -->`. In an unmarked block each
command must be one tests/test_docs.py knows how to run:

  python run.py ...      its config composed: `run.py ... --cfg job`, without -m, once per value of each
                         list it sweeps (tests/cfg_job.py, in one subprocess for all of them)
  pytest ...             its tests collected (--collect-only), not run: they are this suite
  python3 -m venv, . .venv/bin/activate, pip install ...
                         the set-up of the README's two commands: exactly .ci/run's (-q aside), which CI runs
  export VAR=value       sets VAR for the block's later commands

Run as a script, it lists what it found: `python tests/docs_commands.py`.
"""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHELL_LANGUAGES = {"bash", "sh", "shell", "console"}
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`\s]*)")
NOT_RUN = re.compile(r"^\s*<!--\s*not run in CI:\s*(?P<reason>\S.*?)\s*-->\s*$")
RUN_BY = re.compile(r"^\s*<!--\s*run by (?P<test>tests/[\w/]+\.py)\b.*-->\s*$")
SETUP = {("python3", "-m", "venv"), (".", ".venv/bin/activate"), ("pip", "install")}


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@dataclass
class Block:
    page: Path
    line: int  # the opening fence's, 1-based
    language: str
    text: str
    marker: str  # the line right before the fence ("" at the top of the page)

    def where(self) -> str:
        page = self.page.relative_to(ROOT) if self.page.is_relative_to(ROOT) else self.page
        return f"{page}:{self.line}"


@dataclass
class Command:
    """One command of a block: its words (env assignments first), split on `&&` into parts."""

    block: Block
    line: str
    parts: list[list[str]] = field(default_factory=list)


def fenced_blocks(page: Path) -> list[Block]:
    lines = page.read_text(encoding="utf-8").splitlines()
    found, i = [], 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, fence = opening["indent"], opening["fence"]
        j = i + 1
        while j < len(lines) and not (lines[j].strip().startswith(fence) and lines[j].strip().strip(fence[0]) == ""):
            j += 1
        body = [line[len(indent):] if line.startswith(indent) else line.lstrip() for line in lines[i + 1 : j]]
        found.append(Block(page, i + 1, opening["info"].lower(), "\n".join(body), lines[i - 1] if i else ""))
        i = j + 1
    return found


def shell_blocks() -> list[Block]:
    return [b for page in pages() for b in fenced_blocks(page) if b.language in SHELL_LANGUAGES]


def commands(block: Block) -> list[Command]:
    """The block's commands: continuation lines joined, comments and (console) printed output left out."""
    text = re.sub(r"\\\n\s*", " ", block.text)
    found = []
    for line in text.splitlines():
        if block.language == "console":
            if not line.startswith("$ "):
                continue  # what the command printed
            line = line[2:]
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            words = shlex.split(line, comments=True)
        except ValueError:  # unbalanced quotes, as in a placeholder `<the sweep's id>`: no shell would run it
            words = line.split()
        parts, part = [], []
        for word in words:
            if word == "&&":
                parts.append(part)
                part = []
            else:
                part.append(word)
        parts.append(part)
        found.append(Command(block, line.strip(), [p for p in parts if p]))
    return found


def split_env(words: list[str]) -> tuple[dict[str, str], list[str]]:
    """Leading VAR=value words (the command's environment) and the command itself."""
    env = {}
    while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0]):
        key, _, value = words[0].partition("=")
        env[key] = value
        words = words[1:]
    return env, words


def kind(words: list[str]) -> str | None:
    """How a test runs this part of a command: 'run.py', 'pytest', 'setup', 'export'; None: no test can."""
    _, words = split_env(words)
    if words[:2] == ["python", "run.py"]:
        return "run.py"
    if words[:1] == ["pytest"]:
        return "pytest"
    if words[:1] == ["export"]:
        return "export"
    if any(tuple(words[: len(prefix)]) == prefix for prefix in SETUP):
        return "setup"
    return None


def readme_test_command() -> str:
    """The README's test command: the block after 'Run the tests'."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("Run the tests", 1)[1]
    return re.search(r"```bash\n(.+?)\n```", section, flags=re.S)[1].strip()


def ci_commands() -> list[str]:
    """.ci/run's command lines, comments and blank lines left out."""
    lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def without_quiet(words: list[str]) -> list[str]:
    return [w for w in words if w != "-q"]


def ci_setup_parts() -> list[list[str]]:
    """The set-up parts (venv, activate, pip install) of .ci/run's README command, -q aside."""
    parts = commands(Block(ROOT / ".ci" / "run", 0, "bash", readme_test_command(), ""))[0].parts
    return [without_quiet(p) for p in parts if kind(p) == "setup"]


def unrun(block: Block) -> list[str]:
    """What no test runs in an unmarked block: each command, with why."""
    problems = []
    setups = ci_setup_parts()
    for command in commands(block):
        for part in command.parts:
            how = kind(part)
            if how is None:
                problems.append(f"{block.where()}: `{command.line}`: no test runs it")
            elif how == "setup" and without_quiet(split_env(part)[1]) not in setups:
                problems.append(f"{block.where()}: `{command.line}`: a set-up step that .ci/run does not run")
    return problems


def run_py_args(command: Command) -> list[tuple[dict[str, str], list[str]]]:
    """The environment and run.py's arguments of each `python run.py ...` part of a command."""
    return [(env, words[2:]) for env, words in map(split_env, command.parts) if words[:2] == ["python", "run.py"]]


if __name__ == "__main__":
    for b in shell_blocks():
        mark = NOT_RUN.match(b.marker) or RUN_BY.match(b.marker)
        print(f"{b.where()}  [{mark.group(0).strip() if mark else 'run here'}]")
        for c in commands(b):
            print("    ", [kind(p) for p in c.parts], c.line)
