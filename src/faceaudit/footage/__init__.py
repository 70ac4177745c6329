"""Footage redaction: hide every bystander's face in video or photos, and log what was done.

One module per job: :mod:`.video` (PyAV decode/encode, audio copied unchanged), :mod:`.detection`
(the detector adapter), :mod:`.tracking` (ByteTrack, gap bridging, padding, lead/lag),
:mod:`.styles` (irreversible blur, pixelation, solid box), :mod:`.log` (the redaction log),
:mod:`.review` (the contact sheet of doubtful frames) and :mod:`.pipeline` (which runs them).
"""
