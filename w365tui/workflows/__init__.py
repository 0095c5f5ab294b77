"""The use cases, free of Textual: prepare a plan, apply it, resume, roll back, undo.

The TUI's workers and the command line call the same functions, with a
:class:`w365tui.session.Session`. Preparing never writes; applying goes through the one
executor (:mod:`w365tui.work365.executor`).
"""
