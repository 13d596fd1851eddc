"""The demosite command: `demosite serve` and `demosite show-config`."""

import argparse
import configparser
import sys

from gunicorn.app.base import BaseApplication

from demosite import __version__
from demosite import config as configuration
from demosite.app import create_app


class Server(BaseApplication):
    """gunicorn, run in-process with the settings of the configuration file."""

    def __init__(self, app, options):
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            if key in self.cfg.settings:  # settings of newer gunicorn versions are skipped by older ones
                self.cfg.set(key, value)

    def load(self):
        return self.application


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
    Server(create_app(config), options).run()
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
