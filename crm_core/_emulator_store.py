"""The emulators' column store: many records in typed arrays instead of one dict each.

Re-exported by :mod:`crm_core.emulator` (:class:`CompactStore`, :data:`Codec`).
"""

from __future__ import annotations

import bisect
import contextlib
from array import array
from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
from typing import Any

__all__ = ["Codec", "CompactStore"]

Codec = tuple[Callable[[Any], "int | None"], Callable[[int], Any]]
"""``(encode, decode)`` for a column stored as a 64-bit integer: ``encode`` maps a record's value
to an int (or ``None``) and raises ``ValueError``/``TypeError`` for values it cannot store;
``decode`` maps the int back."""

# The integer widths a column widens through; the lowest value of each type marks "no value".
_WIDTHS = ("b", "h", "i", "q")
_NULLS = {code: -(2 ** (8 * array(code).itemsize - 1)) for code in _WIDTHS}
_HIGHS = {code: 2 ** (8 * array(code).itemsize - 1) - 1 for code in _WIDTHS}


def _width(value: int) -> str | None:
    """The narrowest type code holding ``value`` (above its null mark), or ``None`` beyond 64 bits."""
    for code in _WIDTHS:
        if _NULLS[code] < value <= _HIGHS[code]:
            return code
    return None


class _Ints:
    """One integer (or ``None``) per row, in the narrowest array that holds every value written.

    No array at all while every row is ``None`` (a column a store never uses costs nothing); it
    widens (1, 2, 4, then 8 bytes per row) the first time a value does not fit.
    """

    __slots__ = ("data", "rows")

    def __init__(self) -> None:
        self.data: array[int] | None = None
        self.rows = 0

    def grow(self, value: int | None = None) -> None:
        """Add a row (``None`` unless ``value`` is given; it must fit, see :meth:`fits`)."""
        if value is not None:
            self._make_room(value)
        if self.data is not None:
            self.data.append(_NULLS[self.data.typecode] if value is None else value)
        self.rows += 1

    @staticmethod
    def fits(value: object) -> bool:
        return type(value) is int and _NULLS["q"] < value <= _HIGHS["q"]

    def set(self, row: int, value: int | None) -> None:
        """Store ``value`` (an int that :meth:`fits`, or ``None``) at ``row``."""
        data = self.data
        if value is None:
            if data is not None:
                data[row] = _NULLS[data.typecode]
            return
        if data is None or not _NULLS[data.typecode] < value <= _HIGHS[data.typecode]:
            self._make_room(value)
            data = self.data
            assert data is not None
        data[row] = value

    def get(self, row: int) -> int | None:
        data = self.data
        if data is None:
            return None
        number = data[row]
        return None if number == _NULLS[data.typecode] else number

    def _make_room(self, value: int) -> None:
        code = _width(value)
        assert code is not None
        data = self.data
        if data is None:
            self.data = array(code, [_NULLS[code]]) * self.rows
        elif data.itemsize < array(code).itemsize:
            old_null, new_null = _NULLS[data.typecode], _NULLS[code]
            if old_null in data:
                self.data = array(code, (new_null if number == old_null else number for number in data))
            else:
                self.data = array(code, data)

    def nbytes(self) -> int:
        return 0 if self.data is None else self.data.itemsize * len(self.data)


class _Text:
    """A string (or ``None``) per row: UTF-8 bytes appended to a shared blob, start and length per row."""

    __slots__ = ("lengths", "starts")

    def __init__(self) -> None:
        self.starts = _Ints()
        self.lengths = _Ints()

    def grow(self) -> None:
        self.starts.grow()
        self.lengths.grow()


class _Group:
    """Low-cardinality columns interned together: each distinct combination of their values is
    kept once, and a row holds its combination's number (code 0: every value ``None``)."""

    __slots__ = ("codes", "names", "numbers", "values")

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.codes = _Ints()
        empty = (None,) * len(names)
        self.values: list[tuple[Any, ...]] = [empty]
        self.numbers: dict[tuple[tuple[Any, ...], tuple[type, ...]], int] = {_key(empty): 0}

    def code(self, values: tuple[Any, ...]) -> int:
        """The number of a combination (raises TypeError if a value is unhashable)."""
        key = _key(values)
        number = self.numbers.get(key)
        if number is None:
            number = self.numbers[key] = len(self.values)
            self.values.append(values)
        return number

    def row(self, row: int) -> tuple[Any, ...]:
        return self.values[self.codes.get(row) or 0]


def _key(values: tuple[Any, ...]) -> tuple[tuple[Any, ...], tuple[type, ...]]:
    """A dict key that keeps ``True``, ``1`` and ``1.0`` apart."""
    return values, tuple(map(type, values))


class CompactStore(MutableMapping[int, dict[str, Any]]):
    """Records keyed by an integer id, kept in typed columns instead of one dict each.

    A task as a Python dict costs 1-2 KB; here a typical one costs 50-60 bytes: integers and
    times in the narrowest of 1, 2, 4 or 8 bytes that holds the column's values, a column never
    given a value nothing at all, the columns of a group of low-cardinality fields (type, role,
    time zone, flags, the lead's names) one small number together, and text its UTF-8 bytes
    plus a few. Reads and writes still use dicts: ``store[id]`` builds a fresh dict (changing it
    does not change the store; write it back with ``store[id] = record``).

    Column kinds, given in ``fields`` in the order decoded dicts list them:

    * ``"int"``: a 64-bit integer or ``None``;
    * ``"enum"``: any hashable value (string, number, bool, ``None``), interned per column;
    * ``"enum:GROUP"``: as ``"enum"``, interned together with the other columns of ``GROUP``
      (each distinct combination of their values is kept once, so group only fields whose
      combinations are few: a lead's name, email and phone, but not a task's content);
    * ``"text"``: a string or ``None``;
    * a :data:`Codec` ``(encode, decode)``: stored as a 64-bit integer (times as epoch ms);
    * a callable ``f(record) -> value``: derived when a record is read (not stored; ignored
      when written).

    A value that does not fit its column (a float in an ``"int"`` column, a list in an
    ``"enum"`` column) and any key that is not a column is kept per record in a side table, so
    nothing written is lost. A missing key reads back as ``None``.

    Ids are looked up by bisection while they are written in ascending order (as emulators
    allocate them), otherwise through a dict built on the first out-of-order id.

    Args:
        fields: ``(name, kind)`` pairs; must include ``key`` as an ``"int"`` column.
        key: The id field.
        index_on: A field to index (rows by value), for :meth:`select`.

    Raises:
        ValueError: an unknown kind, or ``key`` missing from ``fields``.
    """

    def __init__(
        self,
        fields: Sequence[tuple[str, Any]],
        *,
        key: str = "id",
        index_on: str | None = None,
    ) -> None:
        self._fields = list(fields)
        if (key, "int") not in self._fields:
            raise ValueError(f"key {key!r} must be an 'int' column of fields")
        self._key = key
        self._ints: dict[str, _Ints] = {}
        self._texts: dict[str, _Text] = {}
        self._codecs: dict[str, tuple[Codec, _Ints]] = {}
        self._derived: dict[str, Callable[[dict[str, Any]], Any]] = {}
        members: dict[str, list[str]] = {}
        for name, kind in self._fields:
            if kind == "int":
                self._ints[name] = _Ints()
            elif kind == "enum" or (isinstance(kind, str) and kind.startswith("enum:") and kind[5:]):
                members.setdefault(kind[5:] if kind != "enum" else f"\0{name}", []).append(name)
            elif kind == "text":
                self._texts[name] = _Text()
            elif isinstance(kind, tuple) and len(kind) == 2 and all(callable(f) for f in kind):
                self._codecs[name] = (kind, _Ints())
            elif callable(kind):
                self._derived[name] = kind
            else:
                raise ValueError(f"column {name!r} has an unknown kind {kind!r}")
        self._groups = [_Group(names) for names in members.values()]
        self._grouped: dict[str, tuple[_Group, int]] = {}  # column -> (its group, its place)
        for group in self._groups:
            for place, name in enumerate(group.names):
                self._grouped[name] = (group, place)
        # How a record is read: (field, number of its group or -1, its place in the group).
        self._layout = [
            (name, self._groups.index(self._grouped[name][0]), self._grouped[name][1])
            if name in self._grouped
            else (name, -1, 0)
            for name, _ in self._fields
        ]
        self._blob = bytearray()
        self._ids = self._ints[key]
        self._alive = bytearray()
        self._size = 0
        self._by_id: dict[int, int] | None = None
        self._extras: dict[int, dict[str, Any]] = {}
        self._index_on = index_on
        self._index: dict[Any, array[int]] = {}
        self._stored = [name for name, _ in self._fields if name != key and name not in self._derived]

    # -- rows --------------------------------------------------------------------------------

    def _id_array(self) -> array[int]:
        data = self._ids.data
        return data if data is not None else array("q")

    def _row(self, record_id: object) -> int | None:
        if isinstance(record_id, bool) or not isinstance(record_id, int):
            return None
        row = self._any_row(record_id)
        if row is None or not self._alive[row]:
            return None
        return row

    def _any_row(self, record_id: int) -> int | None:
        if self._by_id is not None:
            return self._by_id.get(record_id)
        ids = self._id_array()
        row = bisect.bisect_left(ids, record_id)
        return row if row < len(ids) and ids[row] == record_id else None

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[int]:
        ids, alive = self._id_array(), self._alive
        for row in range(len(ids)):
            if alive[row]:
                yield ids[row]

    def __contains__(self, record_id: object) -> bool:
        return self._row(record_id) is not None

    def __getitem__(self, record_id: int) -> dict[str, Any]:
        row = self._row(record_id)
        if row is None:
            raise KeyError(record_id)
        return self._decode(row)

    def __setitem__(self, record_id: int, record: Mapping[str, Any]) -> None:
        if not _Ints.fits(record_id):
            raise TypeError(f"record ids must be 64-bit integers, got {record_id!r}")
        row = self._any_row(record_id)
        if row is None:
            ids = self._id_array()
            row = len(self._alive)
            if row and record_id < ids[row - 1] and self._by_id is None:
                self._by_id = {rid: r for r, rid in enumerate(ids)}
            self._append_row(record_id)
            if self._by_id is not None:
                self._by_id[record_id] = row
        self._write(row, record)

    def __delitem__(self, record_id: int) -> None:
        row = self._row(record_id)
        if row is None:
            raise KeyError(record_id)
        self._unindex(row)
        self._alive[row] = 0
        self._size -= 1
        self._extras.pop(row, None)

    def clear(self) -> None:
        """Remove every record at once (``MutableMapping.clear`` would pop them one by one)."""
        columns = [*self._ints.values(), *(column for _, column in self._codecs.values())]
        columns += [group.codes for group in self._groups]
        columns += [part for text in self._texts.values() for part in (text.starts, text.lengths)]
        for column in columns:
            column.data, column.rows = None, 0
        self._blob = bytearray()
        self._alive = bytearray()
        self._size = 0
        self._by_id = None
        self._extras = {}
        self._index = {}

    def records(self) -> Iterator[dict[str, Any]]:
        """Every record as a dict, in the order the ids were first written."""
        alive = self._alive
        for row in range(len(alive)):
            if alive[row]:
                yield self._decode(row)

    def select(self, value: Any) -> list[dict[str, Any]]:
        """The records whose ``index_on`` field equals ``value``, in the order first written.

        Raises:
            ValueError: the store has no index.
        """
        if self._index_on is None:
            raise ValueError("this store has no index (index_on)")
        rows = self._index.get(_hashable(value), ())
        return [self._decode(row) for row in rows if self._alive[row]]

    def nbytes(self) -> int:
        """Bytes held by the columns and text (not the side table), for measurements."""
        total = len(self._blob) + len(self._alive)
        total += sum(column.nbytes() for column in self._ints.values())
        total += sum(column.nbytes() for _, column in self._codecs.values())
        total += sum(text.starts.nbytes() + text.lengths.nbytes() for text in self._texts.values())
        total += sum(group.codes.nbytes() for group in self._groups)
        total += sum(a.itemsize * len(a) for a in self._index.values())
        return total

    # -- encoding ----------------------------------------------------------------------------

    def _append_row(self, record_id: int) -> None:
        for name, column in self._ints.items():
            column.grow(record_id if name == self._key else None)
        for _, column in self._codecs.values():
            column.grow()
        for group in self._groups:
            group.codes.grow()
        for text in self._texts.values():
            text.grow()
        self._alive.append(0)

    def _write(self, row: int, record: Mapping[str, Any]) -> None:
        if self._alive[row]:
            self._unindex(row)
        else:
            self._alive[row] = 1
            self._size += 1
        extras: dict[str, Any] = {}
        grouped: dict[_Group, list[Any]] = {}
        for name, value in record.items():
            if name == self._key or name in self._derived:
                continue
            place = self._grouped.get(name)
            if place is not None:
                group, at = place
                values = grouped.get(group)
                if values is None:
                    values = grouped[group] = [None] * len(group.names)
                values[at] = value
            elif not self._store(row, name, value):
                extras[name] = value
        for name in self._stored:
            if name not in record and name not in self._grouped:
                self._store(row, name, None)
        for group in self._groups:
            values = grouped.get(group)
            code = 0 if values is None else self._intern(group, values, extras)
            group.codes.set(row, code or None)  # combination 0 (every value None) is stored as None
        if extras:
            self._extras[row] = extras
        else:
            self._extras.pop(row, None)
        if self._index_on is not None:
            value = self._value(row, self._index_on)
            self._index.setdefault(_hashable(value), array("I")).append(row)

    @staticmethod
    def _intern(group: _Group, values: list[Any], extras: dict[str, Any]) -> int:
        try:
            return group.code(tuple(values))
        except TypeError:  # an unhashable value: kept in the side table, the column reads None
            for at, value in enumerate(values):
                try:
                    hash(value)
                except TypeError:
                    extras[group.names[at]] = value
                    values[at] = None
            return group.code(tuple(values))

    def _store(self, row: int, name: str, value: Any) -> bool:
        """Put ``value`` in its column; ``False`` when it does not fit (the column reads ``None``)."""
        column = self._ints.get(name)
        if column is not None:
            fits = value is None or _Ints.fits(value)
            column.set(row, value if fits else None)
            return fits
        codec = self._codecs.get(name)
        if codec is not None:
            (encode, _), column = codec
            try:
                number = None if value is None else encode(value)
            except (TypeError, ValueError, OverflowError):
                column.set(row, None)
                return False
            fits = number is None or _Ints.fits(number)
            column.set(row, number if fits else None)
            return fits
        text = self._texts.get(name)
        if text is not None:
            if isinstance(value, str):
                data = value.encode("utf-8", "surrogatepass")
                if self._text(text, row) != value:  # a rewrite of the same text reuses its bytes
                    text.starts.set(row, len(self._blob))
                    text.lengths.set(row, len(data))
                    self._blob += data
                return True
            text.lengths.set(row, None)
            return value is None
        return False

    def _text(self, text: _Text, row: int) -> str | None:
        length = text.lengths.get(row)
        if length is None:
            return None
        start = text.starts.get(row) or 0
        return self._blob[start : start + length].decode("utf-8", "surrogatepass")

    def _unindex(self, row: int) -> None:
        if self._index_on is None:
            return
        rows = self._index.get(_hashable(self._value(row, self._index_on)))
        if rows is not None:
            with contextlib.suppress(ValueError):
                rows.remove(row)

    def _column(self, row: int, name: str) -> Any:
        place = self._grouped.get(name)
        if place is not None:
            group, at = place
            return group.row(row)[at]
        column = self._ints.get(name)
        if column is not None:
            return column.get(row)
        text = self._texts.get(name)
        if text is not None:
            return self._text(text, row)
        codec = self._codecs.get(name)
        if codec is not None:
            (_, decode), numbers = codec
            number = numbers.get(row)
            return None if number is None else decode(number)
        return None

    def _value(self, row: int, name: str) -> Any:
        extras = self._extras.get(row)
        if extras is not None and name in extras:
            return extras[name]
        return self._column(row, name)

    def _decode(self, row: int) -> dict[str, Any]:
        combos = [group.row(row) for group in self._groups]
        record: dict[str, Any] = {}
        for name, group, at in self._layout:
            record[name] = combos[group][at] if group >= 0 else self._column(row, name)
        extras = self._extras.get(row)
        if extras:
            record.update(extras)
        for name, make in self._derived.items():
            record[name] = make(record)
        return record


def _hashable(value: Any) -> tuple[type, Any]:
    """A dict key that keeps ``True``, ``1`` and ``1.0`` apart (raises TypeError if unhashable)."""
    hash(value)
    return (type(value), value)
