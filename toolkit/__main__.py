"""`python -m toolkit` and the `mnist-toolkit` script.

The interrupt handlers go in before the CLI is imported: Typer and Rich take tens of milliseconds to load, and
a Ctrl-C or SIGTERM in that time must be one line and exit code 130 like any other (see toolkit.interrupts).
"""


def main() -> None:
    """Console-script entry point: interrupt handlers first, then the CLI."""
    from toolkit import interrupts

    interrupts.install()
    from toolkit.cli import main as cli_main

    cli_main()


if __name__ == "__main__":  # worker processes started by spawn import this module too
    main()
