"""ansible-bench: prints the version of the ansible-core installed next to it."""

from importlib.metadata import version


def main() -> None:
    print(f"ansible-core {version('ansible-core')}")
