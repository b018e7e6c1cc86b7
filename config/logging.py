"""One JSON object per log line in production, so a log pipeline can filter on fields
(logger, level, task, run, path) instead of parsing prose."""

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime

# Attributes every LogRecord has; anything else on a record came from `extra=` and is kept.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
# gunicorn's access log passes its atoms as the record's args.
_ACCESS_ATOMS = {"m": "method", "U": "path", "s": "status", "M": "duration_ms", "h": "remote"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key in _STANDARD or key.startswith("_"):
                continue
            if key == "request":  # Django's request loggers pass the request object itself
                line["method"] = getattr(value, "method", None)
                line["path"] = getattr(value, "path", None)
                continue
            line[key] = value
        if record.name == "gunicorn.access" and isinstance(record.args, Mapping):
            line.update({field: record.args[atom] for atom, field in _ACCESS_ATOMS.items()})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)
