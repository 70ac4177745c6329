"""``python -m faceaudit``: the same command line as the ``faceaudit`` script."""

from faceaudit.cli import main

if __name__ == "__main__":
    main()
