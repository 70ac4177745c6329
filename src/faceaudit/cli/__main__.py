"""``python -m faceaudit.cli``: the same command line as the ``faceaudit`` script."""

from faceaudit.cli.main import main

if __name__ == "__main__":
    main()
