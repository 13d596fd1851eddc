"""The demosite command: `demosite serve` and `demosite show-config`."""

import argparse
import configparser
import importlib
import sys

from gunicorn.app.base import BaseApplication

from demosite import __version__
from demosite import config as configuration


def application(config):
    """The WSGI application for the configuration `config`; built in each gunicorn worker.

    A master started from an older version calls this function of the installed version after a
    reload (see Server.load): its name and its argument must stay as they are.
    """
    from demosite.app import create_app

    return create_app(config)


class Server(BaseApplication):
    """gunicorn, run in-process with the settings of the configuration file.

    gunicorn's master imports neither the application nor Flask (preload_app stays off): each worker
    builds the application when it starts, from the code installed at that time. A reload (SIGHUP to
    the master, the unit's ExecReload) starts new workers and stops the old ones gracefully, so that
    after an upgrade the service serves the new code without refusing a request.
    """

    def __init__(self, site_config, options):
        self.site_config = site_config
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            if key in self.cfg.settings:  # settings of newer gunicorn versions are skipped by older ones
                self.cfg.set(key, value)

    def load(self):
        # Runs in a worker, forked from a master that imported demosite's package, cli and config
        # when it started, perhaps at an older version. They are dropped, so that the worker imports
        # them anew from the installed version, whose application() builds the application.
        for name in [n for n in sys.modules if n == "demosite" or n.startswith("demosite.")]:
            del sys.modules[name]
        return importlib.import_module("demosite.cli").application(self.site_config)


def serve(config):
    options = {
        "bind": config["bind"],
        "workers": config["workers"],
        "accesslog": "-",
        "errorlog": "-",
        "proc_name": "demosite",
        # gunicorn >= 25.1 would otherwise open a control socket under $HOME, which the service user
        # does not have.
        "control_socket_disable": True,
    }
    Server(config, options).run()
    return 0


def show_config(config):
    parser = configparser.ConfigParser(interpolation=None)
    parser[configuration.SECTION] = {key: str(value) for key, value in config.items()}
    parser.write(sys.stdout)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="demosite", description="A small web service.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, text in (("serve", "run the web server"), ("show-config", "print the effective configuration")):
        command = commands.add_parser(name, help=text, description=text)
        command.add_argument(
            "--config",
            metavar="PATH",
            help=f"the configuration file (default: $DEMOSITE_CONFIG or {configuration.DEFAULT_PATH}, "
            "the built-in defaults if that does not exist)",
        )
    args = parser.parse_args(argv)
    try:
        config = configuration.load(args.config)
    except configuration.ConfigError as error:
        parser.exit(1, f"demosite: {error}\n")
    if args.command == "serve":
        return serve(config)
    return show_config(config)


if __name__ == "__main__":
    sys.exit(main())
