"""Labelling a random sample of one's own faces (``genderage label``), so that
``genderage report --labels`` can check the model on that collection.

- :mod:`.items`: what is labelled: a photo's face, or a video track (by its best frame);
- :mod:`.sample`: the seeded random order of the faces and the results' fingerprint;
- :mod:`.store`: the labels file (``LABELS.csv``): its columns, reading, checking, appending;
- :mod:`.crop`: a face cut from its original image or video frame, in memory;
- :mod:`.app`: the local web page (needs the ``serve`` and ``report`` extras).
"""
