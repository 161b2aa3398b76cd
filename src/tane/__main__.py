"""``python -m tane``: the same as the ``tane`` command."""

from tane.cli import main

if __name__ == "__main__":
    main(prog_name="tane")
