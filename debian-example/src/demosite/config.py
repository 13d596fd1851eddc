"""Reading the INI configuration file of demosite."""

import configparser
import os

DEFAULT_PATH = "/etc/demosite/demosite.conf"
SECTION = "demosite"
DEFAULTS = {
    "bind": "127.0.0.1:8080",
    "workers": "2",
    "greeting": "Hello from demosite",
}


class ConfigError(Exception):
    """The configuration file cannot be read or holds a bad value."""


def load(path=None):
    """Returns the effective configuration as a dict (workers as an int).

    Without a path, DEMOSITE_CONFIG or the default path is read, and a missing file means the
    defaults; a path given explicitly must exist.
    """
    explicit = path is not None
    if path is None:
        path = os.environ.get("DEMOSITE_CONFIG", DEFAULT_PATH)
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_dict({SECTION: DEFAULTS})
    try:
        with open(path, encoding="utf-8") as handle:
            parser.read_file(handle)
    except FileNotFoundError:
        if explicit:
            raise ConfigError(f"configuration file {path} not found") from None
    except (OSError, configparser.Error) as error:
        raise ConfigError(f"cannot read {path}: {error}") from None
    section = parser[SECTION]
    try:
        workers = section.getint("workers")
    except ValueError:
        raise ConfigError(f"{path}: workers must be a whole number, not {section['workers']!r}") from None
    if workers < 1:
        raise ConfigError(f"{path}: workers must be at least 1")
    return {
        "bind": section["bind"],
        "workers": workers,
        "greeting": section["greeting"],
    }
