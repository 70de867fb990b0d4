"""The POS's application layer, free of Qt: what the screens read and write (:mod:`.backend`), the
ticket being edited and its rules (:mod:`.editor`), tenders, refunds, tip split and the day summary.

Dependencies point ``gui -> pos -> sync, store -> core``: everything here is tested without a
QApplication, and the screens in :mod:`posdesk.gui` hold no SQL and no HTTP of their own.
"""
