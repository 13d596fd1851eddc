"""The Flask application of demosite."""

import platform
import sys
from html import escape

from flask import Flask

from demosite import config as configuration

PAGE = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>demosite</title></head>
<body>
<h1>{greeting}</h1>
<p>Served by Python {python} from {prefix}.</p>
</body>
</html>
"""


def create_app(config=None):
    """Returns the application; config is a dict from demosite.config.load (read if not given)."""
    if config is None:
        config = configuration.load()
    app = Flask(__name__)
    page = PAGE.format(
        greeting=escape(config["greeting"]),
        python=escape(platform.python_version()),
        prefix=escape(sys.prefix),
    )

    @app.get("/")
    def index():
        return page

    @app.get("/healthz")
    def healthz():
        return "ok\n", 200, {"Content-Type": "text/plain; charset=utf-8"}

    return app
