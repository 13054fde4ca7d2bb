"""``rsmif report``: tables, plots, a visual comparison figure and an HTML page from ``rsmif test`` folders.

One job per module: :mod:`.folders` reads test folders, :mod:`.testsets` groups them into test sets and
names the methods, :mod:`.tables` ranks and renders the tables, :mod:`.plots` draws the bar and box plots,
:mod:`.images` reads saved fused images and the reference, :mod:`.figure` draws the visual comparison,
:mod:`.page` writes ``index.html``, :mod:`.canvas` saves matplotlib figures, and :mod:`.writer` puts the
report together in its folder.
"""
