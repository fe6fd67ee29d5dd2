"""The file provider: every message becomes one JSON line of MESSAGING_FILE_DIR/<channel>.log.

The demo and development default: nothing leaves the machine, and what would have been sent can
be read (`tail -f var/outbox/sms.log`). A line:

    {"dealer": 3, "id": 1234, "key": "campaign:9:55:sms", "to": "+8613812345678",
     "subject": "", "body": "【极光汽车】张先生您好…", "at": "2025-05-01T09:00:00+08:00"}

A batch is written with ONE write() call on a file opened for appending (O_APPEND), under an
exclusive lock: two workers appending at once never interleave lines, and one system call per
batch is what lets a worker pass thousands of messages a second.

A file takes the message, so the outcome is "sent"; no receipt will ever come.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from .base import Outcome, OutgoingMessage, SendResult
from .configuration import BaseProvider

try:  # POSIX; elsewhere O_APPEND alone keeps each batch's single write together
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]


class FileProvider(BaseProvider):
    kind = "file"
    # The log is the record of what was taken, so a crash can be recovered by reading it back.
    supports_lookup = True

    @property
    def path(self) -> Path:
        directory = Path(self.settings.option("directory", settings.MESSAGING_FILE_DIR))
        return directory / f"{self.settings.channel}.log"

    def send(self, messages: list[OutgoingMessage]) -> list[SendResult]:
        if not messages:
            return []
        at = timezone.localtime().isoformat(timespec="seconds")
        data = "".join(
            json.dumps(
                {
                    "dealer": m.dealer_id,
                    "id": m.message_id,
                    "key": m.idempotency_key,
                    "to": m.to_address,
                    "subject": m.subject,
                    "body": m.body,
                    "at": at,
                },
                ensure_ascii=False,
            )
            + "\n"
            for m in messages
        ).encode()
        with self._locked_append() as fd:
            os.write(fd, data)
        return [SendResult(message_id=m.message_id, outcome=Outcome.SENT) for m in messages]

    @contextmanager
    def _locked_append(self) -> Iterator[int]:
        path = self.path
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            yield fd
        finally:
            os.close(fd)  # closing releases the lock

    def lookup(self, message: OutgoingMessage) -> SendResult | None:
        """Whether the log holds the message: a scan, fine for recovery after a crash (rare)."""
        path = self.path
        if not path.exists():
            return None
        # Cheap substring test first; only candidate lines are parsed.
        needle = json.dumps(message.idempotency_key, ensure_ascii=False).encode()
        with path.open("rb") as log:
            for line in log:
                if needle not in line:
                    continue
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue  # a torn last line from a crash mid-write
                if (
                    entry.get("key") == message.idempotency_key
                    and entry.get("dealer") == message.dealer_id
                ):
                    return SendResult(message_id=message.message_id, outcome=Outcome.SENT)
        return None
