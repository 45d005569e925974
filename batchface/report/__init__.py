"""``batchface report``: a page, plots and per-track tables made from the tables ``batchface run`` wrote.

It reads tables (:mod:`.results`), groups them (:mod:`.tracks`, :mod:`.selection`), cuts faces and
frames from the sources (:mod:`.thumbnails`), draws plots (:mod:`.plots`) and writes the page
(:mod:`.page`); :mod:`.build` does it all in order. It may use the media, faces and output layers,
never the engine: a report needs no model and starts no worker.
"""
