"""Parsing and checking the command line's values before anything is sent.

Every function here raises :class:`click.BadParameter` or :class:`click.UsageError` (exit
status 2, one line, no traceback) for a value it cannot accept, naming the option, the value
and what is allowed. Secrets are never echoed: a credential is named by its environment
variable only.
"""

from __future__ import annotations

import math
import unicodedata
from pathlib import Path

import click

from ._client import RateLimit
from .emulator import FixedWindowRateLimit

__all__ = [
    "check_credential",
    "check_output_path",
    "parse_client_rate",
    "parse_rate",
    "split_rate",
]


def split_rate(text: str, option: str = "--rate-limit") -> tuple[float, float] | None:
    """``"100/60"`` -> ``(100.0, 60.0)``; ``"off"`` -> ``None``; the window defaults to 60 s.

    Raises:
        click.BadParameter: not ``REQUESTS/SECONDS`` with both numbers finite and > 0.
    """
    if text.strip().lower() in ("off", "none", "0"):
        return None
    requests, _, window = text.partition("/")
    try:
        rate = float(requests), float(window or 60)
    except ValueError:
        raise click.BadParameter(
            f"{text!r}: expected REQUESTS/SECONDS such as 100/60, or off", param_hint=option
        ) from None
    if not all(math.isfinite(v) and v > 0 for v in rate):
        raise click.BadParameter(
            f"{text!r}: REQUESTS and SECONDS must both be greater than 0 (such as 100/60), or use off",
            param_hint=option,
        )
    return rate


def parse_rate(text: str, option: str = "--sandbox-rate-limit") -> FixedWindowRateLimit | None:
    """The emulator's limit: ``"100/60"`` -> 100 requests per 60 s window; ``"off"`` -> none.

    Raises:
        click.BadParameter: a zero, negative or malformed value.
    """
    rate = split_rate(text, option)
    if rate is None:
        return None
    if rate[0] < 1 or rate[0] != int(rate[0]):
        raise click.BadParameter(f"{text!r}: REQUESTS must be a whole number >= 1", param_hint=option)
    try:
        return FixedWindowRateLimit(limit=int(rate[0]), window=rate[1])
    except ValueError as exc:  # the emulator's own check
        raise click.BadParameter(f"{text!r}: {exc}", param_hint=option) from None


def parse_client_rate(text: str) -> RateLimit | None:
    """The client's bucket: ``"5/1"`` -> 5 requests per second; ``"off"`` -> none.

    Raises:
        click.BadParameter: a zero, negative or malformed value.
    """
    rate = split_rate(text, "--rate-limit")
    return None if rate is None else RateLimit(requests=rate[0], window=rate[1])


def check_credential(variable: str, value: str) -> str:
    """A credential from ``variable``, stripped of surrounding whitespace, checked for control characters.

    Surrounding whitespace (a trailing newline from ``$(cat key.txt)``) is removed, and a note
    saying so goes to stderr. Both SDKs' command lines treat credentials this way.

    Raises:
        click.UsageError: the value is empty or holds a control character inside it (the
            message names the variable and the character's position, never the value).
    """
    stripped = value.strip()
    if stripped != value:
        click.echo(f"Note: removed surrounding whitespace from {variable}.", err=True)
    if not stripped:
        raise click.UsageError(f"{variable} is set but empty")
    for index, char in enumerate(stripped):
        if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp"):
            raise click.UsageError(
                f"{variable} contains a control character (U+{ord(char):04X} at position {index + 1}); "
                "a credential is one line of printable text: check how it was pasted or exported"
            )
    return stripped


def check_output_path(path: Path, option: str) -> Path:
    """An output file's path whose folder exists.

    Raises:
        click.BadParameter: the folder is missing or is not a folder.
    """
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise click.BadParameter(
            f"{str(path)!r}: the folder {str(folder)!r} does not exist (create it first)", param_hint=option
        )
    if path.is_dir():
        raise click.BadParameter(f"{str(path)!r} is a folder, not a file", param_hint=option)
    return path


def check_distinct_paths(input_path: Path, outputs: dict[str, Path]) -> None:
    """Refuse outputs that would overwrite the input, or each other.

    Args:
        input_path: The file the job reads.
        outputs: Option name (``"--results"``) to the path it writes; a SQLite journal's side
            files (``-wal``, ``-shm``) count as its own.

    Raises:
        click.UsageError: two of the files are the same file (exit status 2, nothing touched).
    """
    seen: dict[object, str] = {}

    def keys(path: Path) -> list[object]:
        # The resolved path (symbolic links followed) and, for a file that exists, its device
        # and inode (a hard link to it is the same file under another name).
        found: list[object] = [path.resolve()]
        try:
            stat = path.stat()
        except OSError:
            return found
        return [*found, (stat.st_dev, stat.st_ino)]

    for key in keys(input_path):
        seen[key] = "the input file"
    for option, path in outputs.items():
        names = [path]
        if option == "--journal":
            names += [Path(f"{path}-wal"), Path(f"{path}-shm")]
        for name in names:
            for key in keys(name):
                other = seen.get(key)
                if other is not None:
                    raise click.UsageError(
                        f"{option} {str(path)!r} is {other}: pick another file (nothing was touched)"
                    )
                seen[key] = f"the file of {option}"
