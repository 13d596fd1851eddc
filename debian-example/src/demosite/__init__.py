"""demosite: a small Flask web service, the example package of dh-rustvenv."""

__version__ = "1.0.0"
