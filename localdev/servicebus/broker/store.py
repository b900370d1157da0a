"""Where the broker's state survives a restart: nowhere (memory) or a SQLite file.

The broker calls the store for every durable change and `commit()` once per
batch of work; the wire layer acknowledges nothing before that commit, so an
acknowledged message is on disk even after `kill -9` (WAL mode; the OS keeps
what was written when the process dies).

A record that cannot be loaded (a column of the wrong type, an unknown
state, a payload the wire layer's `payload_check` refuses) is moved to the
table `quarantined_messages` with its reason, logged in one line, and the
rest loads: one bad row never stops the emulator from starting.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from localdev.servicebus.broker.messages import MessageState, StoredMessage

log = logging.getLogger("localdev.servicebus")

PayloadCheck = Callable[[bytes], None]  # raises ValueError for a payload that cannot be re-emitted


@dataclass
class SavedState:
    """Everything a store hands back at start-up."""

    messages: dict[str, list[StoredMessage]] = field(
        default_factory=dict
    )  # entity path -> messages
    last_sequence: dict[str, int] = field(default_factory=dict)  # queue -> last sequence number
    message_ids: dict[str, list[tuple[str, float]]] = field(
        default_factory=dict
    )  # queue -> (id, expiry)


class Store(Protocol):
    """Durable changes, as the broker makes them."""

    def load(self) -> SavedState: ...
    def save(self, entity: str, message: StoredMessage) -> None: ...
    def update(self, entity: str, message: StoredMessage) -> None: ...
    def delete(self, entity: str, sequence_number: int) -> None: ...
    def save_last_sequence(self, queue: str, sequence_number: int) -> None: ...
    def remember_message_id(self, queue: str, message_id: str, expires_at: float) -> None: ...
    def forget_message_ids(self, queue: str, before: float) -> None: ...
    def commit(self) -> None: ...
    def close(self) -> None: ...


class MemoryStore:
    """No persistence: everything is lost when the process ends."""

    def load(self) -> SavedState:
        return SavedState()

    def save(self, entity: str, message: StoredMessage) -> None:
        pass

    def update(self, entity: str, message: StoredMessage) -> None:
        pass

    def delete(self, entity: str, sequence_number: int) -> None:
        pass

    def save_last_sequence(self, queue: str, sequence_number: int) -> None:
        pass

    def remember_message_id(self, queue: str, message_id: str, expires_at: float) -> None:
        pass

    def forget_message_ids(self, queue: str, before: float) -> None:
        pass

    def commit(self) -> None:
        pass

    def close(self) -> None:
        pass


_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    entity TEXT NOT NULL,
    sequence_number INTEGER NOT NULL,
    payload BLOB NOT NULL,
    message_id TEXT,
    enqueued_time REAL NOT NULL,
    time_to_live REAL,
    expires_at REAL,
    state INTEGER NOT NULL,
    scheduled_enqueue_time REAL,
    delivery_count INTEGER NOT NULL,
    dead_letter_reason TEXT,
    dead_letter_description TEXT,
    dead_letter_source TEXT,
    PRIMARY KEY (entity, sequence_number)
);
CREATE TABLE IF NOT EXISTS sequences (queue TEXT PRIMARY KEY, last_sequence INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS message_ids (
    queue TEXT NOT NULL, message_id TEXT NOT NULL, expires_at REAL NOT NULL,
    PRIMARY KEY (queue, message_id)
);
CREATE TABLE IF NOT EXISTS quarantined_messages (
    entity, sequence_number, payload, message_id, enqueued_time, time_to_live, expires_at, state,
    scheduled_enqueue_time, delivery_count, dead_letter_reason, dead_letter_description,
    dead_letter_source, reason TEXT NOT NULL, quarantined_at REAL NOT NULL
);
"""
QUARANTINE_TABLE = "quarantined_messages"
# The Python type each loaded column must have (SQLite keeps whatever was written).
_NUMBER = (int, float)
_COLUMN_TYPES: tuple[tuple[type, ...], ...] = (
    (str,),  # entity
    (int,),  # sequence_number
    (bytes,),  # payload
    (str, type(None)),  # message_id
    _NUMBER,  # enqueued_time
    (*_NUMBER, type(None)),  # time_to_live
    (*_NUMBER, type(None)),  # expires_at
    (int,),  # state
    (*_NUMBER, type(None)),  # scheduled_enqueue_time
    (int,),  # delivery_count
    (str, type(None)),  # dead_letter_reason
    (str, type(None)),  # dead_letter_description
    (str, type(None)),  # dead_letter_source
)
_COLUMNS = (
    "entity, sequence_number, payload, message_id, enqueued_time, time_to_live, expires_at, state,"
    " scheduled_enqueue_time, delivery_count, dead_letter_reason, dead_letter_description,"
    " dead_letter_source"
)


_PLACEHOLDERS = ",".join("?" * 13)


class SqliteStore:
    """A SQLite database in WAL mode under the data directory; one transaction per commit."""

    FILENAME = "servicebus.sqlite3"

    def __init__(self, data_dir: Path, payload_check: PayloadCheck | None = None) -> None:
        self._payload_check = payload_check
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / self.FILENAME
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._dirty = False

    def _write(self, sql: str, params: tuple[object, ...]) -> None:
        if not self._dirty:
            self._db.execute("BEGIN")
            self._dirty = True
        self._db.execute(sql, params)

    def load(self) -> SavedState:
        state = SavedState()
        rows = self._db.execute(
            f"SELECT rowid, {_COLUMNS} FROM messages ORDER BY entity, sequence_number"  # noqa: S608
        ).fetchall()
        for rowid, *row in rows:
            try:
                entity, message = self._message_from_row(row)
            except (ValueError, TypeError) as exc:
                self._quarantine(rowid, row, str(exc))
                continue
            state.messages.setdefault(entity, []).append(message)
        for queue, last in self._db.execute("SELECT queue, last_sequence FROM sequences"):
            if isinstance(queue, str) and isinstance(last, int):
                state.last_sequence[queue] = last
            else:
                log.warning("data dir: ignoring a corrupt sequence record for %r", queue)
        for queue, message_id, expires in self._db.execute(
            "SELECT queue, message_id, expires_at FROM message_ids"
        ):
            # Only duplicate detection reads these: a corrupt one is skipped, not fatal.
            valid = isinstance(queue, str) and isinstance(message_id, str)
            if valid and isinstance(expires, int | float):
                state.message_ids.setdefault(queue, []).append((message_id, expires))
        return state

    def _message_from_row(self, row: list[Any]) -> tuple[str, StoredMessage]:
        for index, (value, allowed) in enumerate(zip(row, _COLUMN_TYPES, strict=True)):
            if not isinstance(value, allowed):
                name = _COLUMNS.split(", ")[index].strip()
                raise TypeError(f"column {name} holds {type(value).__name__}")
        entity, *fields = row
        message = StoredMessage(
            sequence_number=fields[0],
            payload=bytes(fields[1]),
            message_id=fields[2],
            enqueued_time=fields[3],
            time_to_live=fields[4],
            expires_at=fields[5],
            state=MessageState(fields[6]),
            scheduled_enqueue_time=fields[7],
            delivery_count=fields[8],
            dead_letter_reason=fields[9],
            dead_letter_description=fields[10],
            dead_letter_source=fields[11],
        )
        if self._payload_check is not None:
            self._payload_check(message.payload)
        return str(entity), message

    def _quarantine(self, rowid: int, row: list[object], reason: str) -> None:
        """Move one unloadable row aside (kept for inspection) and say so in one line."""
        with self._db:  # its own transaction: start-up has nothing else pending
            self._db.execute("BEGIN")
            self._db.execute(
                f"INSERT INTO {QUARANTINE_TABLE} SELECT {_COLUMNS}, ?, ? FROM messages"  # noqa: S608
                " WHERE rowid=?",
                (reason, time.time(), rowid),
            )
            self._db.execute("DELETE FROM messages WHERE rowid=?", (rowid,))
        log.warning(
            "data dir: corrupt message record (entity %r, sequence number %r): %s;"
            " moved to table %s in %s",
            row[0],
            row[1],
            reason,
            QUARANTINE_TABLE,
            self.path,
        )

    def save(self, entity: str, message: StoredMessage) -> None:
        self._write(
            f"INSERT OR REPLACE INTO messages ({_COLUMNS}) VALUES ({_PLACEHOLDERS})",  # noqa: S608
            (
                entity,
                message.sequence_number,
                message.payload,
                message.message_id,
                message.enqueued_time,
                message.time_to_live,
                message.expires_at,
                int(message.state),
                message.scheduled_enqueue_time,
                message.delivery_count,
                message.dead_letter_reason,
                message.dead_letter_description,
                message.dead_letter_source,
            ),
        )

    def update(self, entity: str, message: StoredMessage) -> None:
        self._write(
            "UPDATE messages SET state=?, delivery_count=?, enqueued_time=?, expires_at=?"
            " WHERE entity=? AND sequence_number=?",
            (
                int(message.state),
                message.delivery_count,
                message.enqueued_time,
                message.expires_at,
                entity,
                message.sequence_number,
            ),
        )

    def delete(self, entity: str, sequence_number: int) -> None:
        self._write(
            "DELETE FROM messages WHERE entity=? AND sequence_number=?", (entity, sequence_number)
        )

    def save_last_sequence(self, queue: str, sequence_number: int) -> None:
        self._write(
            "INSERT OR REPLACE INTO sequences (queue, last_sequence) VALUES (?, ?)",
            (queue, sequence_number),
        )

    def remember_message_id(self, queue: str, message_id: str, expires_at: float) -> None:
        self._write(
            "INSERT OR REPLACE INTO message_ids (queue, message_id, expires_at) VALUES (?, ?, ?)",
            (queue, message_id, expires_at),
        )

    def forget_message_ids(self, queue: str, before: float) -> None:
        self._write("DELETE FROM message_ids WHERE queue=? AND expires_at<=?", (queue, before))

    def commit(self) -> None:
        if self._dirty:
            self._db.execute("COMMIT")
            self._dirty = False

    def close(self) -> None:
        self.commit()
        self._db.close()
