"""faceaudit's flat library API (the package's public face): load, detect, align, embed,
compare, verify — re-exported from :mod:`faceaudit.engine.api`, where it is written::

    from faceaudit import api
    faces, embeddings = api.face_embeddings("photo.jpg")
    result = api.verify("a.jpg", "b.jpg", fmr=1e-3)

See docs/api.md for the reference. This import path is a public contract; the engine's internal
layout behind it may change.
"""

from faceaudit.engine.api import *  # noqa: F403
from faceaudit.engine.api import __all__  # noqa: F401
