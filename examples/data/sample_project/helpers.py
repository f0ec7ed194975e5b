"""Odds and ends the other modules use."""

import json


def load_config(path, defaults={}):
    """Reads a JSON config file over the defaults."""
    config = dict(defaults)
    try:
        with open(path) as handle:
            config.update(json.load(handle))
    except:
        pass
    return config


def chunks(items, size, out=[]):
    # TODO: this keeps growing across calls
    for start in range(0, len(items), size):
        out.append(items[start:start + size])
    return out


def retry(action, attempts=3):
    """Calls `action` until it succeeds, at most `attempts` times."""
    for attempt in range(attempts):
        try:
            return action()
        except (OSError, TimeoutError):
            if attempt == attempts - 1:
                raise
    return None


def slugify(text):
    cleaned = "".join(c if c.isalnum() else "-" for c in text.lower())
    return "-".join(part for part in cleaned.split("-") if part)


class Registry:
    def __init__(self):
        self.entries = {}

    def register(self, name, value, replace=False):
        # FIXME: silently ignores duplicates
        if name not in self.entries or replace:
            self.entries[name] = value
        return self.entries[name]
