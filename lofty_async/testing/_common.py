"""Helpers both halves of the Lofty emulator share: error bodies and Lofty's time forms."""

from __future__ import annotations

import calendar
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from crm_core.emulator import CompactStore, EmulatorError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def error(status: int, code: int | str, message: str) -> EmulatorError:
    """An error answer with Lofty's body ``{"code": ..., "message": ...}``."""
    return EmulatorError(status, {"code": code, "message": message})


def invalid(message: str) -> EmulatorError:
    """400 ``20012`` ``INVALID_PARAMETER: <message>``."""
    return error(400, 20012, f"INVALID_PARAMETER: {message}")


def gmt(moment: datetime) -> str:
    """Lofty's read-back form: whole-second UTC with a literal ``GMT`` suffix.

    The spec's own example for ``TaskResponseV2.startAt`` is ``'2026-03-01T15:00:00GMT'``
    (lofty_api.md §2.4, §11); lead timestamps are observed in the same form. Fractions of a
    second are cut (not rounded), as a server storing milliseconds and printing seconds does.
    """
    return epoch_to_gmt(ms_of(moment) // 1000)


def epoch_to_gmt(seconds: int) -> str:
    """``YYYY-MM-DDTHH:MM:SSGMT`` for UTC epoch seconds."""
    return time.strftime("%Y-%m-%dT%H:%M:%SGMT", time.gmtime(seconds))


def gmt_to_epoch(text: Any) -> int:
    """UTC epoch seconds of a ``YYYY-MM-DDTHH:MM:SSGMT`` string.

    Raises:
        ValueError: any other form (the store then keeps the string as it is).
    """
    if not isinstance(text, str) or len(text) != 22 or text[10] != "T" or not text.endswith("GMT"):
        raise ValueError(f"not a Lofty GMT time: {text!r}")
    year = int(text[0:4])
    if year < 1000:
        raise ValueError(f"not a Lofty GMT time: {text!r}")
    parts = (year, int(text[5:7]), int(text[8:10]), int(text[11:13]), int(text[14:16]), int(text[17:19]))
    seconds = calendar.timegm((*parts, 0, 0, 0))
    if epoch_to_gmt(seconds) != text:
        raise ValueError(f"not a Lofty GMT time: {text!r}")
    return seconds


def ms_of(moment: datetime) -> int:
    """Epoch milliseconds of an aware datetime, cut (not rounded) below the millisecond."""
    return (moment - _EPOCH) // _MS


def seconds_of(moment: datetime) -> float:
    """Epoch seconds of ``moment`` at the millisecond precision the emulator stores."""
    return ms_of(moment) / 1000


def _ms_encode(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError("epoch seconds expected")
    return round(value * 1000)


def _ms_decode(number: int) -> float:
    return number / 1000


def _derived_time(key: str) -> Any:
    def make(record: dict[str, Any]) -> str | None:
        value = record.get(key)
        return None if value is None else epoch_to_gmt(int(value // 1))

    return make


GMT_CODEC = (gmt_to_epoch, epoch_to_gmt)
MS_CODEC = (_ms_encode, _ms_decode)


def task_store() -> CompactStore:
    """The column store for V2 task and appointment records (one id space).

    ``startAt``/``endAt`` are derived from ``_start``/``_end`` (epoch seconds kept to the
    millisecond), so the two can never disagree; the other times are kept as epoch seconds. The
    lead's fields a task copies (ID, names, email, phone, pipeline) are interned together, one
    combination per lead, and so are the fields with a handful of values (type, role, zone,
    flags, assignee): a task imported by the sandbox costs about 55 bytes plus its content.
    """
    return CompactStore(
        [
            ("id", "int"),
            ("leadId", "enum:lead"),
            ("creatorId", "enum:kind"),
            ("content", "text"),
            ("type", "enum:kind"),
            ("startAt", _derived_time("_start")),
            ("endAt", _derived_time("_end")),
            ("timeZoneCode", "enum:kind"),
            ("allDay", "enum:kind"),
            ("finishFlag", "enum:kind"),
            ("overdueFlag", "enum:kind"),
            ("finishTime", GMT_CODEC),
            ("createTime", GMT_CODEC),
            ("lastUpdate", GMT_CODEC),
            ("leadName", "enum:lead"),
            ("leadEmail", "enum:lead"),
            ("leadPhone", "enum:lead"),
            ("leadFirstName", "enum:lead"),
            ("leadLastName", "enum:lead"),
            ("reminderType", "enum:kind"),
            ("assignedRole", "enum:kind"),
            ("assignedUser", "enum:kind"),
            ("teamId", "enum:kind"),
            ("assignedUserId", "enum:kind"),
            ("pipelineId", "enum:lead"),
            ("leadUserId", "enum:lead"),
            ("address", "text"),
            ("_end", MS_CODEC),
            ("_start", MS_CODEC),
        ],
        index_on="leadId",
    )
